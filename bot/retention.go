package bot

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
)

// retentionInterval is how often expired copies are looked for. A copy cannot be
// restored once it has expired, whether or not it is dropped yet.
const retentionInterval = time.Hour

type retentionWorker struct {
	river.WorkerDefaults[jobs.RetentionArgs]
	cloner *cloner.Cloner
	log    *logrus.Entry
}

// Work prunes every sandbox; one that is down or busy is tried again next time and
// does not fail the job.
func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[jobs.RetentionArgs]) error {
	for _, p := range w.cloner.PruneRollbackCopies(ctx) {
		log := w.log.WithField("sandbox", p.Sandbox)
		switch {
		case p.Err != nil:
			log.WithError(p.Err).Warn("rollback copies not pruned; trying again later")
		case p.Dropped != nil:
			log.WithFields(logrus.Fields{"clone_id": p.Dropped.CloneID, "expired_at": p.Dropped.ExpiresAt, "staged_dropped": p.Staged}).Info("expired rollback copy dropped")
		case p.Staged > 0:
			log.WithField("staged_dropped", p.Staged).Info("tables an interrupted clone staged dropped")
		}
	}
	return nil
}

func (b *Bot) retentionJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(retentionInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "rollback_retention"})
}
