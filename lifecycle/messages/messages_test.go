package messages

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files of the messages")

func sampleData() Data {
	return Data{
		Request: &parser.Request{
			Production: "acme-prod", Sandbox: "acme-sandbox", Tenant: "acme", WipeConfirmed: true,
			Users: []parser.User{{Name: "Dana Admin", Email: "dana@acme.example", Role: "admin"}, {Email: "lee@acme.example"}},
		},
		Problems: []parser.Problem{
			{Field: "Sandbox instance", Message: "Please name the sandbox to replace, e.g. acme-sandbox."},
			{Field: "Users to re-invite", Value: "\"bob@\"", Message: "This is not an email address; write it as name@example.com."},
		},
		Plan: &cloner.Plan{
			From: "acme-prod", To: "acme-sandbox", Tenant: "acme",
			Categories: []cloner.CategoryPlan{
				{Name: "catalog", Cloned: true, Rows: 1520, Bytes: 2 << 20},
				{Name: "workflows", Cloned: true, Rows: 64, Bytes: 81920, SandboxRows: 70},
				{Name: "customer_data", Cloned: false, SandboxRows: 12},
			},
			NulledReferences:       []string{"public.workflows.created_by -> public.users"},
			Scrubbed:               []string{"public.tenant_settings.webhook_signing_key"},
			Integrations:           []cloner.Integration{{Label: "Stripe", Kind: "billing"}, {Label: "Calix SMx", Kind: "provisioning"}},
			DependentWorkflows:     []cloner.DependentWorkflow{{Workflow: "Charge on activation", Integrations: []string{"Stripe"}}},
			DependentWorkflowCount: 1,
			SandboxOnlyWorkflows:   []string{"Draft: new onboarding"},
			Warnings:               []string{"sandbox acme-sandbox holds 16860 rows of customer data (customer_data), more than 10000: that is what a production database looks like. Check that its database_url reaches the sandbox before anyone approves the clone"},
			Target: &cloner.Evidence{Instance: "acme-sandbox", Marker: &cloner.Marker{
				Instance: "acme-sandbox", Environment: "sandbox", Tenant: "acme", EnrolledBy: "clonebot", Operator: "ops@bastion",
				EnrolledAt: time.Date(2026, 11, 2, 15, 4, 0, 0, time.UTC),
			}},
		},
		PlanProblems: []string{"table public.promo_codes is not classified in the manifest"},
		Tags:         rules.Tags{Request: "sandbox_clone", Approve: "clone_approved", Hold: "clone_hold", Reject: "clone_rejected", Rollback: "clone_rollback"},
		Window:       "02:00-05:00 America/Toronto",
		ScheduledFor: "Sun 29 Nov 2026 02:00 EST",
		Export: NewExportView(1, 7, []cloner.Archive{
			{Category: "workflows", Rows: 5, Files: []cloner.ArchiveFile{{Name: "acme-sandbox-20261129-070003-workflows.zip"}},
				Tables: []cloner.ArchiveTable{{Table: "public.workflows", Rows: 3, OnlyInSandbox: 2, Changed: 1}, {Table: "public.workflow_steps", Rows: 2, OnlyInSandbox: 2}}},
			{Category: "communication_templates", Rows: 2, Files: []cloner.ArchiveFile{{Name: "acme-sandbox-20261129-070003-communication_templates.zip"}},
				Tables: []cloner.ArchiveTable{{Table: "public.communication_templates", Rows: 2, Changed: 2}}},
		}, []string{"Draft: new onboarding", "Flow 2", "Flow 10"}),
		Drift: NewDriftView(sampleDrift),
		Advice: &AdviceView{Sandbox: "acme-sandbox", MinDays: 30, Recent: true, Last: &LastCloneView{
			When: "Sun 1 Nov 2026 02:14 EST", DaysAgo: 28, TicketID: 4294968100, Production: "acme-prod",
			Drift: NewDriftView([]cloner.Drift{
				{Table: "public.plans", Category: "catalog", ComparedBy: cloner.ByPrimaryKey, OnlyInProduction: 300, Changed: 20},
				{Table: "public.workflows", Category: "workflows", ComparedBy: cloner.ByPrimaryKey, OnlyInSandbox: 100},
			})}},
		Ready: NewReadyView(&cloner.Report{
			SnapshotAt: time.Date(2026, 11, 29, 7, 0, 3, 0, time.UTC), Seconds: 4.2,
			Categories: []cloner.CategoryReport{{Name: "catalog", Cloned: true, Rows: 1520}, {Name: "workflows", Cloned: true, Rows: 64}, {Name: "users", Cloned: false}},
			Tables: []cloner.TableReport{
				{Table: "public.plans", Rows: 1520, Checksum: cloner.Checksum{Rows: 1520, Sum: "9f2c41d07a1be3c2"}},
				{Table: "public.workflows", Rows: 64, Checksum: cloner.Checksum{Rows: 64, Sum: "03bb7d9e21f0aa4c"}},
			},
			Integrations:           []cloner.Integration{{Label: "Stripe", Kind: "billing"}},
			DependentWorkflows:     []cloner.DependentWorkflow{{Workflow: "Charge on activation", Integrations: []string{"Stripe"}}},
			DependentWorkflowCount: 1,
			Verification:           cloner.Verification{OK: true, TablesChecked: 2, ExcludedChecked: 14, ForeignKeysValidated: 9, ForeignKeysCarried: 4},
			Rollback:               &cloner.RollbackCopy{ExpiresAt: time.Date(2026, 12, 6, 7, 0, 7, 0, time.UTC)},
		}, mustLoc("America/Toronto")),
		Error:   "copy table public.plans: connection reset by peer",
		Attempt: 1,
		State:   rules.Scheduled,
		Trouble: &TroubleView{What: "check the request acme-prod -> acme-sandbox against its instances", Attempts: 4, Since: "Sat 28 Nov 2026 12:00:03 EST",
			Error: "preflight acme-prod -> acme-sandbox: connect to instance acme-sandbox: database \"acme_sandbox\" is not currently accepting connections (SQLSTATE 55000)"},
		Approver: &ApproverView{ID: 361112345678, Audit: 31415926535913, Reason: "is suspended"},
		Rollback: sampleRollback(),
	}
}

