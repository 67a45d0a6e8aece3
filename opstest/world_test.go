package opstest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gaiia/clonebot/fixtures"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// The Zendesk form and credentials of every world.
const (
	fieldProduction = 360042000001
	fieldSandbox    = 360042000002
	fieldWipe       = 360042000003
	fieldUsers      = 360042000004
	botEmail        = "clonebot@example.com"
	apiToken        = "opstest-api-token"
	webhookSecret   = "opstest-webhook-secret"
	tenantZone      = "America/Toronto"
)

// options shape a world.
type options struct {
	// configBytes sizes production's configuration; 0 means 512 KiB.
	configBytes int64
	// replicas is the number of clonebot serve processes; 0 means 1.
	replicas int
	// bigSandbox makes the sandbox before the clone as large as the kill test's
	// production (killScale), so that restoring it takes seconds.
	bigSandbox bool
	// webhookAttempts and webhookRetryDelay are the simulator's delivery retries.
	webhookAttempts   int
	webhookRetryDelay time.Duration
}

// world is one scenario's databases, Zendesk simulator and clonebot replicas.
type world struct {
	t                       *testing.T
	botURL, prodURL, sbxURL string
	sim                     *zendesksim.Server
	replicas                []*replica
	bot, customer, agent    zendesksim.User
	orgID                   int64
	pool                    *pgxpool.Pool // the test's own view of the bot database
}

func newWorld(t *testing.T, o options) *world {
	t.Helper()
	if o.configBytes == 0 {
		o.configBytes = 512 << 10
	}
	if o.replicas == 0 {
		o.replicas = 1
	}
	w := &world{t: t, botURL: pgtest.NewDatabase(t)}
	w.prodURL = instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Production, Seed: 7, ConfigBytes: o.configBytes, CustomerBytes: 1 << 20})
	w.sbxURL = instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Sandbox, Seed: 8, ConfigBytes: 2 << 20})
	if o.bigSandbox {
		// The kill test's production data, shaped like an instance full of work:
		// its template is built once for both tests.
		w.sbxURL = instanceDB(t, fixtures.GenerateOptions{Kind: fixtures.Production, Seed: 7, ConfigBytes: killScale, CustomerBytes: 1 << 20})
	}
	addrs := make([]string, o.replicas)
	hooks := make([]string, o.replicas)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		hooks[i] = "http://" + addrs[i] + "/webhooks/zendesk"
	}
	w.startSimulator(hooks, o)
	cfg := w.writeConfig()
	w.enroll(cfg, "acme-prod", "acme-sandbox")
	for i, addr := range addrs {
		w.replicas = append(w.replicas, startReplica(t, fmt.Sprintf("replica-%c", 'a'+i), cfg, addr, w.botURL))
	}
	for _, r := range w.replicas {
		r.waitReady(t)
	}
	pool, err := pgxpool.New(context.Background(), w.botURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	w.pool = pool
	return w
}

// enroll writes the instances' markers with `clonebot enroll`, as an operator does.
func (w *world) enroll(configPath string, names ...string) {
	w.t.Helper()
	for _, name := range names {
		cmd := exec.Command(binary, "enroll", "--config", configPath, "--instance", name)
		cmd.Env = append(os.Environ(), "CLONEBOT_DATABASE_URL="+w.botURL)
		if out, err := cmd.CombinedOutput(); err != nil {
			w.t.Fatalf("enroll %s: %v\n%s", name, err, out)
		}
	}
}

// instanceDB copies a generated instance from a template kept across runs.
func instanceDB(t *testing.T, opts fixtures.GenerateOptions) string {
	t.Helper()
	key := "opstest_" + string(opts.Kind)[:4] + "_" + fixtures.Fingerprint(opts)
	return pgtest.FromTemplate(t, key, func(ctx context.Context, url string) error {
		if err := fixtures.ApplySchema(ctx, url); err != nil {
			return err
		}
		return fixtures.Generate(ctx, url, opts)
	})
}

