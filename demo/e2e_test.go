package demo

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// unzipped is every file of a zip archive, one after the other.
func unzipped(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip archive: %v", err)
	}
	var all strings.Builder
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	return all.String()
}

func testLogger(t *testing.T) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.WarnLevel)
	if testing.Verbose() {
		l.SetLevel(logrus.InfoLevel)
	}
	return logrus.NewEntry(l).WithField("test", t.Name())
}

func start(t *testing.T, opts Options) *Env {
	t.Helper()
	opts.AdminURL = pgtest.AdminURL()
	opts.Logger = testLogger(t)
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 90 * time.Second
	}
	e, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

var refLine = regexp.MustCompile(`(?m)^Ref: clonebot/(.*)$`)

// announcementsOnce checks that every bot comment carries a reference and that no
// reference appears twice, and returns them in order.
func announcementsOnce(t *testing.T, e *Env, ticketID int64) []string {
	t.Helper()
	var refs []string
	seen := map[string]bool{}
	for _, c := range e.Sim.Comments(ticketID) {
		if c.AuthorID != e.BotUser.ID {
			continue
		}
		m := refLine.FindStringSubmatch(c.Body)
		if m == nil {
			t.Errorf("bot comment without a reference:\n%s", c.Body)
			continue
		}
		if seen[m[1]] {
			t.Errorf("announcement %s posted twice", m[1])
		}
		seen[m[1]] = true
		refs = append(refs, m[1])
	}
	return refs
}

// announcementKinds is the kind of each announcement (the second part of its
// reference), in order.
func announcementKinds(refs []string) []string {
	kinds := make([]string, len(refs))
	for i, r := range refs {
		kinds[i] = strings.Split(r, "/")[1]
	}
	return kinds
}

func statusTags(e *Env, ticketID int64) []string {
	var tags []string
	for _, tag := range e.Sim.Ticket(ticketID).Tags {
		if strings.HasPrefix(tag, "clone_status_") {
			tags = append(tags, tag)
		}
	}
	return tags
}

// tableDigest is a table's content as one hash, to compare instances.
const tableDigest = `SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM %s t`

