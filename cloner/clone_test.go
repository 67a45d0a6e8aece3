package cloner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// inPlaceSQL makes a sandbox take the in-place method: a swap cannot carry a table's
// publication membership.
const inPlaceSQL = "CREATE PUBLICATION clonebot_test_pub FOR TABLE plans"

func TestCloneFixture(t *testing.T) {
	t.Parallel()
	for _, method := range []string{MethodSwap, MethodInPlace} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			testCloneFixture(t, method)
		})
	}
}

func testCloneFixture(t *testing.T, method string) {
	e := newEnv(t, nil)
	if method == MethodInPlace {
		execSQL(t, e.sbx, inPlaceSQL)
	}
	ctx := context.Background()
	prodBefore := fingerprint(t, e.prod)
	prod, sbx := connectT(t, e.prod), connectT(t, e.sbx)
	var secrets []string
	for _, q := range []string{
		"SELECT webhook_signing_key FROM tenant_settings", "SELECT smtp_password FROM tenant_settings",
		"SELECT secret FROM integration_credentials LIMIT 1", "SELECT password_hash FROM users LIMIT 1",
		"SELECT number FROM accounts LIMIT 1",
	} {
		var s string
		if err := prod.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}

	plan, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !plan.OK() {
		t.Fatalf("plan: %v %v", err, plan.Problems)
	}
	// Check reads no rows: nothing counted, nothing listed, nothing compared.
	checked, err := e.cloner.Check(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !checked.OK() || len(checked.Categories) != 0 || checked.DependentWorkflowCount != 0 || len(checked.SandboxOnlyWorkflows) != 0 ||
		checked.Drift != nil || checked.DriftByCategory != nil {
		t.Errorf("check: %v %+v", err, checked)
	}
	if plan.Method != method || (method == MethodInPlace) != (len(plan.MethodReasons) > 0) {
		t.Errorf("plan method %q %q, want %s", plan.Method, plan.MethodReasons, method)
	}
	if len(plan.Drift) != len(plan.copies) || len(plan.DriftByCategory) != len(e.cloner.manifest.Cloned) {
		t.Errorf("plan drift: %d tables of %d, %d categories", len(plan.Drift), len(plan.copies), len(plan.DriftByCategory))
	}
	if len(plan.SandboxOnlyWorkflows) != 3 || len(plan.Integrations) != 6 || len(plan.DependentWorkflows) == 0 {
		t.Errorf("plan: sandbox-only %v, integrations %v, dependent %d", plan.SandboxOnlyWorkflows, plan.Integrations, len(plan.DependentWorkflows))
	}
	var exported *SandboxExport
	var archives []readFile // read in the hook: the files go when the clone ends
	var paths []string
	steps := map[string]Progress{} // the last report of each phase
	var phases []string
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{
		BeforeWipe: func(_ context.Context, x *SandboxExport) error {
			exported = x
			for _, a := range x.Archives {
				for _, f := range a.Files {
					archives, paths = append(archives, readArchive(t, f.Path)), append(paths, f.Path)
				}
			}
			return nil
		},
		Progress: func(p Progress) {
			if p.Phase != "copy" && (len(phases) == 0 || phases[len(phases)-1] != p.Phase) {
				phases = append(phases, p.Phase)
			}
			steps[p.Phase] = p
		},
	})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	v := rep.Verification
	// A swap validates every foreign key of the new tables; in place, those whose
	// columns are all NULLed stay in place.
	nullKept := len(plan.NulledReferences)
	wantPhases, stepped := "preflight,export,wipe,rebuild,sequences,verify,commit,done", []string{"rebuild", "verify"}
	if method == MethodSwap {
		nullKept, wantPhases, stepped = 0, "preflight,stage,switch,cleanup,done", []string{"switch"}
	}
	if !v.OK || v.TablesChecked != 24 || v.ForeignKeysValidated == 0 || v.ForeignKeysNull != nullKept || v.NulledColumnsChecked != len(plan.NulledReferences) {
		t.Errorf("verification: %+v, nulled references %v", v, plan.NulledReferences)
	}
	if len(v.Checks) != len(verificationChecks) {
		t.Errorf("checks run: %q, want every one of %d", v.Checks, len(verificationChecks))
	}
	if rep.Method != method || rep.Rollback == nil || rep.Rollback.Method != method || rep.Rollback.CloneID != rep.ID {
		t.Errorf("report: method %q, rollback copy %+v", rep.Method, rep.Rollback)
	}
	if strings.Join(phases, ",") != wantPhases {
		t.Errorf("phases: %v", phases)
	}
	// A swap exports the sandbox while it loads; in place, before the wipe.
	exportDuring := map[string]string{}
	for _, ph := range rep.Phases {
		exportDuring[ph.Name] = ph.During
	}
	if during, ok := exportDuring["export"]; !ok || (method == MethodSwap) != (during == "copy") {
		t.Errorf("report phases: %+v", rep.Phases)
	}
	for _, ph := range stepped {
		if p := steps[ph]; p.Steps == 0 || p.Done != p.Steps {
			t.Errorf("%s reported %d of %d steps last", ph, p.Done, p.Steps)
		}
	}
	if cp := steps["copy"]; !cp.TableDone || cp.PlannedBytes <= 0 || cp.TablePlannedBytes <= 0 || cp.TableIndex != cp.Tables {
		t.Errorf("the copy's last report %+v lacks the plan's sizes", cp)
	}

	t.Run("production unchanged", func(t *testing.T) {
		sameFingerprint(t, "production", prodBefore, fingerprint(t, e.prod))
	})
	t.Run("export", func(t *testing.T) {
		if exported == nil || exported.Round != 1 || len(exported.Workflows) != 3 || len(archives) == 0 {
			t.Fatalf("export: %+v", exported)
		}
		// Workflows first, with the sandbox-only drafts and their steps.
		if m := archives[0].manifest; m.Category != "workflows" || !strings.Contains(archives[0].text, "sandbox-draft-2") || archives[0].lines["public.workflow_steps"] == nil {
			t.Errorf("first archive: %+v", m)
		}
		// The drift the clone exported by is the plan's: nothing changed between.
		if !slices.Equal(exported.Drift, plan.Drift) || !slices.Equal(rep.Drift, plan.Drift) || !slices.Equal(rep.DriftByCategory, plan.DriftByCategory) {
			t.Errorf("export drift %+v\nreport drift %+v\nplan drift %+v", exported.Drift, rep.Drift, plan.Drift)
		}
		var saved int64
		for _, d := range plan.Drift {
			saved += d.OnlyInSandbox + d.Changed
		}
		if rep.Export.Rows != saved || exported.Rows() != saved || rep.Export.Rounds != 1 || len(rep.Export.Archives) != len(exported.Archives) {
			t.Errorf("report export %+v, %d rows to save", rep.Export, saved)
		}
		for _, p := range paths {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is still there after the clone: %v", p, err)
			}
		}
	})
	t.Run("excluded empty and no secrets anywhere", func(t *testing.T) {
		cat, err := readCatalog(ctx, sbx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range cat.names {
			if !e.cloner.tables.isCloned(name) {
				if n := queryInt(t, sbx, "SELECT count(*) FROM "+name.ident()); n != 0 {
					t.Errorf("excluded table %s has %d rows", name, n)
				}
			}
			for _, s := range secrets {
				if n := queryInt(t, sbx, "SELECT count(*) FROM "+name.ident()+" r WHERE strpos(r::text, $1) > 0", s); n != 0 {
					t.Errorf("table %s holds a production secret or customer value", name)
				}
			}
		}
	})
	t.Run("references to excluded rows nulled", func(t *testing.T) {
		for _, q := range []string{
			"SELECT count(*) FROM workflows WHERE created_by IS NOT NULL",
			"SELECT count(*) FROM workflow_steps WHERE integration_id IS NOT NULL",
			"SELECT count(*) FROM plans WHERE created_by IS NOT NULL",
		} {
			if n := queryInt(t, sbx, q); n != 0 {
				t.Errorf("%s = %d", q, n)
			}
		}
		if n := queryInt(t, prod, "SELECT count(*) FROM workflow_steps WHERE integration_id IS NOT NULL"); n == 0 {
			t.Error("fixture has no step calling an integration")
		}
	})
	t.Run("triggers did not fire", func(t *testing.T) {
		if n := queryInt(t, sbx, "SELECT count(*) FROM audit_log"); n != 0 {
			t.Errorf("audit_log has %d rows", n)
		}
		q := "SELECT count(*) FROM plans WHERE updated_at > '2025-01-01'"
		if queryInt(t, sbx, q) != queryInt(t, prod, q) {
			t.Error("updated_at triggers rewrote plans")
		}
	})
	t.Run("sequences past copied ids", func(t *testing.T) {
		execSQL(t, e.sbx, "INSERT INTO plans (code, name, monthly_price, download_mbps, upload_mbps) VALUES ('NEW', 'New plan', 10, 10, 10)")
		execSQL(t, e.sbx, "INSERT INTO workflows (key, name, status, trigger_event) VALUES ('new', 'New', 'draft', 'x')")
		execSQL(t, e.sbx, "INSERT INTO network_sites (code, name, kind) VALUES ('NEW', 'New', 'pop')")
		execSQL(t, e.sbx, "INSERT INTO users (email, full_name, password_hash) VALUES ('a@b', 'A', 'x')")
	})
	t.Run("indexes and constraints rebuilt", func(t *testing.T) {
		q := "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
		if a, b := queryInt(t, prod, q), queryInt(t, sbx, q); a != b {
			t.Errorf("indexes: production %d, sandbox %d", a, b)
		}
		q = "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"
		if a, b := queryInt(t, prod, q), queryInt(t, sbx, q); a != b {
			t.Errorf("constraints: production %d, sandbox %d", a, b)
		}
		if n := queryInt(t, sbx, "SELECT count(*) FROM pg_constraint WHERE NOT convalidated"); n != 0 {
			t.Errorf("%d sandbox constraints are left NOT VALID", n)
		}
	})
	t.Run("report and plan", func(t *testing.T) {
		if !rep.Verification.OK || len(rep.Export.Workflows) != 3 || !strings.HasPrefix(rep.Export.Workflows[0], "Sandbox draft") {
			t.Errorf("report: verification %v, export %q", rep.Verification.OK, rep.Export.Workflows)
		}
		var labels []string
		for _, in := range rep.Integrations {
			labels = append(labels, in.Label)
		}
		if !slices.Contains(labels, "Stripe billing") {
			t.Errorf("report integrations %q lack Stripe billing", labels)
		}
		if !slices.ContainsFunc(rep.Categories, func(c CategoryReport) bool { return c.Name == "communication_templates" && c.Cloned }) {
			t.Errorf("report categories lack communication_templates: %+v", rep.Categories)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Error(err)
		}
		if rep.Target == nil || rep.Target.Marker == nil || rep.Target.Marker.Instance != "acme-sandbox" || rep.Source.Marker.Environment != Production {
			t.Errorf("report evidence: %+v %+v", rep.Source, rep.Target)
		}
		again, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
		if err != nil || len(again.SandboxOnlyWorkflows) != 1 || !again.OK() { // the workflow inserted above
			t.Errorf("plan after clone: %v %v %q", err, again.SandboxOnlyWorkflows, again.Problems)
		}
	})
}

func TestCloneRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		from, to   string
		prodSQL    string
		sbxSQL     string
		wantInPlan string
	}{
		{name: "production as target", from: "acme-sandbox", to: "acme-prod", wantInPlan: "not a sandbox"},
		{name: "sandbox of another tenant", from: "acme-prod", to: "globex-sandbox", wantInPlan: `tenant "globex"`},
		{name: "unknown instance", from: "acme-prod", to: "nope", wantInPlan: `"nope" is not in the registry`},
		{name: "unclassified table in production", prodSQL: "CREATE TABLE leaky_customers (id int)", wantInPlan: "public.leaky_customers"},
		{name: "unclassified table in sandbox", sbxSQL: "CREATE SCHEMA extra; CREATE TABLE extra.notes (id int)", wantInPlan: "extra.notes"},
		{name: "schema mismatch", sbxSQL: "ALTER TABLE plans ADD COLUMN promo text; ALTER TABLE taxes ALTER COLUMN rate TYPE numeric(8,4)",
			wantInPlan: "public.plans.promo (text) is missing in production"},
		{name: "type mismatch", sbxSQL: "ALTER TABLE taxes ALTER COLUMN rate TYPE numeric(8,4)", wantInPlan: "public.taxes.rate is numeric(6,4) in production, numeric(8,4) in the sandbox"},
		{name: "NOT NULL reference to an excluded table", prodSQL: "UPDATE workflows SET created_by = 1 WHERE created_by IS NULL; ALTER TABLE workflows ALTER COLUMN created_by SET NOT NULL",
			wantInPlan: "public.workflows.created_by references excluded table public.users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			if tc.prodSQL != "" {
				execSQL(t, e.prod, tc.prodSQL)
			}
			if tc.sbxSQL != "" {
				execSQL(t, e.sbx, tc.sbxSQL)
			}
			from, to := tc.from, tc.to
			if from == "" {
				from, to = "acme-prod", "acme-sandbox"
			}
			before := fingerprint(t, e.sbx)
			plan, err := e.cloner.Plan(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			if plan.OK() || !strings.Contains(strings.Join(plan.Problems, "\n"), tc.wantInPlan) {
				t.Errorf("plan problems %q, want one with %q", plan.Problems, tc.wantInPlan)
			}
			checked, err := e.cloner.Check(context.Background(), from, to)
			if err != nil || !slices.Equal(checked.Problems, plan.Problems) {
				t.Errorf("check: %v, problems %q, want the plan's %q", err, checked.Problems, plan.Problems)
			}
			_, err = e.cloner.Clone(context.Background(), from, to, Options{})
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.wantInPlan) {
				t.Errorf("clone error %v, want ErrRefused naming %q", err, tc.wantInPlan)
			}
			sameFingerprint(t, "sandbox", before, fingerprint(t, e.sbx))
		})
	}
}

