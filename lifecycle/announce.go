package lifecycle

import (
	"fmt"

	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
)

// messageFor maps a decision's reason to what is posted.
var messageFor = map[rules.Reason]messages.Message{
	rules.ReasonValid:           messages.AwaitingApproval,
	rules.ReasonProblems:        messages.NeedsInfo,
	rules.ReasonPreflight:       messages.Preflight,
	rules.ReasonApproved:        messages.Scheduled,
	rules.ReasonApprovalRefused: messages.ApprovalRefused,
	rules.ReasonChanged:         messages.Changed,
	rules.ReasonRevised:         messages.Revised,
	rules.ReasonWithdrawn:       messages.Withdrawn,
	rules.ReasonHold:            messages.OnHold,
	rules.ReasonRejected:        messages.Rejected,
	rules.ReasonCancelled:       messages.Cancelled,
	// A ready clone's rollback tag.
	rules.ReasonRollbackAsked:       messages.RollingBack,
	rules.ReasonRollbackUnavailable: messages.RollbackUnavailable,
	rules.ReasonRollbackRefused:     messages.RollbackRefused,
}

// notices are the announcements of a decision: a request never acknowledged is
// acknowledged first (with the agents' plan), whatever the decision; an end user's
// approval tag is answered after the decision's own message.
func notices(d rules.Decision) ([]notice, error) {
	msg, ok := messageFor[d.Reason]
	if !ok {
		return nil, fmt.Errorf("no message for the decision %q", d.Reason)
	}
	var out []notice
	if d.Acknowledge {
		out = append(out, notice{messages.AwaitingApproval, rules.AwaitingApproval})
	}
	out = append(out, notice{msg, d.Next})
	if d.Refuse {
		out = append(out, notice{messages.ApprovalRefused, d.Next})
	}
	return out, nil
}
