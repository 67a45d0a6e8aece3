package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
)

type cloneWorker struct {
	river.WorkerDefaults[jobs.CloneArgs]
	s *Service
}

// Timeout lets a clone run as long as it needs; it bounds itself.
func (w *cloneWorker) Timeout(*river.Job[jobs.CloneArgs]) time.Duration { return -1 }

func (w *cloneWorker) Work(ctx context.Context, job *river.Job[jobs.CloneArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.s.runClone(ctx, job.Args, job.Attempt)
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// runClone runs an approved request's clone and records how it ended.
func (s *Service) runClone(ctx context.Context, args jobs.CloneArgs, attempt int) error {
	log := s.log.WithFields(logrus.Fields{"ticket": args.TicketID, "attempt": attempt})
	release, ok, err := s.holdRunLock(ctx, args.TicketID)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("this request's clone is already running elsewhere")
		return nil
	}
	defer release()
	// Read the ticket once more: a request withdrawn, held or changed since it was
	// scheduled must not run, even if its webhook never arrived.
	if err := s.sync(ctx, args.TicketID, troubleClone); err != nil {
		log.WithError(err).Warn("cannot read the ticket and check its instances before the clone; waiting")
		return s.snoozeFor(ctx, args.TicketID, err)
	}
	if gone, err := s.approverGone(ctx, args); err != nil || gone {
		if err != nil {
			return s.snoozeFor(ctx, args.TicketID, err)
		}
		return nil
	}
	r, err := s.start(ctx, args)
	if err != nil || r == nil {
		return err
	}
	log = log.WithFields(logrus.Fields{"production": r.Production, "sandbox": r.Sandbox})
	// Post "started" before anything the clone itself posts (the export), so the
	// ticket reads in order, waiting for another replica that is delivering it; if
	// Zendesk is down the outbox retries it later, and the clone goes on.
	if err := s.deliverFirst(ctx, r.TicketID, 10*time.Second); err != nil {
		log.WithError(err).Info("started notice not delivered yet")
	}
	log.Info("clone starting")
	began := time.Now()
	report, err := s.clone(ctx, r, attempt)
	return s.cloneEnded(ctx, log, r, report, err, time.Since(began).Seconds())
}

// clone runs the clone within its deadline.
func (s *Service) clone(ctx context.Context, r *row, attempt int) (*cloner.Report, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CloneDeadline)
	defer cancel()
	report, err := s.cfg.Cloner.Clone(cctx, r.Production, r.Sandbox, cloner.Options{
		BeforeWipe: func(ctx context.Context, export cloner.Export) error { return s.attachExport(ctx, r, export, attempt) },
	})
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (%s, jobs.clone_deadline), so it was stopped and the sandbox rolled back: %w", errCloneDeadline, s.cfg.CloneDeadline, err)
	}
	return report, err
}

// errCloneDeadline marks a clone stopped at its deadline: it fails, whatever it was
// waiting for.
var errCloneDeadline = errors.New("the clone did not finish within its deadline")

// cloneEnded records how a clone ended: ready, failed, or to be run again (another
// clone holds the sandbox, the process is stopping, or a transient fault came
// before the wipe).
func (s *Service) cloneEnded(ctx context.Context, log *logrus.Entry, r *row, report *cloner.Report, err error, elapsed float64) error {
	switch {
	case errors.Is(err, cloner.ErrBusy):
		log.Info("another clone holds the sandbox; waiting")
		return river.JobSnooze(30 * time.Second)
	case err != nil && ctx.Err() != nil:
		// Stopped (shutdown): the copy rolled back; run it again later.
		log.WithError(err).Warn("clone interrupted; it will run again")
		return err
	case err != nil && !errors.Is(err, errCloneDeadline) && transientBeforeWipe(err):
		// Nothing was wiped: the clone waits and runs again, and a permanent
		// refusal alone fails it.
		log.WithError(err).Warn("clone stopped by a transient fault before the wipe; it will run again")
		s.troubled(ctx, r.TicketID, troubleClone, err)
		return s.snoozeFor(ctx, r.TicketID, err)
	case err != nil:
		s.cfg.Metrics.CloneDuration.WithLabelValues("failed").Observe(elapsed)
		log.WithError(err).Error("clone failed")
		return s.finish(ctx, r, Failed, nil, err)
	}
	s.cfg.Metrics.CloneDuration.WithLabelValues("ready").Observe(elapsed)
	for _, c := range report.Categories {
		if c.Cloned {
			s.cfg.Metrics.RowsCopied.WithLabelValues(c.Name).Add(float64(c.Rows))
			s.cfg.Metrics.BytesCopied.WithLabelValues(c.Name).Add(float64(c.Bytes))
		}
	}
	log.WithFields(logrus.Fields{"rows": report.Rows, "bytes": report.Bytes, "seconds": report.Seconds}).Info("clone ready")
	return s.finish(ctx, r, Ready, report, nil)
}

