package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/store"
)

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.Ready(ctx, pool); err != store.ErrNotMigrated {
		t.Fatalf("Ready on an empty database = %v, want ErrNotMigrated", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := store.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer p.Close()
			errs[i] = store.Migrate(ctx, p)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migration %d: %v", i, err)
		}
	}
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := store.Ready(ctx, pool); err != nil {
		t.Fatalf("Ready after migrate: %v", err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO audit_log (ticket_id, to_state, reason) VALUES (1, 'received', 'test')"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM audit_log"); err == nil {
		t.Fatal("audit_log accepted a DELETE; it must be append-only")
	}
}
