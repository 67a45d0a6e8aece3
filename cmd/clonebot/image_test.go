package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	botpkg "github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/pgtest"
)

// The container cannot be built on these machines (no engine, no registry), so the
// Dockerfile and the compose file are checked here for what matters, and the binary
// is built with the Dockerfile's own flags and run as the image runs it.

const repoRoot = "../.."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

// stage is one FROM ... section.
type stage struct {
	from string
	name string
	ins  []instruction
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || text == "" && line == "" {
			continue
		}
		if strings.HasSuffix(text, "\\") {
			line += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		line += text
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			s := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before FROM", in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(t *testing.T, cmd string) string {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		t.Fatalf("Dockerfile: stage %q has no %s", s.from, cmd)
	}
	return all[len(all)-1].args
}

// execForm decodes a JSON-array instruction argument; shell form needs a shell the
// image does not have.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("Dockerfile: %s %q is not in exec form; the image has no shell", what, args)
	}
	return argv
}

// buildCommand returns the flags of the RUN line's `go build ... ./cmd/clonebot`
// and the environment the build stage sets.
func buildCommand(t *testing.T, build stage) (flags []string, env []string) {
	t.Helper()
	args := map[string]string{}
	for _, in := range build.all("ARG") {
		k, v, _ := strings.Cut(in.args, "=")
		args[k] = v
	}
	for _, in := range build.all("ENV") {
		env = append(env, strings.Join(strings.Fields(in.args), "="))
	}
	for _, run := range build.all("RUN") {
		for _, part := range strings.Split(run.args, "&&") {
			words := shellWords(t, os.Expand(strings.TrimSpace(part), func(k string) string { return args[k] }))
			i := slices.Index(words, "build")
			if i < 0 || !slices.Contains(words, "./cmd/clonebot") {
				continue
			}
			for _, w := range words[:i] { // inline VAR=value before go
				if strings.Contains(w, "=") {
					env = append(env, w)
				}
			}
			o := slices.Index(words, "-o")
			return words[i+1 : o], env
		}
	}
	t.Fatal("Dockerfile: no RUN builds ./cmd/clonebot")
	return nil, nil
}

// shellWords splits a command line as sh would for plain words and double quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]
	if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("runtime image %s: want scratch or distroless static (no shell, no package manager)", final.from)
	}
	if user := final.last(t, "USER"); user == "" || user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("runtime USER %q: want an unprivileged user", user)
	}
	entry := execForm(t, "ENTRYPOINT", final.last(t, "ENTRYPOINT"))
	if entry[0] != "/usr/local/bin/clonebot" {
		t.Errorf("ENTRYPOINT %v: want the clonebot binary", entry)
	}
	hc := final.last(t, "HEALTHCHECK")
	i := strings.Index(hc, "CMD ")
	if i < 0 {
		t.Fatalf("HEALTHCHECK %q has no CMD", hc)
	}
	if argv := execForm(t, "HEALTHCHECK CMD", hc[i+4:]); argv[0] != entry[0] || !slices.Contains(argv, "health") {
		t.Errorf("HEALTHCHECK runs %v: want the binary's own health command", argv)
	}
	if !slices.ContainsFunc(final.all("ENV"), func(in instruction) bool { return strings.HasPrefix(in.args, "CLONEBOT_CONFIG") }) {
		t.Error("the runtime stage sets no CLONEBOT_CONFIG: the health check could not find the listen port")
	}
	flags, env := buildCommand(t, stages[0])
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the build sets %v: want CGO_ENABLED=0 for a static binary", env)
	}
	if !slices.Contains(flags, "-trimpath") || !slices.ContainsFunc(flags, func(f string) bool { return strings.Contains(f, "-X main.version=") }) {
		t.Errorf("build flags %q: want -trimpath and the version stamped", flags)
	}
}

// imageBinary builds clonebot exactly as the Dockerfile does.
func imageBinary(t *testing.T) string {
	t.Helper()
	flags, env := buildCommand(t, parseDockerfile(t)[0])
	bin := filepath.Join(t.TempDir(), "clonebot")
	args := append(append([]string{"build"}, flags...), "-o", bin, "./cmd/clonebot")
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the image's binary is dynamically linked (%v); it would not run in the image", p.Type)
		}
	}
	return bin
}

