package bot

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/webhook"
)

// PruneArgs deletes webhook delivery records once they are too old to matter for
// de-duplication (Zendesk stops retrying long before).
type PruneArgs struct{}

// Kind is the River job kind.
func (PruneArgs) Kind() string { return "prune_deliveries" }

// deliveryRetention is how long delivery records are kept.
const deliveryRetention = 7 * 24 * time.Hour

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	pool *pgxpool.Pool
	log  *logrus.Entry
}

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	n, err := webhook.PruneDeliveries(ctx, w.pool, deliveryRetention)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.WithField("deleted", n).Info("pruned old webhook deliveries")
	}
	return nil
}

func (b *Bot) pruneJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{ID: "prune_deliveries"})
}
