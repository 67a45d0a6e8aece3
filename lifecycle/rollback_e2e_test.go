package lifecycle

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// The rollback from the ticket on real parts: the instance databases on
// PostgreSQL, the cloner, the bot database, and Zendesk simulated over HTTP.

// readyClone files a request, has the agent approve it, runs its clone and posts
// what the bot queued; it returns the ticket.
func (h *harness) readyClone() int64 {
	h.t.Helper()
	id := h.scheduled()
	if err := h.runClone(id); err != nil {
		h.t.Fatal(err)
	}
	h.wantState(id, rules.Ready)
	h.post(id)
	return id
}

// askRollback has user add the rollback tag to the ticket, and syncs it.
func (h *harness) askRollback(id, user int64) {
	h.t.Helper()
	h.update(id, user, zendesksim.TicketChange{AddTags: []string{"clone_rollback"}})
	h.sync(id)
}

// askRollbackAgain has the agent remove the rollback tag and add it again.
func (h *harness) askRollbackAgain(id int64) {
	h.t.Helper()
	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_rollback"}})
	h.askRollback(id, h.agent.ID)
}

// runRollback runs the ticket's newest rollback job as its worker would.
func (h *harness) runRollback(id int64) {
	h.t.Helper()
	if err := h.tryRollback(id); err != nil {
		h.t.Fatal(err)
	}
}

// tryRollback runs the ticket's newest rollback job and returns its outcome.
func (h *harness) tryRollback(id int64) error {
	h.t.Helper()
	cloneID := pgtest.QueryOne[string](h.t, h.poolURL(), `SELECT args->>'clone_id' FROM river_job WHERE kind = 'rollback'
		AND (args->>'ticket_id')::bigint = $1 ORDER BY id DESC LIMIT 1`, id)
	return h.s.restore.run(h.ctx, jobs.RollbackArgs{TicketID: id, CloneID: cloneID})
}

// statusTags are the clone_status_ tags the ticket carries in Zendesk.
func (h *harness) statusTags(id int64) []string {
	var out []string
	for _, tag := range h.sim.Ticket(id).Tags {
		if strings.HasPrefix(tag, "clone_status_") {
			out = append(out, tag)
		}
	}
	return out
}

// lastComments are the bodies of the ticket's newest n comments in Zendesk.
func (h *harness) lastComments(id int64, n int) []zendesksim.Comment {
	cs := h.sim.Comments(id)
	return cs[max(len(cs)-n, 0):]
}

// An agent's rollback tag on a ready ticket restores the sandbox, row for row, as
// it was before the clone: what the customer did in the sandbox since is gone. The
// ticket hears the rollback start and end, with the verification for the agents,
// and carries clone_status_rolled_back; a rollback is one-time.
func TestRollbackFromTheTicketRestoresTheSandboxRowForRow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	before := tableDigests(t, h.sbxURL)
	id := h.readyClone()
	cloned := tableDigests(t, h.sbxURL)
	if maps.Equal(before, cloned) {
		t.Fatal("the clone changed nothing; the test proves nothing")
	}
	ready := h.lastComments(id, 2)
	if !strings.Contains(ready[0].Body, "we can restore **acme-sandbox** exactly as it was before this clone") || !strings.Contains(ready[1].Body, "add the tag `clone_rollback`") {
		t.Fatalf("the ready notice does not say how to roll back:\n%s\n%s", ready[0].Body, ready[1].Body)
	}
	// The customer works in the new sandbox; then wants the old one back.
	if n := pgtest.QueryOne[int64](t, h.sbxURL, `WITH edited AS (UPDATE plans SET name = name || ' (edited in the new sandbox)'
		WHERE id IN (SELECT id FROM plans ORDER BY id LIMIT 3) RETURNING 1) SELECT count(*) FROM edited`); n != 3 {
		t.Fatalf("edited %d plans in the new sandbox, want 3", n)
	}
	h.askRollback(id, h.agent.ID)
	h.wantState(id, rules.RollingBack)
	began := time.Now()
	h.runRollback(id)
	took := time.Since(began)
	h.wantState(id, rules.RolledBack)
	if after := tableDigests(t, h.sbxURL); !maps.Equal(before, after) {
		for table, d := range before {
			if after[table] != d {
				t.Errorf("%s differs from the sandbox before the clone", table)
			}
		}
	}
	h.post(id)
	if got := h.statusTags(id); !slices.Equal(got, []string{"clone_status_rolled_back"}) {
		t.Errorf("status tags %v, want clone_status_rolled_back alone", got)
	}
	done := h.lastComments(id, 3)
	if !done[0].Public || !strings.Contains(done[0].Body, "We are restoring **acme-sandbox**") {
		t.Errorf("the rollback's start was not announced:\n%s", done[0].Body)
	}
	if !done[1].Public || !strings.Contains(done[1].Body, "is back as it was right before the clone") || !strings.Contains(done[1].Body, "since the clone is gone") {
		t.Errorf("the public notice does not say what came back and what is gone:\n%s", done[1].Body)
	}
	if done[2].Public || !strings.Contains(done[2].Body, "Verification (inside the rollback's transaction") || !strings.Contains(done[2].Body, "public.plans:") {
		t.Errorf("the internal note lacks the verification:\n%s", done[2].Body)
	}
	seconds := pgtest.QueryOne[float64](t, h.poolURL(), "SELECT (rollback_report->>'seconds')::float8 FROM clone_requests WHERE ticket_id = $1", id)
	rows := pgtest.QueryOne[int64](t, h.poolURL(), "SELECT (rollback_report->>'rows')::bigint FROM clone_requests WHERE ticket_id = $1", id)
	t.Logf("outcome: rollback of %d rows verified and committed in %.2fs (the job %s, tag to rolled_back)", rows, seconds, took.Round(time.Millisecond))

	// One-time: the tag added again changes nothing, in the sandbox or on the ticket.
	h.askRollbackAgain(id)
	h.wantState(id, rules.RolledBack)
	if n := count(h.kinds(id), "rolling_back"); n != 1 {
		t.Errorf("the rollback was announced %d times", n)
	}
}

