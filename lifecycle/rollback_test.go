package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
)

// The rollback of a ready clone on the workers, with the fakes: the sync reads the
// rollback tag and asks the sandbox what it keeps; the rollback job restores it.

// fakeCloneID names the clone the fakes run, and its copy.
const fakeCloneID = "c0ffee12"

// ready runs a scheduled request's clone to ready, the clone keeping its copy
// until a week after the window.
func (w *workers) ready() {
	w.t.Helper()
	args := w.scheduled()
	w.cl.clone = func(_ context.Context, from, to string, _ cloner.Options) (*cloner.Report, error) {
		return &cloner.Report{ID: fakeCloneID, From: from, To: to, Rows: 10, SnapshotAt: w.window, Verification: cloner.Verification{OK: true},
			Rollback: &cloner.RollbackCopy{CloneID: fakeCloneID, TakenAt: w.window, ExpiresAt: w.window.Add(7 * 24 * time.Hour)}}, nil
	}
	if err := w.s.runner.run(w.ctx, args, 1); err != nil {
		w.t.Fatal(err)
	}
	w.wantState(rules.Ready)
}

// keeps has the sandbox answer a rollback check with the clone's copy, or err.
func (w *workers) keeps(err error) {
	w.cl.kept = func(sandbox, cloneID string) (*cloner.RollbackCopy, error) {
		if sandbox != "acme-sandbox" || cloneID != fakeCloneID {
			w.t.Errorf("rollback check of %s clone %s, want acme-sandbox clone %s", sandbox, cloneID, fakeCloneID)
		}
		return &cloner.RollbackCopy{CloneID: fakeCloneID, TakenAt: w.window, ExpiresAt: w.window.Add(7 * 24 * time.Hour)}, err
	}
}

// rollingBack runs a clone to ready and has the agent ask for its rollback, the
// sandbox keeping the clone's copy.
func (w *workers) rollingBack() {
	w.t.Helper()
	w.ready()
	w.keeps(nil)
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_rollback"}, nil, nil)
	w.sync()
	w.wantState(rules.RollingBack)
}

// retag has the agent remove the rollback tag and add it again: asking once more.
func (w *workers) retag() {
	w.zd.change(fakeTicket, fakeAgent, nil, []string{"clone_rollback"}, nil)
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_rollback"}, nil, nil)
}

// rollbackJobs are the rollback jobs queued for the ticket.
func (w *workers) rollbackJobs() []jobs.RollbackArgs {
	w.t.Helper()
	var out []jobs.RollbackArgs
	for _, id := range w.strings("SELECT args->>'clone_id' FROM river_job WHERE kind = 'rollback' AND (args->>'ticket_id')::bigint = $1::bigint ORDER BY id") {
		out = append(out, jobs.RollbackArgs{TicketID: fakeTicket, CloneID: id})
	}
	return out
}

func (w *workers) wantQueuedTail(want ...string) {
	w.t.Helper()
	got := kindsOf(w.queued())
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		w.t.Fatalf("queued %v, want it to end with %v", got, want)
	}
}

// A ready request keeps the clone it ran; an agent's rollback tag moves it to
// rolling_back with its job, once; the job restores that clone's copy and the
// request is rolled back for good.
func TestRollbackTagRestoresTheClonesCopyOnce(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.ready()
	if id := w.query("SELECT clone_id FROM clone_requests WHERE ticket_id = $1::bigint"); id != fakeCloneID {
		t.Fatalf("the ready request keeps clone %q, want %q", id, fakeCloneID)
	}
	if n := w.query("SELECT count(*)::text FROM river_job WHERE kind = 'ticket_sync' AND (args->>'ticket_id')::bigint = $1::bigint AND state = 'available'"); n != "1" {
		t.Fatalf("%s syncs queued once ready, want 1 (a rollback tag added while the clone ran)", n)
	}
	w.keeps(nil)
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_rollback"}, nil, nil)
	w.sync()
	w.wantState(rules.RollingBack)
	w.wantQueuedTail("rolling_back")
	if got := w.audit(); got[len(got)-1] != "ready>rolling_back:rollback_requested" {
		t.Fatalf("audit log %v", got)
	}
	if got := w.strings("SELECT actor_id::text FROM audit_log WHERE ticket_id = $1::bigint ORDER BY id DESC LIMIT 1"); got[0] != fmt.Sprint(fakeAgent) {
		t.Fatalf("the rollback's actor is %v, want the agent", got)
	}
	queued := w.rollbackJobs()
	if len(queued) != 1 || queued[0].CloneID != fakeCloneID {
		t.Fatalf("rollback jobs %v, want one for clone %s", queued, fakeCloneID)
	}
	w.sync() // the same tag again, while the rollback waits: nothing more
	if n := len(w.rollbackJobs()); n != 1 {
		t.Fatalf("%d rollback jobs after a second sync", n)
	}

	w.cl.restore = func(_ context.Context, sandbox string, opts cloner.RollbackOptions) (*cloner.RollbackReport, error) {
		if sandbox != "acme-sandbox" || opts.CloneID != fakeCloneID {
			t.Errorf("rollback of %s clone %q", sandbox, opts.CloneID)
		}
		return &cloner.RollbackReport{To: sandbox, Copy: cloner.RollbackCopy{CloneID: fakeCloneID, TakenAt: w.window}, Seconds: 0.5, Rows: 42, OK: true,
			Tables: []cloner.RestoredTable{{Table: "public.plans", Rows: 42, Kept: cloner.Checksum{Rows: 42, Sum: "ab"}, Restored: cloner.Checksum{Rows: 42, Sum: "ab"}, Match: true}}}, nil
	}
	if err := w.s.restore.run(w.ctx, queued[0]); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.RolledBack)
	w.wantQueuedTail("rolling_back", "rolled_back", "rolled_back/internal")
	if got := w.audit(); got[len(got)-1] != "rolling_back>rolled_back:restored" {
		t.Fatalf("audit log %v", got)
	}
	if rows := w.query("SELECT rollback_report->>'rows' FROM clone_requests WHERE ticket_id = $1::bigint"); rows != "42" {
		t.Fatalf("rollback report rows %s", rows)
	}
	// Done is done: the job run again, another tag, change nothing.
	if err := w.s.restore.run(w.ctx, queued[0]); err != nil {
		t.Fatal(err)
	}
	w.retag()
	w.sync()
	w.wantState(rules.RolledBack)
	if got := w.cl.called(); count(got, "rollback acme-sandbox "+fakeCloneID) != 1 || count(got, "check rollback acme-sandbox "+fakeCloneID) != 1 {
		t.Fatalf("cloner calls %v, want one check and one rollback", got)
	}
	w.wantQueuedTail("rolling_back", "rolled_back", "rolled_back/internal")
}

