package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/jobs"
)

// outboxItem is one comment to post.
type outboxItem struct {
	Key         string // unique per ticket: an announcement is queued once
	Public      bool
	Body        string
	StatusTag   string
	Attachments []attachment
}

type attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// queueAnnouncements stores items to post, in order, exactly once per key, and
// the job that posts them.
func (q *repo) queueAnnouncements(ctx context.Context, ticketID int64, items []outboxItem) error {
	if len(items) == 0 {
		return nil
	}
	for _, it := range items {
		var att []byte
		if len(it.Attachments) > 0 {
			var err error
			if att, err = json.Marshal(it.Attachments); err != nil {
				return fmt.Errorf("encode attachments: %w", err)
			}
		}
		_, err := q.db.Exec(ctx, `INSERT INTO outbox (ticket_id, key, public, body, status_tag, attachments)
			VALUES ($1::bigint, $2::text, $3::boolean, $4::text, nullif($5::text, ''), $6::jsonb) ON CONFLICT (ticket_id, key) DO NOTHING`,
			ticketID, it.Key, it.Public, it.Body, it.StatusTag, att)
		if err != nil {
			return fmt.Errorf("queue announcement %s for ticket %d: %w", it.Key, ticketID, err)
		}
	}
	if err := q.insertJob(ctx, jobs.OutboxArgs{TicketID: ticketID}, nil); err != nil {
		return fmt.Errorf("queue announcement delivery for ticket %d: %w", ticketID, err)
	}
	return nil
}

// nextPending is the ticket's oldest announcement not posted yet; id 0 when none.
func (q *repo) nextPending(ctx context.Context, ticketID int64) (outboxItem, int64, error) {
	var (
		it  outboxItem
		id  int64
		tag *string
		att []byte
	)
	err := q.db.QueryRow(ctx, `SELECT id, key, public, body, status_tag, attachments FROM outbox
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

// markPosted records an announcement as posted.
func (q *repo) markPosted(ctx context.Context, id int64) error {
	if _, err := q.db.Exec(ctx, "UPDATE outbox SET posted_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1::bigint", id); err != nil {
		return fmt.Errorf("record announcement %d as posted: %w", id, err)
	}
	return nil
}

// markDropped records an announcement as done with, unposted, and why.
func (q *repo) markDropped(ctx context.Context, id int64, why string) error {
	if _, err := q.db.Exec(ctx, "UPDATE outbox SET posted_at = now(), last_error = $2::text WHERE id = $1::bigint", id, why); err != nil {
		return fmt.Errorf("record announcement %d as dropped: %w", id, err)
	}
	return nil
}

// markFailed records a failed attempt to post an announcement.
func (q *repo) markFailed(ctx context.Context, id int64, cause error) error {
	_, err := q.db.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = $2::text WHERE id = $1::bigint", id, cause.Error())
	if err != nil {
		return fmt.Errorf("record a failure of announcement %d: %w", id, err)
	}
	return nil
}

// requeueUndelivered queues delivery for tickets with announcements left
// undelivered for a minute and no delivery job waiting: theirs was lost or gave up.
func (q *repo) requeueUndelivered(ctx context.Context) error {
	ids, err := q.ids(ctx, "find undelivered announcements", `SELECT DISTINCT ticket_id FROM outbox
		WHERE posted_at IS NULL AND created_at < now() - interval '1 minute'
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $1::text AND j.state IN ('available', 'running', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = outbox.ticket_id)`, jobs.OutboxArgs{}.Kind())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := q.insertJob(ctx, jobs.OutboxArgs{TicketID: id}, nil); err != nil {
			return fmt.Errorf("requeue announcements of ticket %d: %w", id, err)
		}
	}
	return nil
}

// holdLock takes a session advisory lock on a connection of its own, kept until
// release; ok is false, with nothing to release, when another session holds it.
// The repo handed to the caller runs on that connection. Session locks die with
// their connection, so a free lock means its last holder is gone.
func (q *repo) holdLock(ctx context.Context, key int64) (on *repo, release func(), ok bool, err error) {
	conn, err := q.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lock %x: %w", key, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", key).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err != nil {
			return nil, nil, false, fmt.Errorf("lock %x: %w", key, err)
		}
		return nil, nil, false, nil
	}
	release = func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1::bigint)", key)
		conn.Release()
	}
	return &repo{pool: q.pool, db: conn.Conn()}, release, true, nil
}

// holdRunLock takes the run lock of a ticket, held by whoever runs its clone or
// its rollback, on a connection kept until release: a free lock on a request
// running or rolling back means its runner is gone.
func (q *repo) holdRunLock(ctx context.Context, ticketID int64) (release func(), ok bool, err error) {
	key, err := runLocks.key(ticketID)
	if err != nil {
		return nil, false, err
	}
	_, release, ok, err = q.holdLock(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("run lock of ticket %d: %w", ticketID, err)
	}
	return release, ok, nil
}
