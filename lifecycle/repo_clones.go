package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/cloner"
)

// The queries of the clones the bot ran (clones): each kept with its sandbox's
// drift, for the advice agents read before they approve another.

// pastClone is a clone the bot ran to the end.
type pastClone struct {
	TicketID   int64
	Production string
	FinishedAt time.Time
	Drift      []cloner.Drift // per cloned table, as the clone's export found it
}

// keepClone records a clone that ended ready at at (the bot's clock), with the
// drift its export found.
func (q *repo) keepClone(ctx context.Context, ticketID int64, r *cloner.Report, at time.Time) error {
	var rows int64
	for _, d := range r.Drift {
		rows += d.Rows()
	}
	drift := r.Drift
	if drift == nil {
		drift = []cloner.Drift{}
	}
	_, err := q.db.Exec(ctx, `INSERT INTO clones (ticket_id, clone_id, production, sandbox, tenant, finished_at, drift, drift_rows, exported_rows)
		VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::jsonb, $8::bigint, $9::bigint) ON CONFLICT (clone_id) DO NOTHING`,
		ticketID, r.ID, r.From, r.To, r.Tenant, at, drift, rows, r.Export.Rows)
	if err != nil {
		return fmt.Errorf("keep clone %s of ticket %d: %w", r.ID, ticketID, err)
	}
	return nil
}

// lastClone is the latest clone into sandbox, nil when the bot ran none.
func (q *repo) lastClone(ctx context.Context, sandbox string) (*pastClone, error) {
	var c pastClone
	err := q.db.QueryRow(ctx, `SELECT ticket_id, production, finished_at, drift FROM clones
		WHERE sandbox = $1::text ORDER BY finished_at DESC, id DESC LIMIT 1`, sandbox).Scan(&c.TicketID, &c.Production, &c.FinishedAt, &c.Drift)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the last clone into %s: %w", sandbox, err)
	}
	return &c, nil
}
