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
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
)

// restorer rolls a ready clone back once an agent asked for it on the ticket: it
// restores the sandbox from the copy that clone kept (never another clone's), and
// records how it ended. Like a clone, a rollback holds the ticket's run lock for
// its whole length, so that a free lock on a request rolling back means its
// runner is gone: the cloner's one transaction leaves the sandbox and its copy as
// they were, and the rollback runs again (due.rescueRollbacks).
type restorer struct {
	cloner   rollbackRunner
	repo     *repo
	record   *recorder
	troubles *troubles
	metrics  *metrics.Metrics
	deadline time.Duration
	log      *logrus.Entry
	observe  observeFunc
}

func (r *restorer) worker() river.Worker[jobs.RollbackArgs] { return &rollbackWorker{r: r} }

type rollbackWorker struct {
	river.WorkerDefaults[jobs.RollbackArgs]
	r *restorer
}

// Timeout lets a rollback run as long as it needs; it bounds itself.
func (w *rollbackWorker) Timeout(*river.Job[jobs.RollbackArgs]) time.Duration { return -1 }

func (w *rollbackWorker) Work(ctx context.Context, job *river.Job[jobs.RollbackArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID)
	err := w.r.run(ctx, job.Args)
	w.r.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// run restores the sandbox of the request's clone and records how it ended.
func (r *restorer) run(ctx context.Context, args jobs.RollbackArgs) error {
	log := r.log.WithFields(logrus.Fields{"ticket": args.TicketID, "clone_id": args.CloneID})
	release, ok, err := r.repo.holdRunLock(ctx, args.TicketID)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("this request's rollback is already running elsewhere")
		return nil
	}
	defer release()
	req, err := r.repo.loadRequest(ctx, args.TicketID)
	if err != nil {
		return err
	}
	if req == nil || req.State != rules.RollingBack || req.CloneID != args.CloneID {
		log.Info("rollback no longer asked for; nothing to do")
		return nil
	}
	log = log.WithField("sandbox", req.Sandbox)
	log.Info("rollback starting")
	began := time.Now()
	report, err := r.rollback(ctx, req)
	return waiting(ctx, r.repo, log, req.TicketID, r.ended(ctx, log, req, report, err, time.Since(began).Seconds()))
}

// rollback runs the cloner's rollback of the request's clone within the deadline.
func (r *restorer) rollback(ctx context.Context, req *request) (*cloner.RollbackReport, error) {
	cctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	report, err := r.cloner.Rollback(cctx, req.Sandbox, cloner.RollbackOptions{CloneID: req.CloneID})
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("the rollback did not finish within its deadline (%s, jobs.clone_deadline), so it was stopped and the sandbox left as it was: %w", r.deadline, err)
	}
	return report, err
}

// ended records how a rollback ended: restored, not possible (the copy went since
// the ticket asked), failed, or to be run again (a clone or rollback holds the
// sandbox, the process is stopping, or the sandbox does not answer).
func (r *restorer) ended(ctx context.Context, log *logrus.Entry, req *request, report *cloner.RollbackReport, err error, elapsed float64) error {
	switch {
	case errors.Is(err, cloner.ErrBusy):
		log.Info("a clone or rollback holds the sandbox; waiting")
		return river.JobSnooze(30 * time.Second)
	case err != nil && ctx.Err() != nil:
		log.WithError(err).Warn("rollback interrupted; it will run again")
		return err
	case errors.Is(err, cloner.ErrNoCopy), errors.Is(err, cloner.ErrExpired), errors.Is(err, cloner.ErrSuperseded):
		log.WithError(err).Warn("rollback not possible any more")
		return r.unavailable(ctx, req, err)
	case err != nil && instanceUnreachable(err):
		log.WithError(err).Warn("the sandbox does not answer; the rollback will run again")
		r.troubles.failed(ctx, req.TicketID, troubleRollback, err)
		return river.JobSnooze(retryDelay(r.repo.troubleAttempts(ctx, req.TicketID)))
	case err != nil:
		r.metrics.RollbackDuration.WithLabelValues("failed").Observe(elapsed)
		log.WithError(err).Error("rollback failed; the sandbox is still the clone's")
		return r.failed(ctx, req, report, err)
	}
	r.metrics.RollbackDuration.WithLabelValues(string(rules.RolledBack)).Observe(elapsed)
	log.WithFields(logrus.Fields{"rows": report.Rows, "tables": len(report.Tables), "seconds": report.Seconds}).Info("rollback committed")
	return r.finish(ctx, req, report, rules.RolledBack, move{
		entries: []entry{{from: rules.RollingBack, to: rules.RolledBack, reason: rules.ReasonRestored,
			detail: map[string]any{"clone_id": req.CloneID, "rows": report.Rows, "tables": len(report.Tables), "seconds": report.Seconds}}},
		notices: []notice{{messages.RolledBack, rules.RolledBack}},
		data:    func(d *messages.Data) { d.Rollback = r.record.rollbackView(req, rules.CopyKept, nil, report) },
	})
}

