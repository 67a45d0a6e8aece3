package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/metrics"
)

// No silent ticket: when a ticket's job keeps failing for a reason of ours or an
// instance's (not Zendesk's: then nothing can be posted anyway, and the outbox
// catches up), the ticket hears once, within a minute, that its request is being
// checked (with the reason in an internal note), and once more when the job goes
// through. Jobs keep retrying meanwhile, with a capped backoff.

// Jobs whose failures a ticket hears about.
var (
	troubleSync     = jobs.TicketSyncArgs{}.Kind()
	troubleClone    = jobs.CloneArgs{}.Kind()
	troubleRollback = jobs.RollbackArgs{}.Kind()
	troubleJobs     = []string{troubleSync, troubleClone, troubleRollback}
)

// troubles keeps the tickets whose job keeps failing, and announces them.
type troubles struct {
	repo    *repo
	record  *recorder
	metrics *metrics.Metrics
	log     *logrus.Entry
	now     func() time.Time
	// grace is how long a ticket's job may keep failing before the ticket hears.
	grace time.Duration
}

// failed records a failure of a ticket's job, unless Zendesk or a stop caused it.
func (t *troubles) failed(ctx context.Context, ticketID int64, job string, cause error) {
	if cause == nil || isZendesk(cause) || ctx.Err() != nil {
		return
	}
	if err := t.repo.recordTrouble(context.WithoutCancel(ctx), ticketID, job, t.now(), cause.Error()); err != nil {
		t.log.WithError(err).WithField("ticket", ticketID).Warn("record a failing job")
	}
}

// retryDelay is the pause before a failing job runs again: doubling from a second,
// at most a minute, so that a ticket moves on within a minute of the fault ending.
func retryDelay(attempts int) time.Duration {
	return min(time.Second<<min(max(attempts, 0), 6), time.Minute)
}

// resolve ends the ticket's trouble, in q's transaction with the outcome that
// resolved it; the ticket hears that it goes on if it heard of the trouble.
func (t *troubles) resolve(ctx context.Context, q *repo, r *request) error {
	tr, err := q.endTrouble(ctx, r.TicketID)
	if err != nil || tr == nil || !tr.Announced {
		return err
	}
	data := t.record.data(r)
	data.State = r.State
	t.log.WithField("ticket", r.TicketID).Info("ticket's job goes through again; the ticket hears it")
	return t.record.announce(ctx, q, r, messages.Resolved, tr.ID, data)
}

// announce tells the tickets whose job has failed for at least the grace that
// their request is being checked, once per trouble.
func (t *troubles) announce(ctx context.Context) error {
	ids, err := t.repo.troublesToAnnounce(ctx, t.now().Add(-t.grace))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.repo.inTx(ctx, func(q *repo) error { return t.announceOne(ctx, q, id) }); err != nil {
			return err
		}
	}
	return nil
}

func (t *troubles) announceOne(ctx context.Context, q *repo, ticketID int64) error {
	tr, err := q.lockTrouble(ctx, ticketID)
	if err != nil || tr == nil || tr.Announced {
		return err // resolved or announced meanwhile
	}
	r, err := q.lockRequest(ctx, ticketID)
	if err != nil {
		return err
	}
	if r == nil {
		r = &request{TicketID: ticketID, Record: rules.Record{State: rules.Received}}
	}
	data := t.record.data(r)
	data.State = r.State
	data.Trouble = &messages.TroubleView{What: troubleWhat(tr.Job, r), Error: tr.Error, Attempts: tr.Attempts,
		Since: tr.Since.In(t.record.windows.For(r.Tenant).Loc).Format("Mon 2 Jan 2006 15:04:05 MST")}
	if err := t.record.announce(ctx, q, r, messages.Checking, tr.ID, data); err != nil {
		return err
	}
	if err := q.markAnnounced(ctx, ticketID, t.now()); err != nil {
		return err
	}
	t.metrics.TroublesAnnounced.WithLabelValues(tr.Job).Inc()
	t.log.WithFields(logrus.Fields{"ticket": ticketID, "job": tr.Job, "attempts": tr.Attempts}).Warn("a ticket's job keeps failing; the ticket hears it")
	return nil
}

func troubleWhat(job string, r *request) string {
	switch {
	case job == troubleClone && r.Production != "":
		return fmt.Sprintf("start the clone %s -> %s", r.Production, r.Sandbox)
	case job == troubleRollback:
		return fmt.Sprintf("restore %s as it was before the clone", r.Sandbox)
	case r.State == rules.Ready:
		return fmt.Sprintf("check that %s can still be restored as it was before the clone", r.Sandbox)
	}
	if r.Production != "" {
		return fmt.Sprintf("check the request %s -> %s against its instances", r.Production, r.Sandbox)
	}
	return "check the request against its instances"
}

// count refreshes the gauge of tickets told that their job keeps failing.
func (t *troubles) count(ctx context.Context) error {
	counts, err := t.repo.countAnnouncedTroubles(ctx)
	if err != nil {
		return err
	}
	for _, job := range troubleJobs {
		t.metrics.TicketsInTrouble.WithLabelValues(job).Set(float64(counts[job]))
	}
	return nil
}

// requeue queues a sync for each ticket whose job keeps failing and has no job
// waiting to run (River gave up on it, or it was cancelled), at most once a
// minute per ticket: the trouble ends only when a job goes through.
func (t *troubles) requeue(ctx context.Context, q *repo) error {
	ids, err := q.troubledWithoutJob(ctx, t.now().Add(-time.Minute))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := q.queueSync(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
