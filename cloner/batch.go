package cloner

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execAll runs statements in tx in one round trip (a pipeline), stopping at the
// first failure, which it reports with its statement. DDL over hundreds of tables
// would otherwise cost a round trip each.
func execAll(ctx context.Context, tx pgx.Tx, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	b := &pgconn.Batch{}
	for _, s := range stmts {
		b.ExecParams(s, nil, nil, nil, nil)
	}
	results, err := tx.Conn().PgConn().ExecBatch(ctx, b).ReadAll()
	for i, r := range results {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", stmts[i], r.Err)
		}
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && len(results) < len(stmts) {
			return fmt.Errorf("%s: %w", stmts[len(results)], err)
		}
		return err
	}
	return nil
}
