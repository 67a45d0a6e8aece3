package lifecycle

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// DueArgs starts scheduled clones whose window has come and re-queues announcements
// whose delivery job was lost. The leader runs it on a timer.
type DueArgs struct{}

// Kind is the River job kind.
func (DueArgs) Kind() string { return "due" }

type dueWorker struct {
	river.WorkerDefaults[DueArgs]
	s *Service
}

func (w *dueWorker) Work(ctx context.Context, job *river.Job[DueArgs]) error {
	err := w.s.startDue(ctx)
	w.s.observe(job.Kind, err)
	return err
}

func (s *Service) startDue(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT ticket_id, fingerprint FROM clone_requests
			WHERE state = $1 AND scheduled_for <= $2`, Scheduled, s.now())
		if err != nil {
			return fmt.Errorf("find due clones: %w", err)
		}
		due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.TicketID, &x.Fingerprint)
		})
		if err != nil {
			return fmt.Errorf("find due clones: %w", err)
		}
		for i := range due {
			if err := insertClone(ctx, tx, &due[i]); err != nil {
				return err
			}
		}
		return s.requeueOutbox(ctx, tx)
	})
}

// requeueOutbox queues delivery for tickets with announcements left undelivered for
// a while, in case their job was lost or gave up.
func (s *Service) requeueOutbox(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT ticket_id FROM outbox
		WHERE posted_at IS NULL AND created_at < now() - interval '1 minute'
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'outbox' AND j.state IN ('available', 'running', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = outbox.ticket_id)`)
	if err != nil {
		return fmt.Errorf("find undelivered announcements: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("find undelivered announcements: %w", err)
	}
	client := river.ClientFromContext[pgx.Tx](ctx)
	for _, id := range ids {
		if _, err := client.InsertTx(ctx, tx, OutboxArgs{TicketID: id}, nil); err != nil {
			return fmt.Errorf("requeue announcements of ticket %d: %w", id, err)
		}
	}
	return nil
}
