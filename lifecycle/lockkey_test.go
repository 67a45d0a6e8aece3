package lifecycle

import (
	"context"
	"testing"

	"github.com/gaiia/clonebot/store/storetest"
)

// Real ticket ids pass 2^32: two tickets whose ids agree in their low 32 bits must
// not share a lock, and a ticket's locks of different spaces must not meet.
func TestTicketLocksAreDistinctForRealIDs(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.NewPool(t)
	ctx := context.Background()
	const big, small = int64(4294968213), int64(4294968213 - 1<<32)
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	other, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	take := func(space lockSpace, id int64, on string) bool {
		t.Helper()
		key, err := space.key(id)
		if err != nil {
			t.Fatal(err)
		}
		c := holder
		if on == "other" {
			c = other
		}
		var ok bool
		if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", key).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take(runLocks, big, "holder") {
		t.Fatal("the first lock was not granted")
	}
	if take(runLocks, big, "other") {
		t.Error("the same ticket's run lock was granted twice")
	}
	if !take(runLocks, small, "other") {
		t.Errorf("ticket %d shares its run lock with ticket %d", small, big)
	}
	if !take(outboxLocks, big, "other") {
		t.Error("a ticket's outbox lock meets its run lock")
	}
	if _, err := runLocks.key(1 << 48); err == nil {
		t.Error("an id past 2^48 was given a key")
	}
}
