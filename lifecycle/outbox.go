package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/notifier"
)

// outbox posts each ticket's announcements, queued with the transitions that
// caused them, to Zendesk: oldest first, one worker per ticket at a time, so they
// reach the ticket in order and once each.
type outbox struct {
	zendesk announcer
	repo    *repo
	log     *logrus.Entry
	observe observeFunc
}

func (o *outbox) worker() river.Worker[jobs.OutboxArgs] { return &outboxWorker{o: o} }

type outboxWorker struct {
	river.WorkerDefaults[jobs.OutboxArgs]
	o *outbox
}

func (w *outboxWorker) Work(ctx context.Context, job *river.Job[jobs.OutboxArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := w.o.deliver(ctx, job.Args.TicketID)
	if errors.Is(err, errOutboxBusy) {
		err = river.JobSnooze(2 * time.Second)
	}
	w.o.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// errOutboxBusy says another worker is delivering the ticket's announcements.
var errOutboxBusy = errors.New("another worker is delivering the announcements")

// deliver posts a ticket's pending announcements, oldest first.
func (o *outbox) deliver(ctx context.Context, ticketID int64) error {
	key, err := outboxLocks.key(ticketID)
	if err != nil {
		return err
	}
	q, release, ok, err := o.repo.holdLock(ctx, key)
	if err != nil {
		return fmt.Errorf("deliver announcements of ticket %d: %w", ticketID, err)
	}
	if !ok {
		return errOutboxBusy
	}
	defer release()
	for {
		it, id, err := q.nextPending(ctx, ticketID)
		if err != nil || id == 0 {
			return err
		}
		if err := o.post(ctx, q, ticketID, id, it); err != nil {
			return err
		}
	}
}

// post sends one announcement and records the outcome.
func (o *outbox) post(ctx context.Context, q *repo, ticketID, id int64, it outboxItem) error {
	log := o.log.WithFields(logrus.Fields{"ticket": ticketID, "key": it.Key})
	err := o.zendesk.Announce(ctx, ticketID, it.announcement())
	if errors.Is(err, notifier.ErrClosed) {
		// A closed ticket takes no more comments; record it and move on.
		log.Warn("ticket closed; announcement dropped")
		return q.markDropped(ctx, id, "ticket closed")
	}
	if err != nil {
		if ferr := q.markFailed(ctx, id, err); ferr != nil {
			log.WithError(ferr).Warn("record announcement failure")
		}
		return zendeskJobError(fmt.Errorf("post %s: %w", it.Key, err))
	}
	if err := q.markPosted(ctx, id); err != nil {
		return err
	}
	log.WithField("public", it.Public).Info("announcement posted")
	return nil
}

// postInOrder posts a at once, after the ticket's pending announcements: it
// delivers those first, waiting up to wait while another worker does. The clone
// posts its export so, before the wipe, where the outbox could not wait. A
// failure to deliver the pending ones is left to the outbox, which retries them;
// a failure to post a is the caller's.
func (o *outbox) postInOrder(ctx context.Context, ticketID int64, a notifier.Announcement, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := o.deliver(ctx, ticketID)
		if !errors.Is(err, errOutboxBusy) || time.Now().After(deadline) {
			if err != nil {
				o.log.WithError(err).WithField("ticket", ticketID).Info("earlier announcements not delivered yet")
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fromZendesk(o.zendesk.Announce(ctx, ticketID, a))
}

// announcement converts a stored item for the notifier.
func (it outboxItem) announcement() notifier.Announcement {
	a := notifier.Announcement{Key: it.Key, Public: it.Public, Body: it.Body, StatusTag: it.StatusTag}
	for _, f := range it.Attachments {
		a.Attachments = append(a.Attachments, notifier.File{Name: f.Name, ContentType: f.ContentType, Data: f.Data})
	}
	return a
}
