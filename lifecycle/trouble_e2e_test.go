package lifecycle

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// An instance that does not answer during a sync: the ticket hears once, after the
// grace and within a minute, that its request is being checked (the reason in an
// internal note); the sync keeps failing and retrying; once the instance answers,
// the ticket hears that, and the outcome.
func TestInstanceDownDuringASyncTheTicketHearsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	pgtest.SetConnections(t, h.sbxURL, false)
	if err := h.s.sync.sync(h.ctx, id, troubleSync); err == nil {
		t.Fatal("the sync went through with the sandbox refusing connections")
	}
	mustAnnounceTroubles(t, h)
	h.wantKinds(id) // a blip is not announced
	h.clock.Add(21 * time.Second)
	if err := h.s.sync.sync(h.ctx, id, troubleSync); err == nil {
		t.Fatal("the sync went through with the sandbox refusing connections")
	}
	mustAnnounceTroubles(t, h)
	mustAnnounceTroubles(t, h)
	h.wantKinds(id, "checking", "checking/internal")
	if note := h.lastNote(id); !strings.Contains(note, "acme-sandbox") || !strings.Contains(note, "not currently accepting connections") || !strings.Contains(note, "2 times in a row") {
		t.Errorf("the internal note should name the instance and the reason:\n%s", note)
	}
	if err := h.s.due.troubles.count(h.ctx); err != nil {
		t.Fatal(err)
	}
	if n := value(t, h.metrics.TicketsInTrouble.WithLabelValues("ticket_sync")); n != 1 {
		t.Errorf("clonebot_tickets_in_trouble{job=ticket_sync} = %v, want 1", n)
	}
	if n := value(t, h.metrics.TroublesAnnounced.WithLabelValues("ticket_sync")); n != 1 {
		t.Errorf("clonebot_troubles_announced_total{job=ticket_sync} = %v, want 1", n)
	}
	h.post(id)

	pgtest.SetConnections(t, h.sbxURL, true)
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "checking", "checking/internal", "resolved", "awaiting_approval", "awaiting_approval/internal")
	h.post(id)
	var public []string
	for _, c := range h.sim.Comments(id) {
		if c.AuthorID == h.bot.ID && c.Public {
			public = append(public, strings.SplitN(c.Body, ".", 2)[0])
		}
	}
	if len(public) != 3 || !strings.HasPrefix(public[0], "We are checking your request") || !strings.HasPrefix(public[1], "Update: the systems we were waiting for") {
		t.Errorf("the customer read: %q", public)
	}
	if err := h.s.due.troubles.count(h.ctx); err != nil {
		t.Fatal(err)
	}
	if n := value(t, h.metrics.TicketsInTrouble.WithLabelValues("ticket_sync")); n != 0 {
		t.Errorf("clonebot_tickets_in_trouble{job=ticket_sync} = %v after the fix, want 0", n)
	}
}

// value reads a gauge or a counter.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

func mustAnnounceTroubles(t *testing.T, h *harness) {
	t.Helper()
	if err := h.s.due.troubles.announce(h.ctx); err != nil {
		t.Fatal(err)
	}
}

// A ticket whose failing sync River gave up on is synced again, at most once a
// minute, until it goes through: the trouble never ends in silence.
func TestFailingTicketWithoutAJobIsSyncedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	pgtest.SetConnections(t, h.sbxURL, false)
	_ = h.s.sync.sync(h.ctx, id, troubleSync)
	requeue := func() {
		t.Helper()
		if err := h.s.due.repo.inTx(h.ctx, func(q *repo) error { return h.s.due.troubles.requeue(h.ctx, q) }); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() int64 {
		return pgtest.QueryOne[int64](t, h.poolURL(), "SELECT count(*) FROM ticket_sync_pending WHERE ticket_id = $1::bigint", id)
	}
	requeue()
	if pending() != 0 {
		t.Fatal("a sync was queued again at once")
	}
	h.clock.Add(61 * time.Second)
	requeue()
	if pending() != 1 || pgtest.QueryOne[int64](t, h.poolURL(), "SELECT count(*) FROM river_job WHERE kind = 'ticket_sync'") != 1 {
		t.Fatal("no sync was queued for the failing ticket")
	}
}

// poolURL is the bot database's URL.
func (h *harness) poolURL() string { return h.pool.Config().ConnString() }

// The sandbox does not answer when the approved clone is due: the clone does not
// start and does not fail; the job waits and retries, the ticket hears once that
// it is being checked, and once the sandbox answers the clone runs.
func TestInstanceDownBeforeTheCloneWaitsThenRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.scheduled()
	pgtest.SetConnections(t, h.sbxURL, false)
	err := h.runClone(id)
	var snooze *river.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration > time.Minute {
		t.Fatalf("runClone = %v, want a snooze of at most a minute", err)
	}
	h.wantState(id, rules.Scheduled)
	h.clock.Add(21 * time.Second)
	if err := h.runClone(id); !errors.As(err, &snooze) {
		t.Fatalf("runClone = %v, want a snooze", err)
	}
	mustAnnounceTroubles(t, h)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "scheduled", "checking", "checking/internal")
	if note := h.lastNote(id); !strings.Contains(note, "start the clone acme-prod -> acme-sandbox") {
		t.Errorf("the note should say what cannot start:\n%s", note)
	}

	pgtest.SetConnections(t, h.sbxURL, true)
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Ready)
	kinds := h.kinds(id)
	if i := slices.Index(kinds, "resolved"); i < 0 || i > slices.Index(kinds, "running") {
		t.Errorf("the ticket should hear that the check went through before the clone starts: %v", kinds)
	}
}

