package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
)

// DeliveryRetention is how long delivery records are kept: they only serve
// de-duplication, and Zendesk stops retrying a delivery within hours.
const DeliveryRetention = 7 * 24 * time.Hour

// pruneBatch bounds each delete so that pruning a large backlog never holds many
// row locks or one long transaction.
const pruneBatch = 10000

// PruneDeliveries deletes delivery records received more than olderThan ago and
// returns how many it deleted. Records only serve de-duplication, so keep them
// longer than Zendesk keeps retrying (hours; a day or more is safe).
func PruneDeliveries(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, errors.New("prune webhook deliveries: olderThan must be positive")
	}
	var total int64
	for {
		tag, err := pool.Exec(ctx, `
DELETE FROM webhook_deliveries WHERE id IN (
	SELECT id FROM webhook_deliveries
	WHERE received_at < now() - make_interval(secs => $1::double precision)
	LIMIT $2::integer)`, olderThan.Seconds(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune webhook deliveries older than %s: %w", olderThan, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// PruneWorker deletes the delivery records older than DeliveryRetention.
type PruneWorker struct {
	river.WorkerDefaults[jobs.PruneDeliveriesArgs]
	pool *pgxpool.Pool
	log  *logrus.Entry
}

// NewPruneWorker returns the worker of the prune job on pool.
func NewPruneWorker(pool *pgxpool.Pool, log *logrus.Entry) *PruneWorker {
	return &PruneWorker{pool: pool, log: log}
}

// Work prunes once.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[jobs.PruneDeliveriesArgs]) error {
	n, err := PruneDeliveries(ctx, w.pool, DeliveryRetention)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.WithField("deleted", n).Info("pruned old webhook deliveries")
	}
	return nil
}

// PruneJob runs the prune job every hour, on the elected leader.
func PruneJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.PruneDeliveriesArgs{}, nil },
		&river.PeriodicJobOpts{ID: "prune_deliveries"})
}
