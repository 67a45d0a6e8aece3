package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/parser"
)

// The queries of what the bot keeps per ticket beside its request: the judged
// authors of tag audits (tag_authors), a job that keeps failing (ticket_troubles),
// and the sweep's place in Zendesk's export (sweep_cursor).

// judgement is the role of a tag audit's author, judged when the bot first saw
// the audit and kept: a role read at every sync would let an end user's old tag
// become an approval once that user is promoted.
type judgement struct {
	AuditID, AuthorID int64
	Role              parser.Role // RoleNone when the user could not act (suspended, deleted)
}

// roles are the judged roles of the authors of a ticket's audits, by audit id.
func (q *repo) roles(ctx context.Context, ticketID int64, auditIDs []int64) (map[int64]parser.Role, error) {
	roles := map[int64]parser.Role{}
	if len(auditIDs) == 0 {
		return roles, nil
	}
	rows, err := q.db.Query(ctx, `SELECT audit_id, role FROM tag_authors WHERE ticket_id = $1::bigint AND audit_id = ANY($2::bigint[])`, ticketID, auditIDs)
	if err != nil {
		return nil, fmt.Errorf("read judged authors of ticket %d: %w", ticketID, err)
	}
	var id int64
	var role string
	if _, err := pgx.ForEachRow(rows, []any{&id, &role}, func() error { roles[id] = parser.Role(role); return nil }); err != nil {
		return nil, fmt.Errorf("read judged authors of ticket %d: %w", ticketID, err)
	}
	return roles, nil
}

// storeJudgements keeps fresh judgements; one stored first by another sync wins.
func (q *repo) storeJudgements(ctx context.Context, ticketID int64, fresh []judgement) error {
	for _, j := range fresh {
		_, err := q.db.Exec(ctx, `INSERT INTO tag_authors (ticket_id, audit_id, author_id, role) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text)
			ON CONFLICT (ticket_id, audit_id) DO NOTHING`, ticketID, j.AuditID, j.AuthorID, string(j.Role))
		if err != nil {
			return fmt.Errorf("store judged author of audit %d of ticket %d: %w", j.AuditID, ticketID, err)
		}
	}
	return nil
}

// trouble is a ticket's job that keeps failing.
type trouble struct {
	ID        int64 // keys the announcements of this episode
	Job       string
	Error     string
	Since     time.Time
	Attempts  int
	Announced bool
}

// recordTrouble records one more failure of a ticket's job.
func (q *repo) recordTrouble(ctx context.Context, ticketID int64, job string, at time.Time, cause string) error {
	_, err := q.db.Exec(ctx, `INSERT INTO ticket_troubles (ticket_id, job, since, updated_at, last_error)
		VALUES ($1::bigint, $2::text, $3::timestamptz, $3::timestamptz, $4::text)
		ON CONFLICT (ticket_id) DO UPDATE SET attempts = ticket_troubles.attempts + 1, updated_at = $3::timestamptz,
			last_error = $4::text, job = $2::text`, ticketID, job, at, cause)
	if err != nil {
		return fmt.Errorf("record a failing job of ticket %d: %w", ticketID, err)
	}
	return nil
}

// troubleAttempts is how often the ticket's job has failed in a row, 0 if it has not.
func (q *repo) troubleAttempts(ctx context.Context, ticketID int64) int {
	var n int
	_ = q.db.QueryRow(ctx, "SELECT attempts FROM ticket_troubles WHERE ticket_id = $1::bigint", ticketID).Scan(&n)
	return n
}

// endTrouble deletes the ticket's trouble and returns it; nil when there was none.
func (q *repo) endTrouble(ctx context.Context, ticketID int64) (*trouble, error) {
	var t trouble
	var announced *time.Time
	err := q.db.QueryRow(ctx, "DELETE FROM ticket_troubles WHERE ticket_id = $1::bigint RETURNING id, announced_at", ticketID).Scan(&t.ID, &announced)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("end the trouble of ticket %d: %w", ticketID, err)
	}
	t.Announced = announced != nil
	return &t, nil
}

// lockTrouble reads and locks the ticket's trouble; nil when there is none.
func (q *repo) lockTrouble(ctx context.Context, ticketID int64) (*trouble, error) {
	var t trouble
	err := q.db.QueryRow(ctx, `SELECT id, job, last_error, since, attempts, announced_at IS NOT NULL FROM ticket_troubles
		WHERE ticket_id = $1::bigint FOR UPDATE`, ticketID).Scan(&t.ID, &t.Job, &t.Error, &t.Since, &t.Attempts, &t.Announced)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trouble of ticket %d: %w", ticketID, err)
	}
	return &t, nil
}

// markAnnounced records that the ticket heard of its trouble.
func (q *repo) markAnnounced(ctx context.Context, ticketID int64, at time.Time) error {
	if _, err := q.db.Exec(ctx, "UPDATE ticket_troubles SET announced_at = $2::timestamptz WHERE ticket_id = $1::bigint", ticketID, at); err != nil {
		return fmt.Errorf("record the trouble of ticket %d as announced: %w", ticketID, err)
	}
	return nil
}

// troublesToAnnounce are the tickets whose job has failed since before since, not
// announced yet.
func (q *repo) troublesToAnnounce(ctx context.Context, since time.Time) ([]int64, error) {
	return q.ids(ctx, "find failing jobs to announce", `SELECT ticket_id FROM ticket_troubles
		WHERE announced_at IS NULL AND since <= $1::timestamptz`, since)
}

// troubledWithoutJob are the tickets whose job keeps failing, last tried before
// before, with no sync, clone or rollback job waiting to run.
func (q *repo) troubledWithoutJob(ctx context.Context, before time.Time) ([]int64, error) {
	return q.ids(ctx, "find failing tickets without a job", `SELECT t.ticket_id FROM ticket_troubles t
		WHERE t.updated_at < $1::timestamptz
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = ANY($2::text[])
			AND j.state IN ('available', 'running', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = t.ticket_id)`, before, troubleJobs)
}

// countAnnouncedTroubles counts the troubles tickets heard of, by job.
func (q *repo) countAnnouncedTroubles(ctx context.Context) (map[string]int64, error) {
	return countBy[string](ctx, q.db, "count failing jobs", "SELECT job, count(*) FROM ticket_troubles WHERE announced_at IS NOT NULL GROUP BY job")
}

// sweepCursor is where the last sweep stopped in Zendesk's export; "" before the
// first.
func (q *repo) sweepCursor(ctx context.Context) (string, error) {
	var cursor string
	err := q.db.QueryRow(ctx, "SELECT cursor FROM sweep_cursor").Scan(&cursor)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sweep: read the cursor: %w", err)
	}
	return cursor, nil
}

// saveSweepCursor keeps where the sweep stopped.
func (q *repo) saveSweepCursor(ctx context.Context, cursor string) error {
	if cursor == "" {
		return nil
	}
	_, err := q.db.Exec(ctx, `INSERT INTO sweep_cursor (cursor, updated_at) VALUES ($1::text, now())
		ON CONFLICT (singleton) DO UPDATE SET cursor = $1::text, updated_at = now()`, cursor)
	if err != nil {
		return fmt.Errorf("sweep: save the cursor: %w", err)
	}
	return nil
}