// An end user's rollback tag is answered once, politely, and the sandbox is not
// asked; an agent's tag after it rolls back.
func TestEndUsersRollbackTagIsRefusedOnce(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.ready()
	w.zd.change(fakeTicket, fakeCustomer, []string{"clone_rollback"}, nil, nil)
	w.sync()
	w.wantState(rules.Ready)
	w.wantQueuedTail("rollback_refused")
	w.sync()
	if n := count(kindsOf(w.queued()), "rollback_refused"); n != 1 {
		t.Fatalf("refused %d times", n)
	}
	w.keeps(nil)
	w.retag()
	w.sync()
	w.wantState(rules.RollingBack)
	if got := w.cl.called(); count(got, "check rollback acme-sandbox "+fakeCloneID) != 1 {
		t.Fatalf("cloner calls %v: the end user's tag asked the sandbox", got)
	}
}

// A tag after the copy went (expired, replaced by a newer clone, dropped) is
// explained once, and queues no rollback; a sandbox that does not answer fails
// the sync (the ticket hears of it as of any failing check).
func TestRollbackTagWithoutACopyIsExplainedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		copy rules.CopyState
		says string
	}{
		{fmt.Errorf("rollback %w: %w", cloner.ErrRefused, cloner.ErrExpired), rules.CopyExpired, "expired at Sun 6 Dec 2026 02:30:00 UTC"},
		{fmt.Errorf("rollback %w: %w", cloner.ErrRefused, cloner.ErrSuperseded), rules.CopySuperseded, "a newer clone into the sandbox (its copy taken Sun 29 Nov 2026 02:30:00 UTC)"},
		{fmt.Errorf("rollback %w: %w", cloner.ErrRefused, cloner.ErrNoCopy), rules.CopyGone, "keeps no pre-clone copy of this clone"},
	} {
		t.Run(string(tc.copy), func(t *testing.T) {
			t.Parallel()
			w := newWorkers(t)
			w.ready()
			w.keeps(tc.err)
			w.zd.change(fakeTicket, fakeAgent, []string{"clone_rollback"}, nil, nil)
			w.sync()
			w.wantState(rules.Ready)
			w.wantQueuedTail("rollback_unavailable", "rollback_unavailable/internal")
			if note := w.query("SELECT body FROM outbox WHERE ticket_id = $1::bigint AND NOT public ORDER BY id DESC LIMIT 1"); !strings.Contains(note, tc.says) {
				t.Errorf("the note does not say %q:\n%s", tc.says, note)
			}
			if got := w.query("SELECT detail->>'copy' FROM audit_log WHERE ticket_id = $1::bigint ORDER BY id DESC LIMIT 1"); got != string(tc.copy) {
				t.Errorf("audit detail copy %q, want %q", got, tc.copy)
			}
			w.sync()
			if n := count(kindsOf(w.queued()), "rollback_unavailable"); n != 1 || len(w.rollbackJobs()) != 0 {
				t.Fatalf("explained %d times, %d rollback jobs", n, len(w.rollbackJobs()))
			}
		})
	}
	w := newWorkers(t)
	w.ready()
	w.cl.kept = func(string, string) (*cloner.RollbackCopy, error) {
		return nil, fmt.Errorf("connect to instance acme-sandbox: %w", &pgconn.ConnectError{})
	}
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_rollback"}, nil, nil)
	if err := w.s.sync.sync(w.ctx, fakeTicket, troubleSync); err == nil {
		t.Fatal("the sync went through with the sandbox not answering")
	}
	w.wantState(rules.Ready)
	if n := w.query("SELECT count(*)::text FROM ticket_troubles WHERE ticket_id = $1::bigint AND job = 'ticket_sync'"); n != "1" {
		t.Fatal("the failing check is not the ticket's trouble")
	}
}

