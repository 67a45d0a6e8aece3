package opstest

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
)

// killScale sizes production so that the clone takes seconds: long enough to kill
// its runner mid-copy.
const killScale = 80 << 20

// runLockKey is lifecycle's advisory lock key of a ticket's running clone: the
// space "cr" in the top 16 bits of a bigint, the ticket id below (lifecycle/lockkey.go).
func runLockKey(ticketID int64) int64 { return 0x6372<<48 | ticketID }

// A replica killed with SIGKILL mid-copy: the sandbox stays as it was, the other
// replica restarts the clone, and the ticket says so before the ready notice.
func TestKilledReplicaMidCloneIsRescued(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{replicas: 2, configBytes: killScale})
	before := digests(t, w.sbxURL)

	id := w.fileRequest()
	w.waitAnnounced(id, "awaiting_approval", 2*time.Minute)
	approved := time.Now()
	w.approve(id)
	w.waitCopying(2 * time.Minute)
	copying := time.Now()
	runner := w.runner(id)
	if err := runner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-runner.exited
	killed := time.Now()

	// The dead runner's sandbox transaction rolls back: the sandbox is as it was,
	// or already the rescued clone's complete copy, never a mix.
	cloned := comparableDigests(t, w.prodURL, w.prodURL)
	afterKill := w.sandboxIs(before, cloned)
	if afterKill == "mixed" {
		t.Errorf("right after the kill the sandbox is neither as before nor a complete clone")
	}
	w.waitState(id, "ready", 3*time.Minute)
	w.waitAnnounced(id, "ready", time.Minute)
	ready := time.Now()

	// The export is made while the load runs: the killed run may have attached it
	// or not; then the rescued run does, once.
	want := []string{"awaiting_approval", "awaiting_approval/internal", "scheduled", "running", "export", "interrupted", "running", "ready", "ready/internal"}
	rescuedExport := []string{"awaiting_approval", "awaiting_approval/internal", "scheduled", "running", "interrupted", "running", "export", "ready", "ready/internal"}
	if got := w.announcements(id); !slices.Equal(got, want) && !slices.Equal(got, rescuedExport) {
		t.Errorf("announcements = %v, want %v or %v", got, want, rescuedExport)
	}
	if got := w.statusTags(id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v, want only clone_status_ready", got)
	}
	if n := w.count("SELECT count(*) FROM audit_log WHERE ticket_id = $1 AND from_state = 'running' AND to_state = 'ready'", id); n != 1 {
		t.Errorf("%d running->ready transitions, want 1", n)
	}

	// The sandbox is now production's configuration and nothing else.
	if got := w.sandboxIs(before, cloned); got != "cloned" {
		t.Errorf("after the rescued clone the sandbox is %s, want cloned", got)
	}

	restarted := w.auditTime(id, "scheduled", "running", 1)
	seconds := pgtest.QueryOne[float64](t, w.botURL, "SELECT (report->>'seconds')::float8 FROM clone_requests WHERE ticket_id = $1", id)
	bytes := pgtest.QueryOne[int64](t, w.botURL, "SELECT (report->>'bytes')::bigint FROM clone_requests WHERE ticket_id = $1", id)
	stuck := w.count("SELECT count(*) FROM river_job WHERE kind = 'clone' AND state = 'running'")
	outcome(t, "kill: sandbox read right after the kill: %s; %d MB copied per clone; approval to copy under way %s; killed %s in the copy after %s; rescue (restart by %s) %s after the kill; rescued clone took %.1fs; ready notice %s after the kill; %d dead clone job(s) left 'running' in river_job",
		afterKill, bytes>>20, copying.Sub(approved).Round(time.Millisecond), runner.name, killed.Sub(copying).Round(time.Millisecond),
		w.survivor(runner).name, restarted.Sub(killed).Round(time.Millisecond), seconds, ready.Sub(killed).Round(time.Millisecond), stuck)
}

// sandboxIs says whether the sandbox is as before (its digests), a complete clone
// (cloned tables equal production's, given as comparable digests, and excluded
// tables empty), or "mixed".
func (w *world) sandboxIs(before, cloned map[string]string) string {
	w.t.Helper()
	// One snapshot for every table: a replica that rescues the run may commit
	// while the tables are read, and reads on either side of its commit would
	// look like a mix.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := connect(w.t, ctx, w.sbxURL)
	defer conn.Close(ctx)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		w.t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if len(diff(before, digestsOn(w.t, ctx, conn))) == 0 {
		return "as before"
	}
	if changed := diff(cloned, comparableOn(w.t, ctx, w.prodURL, conn)); len(changed) > 0 {
		w.t.Logf("cloned tables that differ from production: %v", changed)
		return "mixed"
	}
	_, excluded, _ := tables()
	for _, table := range excluded {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			w.t.Fatal(err)
		}
		if n != 0 {
			w.t.Logf("excluded table %s has %d rows", table, n)
			return "mixed"
		}
	}
	return "cloned"
}

// waitCopying waits until a COPY into the sandbox is under way.
func (w *world) waitCopying(timeout time.Duration) {
	w.t.Helper()
	w.waitSandboxRunning(timeout, "a COPY into the sandbox", "copy %from stdin%")
}

// waitSandboxRunning waits until a statement like pattern (ILIKE) runs in the
// sandbox database.
func (w *world) waitSandboxRunning(timeout time.Duration, what, pattern string) {
	w.t.Helper()
	u, err := url.Parse(w.sbxURL)
	if err != nil {
		w.t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	w.waitFor(timeout, what, func(ctx context.Context) (bool, error) {
		var n int
		err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active'
			AND query ILIKE $2`, name, pattern).Scan(&n)
		return n > 0, err
	})
}

// runner is the replica holding the run lock of the ticket's clone, found from its
// connection's application_name.
func (w *world) runner(id int64) *replica {
	w.t.Helper()
	// Advisory locks belong to a database: other tests' worlds share the server,
	// with the same ticket ids and replica names. A bigint key shows as its high
	// and low 32 bits in classid and objid, with objsubid 1.
	app := pgtest.QueryOne[string](w.t, w.botURL, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.objsubid = 1 AND (l.classid::bigint << 32 | l.objid::bigint) = $1::bigint AND l.granted`, runLockKey(id))
	for _, r := range w.replicas {
		if r.name == app {
			return r
		}
	}
	w.t.Fatalf("run lock held by %q, not a replica", app)
	return nil
}

func (w *world) survivor(dead *replica) *replica {
	for _, r := range w.replicas {
		if r != dead {
			return r
		}
	}
	return nil
}

// auditTime is when the nth (from 0) from->to transition of the ticket was recorded.
func (w *world) auditTime(id int64, from, to string, nth int) time.Time {
	w.t.Helper()
	return pgtest.QueryOne[time.Time](w.t, w.botURL, `SELECT created_at FROM audit_log WHERE ticket_id = $1 AND from_state = $2 AND to_state = $3
		ORDER BY id OFFSET $4 LIMIT 1`, id, from, to, nth)
}
