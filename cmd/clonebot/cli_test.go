package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/pgtest"
)

// runCLI runs clonebot with env added to the test's environment.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("clonebot %s did not return:\n%s\n%s", strings.Join(args, " "), o.String(), e.String())
	}
	return o.String(), e.String(), exitStatus(err)
}

func queryCount(t *testing.T, url, q string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const sandboxDrafts = "SELECT count(*) FROM workflows WHERE name LIKE 'Sandbox draft%'"

// Every command, given --help or -h, prints its usage on stdout, exits 0 and does
// nothing else, even when its other arguments would make it act.
func TestHelpOnEveryCommandDoesNothingElse(t *testing.T) {
	instances := instancesConfig(t)
	serveCfg := writeConfig(t, pgtest.NewDatabase(t))
	botDB := pgtest.NewDatabase(t)
	migrateCfg := writeConfig(t, botDB)
	sandbox := configuredURL(t, instances, "acme-sandbox")
	drafts := queryCount(t, sandbox, sandboxDrafts)
	acting := map[string][]string{
		"serve":   {"--config", serveCfg},
		"migrate": {"--config", migrateCfg},
		"plan":    {"--config", instances, "--from", "acme-prod", "--to", "acme-sandbox"},
		"clone":   {"--config", instances, "--from", "acme-prod", "--to", "acme-sandbox", "--yes"},
		"demo":    {"--keep"},
		"health":  {"--url", "http://127.0.0.1:1/readyz"},
		"trust":   {"--pem", "testdata/isrg-root-x1.pem"},
	}
	env := []string{"ZENDESK_API_TOKEN=token", "ZENDESK_WEBHOOK_SECRET=secret"}
	for _, c := range commands() {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(c.name+" "+flag, func(t *testing.T) {
				args := append(append([]string{c.name}, acting[c.name]...), flag)
				out, errOut, code := runCLI(t, env, args...)
				if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: clonebot "+c.name) {
					t.Fatalf("clonebot %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
				}
				for _, acted := range []string{"Clone plan", "Clone acme-prod", "clonebot demo:", "trusted:", "up to date"} {
					if strings.Contains(out, acted) {
						t.Errorf("clonebot %s acted: %q", strings.Join(args, " "), out)
					}
				}
			})
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "clone"}} {
		out, errOut, code := runCLI(t, nil, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: clonebot ") {
			t.Errorf("clonebot %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if got := queryCount(t, sandbox, sandboxDrafts); got != drafts {
		t.Errorf("the sandbox changed: %d sandbox drafts, had %d", got, drafts)
	}
	if n := queryCount(t, botDB, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
		t.Errorf("migrate --help created %d tables", n)
	}
}

// A usage error exits 2, says so once on stderr and points to the help.
func TestUsageErrorsExitTwoAndAreReportedOnce(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--bogus"}, {"clone", "--from", "acme-prod"}, {"plan", "--from", "a", "--to", "b", "extra"},
		{"serve", "--listen"}, {"health", "--timeout", "soon"}, {"trust"}, {"nope"}, {"version", "--short"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 2 || out != "" || len(lines) != 1 || !strings.Contains(errOut, "--help") {
				t.Errorf("exit %d, stdout %q, stderr %q: want 2 and one line pointing to --help", code, out, errOut)
			}
		})
	}
	_, errOut, code := runCLI(t, nil)
	if code != 2 || strings.Count(errOut, "no command given") != 1 {
		t.Errorf("no arguments: exit %d, stderr %q", code, errOut)
	}
}

func TestMissingConfigurationFileSaysHowToNameOne(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "plan", "--from", "a", "--to", "b")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLONEBOT_CONFIG=")
	out, err := cmd.CombinedOutput()
	if code := exitStatus(err); code != 2 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"clonebot.yaml", "does not exist", "--config", "$CLONEBOT_CONFIG"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message lacks %q: %s", want, out)
		}
	}
	missing := filepath.Join(dir, "elsewhere.yaml")
	_, errOut, code := runCLI(t, []string{"CLONEBOT_CONFIG=" + missing}, "plan", "--from", "a", "--to", "b")
	if code != 2 || !strings.Contains(errOut, missing) || !strings.Contains(errOut, "($CLONEBOT_CONFIG)") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// A clone off a terminal reports one line per phase on stderr, never a JSON log
