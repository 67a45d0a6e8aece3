package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
)

type outboxWorker struct {
	river.WorkerDefaults[jobs.OutboxArgs]
	s *Service
}

func (w *outboxWorker) Work(ctx context.Context, job *river.Job[jobs.OutboxArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.s.deliver(ctx, job.Args.TicketID)
	if errors.Is(err, errOutboxBusy) {
		err = river.JobSnooze(2 * time.Second)
	}
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// errOutboxBusy says another worker is delivering the ticket's announcements.
var errOutboxBusy = errors.New("another worker is delivering the announcements")

// deliverFirst posts the ticket's pending announcements before the caller posts one
// of its own, waiting up to wait while another worker delivers them, so that the
// ticket reads in order. An error (Zendesk down, or still busy) is for the caller to
// weigh: the outbox delivers the rest later.
func (s *Service) deliverFirst(ctx context.Context, ticketID int64, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := s.deliver(ctx, ticketID)
		if !errors.Is(err, errOutboxBusy) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deliver posts a ticket's pending announcements oldest first, one worker per ticket
// at a time, so they reach the ticket in order and once each.
func (s *Service) deliver(ctx context.Context, ticketID int64) error {
	key, err := outboxLocks.key(ticketID)
	if err != nil {
		return err
	}
	conn, err := s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("deliver announcements of ticket %d: %w", ticketID, err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", key).Scan(&locked); err != nil {
		return fmt.Errorf("lock announcements of ticket %d: %w", ticketID, err)
	}
	if !locked {
		return errOutboxBusy
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1::bigint)", key) //nolint:errcheck
	for {
		it, id, err := nextPending(ctx, conn.Conn(), ticketID)
		if err != nil || id == 0 {
			return err
		}
		if err := s.post(ctx, conn.Conn(), ticketID, id, it); err != nil {
			return err
		}
	}
}

func nextPending(ctx context.Context, conn *pgx.Conn, ticketID int64) (outboxItem, int64, error) {
	var (
		it  outboxItem
		id  int64
		tag *string
		att []byte
	)
	err := conn.QueryRow(ctx, `SELECT id, key, public, body, status_tag, attachments FROM outbox
		WHERE ticket_id = $1::bigint AND posted_at IS NULL ORDER BY id LIMIT 1`, ticketID).Scan(&id, &it.Key, &it.Public, &it.Body, &tag, &att)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, 0, nil
	}
	if err != nil {
		return it, 0, fmt.Errorf("read announcements of ticket %d: %w", ticketID, err)
	}
	if tag != nil {
		it.StatusTag = *tag
	}
	if len(att) > 0 {
		if err := json.Unmarshal(att, &it.Attachments); err != nil {
			return it, 0, fmt.Errorf("decode attachments of %s: %w", it.Key, err)
		}
	}
	return it, id, nil
}

// post sends one announcement and records the outcome.
func (s *Service) post(ctx context.Context, conn *pgx.Conn, ticketID, id int64, it outboxItem) error {
	err := s.cfg.Zendesk.Announce(ctx, ticketID, it.announcement())
	if errors.Is(err, notifier.ErrClosed) {
		// A closed ticket takes no more comments; record it and move on.
		s.log.WithField("ticket", ticketID).WithField("key", it.Key).Warn("ticket closed; announcement dropped")
		_, err = conn.Exec(ctx, "UPDATE outbox SET posted_at = now(), last_error = 'ticket closed' WHERE id = $1::bigint", id)
		return err
	}
	if err != nil {
		if _, uerr := conn.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = $2::text WHERE id = $1::bigint", id, err.Error()); uerr != nil {
			s.log.WithError(uerr).WithFields(logrus.Fields{"ticket": ticketID, "key": it.Key}).Warn("record announcement failure")
		}
		return zendeskJobError(fmt.Errorf("post %s: %w", it.Key, err))
	}
	if _, err := conn.Exec(ctx, "UPDATE outbox SET posted_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1::bigint", id); err != nil {
		return fmt.Errorf("record %s as posted: %w", it.Key, err)
	}
	s.log.WithFields(logrus.Fields{"ticket": ticketID, "key": it.Key, "public": it.Public}).Info("announcement posted")
	return nil
}
