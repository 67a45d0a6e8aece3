package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
)

// The reconciliation sweep finds what webhooks missed. Zendesk drops a delivery
// answered 5xx without a short Retry-After, its circuit breaker pauses a failing
// webhook, and an admin can edit a trigger: so every SweepInterval the elected
// leader reads Zendesk's incremental ticket export from where the last sweep
// stopped, and queues a sync for each changed ticket that carries the request tag
// or whose request the bot follows. A lost webhook delays a ticket by at most one
// interval (plus the minute the export holds back), never forever.
type sweeper struct {
	zendesk    exporter
	repo       *repo
	requestTag string
	metrics    *metrics.Metrics
	log        *logrus.Entry
	now        func() time.Time
	observe    observeFunc
}

func (s *sweeper) worker() river.Worker[jobs.SweepArgs] { return &sweepWorker{s: s} }

type sweepWorker struct {
	river.WorkerDefaults[jobs.SweepArgs]
	s *sweeper
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
func (s *sweeper) sweep(ctx context.Context) error {
	cursor, err := s.repo.sweepCursor(ctx)
	if err != nil {
		return err
	}
	since := s.now().Add(-firstSweepSpan)
	queued := 0
	for range sweepPages {
		page, err := s.zendesk.TicketsChanged(ctx, cursor, since)
		if err != nil {
			return s.failed(err)
		}
		n, err := s.page(ctx, page)
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

// failed decides a failed sweep's outcome: the next sweep starts from the same
// cursor, so a failure delays and loses nothing. Zendesk refusing the export (the
// credentials are wrong, or the bot's user is no admin) is worth a warning at
// every sweep, naming the fix, not a retry storm.
func (s *sweeper) failed(err error) error {
	if d, ok := rateLimited(err); ok {
		return river.JobSnooze(d)
	}
	if errors.Is(err, notifier.ErrUnauthorized) {
		s.log.WithError(err).Warn("sweep: Zendesk refuses clonebot's credentials; check zendesk.email with zendesk.api_token, or zendesk.oauth (docs/zendesk-setup.md). Nothing reaches Zendesk meanwhile")
		return nil
	}
	if errors.Is(err, notifier.ErrForbidden) {
		s.log.WithError(err).Warn("sweep: Zendesk refuses the incremental ticket export; the bot's user must be an admin (docs/zendesk-setup.md). Only webhooks drive clonebot meanwhile")
		return nil
	}
	return fmt.Errorf("sweep: %w", err)
}

// page queues the syncs of one page and saves the cursor after it.
func (s *sweeper) page(ctx context.Context, page notifier.ExportPage) (int, error) {
	queued := 0
	err := s.repo.inTx(ctx, func(q *repo) error {
		ids := make([]int64, len(page.Tickets))
		for i, t := range page.Tickets {
			ids[i] = t.ID
		}
		followed, err := q.followed(ctx, ids)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		for _, t := range page.Tickets {
			if !slices.Contains(t.Tags, s.requestTag) && !followed[t.ID] {
				continue
			}
			if err := q.queueSync(ctx, t.ID); err != nil {
				return err
			}
			queued++
		}
		return q.saveSweepCursor(ctx, page.Cursor)
	})
	s.metrics.SweepSyncs.Add(float64(queued))
	return queued, err
}