// snoozeFor is how a clone job waits after a transient fault: Zendesk's rate limit
// or its own backoff, at most a minute.
func (s *Service) snoozeFor(ctx context.Context, ticketID int64, err error) error {
	var rl *notifier.RateLimitError
	switch {
	case errors.As(err, &rl):
		return river.JobSnooze(min(max(rl.RetryAfter, time.Second), maxSnooze))
	case isZendesk(err):
		return river.JobSnooze(15 * time.Second)
	}
	return river.JobSnooze(retryDelay(s.troubleAttempts(ctx, ticketID)))
}

// holdRunLock takes the run lock of a ticket on a connection kept for the run.
// Session locks die with their connection, so a free lock on a running request
// means its runner is gone.
func (s *Service) holdRunLock(ctx context.Context, ticketID int64) (release func(), ok bool, err error) {
	key, err := runLocks.key(ticketID)
	if err != nil {
		return nil, false, err
	}
	conn, err := s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("run lock of ticket %d: %w", ticketID, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", key).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err != nil {
			return nil, false, fmt.Errorf("run lock of ticket %d: %w", ticketID, err)
		}
		return nil, false, nil
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1::bigint)", key)
		conn.Release()
	}, true, nil
}

// start moves a scheduled request to running; nil when the job is stale (the
// request was changed, held, cancelled or already done since it was queued).
func (s *Service) start(ctx context.Context, args jobs.CloneArgs) (*row, error) {
	var started *row
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		r, err := loadForUpdate(ctx, tx, args.TicketID)
		if err != nil || r == nil || r.Fingerprint != args.Fingerprint || r.ApprovedFingerprint != args.Fingerprint {
			return err
		}
		if r.State == Running {
			started = r // we hold the run lock: the last runner died or waits to run again; its copy rolled back
			return s.resolve(ctx, tx, r)
		}
		if r.State != Scheduled {
			return nil
		}
		if now := s.now(); !s.windowFor(r.Tenant).Next(now).Equal(now) {
			// Late (the queue was down, or a retry): wait for the next window.
			r.ScheduledFor = s.windowFor(r.Tenant).Next(now)
			return save(ctx, tx, r, nil)
		}
		r.State = Running
		r.Attempts++
		if err := s.resolve(ctx, tx, r); err != nil {
			return err
		}
		id, err := appendAudit(ctx, tx, r.TicketID, Scheduled, Running, "clone started", 0, nil)
		if err != nil {
			return err
		}
		if err := save(ctx, tx, r, nil); err != nil {
			return err
		}
		items, err := s.render(r.TicketID, MsgRunning, Running, s.messageData(r), id)
		if err != nil {
			return err
		}
		started = r
		return s.queue(ctx, tx, r.TicketID, items)
	})
	if err != nil {
		return nil, fmt.Errorf("start clone of ticket %d: %w", args.TicketID, err)
	}
	return started, nil
}

