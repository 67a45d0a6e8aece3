package cloner

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// snapshot is the production side: one REPEATABLE READ, READ ONLY transaction whose
// snapshot is exported, so that other connections (the workers of a swap) read the same instant.
type snapshot struct {
	c    *Cloner
	in   Instance
	id   string // pg_export_snapshot()
	conn *pgx.Conn
	tx   pgx.Tx
	at   time.Time
}

func (r *run) openSnapshot(ctx context.Context, in Instance, p *Plan) (*snapshot, error) {
	s := &snapshot{c: r.c, in: in}
	var err error
	if s.conn, err = r.c.connect(ctx, in, p); s.conn == nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("production %s: %w", in.Name, err)
	}
	return s, nil
}

func (s *snapshot) begin(ctx context.Context) error {
	var err error
	if s.tx, err = s.conn.BeginTx(ctx, snapshotTx); err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	if err := s.tx.QueryRow(ctx, "SELECT pg_export_snapshot(), clock_timestamp()").Scan(&s.id, &s.at); err != nil {
		return fmt.Errorf("export snapshot: %w", err)
	}
	return applySettings(ctx, s.tx, textSettings)
}

// importer opens another production connection on the snapshot. Its work runs in
// one process each: production is spared parallel workers.
func (s *snapshot) importer(ctx context.Context) (*pgx.Conn, pgx.Tx, error) {
	conn, err := s.c.connectTo(ctx, s.in)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to instance %s: %w", s.in.Name, err)
	}
	tx, err := conn.BeginTx(ctx, snapshotTx)
	if err == nil {
		_, err = tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(s.id))
	}
	if err == nil {
		err = applySettings(ctx, tx, append([]string{"SET LOCAL max_parallel_workers_per_gather = 0"}, textSettings...))
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("production %s: share the snapshot: %w", s.in.Name, err)
	}
	return conn, tx, nil
}

func (s *snapshot) close(ctx context.Context) {
	if s.tx != nil {
		s.tx.Rollback(ctx) //nolint:errcheck // read only
	}
	if s.conn != nil {
		s.conn.Close(ctx)
	}
}