// freeAddr reserves a loopback port for a replica; the sockets close before the
// replica binds it, which is safe enough on a test machine.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (w *world) startSimulator(hooks []string, o options) {
	w.sim = zendesksim.NewTest(w.t, zendesksim.Config{
		Email: botEmail, APIToken: apiToken,
		WebhookURLs: hooks, WebhookSecret: webhookSecret, WebhookStyle: zendesksim.EventStyle,
		WebhookAttempts: o.webhookAttempts, WebhookRetryDelay: cmpOr(o.webhookRetryDelay, 100*time.Millisecond),
		CustomFieldIDs: []int64{fieldProduction, fieldSandbox, fieldWipe, fieldUsers},
	})
	w.bot = w.sim.CreateUser("clonebot", botEmail, "agent")
	w.customer = w.sim.CreateUser("Dana Okafor", "dana@acme-fiber.example", "end-user")
	w.agent = w.sim.CreateUser("Sam Rivera", "sam@support.example", "agent")
	w.orgID = w.sim.CreateOrganization("Acme Fiber")
	if err := w.sim.AddMembership(w.customer.ID, w.orgID); err != nil {
		w.t.Fatal(err)
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// openWindow is a low-activity window around now in the tenant's zone, so an
// approved clone runs at once. It wraps midnight when now is near it.
func openWindow(t *testing.T) (string, string) {
	t.Helper()
	loc, err := time.LoadLocation(tenantZone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	return now.Add(-time.Hour).Format("15:04"), now.Add(2 * time.Hour).Format("15:04")
}

// writeConfig writes the one configuration file all replicas share; each replica's
// bot database URL comes from its environment, to name its connections.
func (w *world) writeConfig() string {
	start, end := openWindow(w.t)
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
database_url: "${CLONEBOT_DATABASE_URL}"
log_level: info
zendesk:
  url: %q
  email: %q
  api_token: %q
  webhook_secrets: [%q]
  webhook_retry_after: 1s
  bot_user_id: %d
  fields: {production_instance: %d, sandbox_instance: %d, wipe_confirmation: %d, users: %d}
window: {start: %q, end: %q}
jobs: {due_interval: 1s, rescue_after: 1m}
tenants:
  - name: acme
    timezone: %s
    zendesk_organization_ids: [%d]
    instances:
      - {name: acme-prod, environment: production, url: "https://acme.example-isp.app", database_url: %q}
      - {name: acme-sandbox, environment: sandbox, url: "https://acme.sandbox.example-isp.app", database_url: %q}
`, w.sim.URL(), botEmail, apiToken, webhookSecret, w.bot.ID, fieldProduction, fieldSandbox, fieldWipe, fieldUsers,
		start, end, tenantZone, w.orgID, w.prodURL, w.sbxURL)
	path := filepath.Join(w.t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// replica is one `clonebot serve` process.
type replica struct {
	name string
	addr string
	cmd  *exec.Cmd
	logs *logBuffer
	// exited is closed once the process has exited.
	exited chan struct{}
}

// logBuffer keeps a process's output for the test to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line)
	l.b.WriteByte('\n')
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startReplica(t *testing.T, name, configPath, addr, botURL string) *replica {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", configPath, "--listen", addr)
	// Its own temporary directory: a replica killed mid-clone leaves its export there.
	cmd.Env = append(os.Environ(), "CLONEBOT_DATABASE_URL="+pgtest.WithApplicationName(t, botURL, name), "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, addr: addr, cmd: cmd, logs: &logBuffer{}, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			r.logs.add(sc.Text())
		}
		_ = cmd.Wait() // killed by the test; the logs say why if not
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.exited
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, tail(r.logs.String(), 60))
		}
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not become ready; logs:\n%s", r.name, tail(r.logs.String(), 40))
}

// logged reports whether the replica logged a line with message msg and the fields.
func (r *replica) logged(msg string, fields map[string]any) bool {
	for _, line := range strings.Split(r.logs.String(), "\n") {
		var entry map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber() // ids compare as written: as a float64, 4294968213 prints 4.294968213e+09
		if dec.Decode(&entry) != nil || entry["msg"] != msg {
			continue
		}
		match := true
		for k, v := range fields {
			match = match && fmt.Sprint(entry[k]) == fmt.Sprint(v)
		}
		if match {
			return true
		}
	}
	return false
}

// fileRequest has the customer file a complete, valid clone request.
func (w *world) fileRequest() int64 {
	t := w.sim.CreateTicket(w.customer.ID, zendesksim.TicketSpec{
		Subject:        "Please refresh our sandbox from production",
		Description:    "Replace our sandbox with a copy of production's configuration.",
		OrganizationID: w.orgID,
		Tags:           []string{"sandbox_clone"},
		CustomFields: map[int64]any{
			fieldProduction: "acme-prod",
			fieldSandbox:    "acme-sandbox",
			fieldWipe:       true,
			fieldUsers:      "Dana Okafor <dana@acme-fiber.example> (admin)",
		},
	})
	return t.ID
}

// update changes a ticket as user as would in Zendesk's UI.
func (w *world) update(id, as int64, ch zendesksim.TicketChange) {
	w.t.Helper()
	if _, err := w.sim.UpdateTicket(id, as, ch); err != nil {
		w.t.Fatalf("update ticket %d: %v", id, err)
	}
}

func (w *world) approve(id int64) {
	w.t.Helper()
	w.update(id, w.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
}

// waitAnnounced waits until announcement msg of the ticket is posted and nothing
// else of it waits to be posted.
func (w *world) waitAnnounced(id int64, msg string, timeout time.Duration) {
	w.t.Helper()
	pattern := fmt.Sprintf("%d/%s/%%", id, msg)
	w.waitFor(timeout, "announcement "+msg, func(ctx context.Context) (bool, error) {
		var posted, pending int
		err := w.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE key LIKE $2 AND posted_at IS NOT NULL),
			count(*) FILTER (WHERE posted_at IS NULL) FROM outbox WHERE ticket_id = $1`, id, pattern).Scan(&posted, &pending)
		return err == nil && posted > 0 && pending == 0, nil
	})
}

