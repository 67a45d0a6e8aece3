package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
)

type dueWorker struct {
	river.WorkerDefaults[jobs.DueArgs]
	s *Service
}

func (w *dueWorker) Work(ctx context.Context, job *river.Job[jobs.DueArgs]) error {
	err := errors.Join(w.s.rescueInterrupted(ctx), w.s.startDue(ctx), w.s.announceTroubles(ctx), w.s.countStates(ctx), w.s.countTroubles(ctx))
	w.s.observe(job.JobRow, 0, err)
	return err
}

func (s *Service) startDue(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT ticket_id, fingerprint, attempts FROM clone_requests
			WHERE state = $1::text AND scheduled_for <= $2::timestamptz`, Scheduled, s.now())
		if err != nil {
			return fmt.Errorf("find due clones: %w", err)
		}
		due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.TicketID, &x.Fingerprint, &x.Attempts)
		})
		if err != nil {
			return fmt.Errorf("find due clones: %w", err)
		}
		for i := range due {
			if err := insertClone(ctx, tx, &due[i]); err != nil {
				return err
			}
		}
		if err := s.requeueTroubled(ctx, tx); err != nil {
			return err
		}
		return s.requeueOutbox(ctx, tx)
	})
}

// rescueInterrupted restarts clones whose runner died (its run lock is free while
// the request is still running, and no clone job waits to run it again after a
// transient fault): the sandbox transaction died with it, so the sandbox is as it
// was. The ticket is told, and the clone runs again.
func (s *Service) rescueInterrupted(ctx context.Context) error {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT r.ticket_id FROM clone_requests r WHERE r.state = $1::text
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'clone' AND j.state IN ('available', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = r.ticket_id)`, Running)
	if err != nil {
		return fmt.Errorf("find running clones: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("find running clones: %w", err)
	}
	for _, id := range ids {
		release, free, err := s.holdRunLock(ctx, id)
		if err != nil {
			return err
		}
		if !free {
			continue
		}
		err = s.restart(ctx, id)
		release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) restart(ctx context.Context, ticketID int64) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		r, err := loadForUpdate(ctx, tx, ticketID)
		if err != nil || r == nil || r.State != Running {
			return err
		}
		s.log.WithField("ticket", ticketID).Warn("clone interrupted: its runner stopped; restarting it")
		r.State = Scheduled
		id, err := appendAudit(ctx, tx, ticketID, Running, Scheduled, "clone interrupted; restarting", 0, nil)
		if err != nil {
			return err
		}
		if err := save(ctx, tx, r, nil); err != nil {
			return err
		}
		items, err := s.render(ticketID, MsgInterrupted, Scheduled, s.messageData(r), id)
		if err != nil {
			return err
		}
		if err := s.queue(ctx, tx, ticketID, items); err != nil {
			return err
		}
		return insertCloneRun(ctx, tx, r, r.Attempts)
	})
}

// countStates refreshes the requests-by-state gauge.
func (s *Service) countStates(ctx context.Context) error {
	rows, err := s.cfg.Pool.Query(ctx, "SELECT state, count(*) FROM clone_requests GROUP BY state")
	if err != nil {
		return fmt.Errorf("count requests by state: %w", err)
	}
	counts := map[State]float64{}
	for rows.Next() {
		var st State
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return fmt.Errorf("count requests by state: %w", err)
		}
		counts[st] = float64(n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count requests by state: %w", err)
	}
	for _, st := range States {
		s.cfg.Metrics.RequestsByState.WithLabelValues(string(st)).Set(counts[st])
	}
	return nil
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
		if _, err := client.InsertTx(ctx, tx, jobs.OutboxArgs{TicketID: id}, nil); err != nil {
			return fmt.Errorf("requeue announcements of ticket %d: %w", id, err)
		}
	}
	return nil
}
