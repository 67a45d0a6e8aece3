package lifecycle

import (
	"testing"

	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
)

// Every decision the rules can take is announced: a reason without a message
// would fail the sync that decides it.
func TestEveryDecisionHasAMessage(t *testing.T) {
	decisions := []rules.Reason{rules.ReasonValid, rules.ReasonProblems, rules.ReasonPreflight, rules.ReasonApproved, rules.ReasonApprovalRefused,
		rules.ReasonChanged, rules.ReasonWithdrawn, rules.ReasonHold, rules.ReasonRejected, rules.ReasonCancelled,
		rules.ReasonRollbackAsked, rules.ReasonRollbackUnavailable, rules.ReasonRollbackRefused}
	for _, r := range decisions {
		ns, err := notices(rules.Decision{Next: rules.OnHold, Reason: r})
		if err != nil || len(ns) != 1 || ns[0].tag != rules.OnHold {
			t.Errorf("%s: notices %v, %v", r, ns, err)
		}
	}
	ns, err := notices(rules.Decision{Next: rules.Scheduled, Reason: rules.ReasonApproved, Acknowledge: true, Refuse: true})
	want := []notice{{messages.AwaitingApproval, rules.AwaitingApproval}, {messages.Scheduled, rules.Scheduled}, {messages.ApprovalRefused, rules.Scheduled}}
	if err != nil || len(ns) != 3 || ns[0] != want[0] || ns[1] != want[1] || ns[2] != want[2] {
		t.Errorf("acknowledged and refused: %v, %v; want %v", ns, err, want)
	}
	if _, err := notices(rules.Decision{Next: rules.Running, Reason: rules.ReasonStarted}); err == nil {
		t.Error("a reason the rules never decide has a decision's message")
	}
}
