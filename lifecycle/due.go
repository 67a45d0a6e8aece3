package lifecycle

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/metrics"
)

// due is the leader's periodic work: it restarts clones and rollbacks whose
// runner died, queues the clones whose window has come, announces jobs that keep
// failing, re-queues what was lost (a failing ticket's sync, an undelivered
// announcement's delivery), and refreshes the gauges read from the bot database.
type due struct {
	repo     *repo
	runner   *runner
	restore  *restorer
	troubles *troubles
	metrics  *metrics.Metrics
	now      func() time.Time
	observe  observeFunc
}

func (d *due) worker() river.Worker[jobs.DueArgs] { return &dueWorker{d: d} }

type dueWorker struct {
	river.WorkerDefaults[jobs.DueArgs]
	d *due
}

func (w *dueWorker) Work(ctx context.Context, job *river.Job[jobs.DueArgs]) error {
	d := w.d
	err := errors.Join(d.rescueInterrupted(ctx), d.rescueRollbacks(ctx), d.startDue(ctx), d.troubles.announce(ctx), d.countStates(ctx), d.troubles.count(ctx))
	d.observe(job.JobRow, 0, err)
	return err
}

// startDue queues the clones whose time has come, and re-queues what was lost.
func (d *due) startDue(ctx context.Context) error {
	return d.repo.inTx(ctx, func(q *repo) error {
		due, err := q.dueClones(ctx, d.now())
		if err != nil {
			return err
		}
		for i := range due {
			if err := q.queueClone(ctx, &due[i], due[i].Attempts); err != nil {
				return err
			}
		}
		if err := d.troubles.requeue(ctx, q); err != nil {
			return err
		}
		return q.requeueUndelivered(ctx)
	})
}

// rescueInterrupted restarts clones whose runner died: the request is still
// running, no clone job waits to run it again after a transient fault, and its
// run lock is free.
func (d *due) rescueInterrupted(ctx context.Context) error {
	ids, err := d.repo.runningWithoutJob(ctx)
	if err != nil {
		return err
	}
	return d.rescue(ctx, ids, d.runner.restart)
}

// rescueRollbacks runs again the rollbacks whose runner died (or whose job River
// gave up on): the request is rolling back, no rollback job waits to run it, and
// its run lock is free.
func (d *due) rescueRollbacks(ctx context.Context) error {
	ids, err := d.repo.rollingBackWithoutJob(ctx)
	if err != nil {
		return err
	}
	return d.rescue(ctx, ids, d.restore.rescue)
}

// rescue calls again for each ticket whose run lock is free, holding the lock.
func (d *due) rescue(ctx context.Context, ids []int64, again func(ctx context.Context, ticketID int64) error) error {
	for _, id := range ids {
		release, free, err := d.repo.holdRunLock(ctx, id)
		if err != nil {
			return err
		}
		if !free {
			continue
		}
		err = again(ctx, id)
		release()
		if err != nil {
			return err
		}
	}
	return nil
}

// countStates refreshes the requests-by-state gauge.
func (d *due) countStates(ctx context.Context) error {
	counts, err := d.repo.countStates(ctx)
	if err != nil {
		return err
	}
	for _, st := range rules.States {
		d.metrics.RequestsByState.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	return nil
}
