package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

type syncWorker struct {
	river.WorkerDefaults[TicketSyncArgs]
	s *Service
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[TicketSyncArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.s.syncTicket(ctx, job.Args.TicketID)
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// syncTicket re-reads a ticket and moves its request along.
func (s *Service) syncTicket(ctx context.Context, ticketID int64) error {
	log := s.log.WithField("ticket", ticketID)
	// Free the pending slot first: an event that arrives from now on queues a new
	// sync, which will see whatever this one reads too late to see.
	if _, err := s.cfg.Pool.Exec(ctx, "DELETE FROM ticket_sync_pending WHERE ticket_id = $1::bigint", ticketID); err != nil {
		return fmt.Errorf("release pending sync of ticket %d: %w", ticketID, err)
	}
	t, err := s.readTicket(ctx, ticketID)
	if err != nil {
		return zendeskJobError(err)
	}
	state, err := s.currentState(ctx, ticketID)
	if err != nil {
		return err
	}
	snap, err := s.snapshot(ctx, t, state)
	if err != nil {
		return zendeskJobError(err)
	}
	err = s.apply(ctx, log, t, snap)
	if !errors.Is(err, errNeedPlan) {
		return err
	}
	// The request becomes valid: its announcement shows the whole plan.
	if snap.plan, err = s.cfg.Cloner.Plan(ctx, snap.Request.Production, snap.Request.Sandbox); err != nil {
		return zendeskJobError(preflightFailed(snap.Request, err))
	}
	snap.PlanProblems = snap.plan.Problems
	return s.apply(ctx, log, t, snap)
}

// errNeedPlan stops a sync whose decision announces the plan, which the snapshot
// only checked: the sync plans in full, outside the transaction, and applies again.
var errNeedPlan = errors.New("the announcement needs the full plan")

// readTicket fetches and decodes a ticket. A deleted ticket reads as a closed,
// untagged one, which cancels a pending request.
func (s *Service) readTicket(ctx context.Context, id int64) (parser.Ticket, error) {
	raw, err := s.cfg.Zendesk.TicketJSON(ctx, id)
	if errors.Is(err, notifier.ErrNotFound) {
		return parser.Ticket{ID: id, Status: "deleted", UpdatedAt: s.now()}, nil
	}
	if err != nil {
		return parser.Ticket{}, fmt.Errorf("read ticket %d: %w", id, err)
	}
	t, err := parser.DecodeTicket(raw)
	if err != nil {
		return parser.Ticket{}, river.JobCancel(fmt.Errorf("decode ticket %d: %w", id, err))
	}
	return t, nil
}

func (s *Service) currentState(ctx context.Context, id int64) (State, error) {
	var st State
	err := s.cfg.Pool.QueryRow(ctx, "SELECT state FROM clone_requests WHERE ticket_id = $1::bigint", id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read state of ticket %d: %w", id, err)
	}
	return st, nil
}

// snapshot reads what Decide needs, asking Zendesk and the instances only when the
// answer can matter.
func (s *Service) snapshot(ctx context.Context, t parser.Ticket, state State) (Snapshot, error) {
	tags := s.cfg.Settings.Zendesk.Tags
	snap := Snapshot{
		Closed: t.Status == "solved" || t.Status == "closed" || t.Status == "deleted",
		Tagged: t.HasTag(tags.Request), Hold: t.HasTag(tags.Hold), Reject: t.HasTag(tags.Reject),
		Seen: t.UpdatedAt,
	}
	if !snap.Tagged || snap.Closed || state == Ready || state == Running {
		return snap, nil
	}
	snap.Request, snap.Problems = parser.Parse(t, s.parse)
	if snap.Request == nil || snap.Hold || snap.Reject {
		return snap, nil
	}
	// Checks only (catalogs, no rows): a sync runs on every ticket event, and only
	// the move to awaiting approval shows the counted plan (see errNeedPlan).
	checked, err := s.cfg.Cloner.Check(ctx, snap.Request.Production, snap.Request.Sandbox)
	if err != nil {
		return snap, preflightFailed(snap.Request, err)
	}
	snap.PlanProblems = checked.Problems
	if t.HasTag(tags.Approve) {
		if snap.Approval, err = s.approval(ctx, t.ID, tags.Approve); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// errPreflight marks a sync that read the ticket but could not plan the clone: an
// instance did not answer.
var errPreflight = errors.New("preflight")

func preflightFailed(r *parser.Request, err error) error {
	return fmt.Errorf("%w %s -> %s: %w", errPreflight, r.Production, r.Sandbox, err)
}

// approval finds who added the approval tag most recently, from the audits: the
// webhook's word for it is never trusted.
func (s *Service) approval(ctx context.Context, ticketID int64, tag string) (Approval, error) {
	changes, err := s.cfg.Zendesk.TagAdditions(ctx, ticketID, tag)
	if err != nil {
		return Approval{}, fmt.Errorf("read approval of ticket %d: %w", ticketID, err)
	}
	if len(changes) == 0 || !changes[len(changes)-1].Added {
		return Approval{}, nil
	}
	last := changes[len(changes)-1]
	role, err := s.cfg.Zendesk.UserRole(ctx, last.AuthorID)
	if err != nil {
		return Approval{}, fmt.Errorf("read role of user %d: %w", last.AuthorID, err)
	}
	return Approval{Present: true, By: last.AuthorID, Role: role, At: last.At, ViaTrigger: last.ViaTrigger}, nil
}

// apply decides and records the outcome in one transaction.
func (s *Service) apply(ctx context.Context, log *logrus.Entry, t parser.Ticket, snap Snapshot) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		r, err := loadForUpdate(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if r == nil {
			if !snap.Tagged || snap.Closed {
				return nil
			}
			if r, err = insertReceived(ctx, tx, t.ID); err != nil {
				return err
			}
		}
		if !r.TicketUpdatedAt.IsZero() && t.UpdatedAt.Before(r.TicketUpdatedAt) {
			log.Debug("ignoring an older snapshot of the ticket")
			return nil
		}
		d := Decide(r.record(), snap)
		if messageFor[d.Reason] == MsgAwaitingApproval && snap.plan == nil {
			return errNeedPlan
		}
		s.remember(r, snap, t)
		if d.Reason == ReasonNone {
			log.WithField("state", r.State).Info("ticket synced; no change")
			return save(ctx, tx, r, snap.Problems)
		}
		log.WithFields(logrus.Fields{"from": r.State, "to": d.Next, "reason": d.Reason}).Info("request moves")
		return s.transition(ctx, tx, r, d, snap)
	})
}

// remember copies the snapshot's request into the record.
func (s *Service) remember(r *row, snap Snapshot, t parser.Ticket) {
	r.TicketUpdatedAt = t.UpdatedAt
	if snap.Request == nil {
		return
	}
	if r.Fingerprint != snap.Request.Fingerprint || r.FingerprintSince.IsZero() {
		r.FingerprintSince = t.UpdatedAt
	}
	r.Request = snap.Request
	r.Fingerprint = snap.Request.Fingerprint
	r.Production, r.Sandbox, r.Tenant = snap.Request.Production, snap.Request.Sandbox, snap.Request.Tenant
}

// transition records a decision: state, audit entry, announcements, jobs.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, r *row, d Decision, snap Snapshot) error {
	from := r.State
	var actor int64
	switch d.Reason {
	case ReasonProblems:
		r.ProblemsKey = problemsKey(snap.Problems)
	case ReasonPreflight:
		r.ProblemsKey = planKey(snap.PlanProblems)
	case ReasonApprovalRefused:
		r.RefusedApprovals = append(r.RefusedApprovals, snap.Approval.At)
		actor = snap.Approval.By
	case ReasonApproved:
		actor = snap.Approval.By
		r.ApprovedFingerprint = r.Fingerprint
		r.ScheduledFor = s.windowFor(r.Tenant).Next(s.now())
		if _, err := appendAudit(ctx, tx, r.TicketID, from, Approved, string(d.Reason), actor, map[string]any{"fingerprint": r.Fingerprint}); err != nil {
			return err
		}
		from = Approved
	case ReasonChanged, ReasonWithdrawn:
		r.ApprovedFingerprint = ""
		r.ScheduledFor = time.Time{}
	}
	r.State = d.Next
	id, err := appendAudit(ctx, tx, r.TicketID, from, d.Next, string(d.Reason), actor, auditDetail(d, snap, r))
	if err != nil {
		return err
	}
	if err := save(ctx, tx, r, snap.Problems); err != nil {
		return err
	}
	items, err := s.announcements(r, d, snap, id)
	if err != nil {
		return err
	}
	if err := s.queue(ctx, tx, r.TicketID, items); err != nil {
		return err
	}
	if d.Schedule && !r.ScheduledFor.After(s.now()) {
		return insertClone(ctx, tx, r)
	}
	return nil
}

func auditDetail(d Decision, snap Snapshot, r *row) map[string]any {
	detail := map[string]any{"fingerprint": r.Fingerprint}
	switch {
	case len(snap.Problems) > 0 && d.Reason == ReasonProblems:
		detail["problems"] = snap.Problems
	case d.Reason == ReasonPreflight:
		detail["plan_problems"] = snap.PlanProblems
	case d.Schedule:
		detail["scheduled_for"] = r.ScheduledFor
	}
	return detail
}

// queue stores announcements and the job that posts them.
func (s *Service) queue(ctx context.Context, tx pgx.Tx, ticketID int64, items []outboxItem) error {
	if len(items) == 0 {
		return nil
	}
	if err := enqueueOutbox(ctx, tx, ticketID, items); err != nil {
		return err
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, OutboxArgs{TicketID: ticketID}, nil); err != nil {
		return fmt.Errorf("queue announcement delivery for ticket %d: %w", ticketID, err)
	}
	return nil
}

// insertClone queues the clone job; River's uniqueness keeps it to one per request
// and run. The run is the number of clones started so far, so a retry after a
// failure is a new job even while the job of a killed runner is still marked
// running.
func insertClone(ctx context.Context, tx pgx.Tx, r *row) error {
	return insertCloneRun(ctx, tx, r, r.Attempts)
}

// insertCloneRun queues run number run of a request's clone.
func insertCloneRun(ctx context.Context, tx pgx.Tx, r *row, run int) error {
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, CloneArgs{TicketID: r.TicketID, Fingerprint: r.Fingerprint, Run: run}, &river.InsertOpts{
		Queue: QueueClone, MaxAttempts: 5,
		// Not "completed": a failed clone's job completes, and a re-approval of the
		// same request must be able to queue it again.
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	})
	if err != nil {
		return fmt.Errorf("queue clone of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

// QueueClone is the River queue of clone jobs, apart so that long clones never
// delay ticket syncs and announcements.
const QueueClone = "clone"

func (s *Service) windowFor(tenant string) Window {
	if w, ok := s.windows[tenant]; ok {
		return w
	}
	w, _ := NewWindow(s.cfg.Settings.Window, time.UTC)
	return w
}

// zendeskJobError turns a Zendesk failure into the right job outcome: wait out a
// rate limit, retry the rest.
func zendeskJobError(err error) error {
	var rl *notifier.RateLimitError
	if errors.As(err, &rl) {
		return river.JobSnooze(max(rl.RetryAfter, time.Second))
	}
	return err
}
