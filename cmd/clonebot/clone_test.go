package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/fixtures"
	"github.com/gaiia/clonebot/pgtest"
)

var small = fixtures.GenerateOptions{Seed: 7, ConfigBytes: 256 << 10, CustomerBytes: 256 << 10}

func instanceDB(t *testing.T, opts fixtures.GenerateOptions) string {
	t.Helper()
	return pgtest.FromTemplate(t, "cli_"+fixtures.Fingerprint(opts), func(ctx context.Context, url string) error {
		if err := fixtures.ApplySchema(ctx, url); err != nil {
			return err
		}
		return fixtures.Generate(ctx, url, opts)
	})
}

// instancesConfig writes a configuration with acme-prod and acme-sandbox and
// enrolls both.
func instancesConfig(t *testing.T) string {
	t.Helper()
	sbxOpts := small
	sbxOpts.Kind, sbxOpts.Seed = fixtures.Sandbox, 8
	path := writeInstancesConfig(t, instanceDB(t, small), instanceDB(t, sbxOpts))
	for _, name := range []string{"acme-prod", "acme-sandbox"} {
		if out, code := clonebot("enroll", "--config", path, "--instance", name); code != 0 {
			t.Fatalf("enroll %s: exit %d\n%s", name, code, out)
		}
	}
	return path
}

