package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
)

// approverGone re-reads the approver of a due clone: an approver who is no longer
// an active agent or admin (suspended, demoted, deleted) cannot carry the clone,
// which then does not start; the ticket says why and waits for a new approval.
func (s *Service) approverGone(ctx context.Context, args jobs.CloneArgs) (bool, error) {
	r, err := s.dueApproval(ctx, args)
	if err != nil || r == nil {
		return false, err
	}
	reason, err := s.approverReason(ctx, r.ApprovedBy)
	if err != nil || reason == "" {
		return false, err
	}
	s.log.WithFields(map[string]any{"ticket": r.TicketID, "approver": r.ApprovedBy, "why": reason}).Warn("the approver can no longer approve; the clone does not start")
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error { return s.revokeApproval(ctx, tx, args, reason) })
	return err == nil, err
}

// dueApproval is the request of a clone job about to start on its approval; nil
// when the job will not start it anyway.
func (s *Service) dueApproval(ctx context.Context, args jobs.CloneArgs) (*row, error) {
	var r *row
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		r, err = loadForUpdate(ctx, tx, args.TicketID)
		return err
	})
	if err != nil || r == nil || r.State != Scheduled || r.ApprovedBy == 0 || r.ApprovedFingerprint != args.Fingerprint {
		return nil, err
	}
	return r, nil
}

// approverReason says why a user can no longer approve, "" if the user can.
func (s *Service) approverReason(ctx context.Context, userID int64) (string, error) {
	u, err := s.cfg.Zendesk.User(ctx, userID)
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
func (s *Service) revokeApproval(ctx context.Context, tx pgx.Tx, args jobs.CloneArgs, reason string) error {
	r, err := loadForUpdate(ctx, tx, args.TicketID)
	if err != nil || r == nil || r.State != Scheduled || r.ApprovedFingerprint != args.Fingerprint {
		return err
	}
	approver := &ApproverView{ID: r.ApprovedBy, Audit: r.ApprovalAudit, Reason: reason}
	r.State, r.ApprovalsAfter = AwaitingApproval, max(r.ApprovalsAfter, r.ApprovalAudit)
	r.ApprovedFingerprint, r.ApprovalAudit, r.ApprovedBy, r.ScheduledFor = "", 0, 0, time.Time{}
	id, err := appendAudit(ctx, tx, r.TicketID, Scheduled, AwaitingApproval, "approver can no longer approve", 0,
		map[string]any{"approver": approver.ID, "approval_audit": approver.Audit, "why": reason})
	if err != nil {
		return err
	}
	if err := save(ctx, tx, r, nil); err != nil {
		return err
	}
	data := s.messageData(r)
	data.Approver = approver
	items, err := s.render(r.TicketID, MsgApproverGone, AwaitingApproval, data, id)
	if err != nil {
		return err
	}
	return s.queue(ctx, tx, r.TicketID, items)
}
