package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secret = "s3cr3t-token-value"

func env(overrides map[string]string) func(string) string {
	vals := map[string]string{
		"CLONEBOT_DATABASE_URL":     "postgres://clonebot@127.0.0.1/clonebot",
		"ZENDESK_API_TOKEN":         secret,
		"ZENDESK_WEBHOOK_SECRET":    "whsec-" + secret,
		"ACME_PROD_DATABASE_URL":    "postgres://u:" + secret + "@127.0.0.1/acme_prod",
		"ACME_SANDBOX_DATABASE_URL": "postgres://127.0.0.1/acme_sandbox",
	}
	for k, v := range overrides {
		vals[k] = v
	}
	return func(k string) string { return vals[k] }
}

func minimal(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadMinimalAppliesDefaultsAndExpands(t *testing.T) {
	cfg, err := Load("testdata/minimal.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" || cfg.Window.Start != "02:00" || cfg.Window.End != "05:00" {
		t.Errorf("defaults not applied: listen %q window %+v", cfg.Listen, cfg.Window)
	}
	if cfg.Zendesk.Tags.Approve != "clone_approved" || cfg.Zendesk.Tags.Rollback != "clone_rollback" || cfg.Zendesk.WebhookMaxAge != 5*time.Minute || cfg.Zendesk.WebhookRetryAfter != 20*time.Second {
		t.Errorf("zendesk defaults not applied: %+v", cfg.Zendesk)
	}
	if cfg.Jobs.DueInterval != 15*time.Second || cfg.Jobs.RescueAfter != 15*time.Minute || cfg.Jobs.SweepInterval != 5*time.Minute || cfg.Jobs.CloneDeadline != 2*time.Hour {
		t.Errorf("jobs defaults not applied: %+v", cfg.Jobs)
	}
	if cfg.Preflight.CustomerRowsWarning != 10_000 {
		t.Errorf("preflight default not applied: %+v", cfg.Preflight)
	}
	if !filepath.IsAbs(cfg.Path) || filepath.Base(cfg.Path) != "minimal.yaml" {
		t.Errorf("path %q, want the file's absolute path", cfg.Path)
	}
	if it := cfg.InstanceTimeouts; it.Connect != 10*time.Second || it.Lock != 30*time.Second || it.Statement != 30*time.Minute {
		t.Errorf("instance timeouts defaults not applied: %+v", it)
	}
	if cfg.Zendesk.APIToken != secret {
		t.Errorf("api_token not expanded")
	}
	tn, in, ok := cfg.TenantOf("acme-sandbox")
	if !ok || tn.Name != "acme" || in.Environment != Sandbox {
		t.Errorf("TenantOf(acme-sandbox) = %v %v %v", tn.Name, in, ok)
	}
	if tn.Location().String() != "America/Toronto" {
		t.Errorf("location %v", tn.Location())
	}
}

func TestLoadRefusesBadConfigurationNamingTheKey(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(string) string
		env     map[string]string
		wantKey string
	}{
		{"unknown key", func(s string) string { return s + "listne: \":9090\"\n" }, nil, "listne"},
		{"unknown nested key", func(s string) string {
			return strings.Replace(s, "bot_user_id:", "bot_user:", 1)
		}, nil, "bot_user"},
		{"missing database", func(s string) string {
			return strings.Replace(s, `database_url: "${CLONEBOT_DATABASE_URL}"`, "", 1)
		}, nil, "database_url"},
		{"unset env var", func(s string) string { return s }, map[string]string{"ZENDESK_API_TOKEN": ""}, "zendesk.api_token"},
		{"missing field id", func(s string) string { return strings.Replace(s, "users: 360042000004", "users: 0", 1) }, nil, "zendesk.fields.users"},
		{"missing secrets", func(s string) string {
			return strings.Replace(s, `webhook_secrets: ["${ZENDESK_WEBHOOK_SECRET}"]`, "", 1)
		}, nil, "zendesk.webhook_secrets"},
		{"duplicate instance", func(s string) string { return strings.Replace(s, "name: acme-sandbox", "name: acme-prod", 1) }, nil, "tenants[0].instances[1].name"},
		{"bad environment", func(s string) string { return strings.Replace(s, "environment: sandbox", "environment: staging", 1) }, nil, "tenants[0].instances[1].environment"},
		{"no sandbox", func(s string) string { return strings.Replace(s, "environment: sandbox", "environment: production", 1) }, nil, "tenants[0].instances"},
		{"no production", func(s string) string { return strings.Replace(s, "environment: production", "environment: sandbox", 1) }, nil, "tenants[0].instances"},
		{"bad time zone", func(s string) string { return strings.Replace(s, "America/Toronto", "Mars/Olympus", 1) }, nil, "tenants[0].timezone"},
		{"the machine's time zone", func(s string) string { return strings.Replace(s, "America/Toronto", "Local", 1) }, nil, "tenants[0].timezone"},
		{"listen without a port", func(s string) string { return s + "listen: notaport\n" }, nil, "listen: must be HOST:PORT"},
		{"listen as a number", func(s string) string { return s + "listen: 8080\n" }, nil, "listen: must be HOST:PORT"},
		{"one field for two answers", func(s string) string { return strings.Replace(s, "users: 360042000004", "users: 360042000001", 1) }, nil,
			"zendesk.fields.users: is the same field as zendesk.fields.production_instance"},
		{"bad window", func(s string) string { return s + "window: {start: \"25:00\", end: \"05:00\"}\n" }, nil, "window.start"},
		{"empty window", func(s string) string { return s + "window: {start: \"03:00\", end: \"03:00\"}\n" }, nil, "window.end"},
		{"webhook Retry-After of a minute", func(s string) string {
			return strings.Replace(s, "  bot_user_id:", "  webhook_retry_after: 60s\n  bot_user_id:", 1)
		}, nil, "zendesk.webhook_retry_after"},
		{"due interval too short", func(s string) string { return s + "jobs: {due_interval: 100ms}\n" }, nil, "jobs.due_interval"},
		{"rescue after shorter than a job", func(s string) string { return s + "jobs: {rescue_after: 30s}\n" }, nil, "jobs.rescue_after"},
		{"sweep too often", func(s string) string { return s + "jobs: {sweep_interval: 1s}\n" }, nil, "jobs.sweep_interval"},
		{"clone deadline too short", func(s string) string { return s + "jobs: {clone_deadline: 10s}\n" }, nil, "jobs.clone_deadline"},
		{"lock timeout not below the statement timeout", func(s string) string { return s + "instance_timeouts: {lock: 10m, statement: 5m}\n" }, nil, "instance_timeouts.lock"},
		{"service account id", func(s string) string {
			return strings.Replace(s, "  bot_user_id:", "  service_account_ids: [361100000002, 0]\n  bot_user_id:", 1)
		}, nil, "zendesk.service_account_ids[1]"},
		{"rollback tag is the approval tag", func(s string) string {
			return strings.Replace(s, "  bot_user_id:", "  tags: {rollback: clone_approved}\n  bot_user_id:", 1)
		}, nil, "zendesk.tags.rollback: is the same tag as zendesk.tags.approve"},
		{"no tenants", func(s string) string { return s[:strings.Index(s, "tenants:")] }, nil, "tenants"},
		{"token and oauth", func(s string) string {
			return strings.Replace(s, "  bot_user_id:", "  oauth: {client_id: a, client_secret: b}\n  bot_user_id:", 1)
		}, nil, "zendesk.oauth"},
		{"wrong type hides value", func(s string) string {
			return strings.Replace(s, "bot_user_id: 361100000001", "bot_user_id: \"${ZENDESK_API_TOKEN}\"", 1)
		}, nil, "zendesk.bot_user_id: must be a whole number (line 7)"},
		{"wrong type of a duration", func(s string) string { return s + "jobs: {due_interval: a value}\n" }, nil, "jobs.due_interval: must be a duration"},
		{"wrong type inside a flow mapping", func(s string) string { return strings.Replace(s, "users: 360042000004", "users: many", 1) }, nil, "zendesk.fields.users: must be a whole number (line 8)"},
		{"wrong type in a list", func(s string) string {
			return strings.Replace(s, "zendesk_organization_ids: [360099887766]", "zendesk_organization_ids: [360099887766, acme]", 1)
		}, nil, "tenants[0].zendesk_organization_ids[1]: must be a whole number (line 12)"},
		{"unknown key inside a flow mapping", func(s string) string {
			return strings.Replace(s, "environment: sandbox,", "environment: sandbox, tier: gold,", 1)
		}, nil, "tenants[0].instances[1].tier: unknown key (line 15)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.edit(minimal(t))), env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantKey) {
				t.Errorf("error does not name %q:\n%s", tc.wantKey, msg)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error leaks a secret:\n%s", msg)
			}
		})
	}
}

