package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
)

// runner runs an approved request's clone in its window: it brings the request up
// to date with the ticket, re-reads the approver, starts the request, runs the
// clone within its deadline, and records how it ended. A run holds the request's
// run lock for its whole length, so that a free lock on a running request means
// its runner is gone (restart).
type runner struct {
	refresh  refresher
	users    userReader
	cloner   cloneRunner
	outbox   *outbox
	repo     *repo
	record   *recorder
	troubles *troubles
	windows  schedule.Windows
	metrics  *metrics.Metrics
	deadline time.Duration
	log      *logrus.Entry
	now      func() time.Time
	observe  observeFunc
}

// refresher brings a request up to date with its ticket: the ticket sync.
type refresher interface {
	sync(ctx context.Context, ticketID int64, job string) error
}

func (r *runner) worker() river.Worker[jobs.CloneArgs] { return &cloneWorker{r: r} }

type cloneWorker struct {
	river.WorkerDefaults[jobs.CloneArgs]
	r *runner
}

// Timeout lets a clone run as long as it needs; it bounds itself.
func (w *cloneWorker) Timeout(*river.Job[jobs.CloneArgs]) time.Duration { return -1 }

func (w *cloneWorker) Work(ctx context.Context, job *river.Job[jobs.CloneArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.r.run(ctx, job.Args, job.Attempt)
	w.r.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// run runs an approved request's clone and records how it ended.
func (r *runner) run(ctx context.Context, args jobs.CloneArgs, attempt int) error {
	log := r.log.WithFields(logrus.Fields{"ticket": args.TicketID, "attempt": attempt})
	release, ok, err := r.repo.holdRunLock(ctx, args.TicketID)
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
	if err := r.refresh.sync(ctx, args.TicketID, troubleClone); err != nil {
		log.WithError(err).Warn("cannot read the ticket and check its instances before the clone; waiting")
		return r.snoozeFor(ctx, args.TicketID, err)
	}
	if gone, err := r.approverGone(ctx, args); err != nil || gone {
		if err != nil {
			return r.snoozeFor(ctx, args.TicketID, err)
		}
		return nil
	}
	req, err := r.start(ctx, args)
	if err != nil || req == nil {
		return err
	}
	log = log.WithFields(logrus.Fields{"production": req.Production, "sandbox": req.Sandbox})
	log.Info("clone starting")
	began := time.Now()
	report, err := r.clone(ctx, req, attempt)
	return waiting(ctx, r.repo, log, req.TicketID, r.ended(ctx, log, req, report, err, time.Since(began).Seconds()))
}

// waiting passes on a runner's outcome; when the job is to run again later (a
// snooze) while its request stays running or rolling back, it notes the wait
// first (markWaiting), as the run lock is still held.
func waiting(ctx context.Context, q *repo, log *logrus.Entry, ticketID int64, outcome error) error {
	var snooze *river.JobSnoozeError
	if errors.As(outcome, &snooze) {
		if err := q.markWaiting(context.WithoutCancel(ctx), ticketID, snooze.Duration); err != nil {
			log.WithError(err).Warn("cannot note the wait; the due rescue may restart the request early")
		}
	}
	return outcome
}

// snoozeFor is how a clone job waits after a transient fault: Zendesk's rate limit
// or its own backoff, at most a minute.
func (r *runner) snoozeFor(ctx context.Context, ticketID int64, err error) error {
	if d, ok := rateLimited(err); ok {
		return river.JobSnooze(d)
	}
	if isZendesk(err) {
		return river.JobSnooze(15 * time.Second)
	}
	return river.JobSnooze(retryDelay(r.repo.troubleAttempts(ctx, ticketID)))
}

// start moves a scheduled request to running; nil when the job is stale (the
// request was changed, held, cancelled or already done since it was queued).
func (r *runner) start(ctx context.Context, args jobs.CloneArgs) (*request, error) {
	var started *request
	err := r.repo.inTx(ctx, func(q *repo) error {
		req, err := q.lockRequest(ctx, args.TicketID)
		if err != nil || req == nil || req.Fingerprint != args.Fingerprint || req.ApprovedFingerprint != args.Fingerprint {
			return err
		}
		if req.State == rules.Running {
			started = req // we hold the run lock: the last runner died or waits to run again; its copy rolled back
			return r.troubles.resolve(ctx, q, req)
		}
		if req.State != rules.Scheduled {
			return nil
		}
		w := r.windows.For(req.Tenant)
		if now := r.now(); !w.Next(now).Equal(now) {
			// Late (the queue was down, or a retry): wait for the next window.
			req.ScheduledFor = w.Next(now)
			return q.save(ctx, req, nil)
		}
		req.State = rules.Running
		req.Attempts++
		if err := r.troubles.resolve(ctx, q, req); err != nil {
			return err
		}
		started = req
		return r.record.record(ctx, q, req, move{
			entries: []entry{{from: rules.Scheduled, to: rules.Running, reason: rules.ReasonStarted}},
			notices: []notice{{messages.Running, rules.Running}},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("start clone of ticket %d: %w", args.TicketID, err)
	}
	return started, nil
}

// clone runs the clone within its deadline.
func (r *runner) clone(ctx context.Context, req *request, attempt int) (*cloner.Report, error) {
	cctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	report, err := r.cloner.Clone(cctx, req.Production, req.Sandbox, cloner.Options{
		BeforeWipe: func(ctx context.Context, export *cloner.SandboxExport) error {
			return r.postExport(ctx, req, export, attempt)
		},
	})
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w (%s, jobs.clone_deadline), so it was stopped and the sandbox rolled back: %w", errCloneDeadline, r.deadline, err)
	}
	return report, err
}

// errCloneDeadline marks a clone stopped at its deadline: it fails, whatever it was
// waiting for.
var errCloneDeadline = errors.New("the clone did not finish within its deadline")

// postExport posts the sandbox export before anything of the sandbox is replaced,
// after what the ticket was told before: the archives, streamed from the clone's
// files (each under Zendesk's attachment limit), under a public comment that
// lists them by category. It runs inside the clone, so a failure aborts the clone
// with the sandbox untouched. With nothing to save, nothing is posted. A swap that
// found the sandbox changed during its load exports it again: the next round is a
// comment of its own.
func (r *runner) postExport(ctx context.Context, req *request, e *cloner.SandboxExport, attempt int) error {
	if e.Rows() == 0 {
		return nil
	}
	data := r.record.data(req)
	data.Export = messages.NewExportView(e.Round, e.Rows(), e.Archives, e.Workflows)
	public, _, err := r.record.render.Render(messages.Export, data)
	if err != nil {
		return err
	}
	var files []notifier.File
	for _, a := range e.Archives {
		for _, f := range a.Files {
			files = append(files, notifier.File{Name: f.Name, ContentType: "application/zip", Path: f.Path})
		}
	}
	return r.outbox.postInOrder(ctx, req.TicketID, notifier.Announcement{
		Key:         fmt.Sprintf("%d/%s/%d/%d", req.TicketID, messages.Export, attempt, e.Round),
		Public:      true,
		Body:        public,
		Attachments: files,
	}, 10*time.Second)
}

// ended records how a clone ended: ready, failed, or to be run again (another
// clone holds the sandbox, the process is stopping, or a transient fault came
// before the wipe).
func (r *runner) ended(ctx context.Context, log *logrus.Entry, req *request, report *cloner.Report, err error, elapsed float64) error {
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
		r.troubles.failed(ctx, req.TicketID, troubleClone, err)
		return r.snoozeFor(ctx, req.TicketID, err)
	case err != nil:
		r.metrics.CloneDuration.WithLabelValues(string(rules.Failed)).Observe(elapsed)
		log.WithError(err).Error("clone failed")
		return r.finish(ctx, req, nil, err)
	}
	r.metrics.CloneDuration.WithLabelValues(string(rules.Ready)).Observe(elapsed)
	for _, c := range report.Categories {
		if c.Cloned {
			r.metrics.RowsCopied.WithLabelValues(c.Name).Add(float64(c.Rows))
			r.metrics.BytesCopied.WithLabelValues(c.Name).Add(float64(c.Bytes))
		}
	}
	log.WithFields(logrus.Fields{"rows": report.Rows, "bytes": report.Bytes, "seconds": report.Seconds}).Info("clone ready")
	return r.finish(ctx, req, report, nil)
}

// finish records the end of a clone: ready with its report, or failed with why.
func (r *runner) finish(ctx context.Context, req *request, report *cloner.Report, cause error) error {
	ctx = context.WithoutCancel(ctx)
	m := move{entries: []entry{{from: rules.Running}}}
	if cause != nil {
		req.State = rules.Failed
		req.ApprovalsAfter = req.ApprovalAudit // a retry needs a fresh approval
		m.entries[0].reason, m.entries[0].detail = rules.ReasonCloneFailed, map[string]any{"error": cause.Error()}
		m.notices = []notice{{messages.Failed, rules.Failed}}
		m.data = func(d *messages.Data) { d.Error = cause.Error() }
	} else {
		req.State = rules.Ready
		req.CloneID = report.ID // names the copy a rollback restores
		if report.Rollback != nil {
			req.RollbackUntil = report.Rollback.ExpiresAt
		}
		m.entries[0].reason = rules.ReasonVerified
		m.entries[0].detail = map[string]any{"verification": report.Verification, "snapshot_at": report.SnapshotAt, "rows": report.Rows,
			"clone_id": report.ID, "rollback_until": nullTime(req.RollbackUntil)}
		m.notices = []notice{{messages.Ready, rules.Ready}}
		m.data = func(d *messages.Data) {
			d.Ready = messages.NewReadyView(report, r.windows.For(req.Tenant).Loc)
			d.Drift = messages.NewDriftView(report.Drift)
			if x := report.Export; x.Rows > 0 {
				d.Export = messages.NewExportView(x.Rounds, x.Rows, x.Archives, x.Workflows)
			}
		}
	}
	m.entries[0].to = req.State
	err := r.repo.inTx(ctx, func(q *repo) error {
		if err := r.record.record(ctx, q, req, m); err != nil {
			return err
		}
		if report != nil && cause == nil {
			if err := q.keepClone(ctx, req.TicketID, report, r.now()); err != nil {
				return err
			}
		}
		if err := q.saveOutcome(ctx, req.TicketID, report, cause); err != nil {
			return err
		}
		if req.State == rules.Ready {
			// A rollback tag added while the clone ran is read now it is ready.
			return q.queueSync(ctx, req.TicketID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record end of clone of ticket %d: %w", req.TicketID, err)
	}
	return nil
}

// restart puts back a clone whose runner died (the caller holds its free run
// lock): the sandbox transaction died with the runner, so the sandbox is as it
// was. The ticket is told, and the clone runs again.
func (r *runner) restart(ctx context.Context, ticketID int64) error {
	return r.repo.inTx(ctx, func(q *repo) error {
		req, err := q.lockRequestIn(ctx, ticketID, rules.Running)
		if err != nil || req == nil {
			return err
		}
		r.log.WithField("ticket", ticketID).Warn("clone interrupted: its runner stopped; restarting it")
		req.State = rules.Scheduled
		err = r.record.record(ctx, q, req, move{
			entries: []entry{{from: rules.Running, to: rules.Scheduled, reason: rules.ReasonInterrupted}},
			notices: []notice{{messages.Interrupted, rules.Scheduled}},
		})
		if err != nil {
			return err
		}
		return q.queueClone(ctx, req, req.Attempts)
	})
}