// sampleRollback is a rollback of the sample clone, done: its copy taken at the
// clone's switch, and what the rollback restored.
func sampleRollback() *RollbackView {
	taken := time.Date(2026, 11, 29, 7, 0, 7, 0, time.UTC)
	v := NewRollbackView(nil, &cloner.RollbackReport{
		Copy:    cloner.RollbackCopy{CloneID: "c0ffee12", TakenAt: taken, ExpiresAt: taken.Add(7 * 24 * time.Hour)},
		Seconds: 1.84, Rows: 1604,
		Tables: []cloner.RestoredTable{
			{Table: "public.plans", Rows: 1540, Kept: cloner.Checksum{Rows: 1540, Sum: "5d01a7c3e9b2f440"}, Restored: cloner.Checksum{Rows: 1540, Sum: "5d01a7c3e9b2f440"}, Match: true},
			{Table: "public.users", Rows: 64, Kept: cloner.Checksum{Rows: 64, Sum: "0e4f3b2a19c87d65"}, Restored: cloner.Checksum{Rows: 64, Sum: "0e4f3b2a19c87d65"}, Match: true},
		},
		Sequences: []cloner.SequenceReport{{Sequence: "public.plans_id_seq", OK: true}, {Sequence: "public.users_id_seq", OK: true}},
		Refreshed: []string{"public.plan_summary"},
	}, mustLoc("America/Toronto"))
	v.Why = "expired"
	return v
}

// sampleDrift has a category of several tables, one compared by whole-row hashes,
// and a category with no difference.
var sampleDrift = []cloner.Drift{
	{Table: "public.plans", Category: "catalog", ComparedBy: cloner.ByPrimaryKey, OnlyInProduction: 1204, OnlyInSandbox: 3, Changed: 17},
	{Table: "public.tax_rates", Category: "catalog", ComparedBy: cloner.ByWholeRow, OnlyInProduction: 2, OnlyInSandbox: 2},
	{Table: "public.workflows", Category: "workflows", ComparedBy: cloner.ByPrimaryKey, OnlyInSandbox: 2, Changed: 1},
	{Table: "public.tenant_settings", Category: "tenant_settings", ComparedBy: cloner.ByPrimaryKey},
}

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// TestMessagesGolden renders every message, and the variants of some; the exact
// comments live in testdata/golden and are rewritten with -update after a
// deliberate change.
func TestMessagesGolden(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range All {
		t.Run(string(msg), func(t *testing.T) { goldenMessage(t, m, msg, string(msg), sampleData()) })
	}
	for name, v := range messageVariants() {
		t.Run(name, func(t *testing.T) {
			d := sampleData()
			v.change(&d)
			goldenMessage(t, m, v.msg, name, d)
		})
	}
}

// messageVariants are renderings of a message other than the sample's.
func messageVariants() map[string]struct {
	msg    Message
	change func(*Data)
} {
	return map[string]struct {
		msg    Message
		change func(*Data)
	}{
		// The request changed after an agent's approval tag, before the bot saw it.
		"revised-stale-approval": {Revised, func(d *Data) { d.StaleApproval = true }},
		// The sandbox changed during the load and was exported again.
		"export-again": {Export, func(d *Data) { d.Export.Round = 2 }},
		// The first clone into the sandbox, with too little drift for the policy.
		"awaiting_approval-first-clone": {AwaitingApproval, func(d *Data) {
			d.Advice = &AdviceView{Sandbox: "acme-sandbox", MinDays: 30, MinDriftRows: 5000, LowDrift: true}
		}},
		// A sandbox that holds exactly production's configuration.
		"awaiting_approval-no-drift": {AwaitingApproval, func(d *Data) {
			d.Drift = NewDriftView([]cloner.Drift{{Table: "public.plans", Category: "catalog", ComparedBy: cloner.ByPrimaryKey}})
			d.Advice.Recent, d.Advice.Last.DaysAgo = false, 45
		}},
	}
}