// An unset variable does not hide the file's other problems, and the key it
// leaves empty is named once, for the variable.
func TestUnsetVariableAndOtherProblemsTogether(t *testing.T) {
	doc := strings.Replace(minimal(t), "bot_user_id: 361100000001", "bot_user_id: -4", 1)
	_, err := Parse([]byte(doc), env(map[string]string{"ZENDESK_API_TOKEN": ""}))
	var problems Errors
	if !errors.As(err, &problems) {
		t.Fatalf("error %v is not the file's problems", err)
	}
	var keys []string
	for _, p := range problems {
		keys = append(keys, p.Key)
	}
	if len(problems) != 2 || problems[0].Key != "zendesk.api_token" || !strings.Contains(problems[0].Message, "ZENDESK_API_TOKEN is not set") ||
		problems[1].Key != "zendesk.bot_user_id" {
		t.Fatalf("problems %v, want the unset variable of zendesk.api_token, then zendesk.bot_user_id:\n%v", keys, err)
	}
}

func TestParseJobs(t *testing.T) {
	cfg, err := Parse([]byte(minimal(t)+"jobs: {due_interval: 2s, rescue_after: 90s, sweep_interval: 30s, clone_deadline: 45m}\ninstance_timeouts: {connect: 3s, lock: 2s, statement: 10m}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Jobs != (Jobs{DueInterval: 2 * time.Second, RescueAfter: 90 * time.Second, SweepInterval: 30 * time.Second, CloneDeadline: 45 * time.Minute}) {
		t.Errorf("jobs = %+v", cfg.Jobs)
	}
	if cfg.InstanceTimeouts != (InstanceTimeouts{Connect: 3 * time.Second, Lock: 2 * time.Second, Statement: 10 * time.Minute}) {
		t.Errorf("instance timeouts = %+v", cfg.InstanceTimeouts)
	}
	with := strings.Replace(minimal(t), "  bot_user_id:", "  service_account_ids: [361100000002]\n  bot_user_id:", 1)
	if cfg, err = Parse([]byte(with), env(nil)); err != nil || len(cfg.Zendesk.ServiceAccountIDs) != 1 || cfg.Zendesk.ServiceAccountIDs[0] != 361100000002 {
		t.Errorf("service accounts = %v, %v", cfg.Zendesk.ServiceAccountIDs, err)
	}
}

func TestParsePreflight(t *testing.T) {
	cfg, err := Parse([]byte(minimal(t)+"preflight: {customer_rows_warning: 500}\n"), env(nil))
	if err != nil || cfg.Preflight.CustomerRowsWarning != 500 {
		t.Fatalf("preflight = %+v, %v", cfg, err)
	}
	_, err = Parse([]byte(minimal(t)+"preflight: {customer_rows_warning: -1}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "preflight.customer_rows_warning") {
		t.Errorf("negative threshold: %v", err)
	}
}

func TestParseOAuthWithoutToken(t *testing.T) {
	s := strings.Replace(minimal(t), `api_token: "${ZENDESK_API_TOKEN}"`, `oauth: {client_id: clonebot, client_secret: "${ZENDESK_API_TOKEN}"}`, 1)
	cfg, err := Parse([]byte(s), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Zendesk.OAuth == nil || cfg.Zendesk.OAuth.ClientSecret != secret {
		t.Fatalf("oauth not decoded: %+v", cfg.Zendesk.OAuth)
	}
}

func TestLoadInstancesNeedsOnlyInstanceSettings(t *testing.T) {
	noZendesk := env(map[string]string{"ZENDESK_API_TOKEN": "", "ZENDESK_WEBHOOK_SECRET": "", "CLONEBOT_DATABASE_URL": ""})
	path := "testdata/minimal.yaml"
	if _, err := Load(path, noZendesk); err == nil {
		t.Fatal("Load accepted a configuration without Zendesk credentials")
	}
	cfg, err := LoadInstances(path, noZendesk)
	if err != nil {
		t.Fatalf("LoadInstances: %v", err)
	}
	if _, in, ok := cfg.TenantOf("acme-prod"); !ok || !strings.Contains(in.DatabaseURL, "acme_prod") {
		t.Errorf("instance not loaded: %+v", in)
	}
	if cfg.Zendesk.APIToken != "" {
		t.Errorf("an unset variable outside the instance settings left %q", cfg.Zendesk.APIToken)
	}
	_, err = LoadInstances(path, env(map[string]string{"ACME_PROD_DATABASE_URL": ""}))
	if err == nil || !strings.Contains(err.Error(), "tenants[0].instances[0].database_url") {
		t.Errorf("LoadInstances without an instance's URL: %v, want an error naming the key", err)
	}
	bad := strings.Replace(minimal(t), "environment: sandbox", "environment: staging", 1) + "listne: x\n"
	file := filepath.Join(t.TempDir(), "clonebot.yaml")
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadInstances(file, noZendesk)
	for _, want := range []string{"tenants[0].instances[1].environment", "listne"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadInstances of a bad file: %v, want it to name %s", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestFieldPathMatchesTheSetupGuide(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(minimal(t), "users: 360042000004", "users: 0", 1)), env(nil))
	if err == nil || !strings.Contains(err.Error(), fieldsPath) {
		t.Fatalf("error %v does not give %q", err, fieldsPath)
	}
	guide, err := os.ReadFile("../docs/zendesk-setup.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(guide), fieldsPath) {
		t.Errorf("docs/zendesk-setup.md does not give the path %q", fieldsPath)
	}
}

func TestParsePolicy(t *testing.T) {
	cfg, err := Parse([]byte(minimal(t)), env(nil))
	if err != nil || cfg.Policy.MinDays() != 30 || cfg.Policy.MinDriftRows != 0 {
		t.Fatalf("policy defaults = %+v, %v", cfg.Policy, err)
	}
	cfg, err = Parse([]byte(minimal(t)+"policy: {min_days_between_clones: 0, min_drift_rows: 250}\n"), env(nil))
	if err != nil || cfg.Policy.MinDays() != 0 || cfg.Policy.MinDriftRows != 250 {
		t.Fatalf("policy = %+v, %v", cfg.Policy, err)
	}
	for key, bad := range map[string]string{
		"policy.min_days_between_clones": "policy: {min_days_between_clones: -1}\n",
		"policy.min_drift_rows":          "policy: {min_drift_rows: -5}\n",
	} {
		if _, err := Parse([]byte(minimal(t)+bad), env(nil)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v", strings.TrimSpace(bad), err)
		}
	}
	if _, err := Parse([]byte(minimal(t)+"policy: {min_days_between_clones: soon}\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "policy.min_days_between_clones: must be a whole number") {
		t.Errorf("a word for days: %v", err)
	}
}
