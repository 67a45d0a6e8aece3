package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
)

var binary string

// The test binary's build stamp.
const testVersion, testCommit = "v0.0.0-test", "0123abc"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clonebot-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "clonebot")
	build := exec.Command("go", "build", "-race", "-ldflags", "-X main.version="+testVersion+" -X main.commit="+testCommit, "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build clonebot:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConfig writes a minimal configuration whose bot database is dbURL.
func writeConfig(t *testing.T, dbURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
database_url: %q
log_level: debug
zendesk:
  url: "http://127.0.0.1:1"
  email: "clonebot@example.com"
  api_token: "${ZENDESK_API_TOKEN}"
  webhook_secrets: ["${ZENDESK_WEBHOOK_SECRET}"]
  bot_user_id: 361100000001
  fields: {production_instance: 360042000001, sandbox_instance: 360042000002, wipe_confirmation: 360042000003, users: 360042000004}
tenants:
  - name: acme
    timezone: America/Toronto
    zendesk_organization_ids: [360099887766]
    instances:
      - {name: acme-prod, environment: production, database_url: "postgres://127.0.0.1/acme_prod"}
      - {name: acme-sandbox, environment: sandbox, database_url: "postgres://127.0.0.1/acme_sandbox"}
`, dbURL)
	path := filepath.Join(t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuilder
	done chan error
}

// lockedBuilder is the process's output, read by the test while it is written.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `clonebot serve` and waits for its listening line.
func startServe(t *testing.T, configPath string) *serveProcess {
	t.Helper()
	return startServeWith(t, binary, configPath)
}

// startServeWith runs serve of the binary bin.
func startServeWith(t *testing.T, bin, configPath string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", configPath)
	cmd.Env = append(os.Environ(), "ZENDESK_API_TOKEN=token-not-for-logs", "ZENDESK_WEBHOOK_SECRET=whsec-not-for-logs")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, logs: &lockedBuilder{}, done: make(chan error, 1)}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				addrCh <- entry.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case p.addr = <-addrCh:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start; logs:\n%s", p.logs.String())
	}
	return p
}

func (p *serveProcess) get(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (p *serveProcess) waitStatus(t *testing.T, path string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := p.get(t, path)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d, want %d; logs:\n%s", path, got, want, p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeHealthReadinessOutageAndGracefulStop(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	p := startServe(t, writeConfig(t, dbURL))
	if got := p.get(t, "/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz = %d", got)
	}
	p.waitStatus(t, "/readyz", http.StatusOK)
	if got := p.get(t, "/metrics"); got != http.StatusOK {
		t.Fatalf("/metrics = %d", got)
	}

	pgtest.SetConnections(t, dbURL, false)
	p.waitStatus(t, "/readyz", http.StatusServiceUnavailable)
	if _, body := p.body(t, "/readyz"); !strings.Contains(body, `"reason":"database unreachable"`) {
		t.Errorf("/readyz during the outage: %s", body)
	}
	if got := p.get(t, "/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz during outage = %d, want 200 (the process is alive)", got)
	}
	pgtest.SetConnections(t, dbURL, true)
	p.waitStatus(t, "/readyz", http.StatusOK)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM; logs:\n%s", err, p.logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	for _, secret := range []string{"token-not-for-logs", "whsec-not-for-logs"} {
		if strings.Contains(p.logs.String(), secret) {
			t.Errorf("logs contain the secret %q", secret)
		}
	}
}

func TestTwoReplicasStartTogetherOnAnEmptyDatabase(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	cfg := writeConfig(t, dbURL)
	a := startServe(t, cfg)
	b := startServe(t, cfg)
	a.waitStatus(t, "/readyz", http.StatusOK)
	b.waitStatus(t, "/readyz", http.StatusOK)
}

func TestRefusesBadConfigurationNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("database_url: postgres://x/y\nlisten_addr: \":1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "serve", "--config", path).CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; output:\n%s", err, out)
	}
	for _, want := range []string{"listen_addr", "zendesk.url", "tenants"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not name %s:\n%s", want, out)
		}
	}
}

func (p *serveProcess) body(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Every metric family is exported from the start, and every line serve logs has
// one JSON shape; the first says which build runs.
func TestServeExportsEveryFamilyAtStartAndLogsOneShape(t *testing.T) {
	p := startServe(t, writeConfig(t, pgtest.NewDatabase(t)))
	p.waitStatus(t, "/readyz", http.StatusOK)
	_, metrics := p.body(t, "/metrics")
	for _, want := range []string{
		fmt.Sprintf(`clonebot_build_info{commit=%q,go_version=%q,version=%q} 1`, testCommit, runtime.Version(), testVersion),
		`clonebot_jobs_total{kind="clone",outcome="retry"} 0`,
		`clonebot_jobs_total{kind="ticket_sync",outcome="cancel"} 0`,
		`clonebot_webhook_requests_total{outcome="refused",status="401"} 0`,
		`clonebot_webhook_requests_total{outcome="accepted",status="202"} 0`,
		`clonebot_requests{state="failed"} 0`,
		`clonebot_clone_duration_seconds_count{outcome="failed"} 0`,
		`clonebot_clone_rows_total{category="catalog"} 0`,
		`clonebot_clone_bytes_total{category="workflows"} 0`,
		`clonebot_zendesk_calls_total{method="PUT",retry="false",route="/api/v2/tickets/:id",status="200"} 0`,
		`clonebot_outbox_pending 0`,
		`clonebot_outbox_oldest_pending_seconds 0`,
		`clonebot_last_successful_clone_timestamp_seconds{sandbox="acme-sandbox"} 0`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	var started bool
	for _, line := range strings.Split(strings.TrimSpace(p.logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		for _, key := range []string{"time", "level", "msg", "service"} {
			if _, ok := entry[key]; !ok {
				t.Errorf("log line lacks %s: %s", key, line)
			}
		}
		if entry["msg"] == "starting" {
			started = entry["version"] == testVersion && entry["commit"] == testCommit && entry["go_version"] == runtime.Version()
		}
	}
	if !started {
		t.Errorf("no start line with the version, commit and Go version:\n%s", p.logs.String())
	}
}

// /readyz names the real reason: a database that does not answer is not "pending
// migrations".
func TestReadyzSaysTheDatabaseIsUnreachable(t *testing.T) {
	p := startServe(t, writeConfig(t, pgtest.URLFor("clonebot_test_never_created")))
	code, body := p.body(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"database unreachable"`) {
		t.Errorf("/readyz = %d %s, want 503 database unreachable", code, body)
	}
}