// runImage runs the image's binary with no CA certificates on the system, as in
// the image.
func runImage(bin string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE=/nonexistent/ca.pem", "SSL_CERT_DIR=/nonexistent")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return o.String(), e.String(), code
}

func TestImageBinaryTrustsPublicRootsAndChecksHealth(t *testing.T) {
	bin := imageBinary(t)

	t.Run("a public root is trusted without system certificates", func(t *testing.T) {
		out, errOut, code := runImage(bin, "trust", "--pem", "testdata/isrg-root-x1.pem", "--at", "2026-06-01T00:00:00Z")
		if code != 0 || !strings.Contains(out, "ISRG Root X1") {
			t.Fatalf("exit %d, stdout %q, stderr %q: want the public root trusted", code, out, errOut)
		}
	})
	t.Run("a self-signed server is not trusted", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		defer srv.Close()
		_, errOut, code := runImage(bin, "trust", "--url", srv.URL)
		if code != 1 || !strings.Contains(errOut, "not trusted") || !strings.Contains(errOut, "unknown authority") {
			t.Fatalf("exit %d, stderr %q: want 1, not trusted", code, errOut)
		}
		path := filepath.Join(t.TempDir(), "self.pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := runImage(bin, "trust", "--pem", path); code != 1 || !strings.Contains(errOut, "unknown authority") {
			t.Fatalf("exit %d, stderr %q: want 1, signed by unknown authority", code, errOut)
		}
	})
	t.Run("health", func(t *testing.T) { testHealth(t, bin) })
}

