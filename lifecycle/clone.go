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
	"github.com/gaiia/clonebot/notifier"
)

type cloneWorker struct {
	river.WorkerDefaults[CloneArgs]
	s *Service
}

// Timeout lets a clone run as long as it needs; it bounds itself.
func (w *cloneWorker) Timeout(*river.Job[CloneArgs]) time.Duration { return -1 }

func (w *cloneWorker) Work(ctx context.Context, job *river.Job[CloneArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.s.runClone(ctx, job.Args, job.Attempt)
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// runClone runs an approved request's clone and records how it ended.
func (s *Service) runClone(ctx context.Context, args CloneArgs, attempt int) error {
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
	if err := s.syncTicket(ctx, args.TicketID); err != nil {
		if errors.Is(err, errPreflight) {
			return s.failUnplanned(ctx, args, err)
		}
		log.WithError(err).Warn("cannot re-read the ticket before the clone; waiting")
		return river.JobSnooze(15 * time.Second)
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
	report, err := s.cfg.Cloner.Clone(ctx, r.Production, r.Sandbox, cloner.Options{
		BeforeWipe: func(ctx context.Context, export cloner.Export) error { return s.attachExport(ctx, r, export, attempt) },
	})
	elapsed := time.Since(began).Seconds()
	switch {
	case errors.Is(err, cloner.ErrBusy):
		log.Info("another clone holds the sandbox; waiting")
		return river.JobSnooze(30 * time.Second)
	case err != nil && ctx.Err() != nil:
		// Stopped (shutdown): the copy rolled back; run it again later.
		log.WithError(err).Warn("clone interrupted; it will run again")
		return err
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

// failUnplanned records as failed a clone whose instances did not answer its
// preflight: waiting would leave the ticket silent for as long as they stay down,
// while the failure names the cause and an agent retries once it is fixed.
func (s *Service) failUnplanned(ctx context.Context, args CloneArgs, cause error) error {
	r, err := s.start(ctx, args)
	if err != nil || r == nil {
		return err
	}
	s.log.WithError(cause).WithField("ticket", args.TicketID).Error("clone failed: its preflight could not reach an instance")
	return s.finish(ctx, r, Failed, nil, cause)
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
func (s *Service) start(ctx context.Context, args CloneArgs) (*row, error) {
	var started *row
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		r, err := loadForUpdate(ctx, tx, args.TicketID)
		if err != nil || r == nil || r.Fingerprint != args.Fingerprint || r.ApprovedFingerprint != args.Fingerprint {
			return err
		}
		if r.State == Running {
			started = r // we hold the run lock, so the last runner died; its copy rolled back
			return nil
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
	return s.cfg.Zendesk.Announce(ctx, r.TicketID, notifier.Announcement{
		Key:         fmt.Sprintf("%d/export/%d", r.TicketID, attempt),
		Public:      true,
		Body:        public,
		Attachments: []notifier.File{{Name: data.ExportFile, ContentType: "application/json", Data: export.JSON}},
	})
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
