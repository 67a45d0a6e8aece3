package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/store/storetest"
)

const (
	secret    = "s3cret-signing-key"
	botUserID = 361100000001
)

var testNow = time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC)

// server is a Handler behind real HTTP, on its own bot database.
type server struct {
	url     string
	pool    *pgxpool.Pool // the pool the handler uses
	check   *pgxpool.Pool // a second pool for assertions, alive even if pool is closed
	logs    *logtest.Hook
	metrics *metrics.Metrics
}

type option func(*Config)

func newServer(t *testing.T, opts ...option) *server {
	t.Helper()
	pool, dbURL := storetest.NewPool(t)
	check, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(check.Close)
	return serve(t, pool, check, opts...)
}

func serve(t *testing.T, pool, check *pgxpool.Pool, opts ...option) *server {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	m := metrics.New()
	cfg := Config{
		Secrets: []string{secret}, BotUserID: botUserID, Sink: NewIntake(pool, client),
		Logger: logrus.NewEntry(logger), Metrics: m, Now: func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &server{url: srv.URL + Path, pool: pool, check: check, logs: hook, metrics: m}
}

// delivery is one request as Zendesk would send it.
type delivery struct {
	body       string
	invocation string
	secret     string // default: the configured secret
	timestamp  string // default: the test clock
	unsigned   bool
}

func (s *server) post(t *testing.T, d delivery) (int, string) {
	t.Helper()
	return s.postReader(t, d, strings.NewReader(d.body))
}

func (s *server) postReader(t *testing.T, d delivery, body io.Reader) (int, string) {
	t.Helper()
	status, word, _ := s.send(t, d, body)
	return status, word
}

// send posts d with body and returns the answer's status, body word and headers.
func (s *server) send(t *testing.T, d delivery, body io.Reader) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if d.invocation != "" {
		req.Header.Set(HeaderInvocationID, d.invocation)
	}
	if !d.unsigned {
		key, ts := d.secret, d.timestamp
		if key == "" {
			key = secret
		}
		if ts == "" {
			ts = testNow.Format(time.RFC3339)
		}
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(key, ts, []byte(d.body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("response body: %v", err)
	}
	return resp.StatusCode, out.Status, resp.Header
}

// counts is what a test can see in the bot database.
type counts struct{ deliveries, pending, jobs int }

func (s *server) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	err := s.check.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM webhook_deliveries),
		(SELECT count(*) FROM ticket_sync_pending),
		(SELECT count(*) FROM river_job WHERE kind = 'ticket_sync')`).Scan(&c.deliveries, &c.pending, &c.jobs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func triggerJSON(ticket int64, updatedAt string) string {
	return fmt.Sprintf(`{"ticket_id":"%d","updated_at":"%s","actor_id":"361123456789"}`, ticket, updatedAt)
}

func eventBody(id string, ticket, actor int64, tags string) string {
	return fmt.Sprintf(`{"account_id":10928374,"id":%q,"type":"zen:event-type:ticket.tags_changed","subject":"zen:ticket:%d",
"time":"2025-03-04T10:01:02.123456789Z","detail":{"id":"%d","actor_id":"%d","status":"OPEN","tags":%s},
"event":{"tags_added":["clone_approved"],"tags_removed":[]},"zendesk_event_version":"2022-11-06"}`, id, ticket, ticket, actor, tags)
}

func TestAcceptTriggerDelivery(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	status, word := s.post(t, delivery{body: triggerJSON(4821348213, "2025-03-04T10:01:02Z"), invocation: "8350205582"})
	if status != http.StatusAccepted || word != "accepted" {
		t.Fatalf("got %d %q, want 202 accepted", status, word)
	}
	if c := s.counts(t); c != (counts{1, 1, 1}) {
		t.Fatalf("counts = %+v, want one of each", c)
	}
	var ticket, actor int64
	var inv, kind string
	var eventID *string
	err := s.check.QueryRow(context.Background(),
		`SELECT ticket_id, invocation_id, event_id, kind, actor_id FROM webhook_deliveries`).Scan(&ticket, &inv, &eventID, &kind, &actor)
	if err != nil {
		t.Fatal(err)
	}
	// A trigger body has no identity of its own: only the invocation id dedupes it.
	if ticket != 4821348213 || inv != "8350205582" || eventID != nil || kind != "trigger" || actor != 361123456789 {
		t.Errorf("delivery row = %d %s %v %s %d", ticket, inv, eventID, kind, actor)
	}
	var args string
	if err := s.check.QueryRow(context.Background(), `SELECT args::text FROM river_job`).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if args != `{"ticket_id": 4821348213}` {
		t.Errorf("job args = %s", args)
	}
	if got := s.count(t, "202", "accepted"); got != 1 {
		t.Errorf("accepted counter = %v", got)
	}
	if got := metricValue(t, s.metrics.WebhookLatency).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("latency samples = %d, want 1", got)
	}
}

func TestAcceptFixtures(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	files := []string{"trigger.json", "event-ticket-created.json", "event-tags-changed.json",
		"event-custom-field-changed.json", "event-status-changed.json", "event-comment-added.json"}
	for i, f := range files {
		body, err := os.ReadFile("../fixtures/webhooks/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := s.post(t, delivery{body: string(body), invocation: "inv-" + strconv.Itoa(i)}); status != http.StatusAccepted {
			t.Errorf("%s: status %d, want 202", f, status)
		}
	}
	// All for ticket 4821348213: every delivery recorded, one sync pending.
	if c := s.counts(t); c != (counts{len(files), 1, 1}) {
		t.Fatalf("counts = %+v", c)
	}
}

// Only a repeated invocation id or event id makes a duplicate: two trigger
// deliveries of one ticket in the same second are two changes (updated_at has
// whole-second resolution), and both count, coalesced into the pending sync.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const one, two = 4821348213, 4821348214
	steps := []struct {
		name       string
		d          delivery
		wantStatus int
		want       counts
	}{
		{"first trigger delivery", delivery{body: triggerJSON(one, "2025-03-04T10:01:02Z"), invocation: "inv-1"}, 202, counts{1, 1, 1}},
		{"retry: same invocation", delivery{body: triggerJSON(one, "2025-03-04T10:01:02Z"), invocation: "inv-1"}, 200, counts{1, 1, 1}},
		{"another change in the same second", delivery{body: triggerJSON(one, "2025-03-04T10:01:02Z"), invocation: "inv-2"}, 202, counts{2, 1, 1}},
		{"trigger delivery without invocation id", delivery{body: triggerJSON(one, "2025-03-04T10:01:02Z")}, 202, counts{3, 1, 1}},
		{"first event delivery", delivery{body: eventBody("ev-1", two, 361123456789, `["sandbox_clone"]`), invocation: "inv-3"}, 202, counts{4, 2, 2}},
		{"same event id, new invocation", delivery{body: eventBody("ev-1", two, 361123456789, `["sandbox_clone"]`), invocation: "inv-4"}, 200, counts{4, 2, 2}},
		{"event retry without invocation id", delivery{body: eventBody("ev-1", two, 361123456789, `["sandbox_clone"]`)}, 200, counts{4, 2, 2}},
		{"new change of a pending ticket", delivery{body: eventBody("ev-2", two, 361123456789, `["sandbox_clone"]`), invocation: "inv-5"}, 202, counts{5, 2, 2}},
	}
	for _, st := range steps {
		status, word := s.post(t, st.d)
		if status != st.wantStatus {
			t.Fatalf("%s: status %d %q, want %d", st.name, status, word, st.wantStatus)
		}
		if status == 200 && word != "duplicate" {
			t.Errorf("%s: body status %q, want duplicate", st.name, word)
		}
		if c := s.counts(t); c != st.want {
			t.Fatalf("%s: counts %+v, want %+v", st.name, c, st.want)
		}
	}
	if got := s.count(t, "200", "duplicate"); got != 3 {
		t.Errorf("duplicate counter = %v, want 3", got)
	}
}

// A burst of events for one ticket, arriving at once, leaves one pending sync and one job.
func TestBurstForOneTicketQueuesOneSync(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() {
			statuses[i], _ = s.post(t, delivery{body: eventBody(fmt.Sprintf("burst-%d", i), 4821348213, 361123456789, `["sandbox_clone"]`), invocation: fmt.Sprintf("burst-inv-%d", i)})
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusAccepted {
			t.Errorf("event %d: status %d, want 202", i, st)
		}
	}
	if c := s.counts(t); c != (counts{20, 1, 1}) {
		t.Fatalf("counts = %+v, want 20 deliveries, 1 pending, 1 job", c)
	}
	// Once the worker has taken the pending row, the next change queues a new sync.
	if _, err := s.check.Exec(context.Background(), `DELETE FROM ticket_sync_pending`); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.post(t, delivery{body: eventBody("after", 4821348213, 361123456789, `["sandbox_clone"]`)}); st != http.StatusAccepted {
		t.Fatalf("status %d", st)
	}
	if c := s.counts(t); c != (counts{21, 1, 2}) {
		t.Fatalf("after the worker started: counts = %+v", c)
	}
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	bodies := map[string]string{
		"bot's trigger":      fmt.Sprintf(`{"ticket_id":"4821348215","actor_id":"%d"}`, botUserID),
		"bot's current user": fmt.Sprintf(`{"ticket_id":4821348215,"current_user_id":%d}`, botUserID),
		"bot's event":        eventBody("bot-ev", 4821348215, botUserID, `["sandbox_clone"]`),
		"untagged ticket":    eventBody("plain-ev", 4821348215, 361123456789, `["vip","billing"]`),
		"null tags":          eventBody("null-ev", 4821348215, 361123456789, `null`),
		"user event":         `{"id":"u-1","type":"zen:event-type:user.created","subject":"zen:user:361123456789","detail":{"id":"361123456789"}}`,
		"organization event": `{"id":"o-1","type":"zen:event-type:organization.created","detail":{"id":"360099887766"}}`,
	}
	for name, body := range bodies {
		if status, word := s.post(t, delivery{body: body, invocation: name}); status != http.StatusOK || word != "ignored" {
			t.Errorf("%s: got %d %q, want 200 ignored", name, status, word)
		}
	}
	if c := s.counts(t); c != (counts{}) {
		t.Fatalf("ignored events stored something: %+v", c)
	}
	if got := s.count(t, "200", "ignored"); got != float64(len(bodies)) {
		t.Errorf("ignored counter = %v", got)
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	good := triggerJSON(4821348219, "2025-03-04T10:01:02Z")
	tests := []struct {
		name   string
		d      delivery
		status int
	}{
		{"unsigned", delivery{body: good, unsigned: true}, 401},
		{"wrong secret", delivery{body: good, secret: "guessed"}, 401},
		{"test secret not configured", delivery{body: good, secret: TestSecret}, 401},
		{"stale timestamp", delivery{body: good, timestamp: testNow.Add(-6 * time.Minute).Format(time.RFC3339)}, 401},
		{"future timestamp", delivery{body: good, timestamp: testNow.Add(6 * time.Minute).Format(time.RFC3339)}, 401},
		{"unix timestamp", delivery{body: good, timestamp: strconv.FormatInt(testNow.Unix(), 10)}, 401},
		{"malformed json", delivery{body: `{"ticket_id":"4821348219"`}, 400},
		{"no ticket id", delivery{body: `{"updated_at":"2025-03-04T10:01:02Z"}`}, 400},
		{"unrendered placeholder", delivery{body: `{"ticket_id":"{{ticket.id}}"}`}, 400},
	}
	for _, tt := range tests {
		tt.d.invocation = "inv-" + tt.name
		if status, _ := s.post(t, tt.d); status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.status)
		}
	}
	if c := s.counts(t); c != (counts{}) {
		t.Fatalf("refused requests stored something: %+v", c)
	}
	entries := s.logs.AllEntries()
	if len(entries) != len(tests) {
		t.Fatalf("%d log entries, want one per refusal (%d)", len(entries), len(tests))
	}
	for _, e := range entries {
		line, _ := e.String()
		if strings.Contains(line, secret) || strings.Contains(line, "updated_at") || strings.Contains(line, "{{ticket") {
			t.Errorf("log line leaks the body or secret: %s", line)
		}
		for _, k := range []string{"status", "reason", "invocation_id", "remote_addr"} {
			if _, ok := e.Data[k]; !ok {
				t.Errorf("log line lacks %s: %s", k, line)
			}
		}
		if e.Level != logrus.WarnLevel {
			t.Errorf("refusal logged at %s", e.Level)
		}
	}
	if got := s.count(t, "401", "refused"); got != 6 {
		t.Errorf("401 counter = %v, want 6", got)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	pad := strings.Repeat(" ", MaxBody)
	big := `{"ticket_id":"4821348219"}` + pad
	// Signed and well formed, with and without a Content-Length: the size alone refuses it.
	if status, word := s.post(t, delivery{body: big}); status != http.StatusRequestEntityTooLarge || word != "too_large" {
		t.Errorf("sized body: %d %q, want 413", status, word)
	}
	chunked := struct{ io.Reader }{strings.NewReader(big)} // hides the length, so the client streams it
	if status, _ := s.postReader(t, delivery{body: big}, chunked); status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body: %d, want 413", status)
	}
	exact := `{"ticket_id":"4821348219"}` + pad[:MaxBody-len(`{"ticket_id":"4821348219"}`)]
	if status, _ := s.post(t, delivery{body: exact}); status != http.StatusAccepted {
		t.Errorf("body of exactly 1 MiB: %d, want 202", status)
	}
	if c := s.counts(t); c != (counts{1, 1, 1}) {
		t.Fatalf("counts = %+v", c)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	t.Run("rotation", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, func(c *Config) { c.Secrets = []string{"old-secret", "new-secret"} })
		for i, key := range []string{"old-secret", "new-secret"} {
			if status, _ := s.post(t, delivery{body: triggerJSON(4821348213+int64(i), ""), secret: key}); status != http.StatusAccepted {
				t.Errorf("%s: status %d, want 202", key, status)
			}
		}
		if status, _ := s.post(t, delivery{body: triggerJSON(4821348215, ""), secret: secret}); status != http.StatusUnauthorized {
			t.Errorf("retired secret: status %d, want 401", status)
		}
	})
	t.Run("test secret when configured", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, func(c *Config) { c.Secrets = []string{secret, TestSecret} })
		if status, _ := s.post(t, delivery{body: `{"ticket_id":"4821348213"}`, secret: TestSecret, timestamp: "2025-03-04T10:01:02Z"}); status != http.StatusAccepted {
			t.Errorf("status %d, want 202", status)
		}
	})
}

func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	t.Run("closed pool", func(t *testing.T) {
		t.Parallel()
		s := newServer(t)
		s.pool.Close()
		body := triggerJSON(4821348216, "2025-03-04T10:01:02Z")
		status, word, h := s.send(t, delivery{body: body, invocation: "down-1"}, strings.NewReader(body))
		if status != http.StatusServiceUnavailable || word != "unavailable" {
			t.Fatalf("got %d %q, want 503", status, word)
		}
		// Zendesk retries a 503 only when its Retry-After is under 60 s.
		if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra >= 60 {
			t.Errorf("Retry-After %q, want whole seconds under 60", h.Get("Retry-After"))
		}
		if c := s.counts(t); c != (counts{}) {
			t.Fatalf("counts = %+v, want nothing stored", c)
		}
		entries := s.logs.AllEntries()
		if len(entries) != 1 || entries[0].Level != logrus.ErrorLevel || entries[0].Data["ticket"] != int64(4821348216) {
			t.Errorf("want one error line naming the ticket, got %+v", entries)
		}
	})
	t.Run("dropped database", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.NewPool(t)
		gone, err := pgxpool.New(context.Background(), strings.Replace(dbURL, "clonebot_test_", "clonebot_gone_", 1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(gone.Close)
		check, err := pgxpool.New(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(check.Close)
		s := serve(t, gone, check, func(c *Config) { c.RetryAfter = 3 * time.Second })
		body := triggerJSON(4821348216, "2025-03-04T10:01:02Z")
		if status, _, h := s.send(t, delivery{body: body}, strings.NewReader(body)); status != http.StatusServiceUnavailable || h.Get("Retry-After") != "3" {
			t.Fatalf("status %d Retry-After %q, want 503 with the configured 3", status, h.Get("Retry-After"))
		}
		if got := s.count(t, "503", "unavailable"); got != 1 {
			t.Errorf("503 counter = %v", got)
		}
	})
}

// When the job insert fails after the delivery rows were written, the transaction
// leaves nothing behind.
func TestFailedEnqueueLeavesNothing(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.NewPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `ALTER TABLE river_job ADD CONSTRAINT no_jobs CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	in := NewIntake(pool, client)
	if _, err := in.Deliver(ctx, Event{TicketID: 4821348213, EventID: "e", InvocationID: "i", Kind: "trigger"}); err == nil {
		t.Fatal("Deliver succeeded although the job insert fails")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_deliveries) + (SELECT count(*) FROM ticket_sync_pending)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows left after a failed delivery", n)
	}
}