// line, and the report on stdout.
func TestCloneReportsEachPhaseApartFromTheReport(t *testing.T) {
	cfg := instancesConfig(t)
	dir := filepath.Join(t.TempDir(), "export") // made by the command
	out, errOut, code := runCLI(t, nil, "clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes", "--export-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "Clone acme-prod -> acme-sandbox (tenant acme): verified and committed") {
		t.Errorf("stdout is not the report:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	// The export runs during the copy: the report's phases say so.
	if !regexp.MustCompile(`Phases: .*export [0-9.]+s \(during copy\)`).MatchString(out) {
		t.Errorf("the report's phases do not show the export beside the copy:\n%s", out)
	}
	phases := []string{"preflight", "stage", "copy", "switch", "cleanup"}
	if len(lines) != len(phases) {
		t.Fatalf("stderr has %d lines, want one per phase:\n%s", len(lines), errOut)
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, phases[i]+" ") || json.Valid([]byte(line)) {
			t.Errorf("stderr line %d %q: want the %s phase in words", i, line, phases[i])
		}
	}
	for _, want := range []string{" rows, ", "MB/s", "checked against production"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The report shows the drift and where the export went; the archives are there.
	zips, _ := filepath.Glob(filepath.Join(dir, "acme-sandbox-*-workflows.zip"))
	if !strings.Contains(out, "\nDrift: ") || !strings.Contains(out, "saved before the wipe in "+dir+":") || len(zips) != 1 {
		t.Errorf("report (archives %v):\n%s", zips, out)
	}
}

// Ctrl-C during the copy stops the clone with a plain message; the sandbox is
// unchanged.
func TestCloneInterruptedByCtrlC(t *testing.T) {
	cfg := instancesConfig(t)
	sandbox := configuredURL(t, cfg, "acme-sandbox")
	drafts := queryCount(t, sandbox, sandboxDrafts)
	// The copy fills a scrubbed column with its sandbox default, which here waits for
	// an advisory lock the test holds: the copy stops at a known table until the
	// signal.
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	for _, q := range []string{
		`CREATE FUNCTION wait_for_the_test() RETURNS text LANGUAGE plpgsql AS $$
		 BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$`,
		"ALTER TABLE public.tenant_settings ALTER COLUMN smtp_password SET DEFAULT wait_for_the_test()",
		"SELECT pg_advisory_lock(4242)",
	} {
		if _, err := holder.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(binary, "clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes", "--export-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var mu sync.Mutex
	var errOut strings.Builder
	copying := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			errOut.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "stage ") {
				close(copying)
			}
		}
	}()
	select {
	case <-copying:
	case <-time.After(time.Minute):
		t.Fatalf("the copy did not start:\n%s", errOut.String())
	}
	waitFor(t, "the copy to wait in the default", func() bool {
		return queryCount(t, sandbox, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") > 0
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-scanned
	code := exitStatus(cmd.Wait())
	mu.Lock()
	got := errOut.String()
	mu.Unlock()
	if code != 130 || !strings.Contains(got, "interrupted") || strings.Contains(got, "closed pipe") {
		t.Errorf("exit %d, stderr:\n%s\nwant 130 and a plain message", code, got)
	}
	if !strings.Contains(got, "sandbox is unchanged") {
		t.Errorf("the message does not say the sandbox is unchanged:\n%s", got)
	}
	if n := queryCount(t, sandbox, sandboxDrafts); n != drafts {
		t.Errorf("sandbox drafts %d, had %d: the sandbox changed", n, drafts)
	}
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// configuredURL reads an instance's database URL from a configuration file.
func configuredURL(t *testing.T, path, instance string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, "name: "+instance+",") {
			_, url, _ := strings.Cut(line, "database_url: ")
			return strings.Trim(strings.TrimSuffix(strings.TrimSpace(url), "}"), `"`)
		}
	}
	t.Fatalf("%s not in %s", instance, path)
	return ""
}