func goldenMessage(t *testing.T, m *Renderer, msg Message, name string, d Data) {
	t.Helper()
	public, internal, err := m.Render(msg, d)
	if err != nil {
		t.Fatal(err)
	}
	got := "--- public\n" + public
	if internal != "" {
		got += "--- internal\n" + internal
	}
	if strings.Contains(got, "<no value>") {
		t.Errorf("a template field is missing:\n%s", got)
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./lifecycle/messages -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestMessagesNeverShowSecretsOrCustomerData(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d := sampleData()
	for _, msg := range All {
		public, internal, err := m.Render(msg, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(public, "webhook_signing_key") || strings.Contains(public, "connection reset") {
			t.Errorf("%s: the public comment shows operator detail:\n%s", msg, public)
		}
		_ = internal
	}
}

func TestLongListsAreCut(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d := sampleData()
	d.Ready.DependentWorkflows = nil
	for i := range 20 {
		d.Ready.DependentWorkflows = append(d.Ready.DependentWorkflows, cloner.DependentWorkflow{Workflow: "wf" + string(rune('a'+i)), Integrations: []string{"Stripe"}})
	}
	d.Ready.DependentWorkflowCount = 20
	public, _, err := m.Render(Ready, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(public, "(uses Stripe)") != listLimit || !strings.Contains(public, "and 5 more") {
		t.Errorf("20 workflows should show %d and 'and 5 more':\n%s", listLimit, public)
	}
	// A report names the first workflows only; the count covers them all.
	d.Ready.DependentWorkflowCount = 4000
	public, _, err = m.Render(Ready, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(public, "(uses Stripe)") != listLimit || !strings.Contains(public, "and 3985 more") {
		t.Errorf("4000 workflows, 20 named, should show %d and 'and 3985 more':\n%s", listLimit, public)
	}
	d.Plan.DependentWorkflows, d.Plan.DependentWorkflowCount = d.Ready.DependentWorkflows, 4000
	_, internal, err := m.Render(AwaitingApproval, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(internal, "and 3985 more") {
		t.Errorf("plan of 4000 workflows should end 'and 3985 more':\n%s", internal)
	}
}

func TestCategoryTitlesReadAlike(t *testing.T) {
	for name, want := range map[string]string{
		"network":         "Network settings and inventory structure",
		"product_catalog": "Product catalog",
		"éclairage":       "Éclairage",
		"x":               "X",
	} {
		if got := categoryTitle(name); got != want {
			t.Errorf("categoryTitle(%q) = %q, want %q", name, got, want)
		}
	}
}

// The rollback that cannot be done says why, in the customer's words and the
// agents', for each reason the sandbox may give.
func TestRollbackUnavailableSaysWhy(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for why, want := range map[string][2]string{
		"expired":    {"that time ended on Sun 6 Dec 2026 02:00:07 EST", "expired at Sun 6 Dec 2026 02:00:07 EST (rollback.retention)"},
		"superseded": {"a newer clone into the same sandbox ran on Tue 1 Dec 2026 02:00:09 EST", "a newer clone into the sandbox (its copy taken Tue 1 Dec 2026 02:00:09 EST)"},
		"gone":       {"no longer kept (it was to be kept until Sun 6 Dec 2026 02:00:07 EST)", "it was dropped once it expired, or an operator restored or dropped it"},
	} {
		d := sampleData()
		d.Rollback.Why, d.Rollback.Newer = why, "Tue 1 Dec 2026 02:00:09 EST"
		public, internal, err := m.Render(RollbackUnavailable, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(public, want[0]) || !strings.Contains(public, "Nothing has changed") {
			t.Errorf("%s: the public comment lacks %q:\n%s", why, want[0], public)
		}
		if !strings.Contains(internal, want[1]) || !strings.Contains(internal, "`clone_rollback`") {
			t.Errorf("%s: the internal note lacks %q:\n%s", why, want[1], internal)
		}
	}
}

// A clone that kept no copy (an older report) promises no rollback.
func TestReadyPromisesARollbackOnlyWithACopy(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d := sampleData()
	public, internal, err := m.Render(Ready, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(public, "Until Sun 6 Dec 2026 02:00:07 EST we can restore") || !strings.Contains(internal, "add the tag `clone_rollback`") {
		t.Fatalf("the ready notice does not say until when and how to roll back:\n%s\n%s", public, internal)
	}
	d.Ready.RollbackUntil = ""
	public, internal, err = m.Render(Ready, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(public, "restore") || strings.Contains(internal, "clone_rollback") {
		t.Fatalf("a clone without a copy promises a rollback:\n%s\n%s", public, internal)
	}
}

func TestCountsInWords(t *testing.T) {
	for n, want := range map[int64]string{0: "0 rows differ", 1: "1 row differs", 21: "21 rows differ", 1520: "1,520 rows differ"} {
		if got := formatDiffer(n); got != want {
			t.Errorf("formatDiffer(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int]string{0: "less than a day", 1: "1 day", 30: "30 days", 1000: "1,000 days"} {
		if got := formatDays(n); got != want {
			t.Errorf("formatDays(%d) = %q, want %q", n, got, want)
		}
	}
}
