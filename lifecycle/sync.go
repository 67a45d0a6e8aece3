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

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

type syncWorker struct {
	river.WorkerDefaults[jobs.TicketSyncArgs]
	s *Service
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[jobs.TicketSyncArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := zendeskJobError(w.s.sync(ctx, job.Args.TicketID, troubleSync))
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// syncTicket re-reads a ticket and moves its request along.
func (s *Service) syncTicket(ctx context.Context, ticketID int64) error {
	return s.sync(ctx, ticketID, troubleSync)
}

// sync is syncTicket on behalf of job: a failure once the ticket was read (an
// instance that does not answer) is the ticket's trouble until a sync goes through.
func (s *Service) sync(ctx context.Context, ticketID int64, job string) error {
	err := s.syncOnce(ctx, ticketID)
	var read *readFailure
	if err != nil && !errors.As(err, &read) {
		s.troubled(ctx, ticketID, job, err)
	}
	return err
}

// readFailure marks a sync that failed before it knew the ticket: reading it, or
// the bot's own state.
type readFailure struct{ err error }

func (r *readFailure) Error() string { return r.err.Error() }
func (r *readFailure) Unwrap() error { return r.err }

func (s *Service) syncOnce(ctx context.Context, ticketID int64) error {
	log := s.log.WithField("ticket", ticketID)
	// Free the pending slot first: an event that arrives from now on queues a new
	// sync, which will see whatever this one reads too late to see.
	if _, err := s.cfg.Pool.Exec(ctx, "DELETE FROM ticket_sync_pending WHERE ticket_id = $1::bigint", ticketID); err != nil {
		return fmt.Errorf("release pending sync of ticket %d: %w", ticketID, err)
	}
	v, err := s.readView(ctx, ticketID)
	if err != nil {
		return &readFailure{err}
	}
	state, err := s.currentState(ctx, ticketID)
	if err != nil {
		return &readFailure{err}
	}
	snap, fresh, err := s.snapshot(ctx, v, state)
	if err != nil {
		return err
	}
	err = s.apply(ctx, log, v.ticket, snap, fresh)
	if !errors.Is(err, errNeedPlan) {
		return err
	}
	// The request becomes valid: its announcement shows the whole plan.
	if snap.plan, err = s.cfg.Cloner.Plan(ctx, snap.Request.Production, snap.Request.Sandbox); err != nil {
		return preflightFailed(snap.Request, err)
	}
	snap.PlanProblems = snap.plan.Problems
	return s.apply(ctx, log, v.ticket, snap, fresh)
}

// errNeedPlan stops a sync whose decision announces the plan, which the snapshot
// only checked: the sync plans in full, outside the transaction, and applies again.
var errNeedPlan = errors.New("the announcement needs the full plan")

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

// errPreflight marks a sync that read the ticket but could not plan the clone: an
// instance did not answer.
var errPreflight = errors.New("preflight")

func preflightFailed(r *parser.Request, err error) error {
	return fmt.Errorf("%w %s -> %s: %w", errPreflight, r.Production, r.Sandbox, err)
}

// apply decides and records the outcome in one transaction, with the authors it
// judged (another sync's judgement, stored first, wins).
func (s *Service) apply(ctx context.Context, log *logrus.Entry, t parser.Ticket, snap Snapshot, fresh []judgement) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := s.rejudgeIn(ctx, tx, t, &snap, fresh); err != nil {
			return err
		}
		r, err := loadForUpdate(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if r == nil {
			if !snap.Tagged || snap.Closed {
				return dropTrouble(ctx, tx, t.ID)
			}
			if r, err = insertReceived(ctx, tx, t.ID); err != nil {
				return err
			}
		}
		if snap.LastAuditID < r.LastAuditID && !snap.Deleted {
			log.Debug("ignoring an older reading of the ticket")
			return nil
		}
		next, d := Step(r.Record, snap)
		if (messageFor[d.Reason] == MsgAwaitingApproval || d.Acknowledge) && snap.plan == nil {
			return errNeedPlan
		}
		from := r.State
		r.Record = next
		s.remember(r, snap, t)
		if err := s.resolve(ctx, tx, r); err != nil {
			return err
		}
		if d.Reason == ReasonNone {
			log.WithField("state", r.State).Info("ticket synced; no change")
			return save(ctx, tx, r, snap.Problems)
		}
		log.WithFields(logrus.Fields{"from": from, "to": d.Next, "reason": d.Reason}).Info("request moves")
		return s.transition(ctx, tx, r, from, d, snap)
	})
}

// rejudgeIn stores the fresh judgements and applies all stored ones.
func (s *Service) rejudgeIn(ctx context.Context, tx pgx.Tx, t parser.Ticket, snap *Snapshot, fresh []judgement) error {
	if snap.history == nil {
		return nil
	}
	if err := storeRoles(ctx, tx, t.ID, fresh); err != nil {
		return err
	}
	audits := snap.history.decisionAudits(t.HasTag, s.decisionTags(), s.deciders)
	roles, err := loadRoles(ctx, tx, t.ID, auditIDs(audits))
	if err != nil {
		return err
	}
	return snap.rejudge(roles, t.HasTag, s.cfg.Settings.Zendesk.Tags, s.deciders)
}

// remember copies the snapshot's request into the row.
func (s *Service) remember(r *row, snap Snapshot, t parser.Ticket) {
	r.TicketUpdatedAt = t.UpdatedAt
	if snap.Request == nil || r.State == Running || r.State == Ready {
		return
	}
	r.Request = snap.Request
	r.Production, r.Sandbox, r.Tenant = snap.Request.Production, snap.Request.Sandbox, snap.Request.Tenant
}

// transition records a decision the record already reflects: audit entries,
// announcements, jobs.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, r *row, from State, d Decision, snap Snapshot) error {
	var actor int64
	switch d.Reason {
	case ReasonApprovalRefused:
		actor = snap.Approval.By
	case ReasonApproved:
		actor = snap.Approval.By
		r.ScheduledFor = s.windowFor(r.Tenant).Next(s.now())
		if _, err := appendAudit(ctx, tx, r.TicketID, from, Approved, string(d.Reason), actor,
			map[string]any{"fingerprint": r.Fingerprint, "approval_audit": r.ApprovalAudit}); err != nil {
			return err
		}
		from = Approved
	case ReasonChanged, ReasonWithdrawn:
		r.ScheduledFor = time.Time{}
	}
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
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, jobs.OutboxArgs{TicketID: ticketID}, nil); err != nil {
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
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, jobs.CloneArgs{TicketID: r.TicketID, Fingerprint: r.Fingerprint, Run: run}, &river.InsertOpts{
		Queue: jobs.QueueClone, MaxAttempts: 5,
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

func (s *Service) windowFor(tenant string) Window {
	if w, ok := s.windows[tenant]; ok {
		return w
	}
	w, _ := NewWindow(s.cfg.Settings.Window, time.UTC)
	return w
}

// maxSnooze caps how long a job waits out a rate limit, so that a ticket moves on
// within a minute or two of Zendesk recovering, whatever Retry-After it sent.
const maxSnooze = time.Minute

// zendeskJobError turns a Zendesk failure into the right job outcome: wait out a
// rate limit (up to maxSnooze), retry the rest.
func zendeskJobError(err error) error {
	var rl *notifier.RateLimitError
	if errors.As(err, &rl) {
		return river.JobSnooze(min(max(rl.RetryAfter, time.Second), maxSnooze))
	}
	return err
}