// The plan names the first MaxListedWorkflows dependent workflows by name, and
// counts them all.
func TestDependentWorkflowsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	before, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if before.DependentWorkflowCount != len(before.DependentWorkflows) || before.DependentWorkflowCount == 0 {
		t.Fatalf("small fixture: count %d, listed %d", before.DependentWorkflowCount, len(before.DependentWorkflows))
	}
	extra := MaxListedWorkflows + 50
	execSQL(t, e.prod, fmt.Sprintf(`WITH w AS (
  INSERT INTO workflows (key, name, status, trigger_event)
  SELECT 'bulk-' || g, 'AAA bulk ' || lpad(g::text, 4, '0'), 'active', 'x' FROM generate_series(1, %d) g RETURNING id)
INSERT INTO workflow_steps (workflow_id, position, action, integration_id)
SELECT w.id, p, 'call', (SELECT min(id) FROM integrations) FROM w, generate_series(1, 2) p`, extra))
	after, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if after.DependentWorkflowCount != before.DependentWorkflowCount+extra || len(after.DependentWorkflows) != MaxListedWorkflows {
		t.Errorf("count %d (want %d), listed %d (want %d)", after.DependentWorkflowCount, before.DependentWorkflowCount+extra, len(after.DependentWorkflows), MaxListedWorkflows)
	}
	if first := after.DependentWorkflows[0]; first.Workflow != "AAA bulk 0001" || len(first.Integrations) != 1 {
		t.Errorf("first listed: %+v, want AAA bulk 0001 with one integration", first)
	}
}