// The rollback job's outcomes: a busy sandbox waits; one that does not answer
// waits as the ticket's trouble, which a sync meanwhile does not end; a copy gone
// since the ticket asked is explained; any other error fails the rollback, the
// request ready again, and a new tag asks again.
func TestRollbackJobOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.rollingBack()
	args := w.rollbackJobs()[0]
	var answer error
	w.cl.restore = func(context.Context, string, cloner.RollbackOptions) (*cloner.RollbackReport, error) {
		return nil, answer
	}

	answer = fmt.Errorf("sandbox acme-sandbox: %w", cloner.ErrBusy)
	var snooze *river.JobSnoozeError
	if err := w.s.restore.run(w.ctx, args); !errors.As(err, &snooze) {
		t.Fatalf("busy: %v, want a snooze", err)
	}
	answer = fmt.Errorf("connect to instance acme-sandbox: %w", &pgconn.ConnectError{})
	if err := w.s.restore.run(w.ctx, args); !errors.As(err, &snooze) || snooze.Duration > time.Minute {
		t.Fatalf("unreachable: %v, want a snooze of at most a minute", err)
	}
	w.wantState(rules.RollingBack)
	if job := w.query("SELECT job FROM ticket_troubles WHERE ticket_id = $1::bigint"); job != "rollback" {
		t.Fatalf("trouble of job %q, want rollback", job)
	}
	w.sync() // a ticket event meanwhile
	if n := w.query("SELECT count(*)::text FROM ticket_troubles WHERE ticket_id = $1::bigint"); n != "1" {
		t.Fatal("a sync ended the rollback's trouble")
	}
	// No silent ticket: past the grace, the ticket hears once what keeps failing.
	w.clock.Add(21 * time.Second)
	for range 2 {
		if err := w.s.due.troubles.announce(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.wantQueuedTail("rolling_back", "checking", "checking/internal")
	if note := w.query("SELECT body FROM outbox WHERE ticket_id = $1::bigint AND NOT public ORDER BY id DESC LIMIT 1"); !strings.Contains(note, "cannot restore acme-sandbox as it was before the clone") {
		t.Fatalf("the trouble's note does not say what fails:\n%s", note)
	}
	answer = errors.New("restore public.plans: disk full")
	if err := w.s.restore.run(w.ctx, args); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Ready)
	w.wantQueuedTail("resolved", "rollback_failed", "rollback_failed/internal")
	if n := w.query("SELECT count(*)::text FROM ticket_troubles WHERE ticket_id = $1::bigint"); n != "0" {
		t.Fatal("the rollback's end did not end its trouble")
	}
	w.sync()
	w.wantState(rules.Ready) // the same tag is answered

	w.retag()
	w.sync()
	w.wantState(rules.RollingBack)
	answer = fmt.Errorf("rollback %w: %w", cloner.ErrRefused, cloner.ErrSuperseded)
	if err := w.s.restore.run(w.ctx, w.rollbackJobs()[1]); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Ready)
	w.wantQueuedTail("rollback_unavailable", "rollback_unavailable/internal")
	if got := w.audit(); got[len(got)-1] != "rolling_back>ready:rollback_unavailable" {
		t.Fatalf("audit log %v", got)
	}
}

// A rollback whose runner died (its job left running, its run lock free) is run
// again by the leader; one whose runner is alive, or whose job waits, is left alone.
func TestRescueRunsAnInterruptedRollbackAgain(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.rollingBack()
	if err := w.s.due.rescueRollbacks(w.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(w.rollbackJobs()); n != 1 {
		t.Fatalf("%d rollback jobs while one waits, want 1", n)
	}
	// The job's process died: River still shows it running.
	if _, err := w.pool.Exec(w.ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE kind = 'rollback'"); err != nil {
		t.Fatal(err)
	}
	release, ok, err := w.s.due.repo.holdRunLock(w.ctx, fakeTicket)
	if err != nil || !ok {
		t.Fatalf("run lock: %v %v", ok, err)
	}
	if err := w.s.due.rescueRollbacks(w.ctx); err != nil {
		t.Fatal(err)
	}
	release()
	if n := len(w.rollbackJobs()); n != 1 {
		t.Fatalf("%d rollback jobs while its runner holds the lock, want 1", n)
	}
	if err := w.s.due.rescueRollbacks(w.ctx); err != nil {
		t.Fatal(err)
	}
	queued := w.rollbackJobs()
	if len(queued) != 2 || queued[1].CloneID != fakeCloneID {
		t.Fatalf("rollback jobs %v, want a second one for clone %s", queued, fakeCloneID)
	}
	w.wantState(rules.RollingBack)
}
