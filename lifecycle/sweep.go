package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
)

// The reconciliation sweep finds what webhooks missed. Zendesk drops a delivery
// answered 5xx without a short Retry-After, its circuit breaker pauses a failing
// webhook, and an admin can edit a trigger: so every SweepInterval the elected
// leader reads Zendesk's incremental ticket export from where the last sweep
// stopped, and queues a sync for each changed ticket that carries the request tag
// or whose request the bot follows. A lost webhook delays a ticket by at most one
// interval (plus the minute the export holds back), never forever.

type sweepWorker struct {
	river.WorkerDefaults[jobs.SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, job *river.Job[jobs.SweepArgs]) error {
	err := w.s.sweep(ctx)
	w.s.observe(job.JobRow, 0, err)
	return err
}

// firstSweepSpan is how far back the first sweep of a bot database reads.
const firstSweepSpan = 24 * time.Hour

// sweepPages bounds the pages one sweep reads (Zendesk allows 10 export requests
// a minute); the next sweep goes on from there.
const sweepPages = 5

// sweep reads the export from the saved cursor and queues the syncs it calls for,
// saving the cursor with them page by page.
func (s *Service) sweep(ctx context.Context) error {
	cursor, err := s.sweepCursor(ctx)
	if err != nil {
		return err
	}
	since := s.now().Add(-firstSweepSpan)
	queued := 0
	for range sweepPages {
		page, err := s.cfg.Zendesk.TicketsChanged(ctx, cursor, since)
		if err != nil {
			return s.sweepFailed(err)
		}
		n, err := s.sweepPage(ctx, page)
		if err != nil {
			return err
		}
		queued, cursor = queued+n, page.Cursor
		if page.End {
			break
		}
	}
	if queued > 0 {
		s.log.WithField("syncs", queued).Info("sweep: tickets changed without a webhook reaching the bot were queued")
	}
	return nil
}

// sweepFailed decides a failed sweep's outcome: the next sweep starts from the same
// cursor, so a failure delays and loses nothing. Zendesk refusing the export (the
// bot's user is no admin) is worth a warning at every sweep, not a retry storm.
func (s *Service) sweepFailed(err error) error {
	var rl *notifier.RateLimitError
	switch {
	case errors.As(err, &rl):
		return river.JobSnooze(min(max(rl.RetryAfter, time.Second), maxSnooze))
	case errors.Is(err, notifier.ErrUnauthorized):
		s.log.WithError(err).Warn("sweep: Zendesk refuses the incremental ticket export; the bot's user must be an admin (docs/zendesk-setup.md). Only webhooks drive clonebot meanwhile")
		return nil
	}
	return fmt.Errorf("sweep: %w", err)
}

// sweepPage queues the syncs of one page and saves the cursor after it.
func (s *Service) sweepPage(ctx context.Context, page notifier.ExportPage) (int, error) {
	queued := 0
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		followed, err := followedTickets(ctx, tx, page.Tickets)
		if err != nil {
			return err
		}
		for _, t := range page.Tickets {
			if !slices.Contains(t.Tags, s.cfg.Settings.Zendesk.Tags.Request) && !followed[t.ID] {
				continue
			}
			if err := queueSync(ctx, tx, t.ID); err != nil {
				return err
			}
			queued++
		}
		return saveSweepCursor(ctx, tx, page.Cursor)
	})
	s.cfg.Metrics.SweepSyncs.Add(float64(queued))
	return queued, err
}

// followedTickets are the tickets among ts whose request the bot follows: one that
// lost its tag must still be read, to be cancelled.
func followedTickets(ctx context.Context, tx pgx.Tx, ts []notifier.ExportedTicket) (map[int64]bool, error) {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	rows, err := tx.Query(ctx, `SELECT ticket_id FROM clone_requests WHERE ticket_id = ANY($1::bigint[])
		AND state NOT IN ('ready', 'cancelled')`, ids)
	if err != nil {
		return nil, fmt.Errorf("sweep: find followed tickets: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("sweep: find followed tickets: %w", err)
	}
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

func (s *Service) sweepCursor(ctx context.Context) (string, error) {
	var cursor string
	err := s.cfg.Pool.QueryRow(ctx, "SELECT cursor FROM sweep_cursor").Scan(&cursor)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sweep: read the cursor: %w", err)
	}
	return cursor, nil
}

func saveSweepCursor(ctx context.Context, tx pgx.Tx, cursor string) error {
	if cursor == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO sweep_cursor (cursor, updated_at) VALUES ($1::text, now())
		ON CONFLICT (singleton) DO UPDATE SET cursor = $1::text, updated_at = now()`, cursor)
	if err != nil {
		return fmt.Errorf("sweep: save the cursor: %w", err)
	}
	return nil
}