// writeInstancesConfig writes a configuration whose acme-prod and acme-sandbox
// are the given databases, and whose bot database and Zendesk settings name
// variables the commands do not set: plan, clone and enroll need the instance
// settings only.
func writeInstancesConfig(t *testing.T, prod, sbx string) string {
	t.Helper()
	cfg := fmt.Sprintf(`database_url: "${CLONEBOT_TEST_UNSET_DATABASE_URL}"
zendesk:
  url: "http://127.0.0.1:1"
  email: "clonebot@example.com"
  api_token: "${CLONEBOT_TEST_UNSET_TOKEN}"
  webhook_secrets: ["${CLONEBOT_TEST_UNSET_SECRET}"]
  bot_user_id: 361100000001
  fields: {production_instance: 360042000001, sandbox_instance: 360042000002, wipe_confirmation: 360042000003, users: 360042000004}
tenants:
  - name: acme
    instances:
      - {name: acme-prod, environment: production, database_url: %q}
      - {name: acme-sandbox, environment: sandbox, database_url: %q}
`, prod, sbx)
	path := filepath.Join(t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func clonebot(args ...string) (string, int) {
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), exitStatus(err)
}

// exitStatus is a finished command's exit status, -1 when it could not run.
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestPlanAndCloneCommands(t *testing.T) {
	cfg := instancesConfig(t)
	cases := []cliCase{
		{"plan allowed", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 0, []string{"acme-prod", "acme-sandbox", "workflows"}},
		{"plan into production refused", []string{"plan", "--config", cfg, "--from", "acme-sandbox", "--to", "acme-prod"}, 2, []string{"refused"}},
		{"plan of an unknown instance", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "nope"}, 2, []string{"nope"}},
		{"plan needs both names", []string{"plan", "--config", cfg, "--from", "acme-prod"}, 2, []string{"--from and --to"}},
		{"clone needs --yes", []string{"clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 2, []string{"--yes"}},
		{"clone into production refused", []string{"clone", "--config", cfg, "--from", "acme-sandbox", "--to", "acme-prod", "--yes"}, 2, []string{"acme-prod"}},
		{"clone", []string{"clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes", "--export-dir", t.TempDir()}, 0, []string{"acme-prod", "acme-sandbox"}},
	}
	runCases(t, cases)
}

// A manifest that is missing or wrong is the configuration's problem: refused
// with exit 2, as a bad configuration is, naming the file and what is wrong.
func TestBadManifestIsRefused(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile(writeInstancesConfig(t, "postgres://127.0.0.1:1/p", "postgres://127.0.0.1:1/s"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("cloned:\n  catalog: [plans]\nexcluded:\n  catalog: [plans]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(manifest string) string {
		path := filepath.Join(dir, filepath.Base(manifest)+".clonebot.yaml")
		if err := os.WriteFile(path, append(base, []byte("manifest: "+manifest+"\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	runCases(t, []cliCase{
		{"missing manifest", []string{"plan", "--config", config(filepath.Join(dir, "nope.yaml")), "--from", "acme-prod", "--to", "acme-sandbox"}, 2, []string{"manifest", "nope.yaml"}},
		{"wrong manifest", []string{"clone", "--config", config(bad), "--from", "acme-prod", "--to", "acme-sandbox", "--yes"}, 2, []string{"manifest", "plans"}},
	})
	// serve refuses it too, before it connects to anything.
	settings := []string{"CLONEBOT_TEST_UNSET_DATABASE_URL=postgres://127.0.0.1:1/bot", "CLONEBOT_TEST_UNSET_TOKEN=t", "CLONEBOT_TEST_UNSET_SECRET=s"}
	if _, errOut, code := runCLI(t, settings, "serve", "--config", config(filepath.Join(dir, "gone.yaml"))); code != 2 || !strings.Contains(errOut, "gone.yaml") {
		t.Errorf("serve with a missing manifest: exit %d, %q; want 2 naming the file", code, errOut)
	}
}

// Without --export-dir the export goes to a temporary directory of its own, which
// the report names; a clone with nothing to save leaves none.
func TestCloneExportsToATemporaryDirectory(t *testing.T) {
	cfg := instancesConfig(t)
	out, code := clonebot("clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes")
	m := regexp.MustCompile(`saved before the wipe in (\S+):\n`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	dir := m[1]
	defer os.RemoveAll(dir)
	if !strings.HasPrefix(filepath.Base(dir), "clonebot-export-acme-sandbox-") {
		t.Errorf("export directory %s", dir)
	}
	if zips, _ := filepath.Glob(filepath.Join(dir, "*.zip")); len(zips) == 0 {
		t.Errorf("no archive in %s", dir)
	}
	// The sandbox is now production's copy: nothing to save, no directory.
	out, code = clonebot("clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes")
	if code != 0 || !strings.Contains(out, "Sandbox export: nothing to save") || strings.Contains(out, "saved before the wipe in") {
		t.Errorf("second clone, exit %d:\n%s", code, out)
	}
}

func TestEnrollCommand(t *testing.T) {
	sbxOpts := small
	sbxOpts.Kind, sbxOpts.Seed = fixtures.Sandbox, 8
	prod, sbx := instanceDB(t, small), instanceDB(t, sbxOpts)
	cfg := writeInstancesConfig(t, prod, sbx)
	// The same sandbox database under another name, as if the entry had been renamed.
	renamed := writeInstancesConfig(t, prod, sbx)
	text, err := os.ReadFile(renamed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renamed, []byte(strings.ReplaceAll(string(text), "acme-sandbox", "acme-sandbox-2")), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []cliCase{
		{"needs an instance", []string{"enroll", "--config", cfg}, 2, []string{"--instance is required"}},
		{"unknown instance", []string{"enroll", "--config", cfg, "--instance", "nope"}, 2, []string{`"nope" is not in the registry`}},
		{"plan before enrolling names the command", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 2,
			[]string{"not enrolled", "clonebot enroll --instance acme-sandbox --config " + cfg, "clonebot enroll --instance acme-prod --config " + cfg}},
		{"enroll the sandbox", []string{"enroll", "--config", cfg, "--instance", "acme-sandbox"}, 0, []string{"acme-sandbox enrolled", "sandbox instance acme-sandbox of tenant acme"}},
		{"enroll it again", []string{"enroll", "--config", cfg, "--instance", "acme-sandbox"}, 0, []string{"already enrolled: nothing written"}},
		{"enroll production", []string{"enroll", "--config", cfg, "--instance", "acme-prod"}, 0, []string{"production instance acme-prod"}},
		{"plan allowed", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 0, []string{"ALLOWED", "marker: sandbox instance acme-sandbox of tenant acme"}},
		{"another name refused", []string{"enroll", "--config", renamed, "--instance", "acme-sandbox-2"}, 2,
			[]string{"enrolled as sandbox instance acme-sandbox", "clonebot enroll --instance acme-sandbox-2 --config " + renamed + " --force"}},
		{"plan of the renamed entry refused", []string{"plan", "--config", renamed, "--from", "acme-prod", "--to", "acme-sandbox-2"}, 2,
			[]string{"is enrolled as sandbox instance acme-sandbox of tenant acme"}},
		{"another name forced", []string{"enroll", "--config", renamed, "--instance", "acme-sandbox-2", "--force"}, 0, []string{"acme-sandbox-2 enrolled", "replaced: sandbox instance acme-sandbox"}},
		{"the old name now refused", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 2, []string{"enrolled as sandbox instance acme-sandbox-2"}},
	}
	runCases(t, cases)
}

// cliCase is one run of the command: its exit status and what its output holds.
type cliCase struct {
	name     string
	args     []string
	wantCode int
	want     []string
}

// runCases runs the cases in order, each as a subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := clonebot(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// The rollback command: refused without --yes and before any clone; after a clone,
// --list shows the copy and until when, and the rollback restores the sandbox's
// drafts; the copy is then gone.
func TestRollbackCommand(t *testing.T) {
	cfg := instancesConfig(t)
	sandbox := configuredURL(t, cfg, "acme-sandbox")
	drafts := queryCount(t, sandbox, sandboxDrafts)
	if drafts == 0 {
		t.Fatal("the sandbox fixture has no drafts")
	}
	runCases(t, []cliCase{
		{"needs a sandbox", []string{"rollback", "--config", cfg}, 2, []string{"--to is required"}},
		{"needs --yes", []string{"rollback", "--config", cfg, "--to", "acme-sandbox"}, 2, []string{"--yes"}},
		{"production refused", []string{"rollback", "--config", cfg, "--to", "acme-prod", "--yes"}, 2, []string{"not a sandbox"}},
		{"nothing kept yet", []string{"rollback", "--config", cfg, "--to", "acme-sandbox", "--yes"}, 2, []string{"no pre-clone copy"}},
		{"clone", []string{"clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes", "--jobs", "3", "--export-dir", t.TempDir()}, 0, []string{"kept for rollback until"}},
	})
	if n := queryCount(t, sandbox, sandboxDrafts); n != 0 {
		t.Fatalf("%d drafts after the clone", n)
	}
	runCases(t, []cliCase{
		{"list", []string{"rollback", "--config", cfg, "--list"}, 0, []string{"acme-sandbox", "acme-prod", "restorable until"}},
		{"rollback", []string{"rollback", "--config", cfg, "--to", "acme-sandbox", "--yes"}, 0, []string{"Rollback of acme-sandbox: verified and committed", "tables match the kept copy"}},
		{"list after", []string{"rollback", "--config", cfg, "--list", "--to", "acme-sandbox"}, 0, []string{"nothing kept"}},
	})
	if n := queryCount(t, sandbox, sandboxDrafts); n != drafts {
		t.Errorf("%d drafts after the rollback, want %d", n, drafts)
	}
}

// plan --json prints the document docs/plan-json.md describes; the golden file
// holds it for the fixture instances, with what differs between runs (database
// identities, enrollment times, sizes on disk) blanked.
func TestPlanJSONGolden(t *testing.T) {
	cfg := instancesConfig(t)
	out, errOut, code := runCLI(t, nil, "plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if d, _ := doc["drift"].([]any); len(d) == 0 {
		t.Fatalf("no drift in the plan:\n%s", out)
	}
	golden(t, "plan.golden.json", blank(out))

	// Refused: the same document, with its problems, and exit 2.
	out, _, code = runCLI(t, nil, "plan", "--config", cfg, "--from", "acme-prod", "--to", "nope", "--json")
	if err := json.Unmarshal([]byte(out), &doc); code != 2 || err != nil || len(doc["problems"].([]any)) == 0 {
		t.Errorf("refused plan: exit %d, %v\n%s", code, err, out)
	}
}

var (
	varyingText   = regexp.MustCompile(`"(system_identifier|database|enrolled_at|operator|version)": "[^"]*"`)
	varyingNumber = regexp.MustCompile(`"(database_oid|bytes|rollback_bytes)": [0-9]+`)
)

// blank replaces in a plan document the values that differ from one run to the
// next, keeping the document's order.
func blank(doc string) string {
	doc = varyingText.ReplaceAllString(doc, `"$1": "(varies)"`)
	return varyingNumber.ReplaceAllString(doc, `"$1": 0`)
}
