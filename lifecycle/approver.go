package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/notifier"
)

// approverGone re-reads the approver of a due clone: an approver who is no longer
// an active agent or admin (suspended, demoted, deleted) cannot carry the clone,
// which then does not start; the ticket says why and waits for a new approval.
func (r *runner) approverGone(ctx context.Context, args jobs.CloneArgs) (bool, error) {
	req, err := r.repo.loadRequest(ctx, args.TicketID)
	if err != nil || !dueOnApproval(req, args) || req.ApprovedBy == 0 {
		return false, err
	}
	reason, err := r.approverReason(ctx, req.ApprovedBy)
	if err != nil || reason == "" {
		return false, err
	}
	r.log.WithFields(logrus.Fields{"ticket": req.TicketID, "approver": req.ApprovedBy, "why": reason}).Warn("the approver can no longer approve; the clone does not start")
	err = r.repo.inTx(ctx, func(q *repo) error { return r.revokeApproval(ctx, q, args, reason) })
	return err == nil, err
}

// dueOnApproval reports whether req is the scheduled request the clone job runs.
func dueOnApproval(req *request, args jobs.CloneArgs) bool {
	return req != nil && req.State == rules.Scheduled && req.ApprovedFingerprint == args.Fingerprint
}

// approverReason says why a user can no longer approve, "" if the user can.
func (r *runner) approverReason(ctx context.Context, userID int64) (string, error) {
	u, err := r.users.User(ctx, userID)
	switch {
	case errors.Is(err, notifier.ErrNotFound):
		return "no longer exists in Zendesk", nil
	case err != nil:
		return "", fromZendesk(fmt.Errorf("read approver %d: %w", userID, err))
	case !u.Active:
		return "was deleted", nil
	case u.Suspended:
		return "is suspended", nil
	case !u.Role.Staff():
		return fmt.Sprintf("is no longer an agent or admin (now %s)", u.Role), nil
	}
	return "", nil
}

// revokeApproval puts the request back to awaiting approval: the approval no longer
// counts, and a new one must come from a later audit.
func (r *runner) revokeApproval(ctx context.Context, q *repo, args jobs.CloneArgs, reason string) error {
	req, err := q.lockRequest(ctx, args.TicketID)
	if err != nil || !dueOnApproval(req, args) {
		return err
	}
	approver := &messages.ApproverView{ID: req.ApprovedBy, Audit: req.ApprovalAudit, Reason: reason}
	req.State, req.ApprovalsAfter = rules.AwaitingApproval, max(req.ApprovalsAfter, req.ApprovalAudit)
	req.ApprovedFingerprint, req.ApprovalAudit, req.ApprovedBy, req.ScheduledFor = "", 0, 0, time.Time{}
	return r.record.record(ctx, q, req, move{
		entries: []entry{{from: rules.Scheduled, to: rules.AwaitingApproval, reason: rules.ReasonApproverGone,
			detail: map[string]any{"approver": approver.ID, "approval_audit": approver.Audit, "why": reason}}},
		notices: []notice{{messages.ApproverGone, rules.AwaitingApproval}},
		data:    func(d *messages.Data) { d.Approver = approver },
	})
}