// Two entries reaching one database (over TCP and over the Unix socket) are an
// error in serve's log; an instance that is down delays nothing.
func TestServeLogsTwoEntriesReachingOneDatabase(t *testing.T) {
	instance := pgtest.NewDatabase(t)
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
database_url: %q
zendesk:
  url: "http://127.0.0.1:1"
  email: "clonebot@example.com"
  api_token: "token"
  webhook_secrets: ["secret"]
  bot_user_id: 361100000001
  fields: {production_instance: 360042000001, sandbox_instance: 360042000002, wipe_confirmation: 360042000003, users: 360042000004}
tenants:
  - name: acme
    instances:
      - {name: acme-prod, environment: production, database_url: %q}
      - {name: acme-sandbox, environment: sandbox, database_url: %q}
  - name: globex
    instances:
      - {name: globex-prod, environment: production, database_url: "postgres://postgres@127.0.0.1:1/down?connect_timeout=1"}
      - {name: globex-sandbox, environment: sandbox, database_url: %q}
`, pgtest.NewDatabase(t), instance, pgtest.SocketURL(t, instance), pgtest.NewDatabase(t))
	path := filepath.Join(t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, path)
	p.waitStatus(t, "/readyz", http.StatusOK)
	deadline := time.Now().Add(30 * time.Second)
	for !p.logged("error", "instances acme-prod and acme-sandbox reach the same database") || !p.logged("warning", "globex-prod") {
		if time.Now().After(deadline) {
			t.Fatalf("no error about acme-prod and acme-sandbox, or no warning about globex-prod; logs:\n%s", p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !p.logged("warning", "sandbox globex-sandbox is not enrolled") {
		t.Errorf("no warning about the unenrolled globex-sandbox; logs:\n%s", p.logs.String())
	}
}

// logged reports whether a log line at level has a message containing msg, or
// names msg as its instance.
func (p *serveProcess) logged(level, msg string) bool {
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var entry struct{ Level, Msg, Instance string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == level && (strings.Contains(entry.Msg, msg) || entry.Instance == msg) {
			return true
		}
	}
	return false
}