// waitState waits until the ticket's request is in state.
func (w *world) waitState(id int64, state string, timeout time.Duration) {
	w.t.Helper()
	w.waitFor(timeout, "state "+state, func(ctx context.Context) (bool, error) {
		var got string
		err := w.pool.QueryRow(ctx, "SELECT state FROM clone_requests WHERE ticket_id = $1", id).Scan(&got)
		return err == nil && got == state, nil
	})
}

func (w *world) waitFor(timeout time.Duration, what string, done func(ctx context.Context) (bool, error)) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ok, err := done(ctx)
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			w.t.Fatalf("timed out after %s waiting for %s; audit trail: %v", timeout, what, w.audit())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// audit is the bot's audit trail of all tickets, as from->to strings.
func (w *world) audit() []string {
	rows, err := w.pool.Query(context.Background(), "SELECT ticket_id, coalesce(from_state, '-'), to_state FROM audit_log ORDER BY id")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for rows.Next() {
		var id int64
		var from, to string
		if err := rows.Scan(&id, &from, &to); err != nil {
			return []string{err.Error()}
		}
		out = append(out, fmt.Sprintf("%d:%s->%s", id, from, to))
	}
	return out
}

var refLine = regexp.MustCompile(`(?m)^Ref: clonebot/(.*)$`)

// announcements returns the kinds of the bot's comments on a ticket in order (an
// internal note reads "<kind>/internal"), failing the test when one appears twice or
// has no reference.
func (w *world) announcements(id int64) []string {
	w.t.Helper()
	var kinds []string
	seen := map[string]bool{}
	for _, c := range w.sim.Comments(id) {
		if c.AuthorID != w.bot.ID {
			continue
		}
		m := refLine.FindStringSubmatch(c.Body)
		if m == nil {
			w.t.Errorf("bot comment without a reference:\n%s", c.Body)
			continue
		}
		if seen[m[1]] {
			w.t.Errorf("announcement %s posted twice", m[1])
		}
		seen[m[1]] = true
		parts := strings.Split(m[1], "/")
		kind := parts[1]
		if strings.HasSuffix(m[1], "/internal") {
			kind += "/internal"
		}
		kinds = append(kinds, kind)
	}
	return kinds
}

// statusTags are the clone_status_ tags on the ticket.
func (w *world) statusTags(id int64) []string {
	var tags []string
	for _, tag := range w.sim.Ticket(id).Tags {
		if strings.HasPrefix(tag, "clone_status_") {
			tags = append(tags, tag)
		}
	}
	return tags
}

// count runs a count query on the bot database.
func (w *world) count(sql string, args ...any) int64 {
	w.t.Helper()
	return pgtest.QueryOne[int64](w.t, w.botURL, sql, args...)
}

// countEventually polls a count until it equals want or ten seconds pass, and
// returns the last count.
func (w *world) countEventually(want int64, sql string, args ...any) int64 {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := w.count(sql, args...)
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// outcome records a scenario's figures in the test log.
func outcome(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("outcome: "+format, args...)
}
