package lifecycle

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/fixtures"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/registry"
	"github.com/gaiia/clonebot/store/storetest"
	"github.com/gaiia/clonebot/zendesksim"
)

// harness is the life cycle on real parts: its own bot database, production and
// sandbox instance databases, and Zendesk simulated over real HTTP. Tests call
// the workers' functions directly, so that each step is theirs to order.
type harness struct {
	t        *testing.T
	ctx      context.Context // carries the River client, as a worker's does
	s        *Service
	pool     *pgxpool.Pool
	sim      *zendesksim.Server
	settings Settings
	registry *registry.Registry
	cloner   *cloner.Cloner
	metrics  *metrics.Metrics
	clock    *testClock // the bot's
	simClock *testClock // Zendesk's: it stands still, so every change falls in one second
	prodURL  string
	sbxURL   string
	bot      zendesksim.User
	service  zendesksim.User
	customer zendesksim.User
	agent    zendesksim.User
	org      int64
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

type harnessOptions struct {
	sim         func(*zendesksim.Config)
	cfg         func(*Config)
	lockTimeout time.Duration // the cloner's; 0 its default
	// clonerNow and retention are the cloner's clock and how long it keeps a
	// rollback copy; nil and 0 its defaults (time.Now, a week).
	clonerNow func() time.Time
	retention time.Duration
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, metrics: metrics.New()}
	// Noon in Toronto: outside the 02:00-05:00 window unless a test moves the clock.
	h.clock = &testClock{now: time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)}
	h.simClock = &testClock{now: h.clock.now}
	h.pool, _ = storetest.NewPool(t)
	h.prodURL = instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Production, Seed: 3, ConfigBytes: 256 << 10, CustomerBytes: 256 << 10})
	h.sbxURL = instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Sandbox, Seed: 4, ConfigBytes: 256 << 10})
	uatURL := instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Sandbox, Seed: 5, ConfigBytes: 256 << 10})
	simCfg := zendesksim.Config{Email: "clonebot@example.com", APIToken: "token", Now: h.simClock.Now,
		CustomFieldIDs: []int64{ruleFieldProduction, ruleFieldSandbox, ruleFieldWipe, ruleFieldUsers}}
	if o.sim != nil {
		o.sim(&simCfg)
	}
	h.sim = zendesksim.NewTest(t, simCfg)
	h.bot = h.sim.CreateUser("clonebot", "clonebot@example.com", "admin")
	h.service = h.sim.CreateUser("billing sync", "sync@example.com", "admin")
	h.customer = h.sim.CreateUser("Dana Okafor", "dana@acme-fiber.example", "end-user")
	h.agent = h.sim.CreateUser("Sam Rivera", "sam@support.example", "agent")
	h.org = h.sim.CreateOrganization("Acme Fiber")
	if err := h.sim.AddMembership(h.customer.ID, h.org); err != nil {
		t.Fatal(err)
	}
	h.settings = ruleSettings(h.bot.ID, h.service.ID, h.org, h.prodURL, h.sbxURL, uatURL)
	h.settings.Windows.Zones["acme"] = mustLoc(t, "America/Toronto")
	h.registry = h.settings.Parser.Registry
	h.start(o)
	return h
}