func testHealth(t *testing.T, bin string) {
	dbURL := pgtest.NewDatabase(t)
	cfgPath := writeConfig(t, dbURL)
	p := startServeWith(t, bin, cfgPath)
	p.waitStatus(t, "/readyz", http.StatusOK)
	readyz := "http://" + p.addr + "/readyz"
	if out, errOut, code := runImage(bin, "health", "--url", readyz); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("health of a ready serve: exit %d, %q %q", code, out, errOut)
	}
	pgtest.SetConnections(t, dbURL, false)
	p.waitStatus(t, "/readyz", http.StatusServiceUnavailable)
	if _, errOut, code := runImage(bin, "health", "--url", readyz); code != 1 || !strings.Contains(errOut, "database unreachable") {
		t.Fatalf("health during a database outage: exit %d, %q; want 1 naming the reason", code, errOut)
	}
	pgtest.SetConnections(t, dbURL, true)
	p.waitStatus(t, "/readyz", http.StatusOK)

	// Without --url, the port comes from the configuration's listen, as in the image.
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	listening := filepath.Join(t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(listening, []byte(fmt.Sprintf("listen: \":%s\"\n", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runImage(bin, "health", "--config", listening); code != 0 {
		t.Fatalf("health --config: exit %d, %q %q", code, out, errOut)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, errOut, code := runImage(bin, "health", "--url", "http://"+closed+"/readyz"); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Fatalf("health with nothing listening: exit %d, %q", code, errOut)
	}
	// Docker reserves exit 2 for health checks: a configuration health cannot read is
	// not ready, exit 1.
	if _, errOut, code := runImage(bin, "health", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Fatalf("health with a missing configuration: exit %d, %q; want 1", code, errOut)
	}
}

// composeFile is what the checks read of docker-compose.yml.
type composeFile struct {
	Services map[string]struct {
		Image       string         `yaml:"image"`
		Build       any            `yaml:"build"`
		PullPolicy  string         `yaml:"pull_policy"`
		Entrypoint  []string       `yaml:"entrypoint"`
		Command     []string       `yaml:"command"`
		Environment map[string]any `yaml:"environment"`
		Healthcheck map[string]any `yaml:"healthcheck"`
		Restart     string         `yaml:"restart"`
		StopGrace   string         `yaml:"stop_grace_period"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
}

var composeDefault = regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`)

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	bot, ok := c.Services["clonebot"]
	if !ok {
		t.Fatal("no clonebot service")
	}
	// One image, built once.
	var builders []string
	for name, s := range c.Services {
		if s.Build != nil {
			builders = append(builders, name)
		}
		if s.Image == bot.Image && s.Build == nil && s.PullPolicy != "never" {
			t.Errorf("service %s reuses %s but may pull it: want pull_policy: never", name, bot.Image)
		}
		if slices.ContainsFunc(s.Entrypoint, func(e string) bool { return strings.HasSuffix(e, "sh") }) {
			t.Errorf("service %s runs a shell; the image has none", name)
		}
		if s.Image == bot.Image && name != "clonebot" && s.Healthcheck["disable"] != true {
			t.Errorf("service %s inherits the image's serve health check; disable it", name)
		}
	}
	if len(builders) != 1 || builders[0] != "clonebot" || bot.Image == "" {
		t.Errorf("services with a build: %v, image %q: want the clonebot service alone to build a named image", builders, bot.Image)
	}
	// The bot's health check and restart policy.
	if test, _ := bot.Healthcheck["test"].([]any); len(test) < 3 || test[1] != "/usr/local/bin/clonebot" || test[2] != "health" {
		t.Errorf("clonebot healthcheck %v: want [CMD /usr/local/bin/clonebot health]", bot.Healthcheck["test"])
	}
	if !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, bot.Restart) {
		t.Errorf("clonebot restart %q: want a restart policy", bot.Restart)
	}
	// A stop waits for running jobs (bot.DefaultShutdownTimeout) before it kills.
	if grace, err := time.ParseDuration(bot.StopGrace); err != nil || grace <= botpkg.DefaultShutdownTimeout {
		t.Errorf("clonebot stop_grace_period %q (%v): want longer than the shutdown timeout, %s", bot.StopGrace, err, botpkg.DefaultShutdownTimeout)
	}
	// The bot's tables in their own database, which the postgres service creates.
	env := func(k string) string {
		v, _ := bot.Environment[k].(string)
		return composeDefault.ReplaceAllString(v, "$2")
	}
	botDB := strings.TrimPrefix(mustURLPath(t, env("CLONEBOT_DATABASE_URL")), "/")
	if botDB == "" || botDB == "postgres" {
		t.Errorf("CLONEBOT_DATABASE_URL names database %q: want a database of its own", botDB)
	}
	if pg := c.Services["postgres"]; pg.Environment["POSTGRES_DB"] != botDB {
		t.Errorf("postgres creates POSTGRES_DB %v; the bot uses %q", pg.Environment["POSTGRES_DB"], botDB)
	}
	// Each instance is made by an idempotent step that the bot waits for.
	for _, key := range []string{"ACME_PROD_DATABASE_URL", "ACME_SANDBOX_DATABASE_URL"} {
		instance := env(key)
		var maker string
		for name, s := range c.Services {
			if slices.Contains(s.Command, "create") && slices.Contains(s.Command, instance) {
				maker = name
				if slices.Contains(s.Command, "--recreate") {
					t.Errorf("service %s recreates %s at every up", name, instance)
				}
			}
		}
		if maker == "" {
			t.Errorf("no service creates %s (%s)", instance, key)
		} else if bot.DependsOn[maker].Condition != "service_completed_successfully" {
			t.Errorf("clonebot does not wait for %s to complete", maker)
		}
	}
	// Each instance is enrolled after it is made, before the bot starts.
	for _, name := range []string{"acme-prod", "acme-sandbox"} {
		var enroller string
		for svc, s := range c.Services {
			if slices.Equal(s.Command, []string{"enroll", "--instance", name}) {
				enroller = svc
				if s.DependsOn[name].Condition != "service_completed_successfully" {
					t.Errorf("service %s enrolls %s before it is made", svc, name)
				}
			}
		}
		if enroller == "" {
			t.Errorf("no service enrolls %s", name)
		} else if bot.DependsOn[enroller].Condition != "service_completed_successfully" {
			t.Errorf("clonebot does not wait for %s to complete", enroller)
		}
	}
	// The mounted configuration loads with the service's environment.
	var mounted string
	for _, v := range bot.Volumes {
		if host, inside, _ := strings.Cut(v, ":"); strings.HasPrefix(inside, env("CLONEBOT_CONFIG")) {
			mounted = host
		}
	}
	if mounted == "" {
		t.Fatalf("no volume mounts %s", env("CLONEBOT_CONFIG"))
	}
	if _, err := config.Load(filepath.Join(repoRoot, mounted), env); err != nil {
		t.Errorf("%s with the compose environment: %v", mounted, err)
	}
}

func mustURLPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return u.Path
}
