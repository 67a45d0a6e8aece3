package pgtest

import (
	"context"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// WithApplicationName returns dbURL with its application_name set to name, so
// that the session shows under that name in pg_stat_activity.
func WithApplicationName(t testing.TB, dbURL, name string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// HoldLock opens a transaction on the database at dbURL as application app and
// runs lock in it (a LOCK TABLE, or a query that takes its locks), as a
// maintenance session or a forgotten psql would; the transaction stays open until
// t ends.
func HoldLock(t testing.TB, dbURL, app, lock string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, WithApplicationName(t, dbURL, app))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) }) //nolint:errcheck // the test's end releases the lock
	if _, err := tx.Exec(ctx, lock); err != nil {
		t.Fatalf("pgtest: %s: %v", lock, err)
	}
}