// attachExport posts the sandbox-only workflows before the wipe. It runs inside the
// clone, so a failure here aborts the clone with the sandbox untouched.
func (s *Service) attachExport(ctx context.Context, r *row, export cloner.Export, attempt int) error {
	if len(export.Workflows) == 0 {
		return nil
	}
	data := s.messageData(r)
	data.Exported = export.Workflows
	data.ExportFile = exportFile(r)
	public, _, err := s.messages.Render(MsgExport, data)
	if err != nil {
		return err
	}
	return fromZendesk(s.cfg.Zendesk.Announce(ctx, r.TicketID, notifier.Announcement{
		Key:         fmt.Sprintf("%d/export/%d", r.TicketID, attempt),
		Public:      true,
		Body:        public,
		Attachments: []notifier.File{{Name: data.ExportFile, ContentType: "application/json", Data: export.JSON}},
	}))
}

func exportFile(r *row) string {
	return fmt.Sprintf("%s-sandbox-only-workflows.json", r.Sandbox)
}

// finish records the end of a clone: ready with its report, or failed with why.
func (s *Service) finish(ctx context.Context, r *row, state State, report *cloner.Report, cause error) error {
	ctx = context.WithoutCancel(ctx)
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		r.State = state
		data := s.messageData(r)
		var detail map[string]any
		msg := MsgReady
		if state == Failed {
			msg = MsgFailed
			r.FailedAt = s.now()
			r.ApprovalsAfter = r.ApprovalAudit // a retry needs a fresh approval
			data.Error = cause.Error()
			detail = map[string]any{"error": cause.Error()}
		} else {
			data.Ready = readyView(report, s.windowFor(r.Tenant).Loc)
			data.Exported = report.Export.Workflows
			data.ExportFile = exportFile(r)
			detail = map[string]any{"verification": report.Verification, "snapshot_at": report.SnapshotAt, "rows": report.Rows}
		}
		reason := "clone verified and committed"
		if state == Failed {
			reason = "clone failed; sandbox unchanged"
		}
		id, err := appendAudit(ctx, tx, r.TicketID, Running, state, reason, 0, detail)
		if err != nil {
			return err
		}
		if err := save(ctx, tx, r, nil); err != nil {
			return err
		}
		if err := saveOutcome(ctx, tx, r.TicketID, report, cause); err != nil {
			return err
		}
		items, err := s.render(r.TicketID, msg, state, data, id)
		if err != nil {
			return err
		}
		return s.queue(ctx, tx, r.TicketID, items)
	})
	if err != nil {
		return fmt.Errorf("record end of clone of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

func saveOutcome(ctx context.Context, tx pgx.Tx, ticketID int64, report *cloner.Report, cause error) error {
	var lastErr *string
	if cause != nil {
		msg := cause.Error()
		lastErr = &msg
	}
	if report != nil {
		report.Export.JSON = nil // attached to the ticket; not kept twice
	}
	_, err := tx.Exec(ctx, "UPDATE clone_requests SET report = $2::jsonb, last_error = $3::text WHERE ticket_id = $1::bigint", ticketID, report, lastErr)
	if err != nil {
		return fmt.Errorf("save clone outcome: %w", err)
	}
	return nil
}

// readyView picks what the ready notice shows from a report.
func readyView(r *cloner.Report, loc *time.Location) *ReadyView {
	v := &ReadyView{
		SnapshotAt:             r.SnapshotAt.In(loc).Format("Mon 2 Jan 2006 15:04:05 MST"),
		Duration:               (time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond).String(),
		ExcludedChecked:        r.Verification.ExcludedChecked,
		ForeignKeys:            r.Verification.ForeignKeysValidated + r.Verification.ForeignKeysNull,
		Integrations:           r.Integrations,
		DependentWorkflows:     r.DependentWorkflows,
		DependentWorkflowCount: r.DependentWorkflowCount,
	}
	for _, c := range r.Categories {
		if c.Cloned {
			v.Cloned = append(v.Cloned, CategoryCount{Name: c.Name, Rows: c.Rows})
		}
	}
	for _, t := range r.Tables {
		v.Tables = append(v.Tables, TableCheck{Table: t.Table, Rows: t.Rows, Checksum: t.Checksum.Sum})
	}
	return v
}