// Zendesk failing (5xx) while the clone posts the sandbox-only export, before the
// wipe: the clone waits and runs again, the sandbox untouched meanwhile; only a
// permanent refusal fails it.
func TestZendeskFailingBeforeTheWipeRetriesTheClone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.scheduled()
	before := tableDigests(t, h.sbxURL)
	h.sim.InjectFault(zendesksim.Fault{Method: "POST", PathPrefix: "/api/v2/uploads", Status: 500, Times: -1})
	err := h.runClone(id)
	var snooze *river.JobSnoozeError
	if !errors.As(err, &snooze) {
		t.Fatalf("runClone = %v, want a snooze", err)
	}
	h.wantState(id, rules.Running)
	if !maps.Equal(before, tableDigests(t, h.sbxURL)) {
		t.Fatal("the sandbox changed")
	}
	// While its job waits to run again, the clone is not taken for interrupted.
	if err := h.s.due.rescueInterrupted(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Running)
	h.sim.ClearFaults()
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Ready)
	if n := count(h.kinds(id), "running"); n != 1 {
		t.Errorf("the clone was announced as started %d times", n)
	}

	// A permanent refusal (422) fails the clone.
	h2 := newHarness(t, harnessOptions{})
	id2 := h2.scheduled()
	h2.sim.InjectFault(zendesksim.Fault{Method: "POST", PathPrefix: "/api/v2/uploads", Status: 422, Times: -1})
	if err := h2.runClone(id2); err != nil {
		t.Fatal(err)
	}
	h2.wantState(id2, rules.Failed)
}

// tableDigests is every table of a database as one hash each.
func tableDigests(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tb := range tables {
		var d string
		if err := conn.QueryRow(context.Background(), "SELECT count(*)::text || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "+tb+" t").Scan(&d); err != nil {
			t.Fatal(err)
		}
		out[tb] = d
	}
	return out
}

// The approver is re-read when the clone is due: suspended, the approval no longer
// carries the clone, which does not start; the ticket says why, and a later
// approval by another agent schedules it again.
func TestApproverSuspendedBeforeTheCloneDoesNotStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.scheduled()
	suspended := true
	if _, err := h.sim.UpdateUser(h.agent.ID, zendesksim.UserChange{Suspended: &suspended}); err != nil {
		t.Fatal(err)
	}
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "scheduled", "approver_gone", "approver_gone/internal")
	if note := h.lastNote(id); !strings.Contains(note, "is suspended") {
		t.Errorf("the note should say why:\n%s", note)
	}
	// The old approval stays on the ticket, and no longer counts.
	h.update(id, h.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "So?", Public: true}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	kim := h.sim.CreateUser("Kim", "kim@support.example", "admin")
	h.update(id, kim.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, kim.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)

	// Demoted and deleted approvers are refused alike.
	for _, change := range []zendesksim.UserChange{{Role: "end-user"}, {Deleted: true}} {
		if _, err := h.sim.UpdateUser(kim.ID, change); err != nil {
			t.Fatal(err)
		}
		if err := h.runClone(id); err != nil {
			t.Fatal(err)
		}
		h.wantState(id, rules.AwaitingApproval)
		if _, err := h.sim.UpdateUser(kim.ID, zendesksim.UserChange{Role: "admin"}); err != nil {
			t.Fatal(err)
		}
		h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
		kim = h.sim.CreateUser("Kim", "kim2@support.example", "admin")
		h.update(id, kim.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
		h.sync(id)
		h.wantState(id, rules.Scheduled)
	}
}

// A lock held in production stops the clone after lock_timeout, and the ticket's
// internal note names the table and the session holding it.
func TestProductionLockFailsTheCloneNamingTheHolder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{lockTimeout: 500 * time.Millisecond})
	id := h.scheduled()
	pgtest.HoldLock(t, h.prodURL, "schema-migration", "LOCK TABLE plans IN ACCESS EXCLUSIVE MODE")
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Failed)
	note := h.lastNote(id)
	for _, want := range []string{"public.plans", `application_name "schema-migration"`, "AccessExclusiveLock", "pid "} {
		if !strings.Contains(note, want) {
			t.Errorf("the failure note does not say %q:\n%s", want, note)
		}
	}
}

// A clone still running at its deadline (here: waiting on a sandbox lock that
// outlasts it) is stopped and fails, the sandbox rolled back.
func TestCloneStoppedAtItsDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.CloneDeadline = 2 * time.Second }})
	id := h.scheduled()
	pgtest.HoldLock(t, h.sbxURL, "sandbox-app", "SELECT count(*) FROM workflows")
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Failed)
	if note := h.lastNote(id); !strings.Contains(note, "did not finish within its deadline (2s, jobs.clone_deadline)") {
		t.Errorf("the failure note should name the deadline:\n%s", note)
	}
}