// A sandbox trigger that fires even during an in-place load (ENABLE ALWAYS) and
// fills a reference to an excluded table must fail the verification, naming the
// column. (A swap loads tables that have no trigger yet.)
func TestVerificationCatchesValueInNulledColumn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	execSQL(t, e.sbx, inPlaceSQL)
	execSQL(t, e.sbx, `CREATE FUNCTION fill_creator() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.created_by := 424242; RETURN NEW; END $$;
CREATE TRIGGER fill_creator BEFORE INSERT ON workflows FOR EACH ROW EXECUTE FUNCTION fill_creator();
ALTER TABLE workflows ENABLE ALWAYS TRIGGER fill_creator`)
	before := fingerprint(t, e.sbx)
	rep, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	if err == nil || !strings.Contains(err.Error(), "public.workflows") || !strings.Contains(err.Error(), "hold a value in created_by") {
		t.Fatalf("clone error %v, want a verification failure naming workflows.created_by", err)
	}
	if rep == nil || rep.Verification.OK {
		t.Errorf("report: %+v", rep)
	}
	sameFingerprint(t, "sandbox", before, fingerprint(t, e.sbx))
}

func TestBeforeWipeFailureAborts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := fingerprint(t, e.sbx)
	boom := errors.New("attachment upload failed")
	_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
		BeforeWipe: func(context.Context, *SandboxExport) error { return boom },
	})
	if !errors.Is(err, boom) {
		t.Fatalf("clone error %v, want the hook's", err)
	}
	sameFingerprint(t, "sandbox", before, fingerprint(t, e.sbx))
}

func TestConcurrentClonesDoNotInterleave(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	inHook, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
			BeforeWipe: func(context.Context, *SandboxExport) error {
				close(inHook)
				<-release
				return nil
			},
		})
		first <- err
	}()
	<-inHook
	_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	close(release)
	if !errors.Is(err, ErrBusy) {
		t.Errorf("second clone: %v, want ErrBusy", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first clone: %v", err)
	}
	if _, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{}); err != nil {
		t.Errorf("clone after the first finished: %v", err)
	}
}

func TestManifestStrict(t *testing.T) {
	_, err := ParseManifest([]byte("cloned:\n  catalog: [plans]\nexcluded: {}\nsrub: [plans.x]\n"))
	if err == nil || !strings.Contains(err.Error(), "srub") {
		t.Errorf("unknown key: %v", err)
	}
	_, err = ParseManifest([]byte("cloned:\n  catalog: [plans]\nexcluded:\n  users: [plans]\n"))
	if err == nil || !strings.Contains(err.Error(), "public.plans is in categories") {
		t.Errorf("duplicate table: %v", err)
	}
	_, err = ParseManifest([]byte("cloned:\n  catalog: [plans]\nworkflows: {table: plans, key: [code], name: name, extra: 1}\n"))
	if err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unknown nested key: %v", err)
	}
	if DefaultManifest().Workflows.Table != "workflows" {
		t.Error("default manifest")
	}
}
