package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
)

// Intake is the Sink that makes a delivery durable in the bot database: the delivery
// record, at most one pending ticket sync per ticket, and the River job, all in one
// transaction.
type Intake struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	group  group
}

// NewIntake returns an Intake on pool. The client only inserts jobs, so an
// insert-only client (river.NewClient(riverpgxv5.New(pool), &river.Config{})) will do.
func NewIntake(pool *pgxpool.Pool, client *river.Client[pgx.Tx]) *Intake {
	in := &Intake{pool: pool, client: client}
	in.group.run = in.deliverMany
	return in
}

// recordSQL records the delivery and, only if it is new, marks its ticket's sync as
// pending, in one round trip. ON CONFLICT without a target covers both unique
// indexes of webhook_deliveries (invocation id and event id). It reports whether the
// delivery was new and whether this delivery is the one that made the sync pending.
const recordSQL = `
WITH delivery AS (
	INSERT INTO webhook_deliveries (ticket_id, invocation_id, event_id, kind, actor_id, event_time)
	VALUES ($1::bigint, NULLIF($2::text, ''), NULLIF($3::text, ''), $4::text, NULLIF($5::bigint, 0), $6::timestamptz)
	ON CONFLICT DO NOTHING
	RETURNING ticket_id
), pending AS (
	INSERT INTO ticket_sync_pending (ticket_id)
	SELECT ticket_id FROM delivery
	ON CONFLICT DO NOTHING
	RETURNING ticket_id
)
SELECT EXISTS (SELECT 1 FROM delivery), EXISTS (SELECT 1 FROM pending)`

// deliverOne records ev in a transaction of its own.
func (in *Intake) deliverOne(ctx context.Context, ev Event) (outcome Outcome, err error) {
	tx, err := in.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("deliver ticket %d: begin: %w", ev.TicketID, err)
	}
	defer func() {
		if err != nil {
			// The error that matters is already in err; a failed rollback only
			// means the connection is gone, which also discards the transaction.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var isNew, mustEnqueue bool
	err = tx.QueryRow(ctx, recordSQL, ev.TicketID, ev.InvocationID, ev.EventID, ev.Kind, ev.ActorID, eventTime(ev.Time)).
		Scan(&isNew, &mustEnqueue)
	if err != nil {
		return 0, fmt.Errorf("deliver ticket %d: record delivery: %w", ev.TicketID, err)
	}
	if !isNew {
		// Nothing was written; a failed rollback cannot change the answer.
		_ = tx.Rollback(ctx)
		return Duplicate, nil
	}
	if mustEnqueue {
		if _, err = in.client.InsertTx(ctx, tx, jobs.TicketSyncArgs{TicketID: ev.TicketID}, nil); err != nil {
			return 0, fmt.Errorf("deliver ticket %d: enqueue sync: %w", ev.TicketID, err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("deliver ticket %d: commit: %w", ev.TicketID, err)
	}
	return Accepted, nil
}

func eventTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Deliver records ev and enqueues a ticket sync unless one is already pending for the
// ticket. It returns Duplicate when the invocation or event was seen before.
// Concurrent calls share transactions (see group).
func (in *Intake) Deliver(ctx context.Context, ev Event) (Outcome, error) {
	return in.group.deliver(ctx, ev)
}

// deliverMany records a group of events in one transaction: their statements go in
// one pipelined round trip and run in order, so two deliveries of one change in the
// same group still count once. If a statement fails, each event is retried on its
// own so that one bad event cannot fail the others.
func (in *Intake) deliverMany(ctx context.Context, evs []Event) []reply {
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	if len(evs) == 1 {
		out, err := in.deliverOne(ctx, evs[0])
		return []reply{{outcome: out, err: err}}
	}
	outs, err := in.deliverTogether(ctx, evs)
	replies := make([]reply, len(evs))
	var pgErr *pgconn.PgError
	for i := range evs {
		switch {
		case err == nil:
			replies[i] = reply{outcome: outs[i]}
		case errors.As(err, &pgErr):
			replies[i].outcome, replies[i].err = in.deliverOne(ctx, evs[i])
		default:
			replies[i] = reply{err: err}
		}
	}
	return replies
}

func (in *Intake) deliverTogether(ctx context.Context, evs []Event) (outs []Outcome, err error) {
	tx, err := in.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("deliver %d events: begin: %w", len(evs), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var b pgx.Batch
	for _, ev := range evs {
		b.Queue(recordSQL, ev.TicketID, ev.InvocationID, ev.EventID, ev.Kind, ev.ActorID, eventTime(ev.Time))
	}
	res := tx.SendBatch(ctx, &b)
	outs = make([]Outcome, len(evs))
	var syncs []river.InsertManyParams
	for i, ev := range evs {
		var isNew, mustEnqueue bool
		if err = res.QueryRow().Scan(&isNew, &mustEnqueue); err != nil {
			res.Close()
			return nil, fmt.Errorf("deliver ticket %d: record delivery: %w", ev.TicketID, err)
		}
		outs[i] = Duplicate
		if isNew {
			outs[i] = Accepted
		}
		if mustEnqueue {
			syncs = append(syncs, river.InsertManyParams{Args: jobs.TicketSyncArgs{TicketID: ev.TicketID}})
		}
	}
	if err = res.Close(); err != nil {
		return nil, fmt.Errorf("deliver %d events: %w", len(evs), err)
	}
	if len(syncs) > 0 {
		if _, err = in.client.InsertManyTx(ctx, tx, syncs); err != nil {
			return nil, fmt.Errorf("deliver %d events: enqueue %d syncs: %w", len(evs), len(syncs), err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("deliver %d events: commit: %w", len(evs), err)
	}
	return outs, nil
}