func (h *harness) start(o harnessOptions) {
	t := h.t
	entry := testLogger(t)
	zd, err := notifier.New(notifier.Config{URL: h.sim.URL(), Email: "clonebot@example.com", APIToken: "token", BotUserID: h.bot.ID,
		Logger: entry, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	instances := h.registry.All()
	cl, err := cloner.New(cloner.Config{Instances: instances, Logger: entry, LockTimeout: o.lockTimeout, Now: o.clonerNow, Retention: o.retention})
	if err != nil {
		t.Fatal(err)
	}
	h.cloner = cl
	for _, in := range instances { // as an operator does with clonebot enroll
		if _, err := cl.Enroll(context.Background(), in.Name, cloner.EnrollOptions{Operator: "lifecycle test", Version: "test"}); err != nil {
			t.Fatalf("enroll %s: %v", in.Name, err)
		}
	}
	cfg := Config{Pool: h.pool, Zendesk: zd, Cloner: cl, Settings: h.settings, Logger: entry, Metrics: h.metrics, Now: h.clock.Now}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	h.s, h.ctx = newService(t, cfg)
}

// newService builds the life cycle of cfg, and a context that carries a River
// client for its workers, as a worker's does.
func newService(t *testing.T, cfg Config) (*Service, context.Context) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	s.Register(workers)
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return s, rivertest.WorkContext(context.Background(), client)
}

// testLogger discards the logs, or writes them to the test's log with -v.
func testLogger(t *testing.T) *logrus.Entry {
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(testWriter{t})
	}
	return logrus.NewEntry(log)
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// instanceDB copies a generated instance from a template kept across runs.
func instanceDB(t *testing.T, opts fixtures.GenerateOptions) string {
	t.Helper()
	key := "lifecycle_" + string(opts.Kind)[:4] + "_" + fixtures.Fingerprint(opts)
	return pgtest.FromTemplate(t, key, func(ctx context.Context, url string) error {
		if err := fixtures.ApplySchema(ctx, url); err != nil {
			return err
		}
		return fixtures.Generate(ctx, url, opts)
	})
}

// file has the customer file a ticket with the given answers and extra tags.
func (h *harness) file(sandbox string, wipe bool, tags ...string) int64 {
	return h.sim.CreateTicket(h.customer.ID, zendesksim.TicketSpec{
		Subject: "Please refresh our sandbox", Description: "Replace our sandbox with production's configuration.",
		OrganizationID: h.org, Tags: append([]string{"sandbox_clone"}, tags...),
		CustomFields: map[int64]any{ruleFieldProduction: "acme-prod", ruleFieldSandbox: sandbox, ruleFieldWipe: wipe,
			ruleFieldUsers: "Dana Okafor <dana@acme-fiber.example> (admin)"},
	}).ID
}

// update changes a ticket as user as would in Zendesk's UI.
func (h *harness) update(id, as int64, ch zendesksim.TicketChange) {
	h.t.Helper()
	if _, err := h.sim.UpdateTicket(id, as, ch); err != nil {
		h.t.Fatalf("update ticket %d: %v", id, err)
	}
}

// sync runs a ticket sync as its worker would, and fails the test on an error.
func (h *harness) sync(id int64) {
	h.t.Helper()
	if err := h.s.sync.sync(h.ctx, id, troubleSync); err != nil {
		h.t.Fatalf("sync ticket %d: %v", id, err)
	}
}

// post delivers the ticket's pending announcements.
func (h *harness) post(id int64) {
	h.t.Helper()
	if err := h.s.outbox.deliver(h.ctx, id); err != nil {
		h.t.Fatalf("deliver announcements of ticket %d: %v", id, err)
	}
}

// state is the request's state in the bot database, "" if none.
func (h *harness) state(id int64) rules.State {
	h.t.Helper()
	var st rules.State
	err := h.pool.QueryRow(h.ctx, "SELECT state FROM clone_requests WHERE ticket_id = $1::bigint", id).Scan(&st)
	if err == pgx.ErrNoRows {
		return ""
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// queued lists the announcement keys queued for the ticket, oldest first, without
// the ticket id: "awaiting_approval/7", "awaiting_approval/7/internal", ...
func (h *harness) queued(id int64) []string {
	h.t.Helper()
	rows, err := h.pool.Query(h.ctx, "SELECT key FROM outbox WHERE ticket_id = $1::bigint ORDER BY id", id)
	if err != nil {
		h.t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		h.t.Fatal(err)
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, fmt.Sprintf("%d/", id))
	}
	return keys
}

// kinds are the message names of the queued announcements, internal notes marked.
func (h *harness) kinds(id int64) []string {
	var out []string
	for _, k := range h.queued(id) {
		parts := strings.Split(k, "/")
		if strings.HasSuffix(k, "/internal") {
			out = append(out, parts[0]+"/internal")
		} else {
			out = append(out, parts[0])
		}
	}
	return out
}

// inWindow moves the bot's clock into the tenant's low-activity window (02:30 in
// Toronto), so that an approved clone is due at once.
func (h *harness) inWindow() { h.clock.Set(time.Date(2026, 11, 29, 7, 30, 0, 0, time.UTC)) }

// scheduled files a valid request and has the agent approve it, in the window.
func (h *harness) scheduled() int64 {
	h.t.Helper()
	h.inWindow()
	id := h.file("acme-sandbox", true)
	h.sync(id)
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	if st := h.state(id); st != rules.Scheduled {
		h.t.Fatalf("request is %s, want scheduled", st)
	}
	return id
}

// runClone runs the ticket's clone job as its worker would, returning its outcome.
func (h *harness) runClone(id int64) error {
	h.t.Helper()
	var fp string
	if err := h.pool.QueryRow(h.ctx, "SELECT fingerprint FROM clone_requests WHERE ticket_id = $1::bigint", id).Scan(&fp); err != nil {
		h.t.Fatal(err)
	}
	return h.s.runner.run(h.ctx, jobs.CloneArgs{TicketID: id, Fingerprint: fp}, 1)
}

// lastNote is the body of the newest internal note the bot queued for the ticket.
func (h *harness) lastNote(id int64) string {
	h.t.Helper()
	var body string
	if err := h.pool.QueryRow(h.ctx, "SELECT body FROM outbox WHERE ticket_id = $1::bigint AND NOT public ORDER BY id DESC LIMIT 1", id).Scan(&body); err != nil {
		h.t.Fatal(err)
	}
	return body
}
