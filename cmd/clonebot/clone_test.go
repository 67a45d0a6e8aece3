package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// instancesConfig writes a configuration with acme-prod and acme-sandbox whose bot
// database and Zendesk settings name variables the commands do not set: plan and
// clone need the instance settings only.
func instancesConfig(t *testing.T) string {
	t.Helper()
	sbxOpts := small
	sbxOpts.Kind, sbxOpts.Seed = fixtures.Sandbox, 8
	cfg := fmt.Sprintf(`database_url: "${CLONEBOT_TEST_UNSET_DATABASE_URL}"
zendesk:
  url: "http://127.0.0.1:1"
  email: "clonebot@example.com"
  api_token: "${CLONEBOT_TEST_UNSET_TOKEN}"
  webhook_secrets: ["${CLONEBOT_TEST_UNSET_SECRET}"]
  bot_user_id: 1
  fields: {production_instance: 1, sandbox_instance: 2, wipe_confirmation: 3, users: 4}
tenants:
  - name: acme
    instances:
      - {name: acme-prod, environment: production, database_url: %q}
      - {name: acme-sandbox, environment: sandbox, database_url: %q}
`, instanceDB(t, small), instanceDB(t, sbxOpts))
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
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"plan allowed", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 0, []string{"acme-prod", "acme-sandbox", "workflows"}},
		{"plan into production refused", []string{"plan", "--config", cfg, "--from", "acme-sandbox", "--to", "acme-prod"}, 2, []string{"refused"}},
		{"plan of an unknown instance", []string{"plan", "--config", cfg, "--from", "acme-prod", "--to", "nope"}, 2, []string{"nope"}},
		{"plan needs both names", []string{"plan", "--config", cfg, "--from", "acme-prod"}, 2, []string{"--from and --to"}},
		{"clone needs --yes", []string{"clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox"}, 2, []string{"--yes"}},
		{"clone into production refused", []string{"clone", "--config", cfg, "--from", "acme-sandbox", "--to", "acme-prod", "--yes"}, 2, []string{"acme-prod"}},
		{"clone", []string{"clone", "--config", cfg, "--from", "acme-prod", "--to", "acme-sandbox", "--yes"}, 0, []string{"acme-prod", "acme-sandbox"}},
	}
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
