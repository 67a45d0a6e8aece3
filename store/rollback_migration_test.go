package store

import (
	"context"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
)

// A clone ready before the rollback columns existed keeps its way back: the
// migration reads the clone's id and the copy's expiry from its report.
func TestRollbackMigrationNamesTheCloneOfReadyRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	provider, db, err := gooseProvider(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := provider.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	const report = `{"id": "c0ffee12", "rollback": {"clone_id": "c0ffee12", "expires_at": "2026-12-06T07:31:02Z"}}`
	if _, err := pool.Exec(ctx, `INSERT INTO clone_requests (ticket_id, state, report) VALUES
		(4294968213, 'ready', $1::jsonb), (4294968219, 'failed', $1::jsonb), (4294968225, 'ready', '{"id": ""}'::jsonb)`, report); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var id string
	var until time.Time
	if err := pool.QueryRow(ctx, "SELECT clone_id, rollback_until FROM clone_requests WHERE ticket_id = 4294968213").Scan(&id, &until); err != nil {
		t.Fatal(err)
	}
	if id != "c0ffee12" || !until.Equal(time.Date(2026, 12, 6, 7, 31, 2, 0, time.UTC)) {
		t.Errorf("ready request: clone %q until %s", id, until)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM clone_requests WHERE clone_id IS NOT NULL").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d requests name a clone (%v), want only the ready one with an id", n, err)
	}
	if _, err := provider.DownTo(ctx, 6); err != nil {
		t.Fatalf("down: %v", err)
	}
}