func TestStoryFromRequestToReadyNoticeAndBack(t *testing.T) {
	e := start(t, Options{})
	prodBefore := pgtest.QueryOne[string](t, e.ProductionURL(), fmt.Sprintf(tableDigest, "workflows"))
	sandboxBefore, err := digests(context.Background(), e.SandboxURL())
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.Story(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// The conversation: every announcement once, in the life cycle's order.
	refs := announcementsOnce(t, e, id)
	kinds := announcementKinds(refs)
	want := []string{"needs_info", "awaiting_approval", "awaiting_approval", "approval_refused", "scheduled", "running", "export", "ready", "ready"}
	if !slices.Equal(kinds, want) {
		t.Errorf("announcements = %v, want %v", kinds, want)
	}
	if got := statusTags(e, id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v, want only clone_status_ready", got)
	}
	checkMetricsAfterTheClone(t, e)
	comments := e.Sim.Comments(id)
	// The agents' note of a valid request shows the counted plan: syncs only check
	// the instances, and the move to awaiting approval plans in full.
	var plan string
	for _, c := range comments {
		if !c.Public && strings.HasPrefix(c.Body, "Preflight plan:") {
			plan = c.Body
			break
		}
	}
	for _, re := range []string{`Configuration to copy:\n- Product catalog [^\n]*: [1-9][0-9,]* rows`, "Stripe billing", `Workflows that will fail until then:\n- Workflow `, "Sandbox draft",
		`Drift: [1-9][0-9,]* rows differ between production and the sandbox`, `\| public\.workflows \| [0-9,]+ \| [0-9,]+ \| [0-9,]+ \|`,
		`Last-resort check .*\n- No earlier clone into acme-sandbox by clonebot\.`} {
		if !regexp.MustCompile(re).MatchString(plan) {
			t.Errorf("the awaiting-approval note lacks %q:\n%s", re, plan)
		}
	}
	// The customer's acknowledgement says how far the sandbox has drifted.
	if !slices.ContainsFunc(comments, func(c zendesksim.Comment) bool {
		return c.Public && regexp.MustCompile(`Right now your sandbox differs from production's configuration in [1-9][0-9,]* rows`).MatchString(c.Body)
	}) {
		t.Error("no acknowledgement says how far the sandbox has drifted")
	}
	ready := comments[len(comments)-2]
	for _, s := range []string{"acme-prod", "acme-sandbox", "Stripe billing", "dana@acme-fiber.example", "Create test data", "What was not cloned"} {
		if !strings.Contains(ready.Body, s) || !ready.Public {
			t.Errorf("the public ready notice lacks %q", s)
		}
	}
	if last := comments[len(comments)-1]; last.Public || !strings.Contains(last.Body, "Verification") {
		t.Errorf("the last comment should be the internal verification note, got public=%v:\n%s", last.Public, last.Body)
	}
	// The sandbox export: a zip per category, workflows first, the drafts in it,
	// posted before the ready notice.
	var exported []string
	for _, c := range comments {
		for _, a := range c.Attachments {
			exported = append(exported, a.FileName)
			if strings.HasSuffix(a.FileName, "-workflows.zip") && !strings.Contains(unzipped(t, a.Data), "Sandbox draft") {
				t.Errorf("%s lacks the sandbox's draft workflows", a.FileName)
			}
		}
	}
	if len(exported) == 0 || !strings.HasSuffix(exported[0], "-workflows.zip") {
		t.Errorf("the sandbox export attached to the ticket: %v, want a zip per category, workflows first", exported)
	}

	// The sandbox: a copy of production's configuration and nothing else.
	for _, table := range []string{"plans", "workflows", "workflow_steps", "roles", "communication_templates"} {
		p := pgtest.QueryOne[string](t, e.ProductionURL(), fmt.Sprintf(tableDigest, table))
		s := pgtest.QueryOne[string](t, e.SandboxURL(), fmt.Sprintf(tableDigest, table))
		if table != "workflows" && table != "workflow_steps" && table != "plans" && table != "communication_templates" && p != s {
			t.Errorf("%s differs: production %s, sandbox %s", table, p, s)
		}
	}
	for _, table := range []string{"users", "accounts", "integrations", "integration_credentials"} {
		if n := pgtest.QueryOne[int64](t, e.SandboxURL(), "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("sandbox %s has %d rows, want 0", table, n)
		}
	}
	if n := pgtest.QueryOne[int64](t, e.SandboxURL(), "SELECT count(*) FROM workflows WHERE created_by IS NOT NULL"); n != 0 {
		t.Errorf("%d workflows still reference production users", n)
	}
	if n := pgtest.QueryOne[int64](t, e.SandboxURL(), "SELECT count(*) FROM tenant_settings WHERE webhook_signing_key IS NOT NULL"); n != 0 {
		t.Error("the scrubbed signing key reached the sandbox")
	}
	if after := pgtest.QueryOne[string](t, e.ProductionURL(), fmt.Sprintf(tableDigest, "workflows")); after != prodBefore {
		t.Error("production changed")
	}
	prodN := pgtest.QueryOne[int64](t, e.ProductionURL(), "SELECT count(*) FROM workflows")
	sbN := pgtest.QueryOne[int64](t, e.SandboxURL(), "SELECT count(*) FROM workflows")
	if prodN != sbN {
		t.Errorf("sandbox has %d workflows, production %d", sbN, prodN)
	}

	// A later event on a ready ticket changes nothing, once the bot has read it.
	deliveries := pgtest.QueryOne[int64](t, e.Config.DatabaseURL, "SELECT count(*) FROM webhook_deliveries WHERE ticket_id = $1", id)
	if err := e.update(id, e.Agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change read by a sync", func() bool { return changeRead(t, e, id, deliveries) })
	if got := announcementsOnce(t, e, id); len(got) != len(refs) {
		t.Errorf("a ready ticket got more announcements: %v", got[len(refs):])
	}

	// And back: the agent's rollback tag restores the sandbox, row for row as it
	// was before the clone; what the customer did in the new sandbox is gone.
	if err := e.RollbackStory(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	kinds = announcementKinds(announcementsOnce(t, e, id))
	if want := append(want, "rolling_back", "rolled_back", "rolled_back"); !slices.Equal(kinds, want) {
		t.Errorf("announcements = %v, want %v", kinds, want)
	}
	if got := statusTags(e, id); !slices.Equal(got, []string{"clone_status_rolled_back"}) {
		t.Errorf("status tags = %v, want only clone_status_rolled_back", got)
	}
	sandboxAfter, err := digests(context.Background(), e.SandboxURL())
	if err != nil {
		t.Fatal(err)
	}
	if changed := differing(sandboxBefore, sandboxAfter); len(changed) > 0 || len(sandboxAfter) == 0 {
		t.Errorf("after the rollback the sandbox differs from before the clone in %v (%d tables)", changed, len(sandboxAfter))
	}
	if n := pgtest.QueryOne[int64](t, e.SandboxURL(), "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'clonebot_rollback')"); n != 0 {
		t.Errorf("%d rollback schemas left in the sandbox after the rollback", n)
	}
}

func TestZendeskFaultsAndACrashPostEveryAnnouncementOnce(t *testing.T) {
	e := start(t, Options{RetryCap: time.Second, WebhookStyle: zendesksim.EventStyle, NumericFields: true})
	// Rate limits and errors on the calls the bot makes, and lost answers: the
	// comment is stored but the bot hears a 500.
	e.Sim.InjectFault(zendesksim.Fault{Method: "PUT", PathPrefix: "/api/v2/tickets/", Status: 429, RetryAfter: time.Second, Times: 3})
	e.Sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: "/api/v2/tickets/", Status: 500, Times: 4})
	e.Sim.InjectFault(zendesksim.Fault{Method: "PUT", PathPrefix: "/api/v2/tickets/", Status: 500, AfterApply: true, Times: 2})
	e.Sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: "/api/v2/users/", Status: 503, RetryAfter: time.Second, Times: 1})

	ctx := context.Background()
	crashed := make(chan error, 1)
	go func() {
		// Crash and restart the bot while the story is under way: once it has
		// recorded the request's first move.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var moves int64
			if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM audit_log").Scan(&moves); err == nil && moves > 0 {
				break
			}
		}
		crashed <- e.RestartBot(ctx)
	}()
	id, err := e.Story(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-crashed; err != nil {
		t.Fatal(err)
	}
	refs := announcementsOnce(t, e, id)
	if len(refs) != 9 {
		t.Errorf("got %d announcements, want 9: %v", len(refs), refs)
	}
	if got := statusTags(e, id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v", got)
	}
	var faults int
	for _, r := range e.Sim.Requests() {
		if r.Status == 429 || r.Status >= 500 {
			faults++
		}
	}
	if faults < 10 {
		t.Errorf("only %d faults were answered; the test did not exercise them", faults)
	}
}

