package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// No silent ticket: when a ticket's job keeps failing for a reason of ours or an
// instance's (not Zendesk's: then nothing can be posted anyway, and the outbox
// catches up), the ticket hears once, within a minute, that its request is being
// checked (with the reason in an internal note), and once more when the job goes
// through. Jobs keep retrying meanwhile, with a capped backoff.

// Jobs whose failures a ticket hears about.
const (
	troubleSync  = "ticket_sync"
	troubleClone = "clone"
)

// TroubleView is what the announcements of a trouble show.
type TroubleView struct {
	What     string // what keeps failing, e.g. "check the request against its instances"
	Error    string
	Since    string
	Attempts int
}

// troubled records a failure of a ticket's job, unless Zendesk or a stop caused it.
func (s *Service) troubled(ctx context.Context, ticketID int64, job string, cause error) {
	if cause == nil || isZendesk(cause) || ctx.Err() != nil {
		return
	}
	_, err := s.cfg.Pool.Exec(context.WithoutCancel(ctx), `INSERT INTO ticket_troubles (ticket_id, job, since, updated_at, last_error)
		VALUES ($1::bigint, $2::text, $3::timestamptz, $3::timestamptz, $4::text)
		ON CONFLICT (ticket_id) DO UPDATE SET attempts = ticket_troubles.attempts + 1, updated_at = $3::timestamptz,
			last_error = $4::text, job = $2::text`, ticketID, job, s.now(), cause.Error())
	if err != nil {
		s.log.WithError(err).WithField("ticket", ticketID).Warn("record a failing job")
	}
}

// troubleAttempts is how often the ticket's job has failed in a row, 0 if it has not.
func (s *Service) troubleAttempts(ctx context.Context, ticketID int64) int {
	var n int
	_ = s.cfg.Pool.QueryRow(ctx, "SELECT attempts FROM ticket_troubles WHERE ticket_id = $1::bigint", ticketID).Scan(&n)
	return n
}

// retryDelay is the pause before a failing job runs again: doubling from a second,
// at most a minute, so that a ticket moves on within a minute of the fault ending.
func retryDelay(attempts int) time.Duration {
	return min(time.Second<<min(max(attempts, 0), 6), time.Minute)
}

// resolve ends the ticket's trouble, in tx with the outcome that resolved it; the
// ticket hears that it goes on if it heard of the trouble.
func (s *Service) resolve(ctx context.Context, tx pgx.Tx, r *row) error {
	var id int64
	var announced *time.Time
	err := tx.QueryRow(ctx, "DELETE FROM ticket_troubles WHERE ticket_id = $1::bigint RETURNING id, announced_at", r.TicketID).Scan(&id, &announced)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && announced == nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve the trouble of ticket %d: %w", r.TicketID, err)
	}
	data := s.messageData(r)
	data.State = r.State
	items, err := s.renderKeyed(r.TicketID, MsgResolved, "", data, fmt.Sprintf("%d/%s/%d", r.TicketID, MsgResolved, id))
	if err != nil {
		return err
	}
	s.log.WithField("ticket", r.TicketID).Info("ticket's job goes through again; the ticket hears it")
	return s.queue(ctx, tx, r.TicketID, items)
}

// dropTrouble ends the trouble of a ticket that is no request (any more) quietly.
func dropTrouble(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	if _, err := tx.Exec(ctx, "DELETE FROM ticket_troubles WHERE ticket_id = $1::bigint", ticketID); err != nil {
		return fmt.Errorf("drop the trouble of ticket %d: %w", ticketID, err)
	}
	return nil
}