// The sandbox refuses connections when the rollback runs: the job waits and
// retries, the ticket hears once (past the grace) that it is being checked, and
// once the sandbox answers the rollback goes through and the ticket hears that.
func TestSandboxDownDuringTheRollbackTheTicketHearsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	before := tableDigests(t, h.sbxURL)
	id := h.readyClone()
	h.askRollback(id, h.agent.ID)
	pgtest.SetConnections(t, h.sbxURL, false)
	var snooze *river.JobSnoozeError
	for range 2 {
		if err := h.tryRollback(id); !errors.As(err, &snooze) || snooze.Duration > time.Minute {
			t.Fatalf("rollback with the sandbox down = %v, want a snooze of at most a minute", err)
		}
		h.clock.Add(21 * time.Second)
		mustAnnounceTroubles(t, h)
	}
	h.wantState(id, rules.RollingBack)
	kinds := h.kinds(id)
	if !slices.Equal(kinds[len(kinds)-3:], []string{"rolling_back", "checking", "checking/internal"}) {
		t.Fatalf("announcements %v, want the trouble once after the rollback's start", kinds)
	}
	if note := h.lastNote(id); !strings.Contains(note, "cannot restore acme-sandbox as it was before the clone") || !strings.Contains(note, "not currently accepting connections") {
		t.Errorf("the note does not say what fails and why:\n%s", note)
	}

	pgtest.SetConnections(t, h.sbxURL, true)
	h.runRollback(id)
	h.wantState(id, rules.RolledBack)
	kinds = h.kinds(id)
	if !slices.Equal(kinds[len(kinds)-5:], []string{"checking", "checking/internal", "resolved", "rolled_back", "rolled_back/internal"}) {
		t.Errorf("announcements %v, want the trouble resolved, then the rollback's end", kinds)
	}
	if !maps.Equal(before, tableDigests(t, h.sbxURL)) {
		t.Error("the sandbox is not as it was before the clone")
	}
}