// checkMetricsAfterTheClone reads the bot's /metrics once the ready notice is out:
// the sandbox's last clone is dated (the audit log records it before the notice).
func checkMetricsAfterTheClone(t *testing.T, e *Env) {
	t.Helper()
	resp, err := http.Get(e.BotURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^clonebot_last_successful_clone_timestamp_seconds\{sandbox="acme-sandbox"\} (\S+)$`).FindSubmatch(body)
	if m == nil || string(m[1]) == "0" {
		t.Errorf("no last successful clone for acme-sandbox in /metrics: %q", m)
	}
}

// Webhooks switched off entirely: the reconciliation sweep alone walks the ticket
// from request to ready notice, each change found in Zendesk's export a minute
// (Zendesk's quiet period) and at most one sweep interval after it was made.
func TestStoryWithoutWebhooksRunsOnTheSweep(t *testing.T) {
	e := start(t, Options{NoWebhooks: true, SweepInterval: 3 * time.Second})
	id, err := e.Story(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	refs := announcementsOnce(t, e, id)
	kinds := announcementKinds(refs)
	want := []string{"needs_info", "awaiting_approval", "awaiting_approval", "approval_refused", "scheduled", "running", "export", "ready", "ready"}
	if !slices.Equal(kinds, want) {
		t.Errorf("announcements = %v, want %v", kinds, want)
	}
	if n := len(e.Sim.Webhooks()); n != 0 {
		t.Errorf("the simulator sent %d webhooks", n)
	}
	if n := pgtest.QueryOne[int64](t, e.Config.DatabaseURL, "SELECT count(*) FROM webhook_deliveries"); n != 0 {
		t.Errorf("%d webhook deliveries recorded", n)
	}
}

// The customer fixes one answer, and another in the same second: a trigger
// webhook's updated_at is the same for both, and both count. The second arrives
// while the sync of the first is under way (held at the requester's lookup): it
// queues one more sync, which sees it.
func TestChangesInOneSecondAndDuringASyncAllCount(t *testing.T) {
	e := start(t, Options{})
	e.Clock.Freeze()
	ctx := context.Background()
	tk := e.Sim.CreateTicket(e.Customer.ID, zendesksim.TicketSpec{
		Subject: "Sandbox refresh", Description: "Please refresh our sandbox.", OrganizationID: e.OrgID,
		Tags:         []string{"sandbox_clone"},
		CustomFields: map[int64]any{FieldProduction: "acme-prod", FieldWipe: false, FieldUsers: "dana@acme-fiber.example"},
	})
	if err := e.WaitAnnounced(ctx, tk.ID, "needs_info"); err != nil {
		t.Fatal(err)
	}
	// Hold the next sync after it has read the ticket, and change the ticket again
	// meanwhile, in the same second.
	e.Sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: fmt.Sprintf("/api/v2/users/%d/organization_memberships", e.Customer.ID), Delay: 2 * time.Second})
	seen := len(e.Sim.Requests())
	if err := e.update(tk.ID, e.Customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{FieldWipe: true}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change's sync to read the ticket", func() bool {
		for _, r := range e.Sim.Requests()[seen:] {
			if strings.HasSuffix(r.Path, fmt.Sprintf("/users/%d.json", e.Customer.ID)) && r.Method == "GET" {
				return true
			}
		}
		return false
	})
	if err := e.update(tk.ID, e.Customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{FieldSandbox: "acme-sandbox"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitAnnounced(ctx, tk.ID, "awaiting_approval"); err != nil {
		t.Fatal(err)
	}
	audits := e.Sim.Audits(tk.ID)
	if !audits[len(audits)-1].CreatedAt.Equal(audits[len(audits)-2].CreatedAt) {
		t.Fatal("the two changes are not in the same second")
	}
	ctxw, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := e.Sim.WaitWebhooks(ctxw); err != nil {
		t.Fatal(err)
	}
	for _, h := range e.Sim.Webhooks() {
		if h.Status != 202 && !strings.Contains(string(h.Body), fmt.Sprintf("%d", e.BotUser.ID)) {
			t.Errorf("a customer's change was answered %d, not accepted", h.Status)
		}
	}
	syncs := pgtest.QueryOne[int64](t, e.Config.DatabaseURL, "SELECT count(*) FROM river_job WHERE kind = 'ticket_sync' AND (args->>'ticket_id')::bigint = $1", tk.ID)
	if syncs < 3 {
		t.Errorf("%d syncs of the ticket, want one per change (3)", syncs)
	}
}

// changeRead reports whether a ticket change delivered after the first deliveries
// was read: its delivery is recorded, and since then a sync ran, as nothing waits
// to sync the ticket any more (a delivery either queues a sync, or joins one
// queued and not started yet).
func changeRead(t *testing.T, e *Env, id, deliveries int64) bool {
	db := e.Config.DatabaseURL
	return pgtest.QueryOne[int64](t, db, "SELECT count(*) FROM webhook_deliveries WHERE ticket_id = $1", id) > deliveries &&
		pgtest.QueryOne[int64](t, db, "SELECT count(*) FROM ticket_sync_pending WHERE ticket_id = $1", id) == 0 &&
		pgtest.QueryOne[int64](t, db, `SELECT count(*) FROM river_job WHERE kind = 'ticket_sync' AND (args->>'ticket_id')::bigint = $1
			AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')`, id) == 0
}

func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