// announceTroubles tells the tickets whose job has failed for at least grace that
// their request is being checked, once per trouble.
func (s *Service) announceTroubles(ctx context.Context) error {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT ticket_id FROM ticket_troubles
		WHERE announced_at IS NULL AND since <= $1::timestamptz`, s.now().Add(-s.cfg.TroubleGrace))
	if err != nil {
		return fmt.Errorf("find failing jobs to announce: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("find failing jobs to announce: %w", err)
	}
	for _, id := range ids {
		if err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error { return s.announceTrouble(ctx, tx, id) }); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) announceTrouble(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	var (
		id          int64
		job, cause  string
		since       time.Time
		attempts    int
		alreadySaid bool
	)
	err := tx.QueryRow(ctx, `SELECT id, job, last_error, since, attempts, announced_at IS NOT NULL FROM ticket_troubles
		WHERE ticket_id = $1::bigint FOR UPDATE`, ticketID).Scan(&id, &job, &cause, &since, &attempts, &alreadySaid)
	if errors.Is(err, pgx.ErrNoRows) || alreadySaid {
		return nil // resolved or announced meanwhile
	}
	if err != nil {
		return fmt.Errorf("read the trouble of ticket %d: %w", ticketID, err)
	}
	r, err := loadForUpdate(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if r == nil {
		r = &row{TicketID: ticketID, Record: Record{State: Received}}
	}
	data := s.messageData(r)
	data.State = r.State
	data.Trouble = &TroubleView{What: troubleWhat(job, r), Error: cause, Attempts: attempts,
		Since: since.In(s.windowFor(r.Tenant).Loc).Format("Mon 2 Jan 2006 15:04:05 MST")}
	items, err := s.renderKeyed(ticketID, MsgChecking, "", data, fmt.Sprintf("%d/%s/%d", ticketID, MsgChecking, id))
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE ticket_troubles SET announced_at = $2::timestamptz WHERE ticket_id = $1::bigint", ticketID, s.now()); err != nil {
		return fmt.Errorf("record the trouble of ticket %d as announced: %w", ticketID, err)
	}
	s.cfg.Metrics.TroublesAnnounced.WithLabelValues(job).Inc()
	s.log.WithFields(map[string]any{"ticket": ticketID, "job": job, "attempts": attempts}).Warn("a ticket's job keeps failing; the ticket hears it")
	return s.queue(ctx, tx, ticketID, items)
}

func troubleWhat(job string, r *row) string {
	if job == troubleClone && r.Production != "" {
		return fmt.Sprintf("start the clone %s -> %s", r.Production, r.Sandbox)
	}
	if r.Production != "" {
		return fmt.Sprintf("check the request %s -> %s against its instances", r.Production, r.Sandbox)
	}
	return "check the request against its instances"
}

// countTroubles refreshes the gauge of tickets told that their job keeps failing.
func (s *Service) countTroubles(ctx context.Context) error {
	rows, err := s.cfg.Pool.Query(ctx, "SELECT job, count(*) FROM ticket_troubles WHERE announced_at IS NOT NULL GROUP BY job")
	if err != nil {
		return fmt.Errorf("count failing jobs: %w", err)
	}
	counts := map[string]float64{}
	for rows.Next() {
		var job string
		var n int64
		if err := rows.Scan(&job, &n); err != nil {
			rows.Close()
			return fmt.Errorf("count failing jobs: %w", err)
		}
		counts[job] = float64(n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count failing jobs: %w", err)
	}
	for _, job := range []string{troubleSync, troubleClone} {
		s.cfg.Metrics.TicketsInTrouble.WithLabelValues(job).Set(counts[job])
	}
	return nil
}

// requeueTroubled queues a sync for each ticket whose job keeps failing and has no
// job waiting to run (River gave up on it, or it was cancelled), at most once a
// minute per ticket: the trouble ends only when a job goes through.
func (s *Service) requeueTroubled(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT t.ticket_id FROM ticket_troubles t
		WHERE t.updated_at < $1::timestamptz
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind IN ('ticket_sync', 'clone')
			AND j.state IN ('available', 'running', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = t.ticket_id)`, s.now().Add(-time.Minute))
	if err != nil {
		return fmt.Errorf("find failing tickets without a job: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("find failing tickets without a job: %w", err)
	}
	for _, id := range ids {
		if err := queueSync(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