func TestPruneDeliveries(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.NewPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO webhook_deliveries (ticket_id, invocation_id, kind, received_at)
		SELECT 4821348200 + g, 'inv-' || g, 'trigger', now() - make_interval(days => g % 3) FROM generate_series(1, 30) g`)
	if err != nil {
		t.Fatal(err)
	}
	n, err := PruneDeliveries(ctx, pool, 36*time.Hour)
	if err != nil || n != 10 {
		t.Fatalf("PruneDeliveries = %d, %v; want the 10 two-day-old rows", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&left); err != nil || left != 20 {
		t.Fatalf("left %d (%v), want 20", left, err)
	}
	if _, err := PruneDeliveries(ctx, pool, 0); err == nil {
		t.Error("a zero age must be refused")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	sink := NewIntake(nil, nil)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no secrets", Config{BotUserID: botUserID, Sink: sink}, "Secrets"},
		{"blank secret", Config{Secrets: []string{" "}, BotUserID: botUserID, Sink: sink}, "Secrets[0]"},
		{"negative age", Config{Secrets: []string{"s"}, MaxAge: -time.Second, BotUserID: botUserID, Sink: sink}, "MaxAge"},
		{"no bot", Config{Secrets: []string{"s"}, Sink: sink}, "BotUserID"},
		{"no sink", Config{Secrets: []string{"s"}, BotUserID: botUserID}, "Sink"},
		{"bad tag", Config{Secrets: []string{"s"}, BotUserID: botUserID, Sink: sink, RequestTag: "sandbox clone"}, "RequestTag"},
		{"Retry-After of a minute", Config{Secrets: []string{"s"}, BotUserID: botUserID, Sink: sink, RetryAfter: time.Minute}, "RetryAfter"},
		{"Retry-After under a second", Config{Secrets: []string{"s"}, BotUserID: botUserID, Sink: sink, RetryAfter: time.Millisecond}, "RetryAfter"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want mention of %s", tt.name, err, tt.want)
		}
	}
	h, err := New(Config{Secrets: []string{"s"}, BotUserID: botUserID, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if h.verifier.maxAge != 5*time.Minute || h.requestTag != "sandbox_clone" || h.retryAfter != "20" {
		t.Errorf("defaults not applied: %+v", h.verifier)
	}
}

var _ Sink = (*Intake)(nil)

// count reads a request counter.
func (s *server) count(t *testing.T, status, outcome string) float64 {
	t.Helper()
	return metricValue(t, s.metrics.WebhookRequests.WithLabelValues(status, outcome)).GetCounter().GetValue()
}

func metricValue(t *testing.T, c prometheus.Metric) *dto.Metric {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// Concurrent deliveries share transactions; a change delivered twice at once still
// counts once, whichever group each copy lands in.
func TestConcurrentDeliveriesWithRepeats(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const tickets = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 2 * tickets {
		wg.Go(func() {
			ticket := int64(4821348213 + i%tickets)
			st, _ := s.post(t, delivery{body: eventBody(fmt.Sprintf("ev-%d", ticket), ticket, 361123456789, `["sandbox_clone"]`), invocation: fmt.Sprintf("inv-%d", i)})
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[202] != tickets || statuses[200] != tickets {
		t.Fatalf("statuses %v, want %d of 202 and of 200", statuses, tickets)
	}
	if c := s.counts(t); c != (counts{tickets, tickets, tickets}) {
		t.Fatalf("counts = %+v", c)
	}
}