// A rollback tag added by a service account, or by a trigger on an agent's
// behalf, is no rollback and is not answered; an end user's is answered once,
// politely; none changes anything.
func TestRollbackTagOfAnEndUserIsRefusedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.readyClone()
	cloned := tableDigests(t, h.sbxURL)
	quiet := len(h.kinds(id))
	h.askRollback(id, h.service.ID)
	h.update(id, h.service.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_rollback"}})
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_rollback"}, ViaTrigger: true})
	h.sync(id)
	h.wantState(id, rules.Ready)
	if got := h.kinds(id); len(got) != quiet {
		t.Fatalf("automated rollback tags were answered: %v", got[quiet:])
	}
	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_rollback"}})
	h.askRollback(id, h.customer.ID)
	h.wantState(id, rules.Ready)
	h.sync(id)
	h.update(id, h.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Please put the old one back!", Public: true}})
	h.sync(id)
	h.post(id)
	if got := h.kinds(id); count(got, "rollback_refused") != 1 || got[len(got)-1] != "rollback_refused" {
		t.Errorf("announcements %v, want one refusal last", got)
	}
	if !maps.Equal(cloned, tableDigests(t, h.sbxURL)) {
		t.Error("the sandbox changed")
	}
	if got := h.statusTags(id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags %v", got)
	}
}

// A rollback tag on a ticket whose clone a newer clone into the same sandbox
// replaced is explained once and changes nothing: only the latest clone's copy is
// kept, and it is not this ticket's to restore.
func TestRollbackTagAfterANewerCloneIsExplained(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	first := h.readyClone()
	second := h.readyClone()
	cloned := tableDigests(t, h.sbxURL)
	h.askRollback(first, h.agent.ID)
	h.wantState(first, rules.Ready)
	h.sync(first)
	h.post(first)
	if got := h.kinds(first); count(got, "rollback_unavailable") != 1 || slices.Contains(got, "rolling_back") {
		t.Fatalf("announcements %v, want the rollback explained once", got)
	}
	if note := h.lastComments(first, 1)[0]; note.Public || !strings.Contains(note.Body, "a newer clone into the sandbox") {
		t.Errorf("the note does not say a newer clone replaced the copy:\n%s", note.Body)
	}
	if !maps.Equal(cloned, tableDigests(t, h.sbxURL)) {
		t.Error("the sandbox changed")
	}
	// The newer clone's own ticket can still roll back.
	h.askRollback(second, h.agent.ID)
	h.runRollback(second)
	h.wantState(second, rules.RolledBack)
}

// offsetClock is the real time moved forward by what the test adds: the cloner's
// durations stay real while its copies expire on the test's command.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.offset += d }

// A copy that expires while its rollback waits in the queue is explained by the
// job; a rollback tag after the retention is explained once by the sync, before
// the copy is pruned (expired) and after (gone); none changes the sandbox.
func TestRollbackTagAfterTheRetentionIsExplained(t *testing.T) {
	t.Parallel()
	clk := &offsetClock{}
	h := newHarness(t, harnessOptions{clonerNow: clk.Now, retention: time.Hour})
	id := h.readyClone()
	cloned := tableDigests(t, h.sbxURL)
	h.askRollback(id, h.agent.ID)
	h.wantState(id, rules.RollingBack)
	clk.Add(61 * time.Minute) // the job waited past the copy's expiry
	h.runRollback(id)
	h.wantState(id, rules.Ready)
	h.post(id)
	if note := h.lastComments(id, 1)[0]; note.Public || !strings.Contains(note.Body, "pre-clone copy expired at") {
		t.Errorf("the job's note does not say the copy expired:\n%s", note.Body)
	}

	h.askRollbackAgain(id)
	h.wantState(id, rules.Ready)
	h.sync(id)
	h.post(id)
	if public := h.lastComments(id, 2)[0]; !public.Public || !strings.Contains(public.Body, "kept for a limited time only, and that time ended on") {
		t.Errorf("the customer is not told why:\n%s", public.Body)
	}

	pruned := h.cloner.PruneRollbackCopies(h.ctx)
	if len(pruned) == 0 || pruned[0].Dropped == nil {
		t.Fatalf("prune: %+v, want the expired copy dropped", pruned)
	}
	h.askRollbackAgain(id)
	h.wantState(id, rules.Ready)
	h.post(id)
	if note := h.lastComments(id, 1)[0]; !strings.Contains(note.Body, "keeps no pre-clone copy of this clone") {
		t.Errorf("the note does not say the copy is gone:\n%s", note.Body)
	}
	if got := h.kinds(id); count(got, "rollback_unavailable") != 3 || count(got, "rolling_back") != 1 || slices.Contains(got, "rolled_back") {
		t.Errorf("announcements %v, want one start and three explanations, one per tag", got)
	}
	if !maps.Equal(cloned, tableDigests(t, h.sbxURL)) {
		t.Error("the sandbox changed")
	}
}