// unavailable puts the request back to ready: the copy went between the ticket's
// asking and the rollback (a newer clone, the retention), and the ticket hears why.
func (r *restorer) unavailable(ctx context.Context, req *request, cause error) error {
	why := rules.CopyGone
	switch {
	case errors.Is(cause, cloner.ErrExpired):
		why = rules.CopyExpired
	case errors.Is(cause, cloner.ErrSuperseded):
		why = rules.CopySuperseded
	}
	return r.finish(ctx, req, nil, rules.Ready, move{
		entries: []entry{{from: rules.RollingBack, to: rules.Ready, reason: rules.ReasonRollbackUnavailable,
			detail: map[string]any{"clone_id": req.CloneID, "copy": why, "error": cause.Error()}}},
		notices: []notice{{messages.RollbackUnavailable, rules.Ready}},
		data:    func(d *messages.Data) { d.Rollback = r.record.rollbackView(req, why, nil, nil) },
	})
}

// failed puts the request back to ready with the error: the rollback's transaction
// rolled back, so the sandbox and its copy are as they were, and a new rollback tag
// tries again.
func (r *restorer) failed(ctx context.Context, req *request, report *cloner.RollbackReport, cause error) error {
	return r.finish(ctx, req, report, rules.Ready, move{
		entries: []entry{{from: rules.RollingBack, to: rules.Ready, reason: rules.ReasonRollbackFailed,
			detail: map[string]any{"clone_id": req.CloneID, "error": cause.Error()}}},
		notices: []notice{{messages.RollbackFailed, rules.Ready}},
		data: func(d *messages.Data) {
			d.Rollback, d.Error = r.record.rollbackView(req, rules.CopyKept, nil, nil), cause.Error()
		},
	})
}

// finish records the end of a rollback, unless the request is no longer rolling
// back (another runner recorded it first), with the report of a rollback that ran.
func (r *restorer) finish(ctx context.Context, req *request, report *cloner.RollbackReport, to rules.State, m move) error {
	ctx = context.WithoutCancel(ctx)
	err := r.repo.inTx(ctx, func(q *repo) error {
		cur, err := q.lockRequestIn(ctx, req.TicketID, rules.RollingBack)
		if err != nil || cur == nil {
			return err
		}
		cur.State = to
		if err := r.troubles.resolve(ctx, q, cur); err != nil {
			return err
		}
		if err := r.record.record(ctx, q, cur, m); err != nil {
			return err
		}
		return q.saveRollbackReport(ctx, cur.TicketID, report)
	})
	if err != nil {
		return fmt.Errorf("record end of rollback of ticket %d: %w", req.TicketID, err)
	}
	return nil
}

// rescue queues the rollback of a request whose runner died (the caller holds its
// free run lock): the rollback's transaction died with it, so the sandbox and its
// copy are as they were, and the rollback runs again.
func (r *restorer) rescue(ctx context.Context, ticketID int64) error {
	return r.repo.inTx(ctx, func(q *repo) error {
		req, err := q.lockRequestIn(ctx, ticketID, rules.RollingBack)
		if err != nil || req == nil {
			return err
		}
		r.log.WithFields(logrus.Fields{"ticket": ticketID, "clone_id": req.CloneID}).Warn("rollback interrupted: its runner stopped; running it again")
		return q.queueRollback(ctx, req)
	})
}

// rollbackView is what the rollback's announcements show, in the tenant's zone:
// the copy the rollback restores (or why not: why, and the newer clone's copy
// that replaced it), and the report of a rollback that ran.
func (rc *recorder) rollbackView(r *request, why rules.CopyState, kept *cloner.RollbackCopy, report *cloner.RollbackReport) *messages.RollbackView {
	loc := rc.windows.For(r.Tenant).Loc
	own := kept
	if why == rules.CopySuperseded {
		own = nil // the newer clone's
	}
	v := messages.NewRollbackView(own, report, loc)
	if v.Until == "" {
		v.Until = messages.Stamp(r.RollbackUntil, loc)
	}
	if why == rules.CopySuperseded && kept != nil {
		v.Newer = messages.Stamp(kept.TakenAt, loc)
	}
	if why != rules.CopyKept {
		v.Why = string(why)
	}
	return v
}
