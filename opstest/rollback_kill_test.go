package opstest

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// A replica killed with SIGKILL in the middle of a rollback asked for on the
// ticket: its one transaction dies with it, so the sandbox stays the clone, with
// its copy; the other replica runs the rollback again, and the sandbox ends as it
// was before the clone, the ticket told once.
func TestKilledReplicaMidRollbackIsRescued(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{replicas: 2, bigSandbox: true})
	before := digests(t, w.sbxURL)

	id := w.fileRequest()
	w.waitAnnounced(id, "awaiting_approval", 2*time.Minute)
	w.approve(id)
	w.waitState(id, "ready", 3*time.Minute)
	w.waitAnnounced(id, "ready", time.Minute)
	cloned := comparableDigests(t, w.prodURL, w.prodURL)
	if got := w.sandboxIs(before, cloned); got != "cloned" {
		t.Fatalf("after the clone the sandbox is %s, want cloned", got)
	}

	asked := time.Now()
	w.update(id, w.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_rollback"}})
	w.waitRestoring(2 * time.Minute)
	restoring := time.Now()
	runner := w.runner(id)
	if err := runner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-runner.exited
	killed := time.Now()
	// The dead runner's restore rolls back: the sandbox is still the clone, or
	// already the rescuing replica's complete restore, never a mix.
	afterKill := w.sandboxIs(before, cloned)
	if afterKill == "mixed" {
		t.Errorf("right after the kill the sandbox is neither the clone nor as before")
	}

	w.waitState(id, "rolled_back", 3*time.Minute)
	w.waitAnnounced(id, "rolled_back", time.Minute)
	done := time.Now()
	if got := w.sandboxIs(before, cloned); got != "as before" {
		t.Errorf("after the rescued rollback the sandbox is %s, want as before the clone", got)
	}
	got := w.announcements(id)
	if i := slices.Index(got, "ready/internal"); i < 0 || !slices.Equal(got[i+1:], []string{"rolling_back", "rolled_back", "rolled_back/internal"}) {
		t.Errorf("announcements = %v, want the rollback's start and end once after the ready notice", got)
	}
	if tags := w.statusTags(id); !slices.Equal(tags, []string{"clone_status_rolled_back"}) {
		t.Errorf("status tags = %v, want only clone_status_rolled_back", tags)
	}
	if n := w.count("SELECT count(*) FROM audit_log WHERE ticket_id = $1 AND from_state = 'rolling_back' AND to_state = 'rolled_back'", id); n != 1 {
		t.Errorf("%d rolling_back->rolled_back transitions, want 1", n)
	}
	if n := pgtest.QueryOne[int64](t, w.sbxURL, "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'clonebot_rollback')"); n != 0 {
		t.Errorf("%d rollback schemas left after the rollback", n)
	}
	seconds := pgtest.QueryOne[float64](t, w.botURL, "SELECT (rollback_report->>'seconds')::float8 FROM clone_requests WHERE ticket_id = $1", id)
	rows := pgtest.QueryOne[int64](t, w.botURL, "SELECT (rollback_report->>'rows')::bigint FROM clone_requests WHERE ticket_id = $1", id)
	outcome(t, "rollback kill: tag to restore under way %s; killed %s in the restore after %s; sandbox right after the kill: %s; rescued by %s; rescued rollback restored %d rows in %.1fs; rolled_back notice %s after the kill, %s after the tag",
		restoring.Sub(asked).Round(time.Millisecond), runner.name, killed.Sub(restoring).Round(time.Millisecond), afterKill,
		w.survivor(runner).name, rows, seconds, done.Sub(killed).Round(time.Millisecond), done.Sub(asked).Round(time.Millisecond))
}

// waitRestoring waits until a rollback is putting kept rows back into the sandbox.
func (w *world) waitRestoring(timeout time.Duration) {
	w.t.Helper()
	w.waitSandboxRunning(timeout, "a rollback restoring rows into the sandbox", "insert into %overriding system value%")
}
