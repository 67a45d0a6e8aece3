package cloner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
)

// refusedEverywhere checks that plan, check and clone all refuse from -> to with a
// problem holding every want, and that the clone exported nothing and left the
// sandbox's database as it was.
func refusedEverywhere(t *testing.T, c *Cloner, from, to, sbxURL string, want ...string) *Plan {
	t.Helper()
	ctx := context.Background()
	before := fingerprint(t, sbxURL)
	plan, err := c.Plan(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(plan.Problems, "\n")
	for _, w := range want {
		if plan.OK() || !strings.Contains(all, w) {
			t.Errorf("plan problems lack %q:\n%s", w, all)
		}
	}
	checked, err := c.Check(ctx, from, to)
	if err != nil || !slices.Equal(checked.Problems, plan.Problems) {
		t.Errorf("check: %v, problems %q, want the plan's", err, checked.Problems)
	}
	exported := false
	_, err = c.Clone(ctx, from, to, Options{BeforeWipe: func(context.Context, *SandboxExport) error { exported = true; return nil }})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want[0]) {
		t.Errorf("clone error %v, want ErrRefused naming %q", err, want[0])
	}
	if exported {
		t.Error("a refused clone exported the sandbox-only work")
	}
	sameFingerprint(t, "sandbox", before, fingerprint(t, sbxURL))
	return plan
}

// Each way a database can fail to prove it is the instance its entry names, on
// real databases: the refusal says what is wrong and the command to run.
func TestMarkerRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup enrolls what the scenario needs and returns the cloner to plan with
		// and the sandbox's database.
		setup func(t *testing.T, e *env) (*Cloner, string)
		want  []string
	}{
		{"unenrolled target", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			return e.cloner, e.sbx
		}, []string{"sandbox acme-sandbox is not enrolled", "then run: clonebot enroll --instance acme-sandbox --config /etc/clonebot/clonebot.yaml"}},
		{"unenrolled source", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-sandbox")
			return e.cloner, e.sbx
		}, []string{"production acme-prod is not enrolled", "clonebot enroll --instance acme-prod --config /etc/clonebot/clonebot.yaml"}},
		{"target enrolled as another instance", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			enroll(t, newClonerOf(t, nil, []Instance{{Name: "globex-sandbox", Tenant: "globex", Environment: Sandbox, DatabaseURL: e.sbx}}), "globex-sandbox")
			return e.cloner, e.sbx
		}, []string{"which is enrolled as sandbox instance globex-sandbox of tenant globex", "clonebot enroll --instance acme-sandbox --config /etc/clonebot/clonebot.yaml --force"}},
		{"target enrolled as a production", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			enroll(t, newClonerOf(t, nil, []Instance{{Name: "globex-prod", Tenant: "globex", Environment: Production, DatabaseURL: e.sbx}}), "globex-prod")
			return e.cloner, e.sbx
		}, []string{"which is enrolled as production instance globex-prod", "a clone never writes a production database"}},
		{"target enrolled as production under its own name", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			enroll(t, newClonerOf(t, nil, []Instance{{Name: "acme-sandbox", Tenant: "acme", Environment: Production, DatabaseURL: e.sbx}}), "acme-sandbox")
			return e.cloner, e.sbx
		}, []string{"which is enrolled as production instance acme-sandbox", "Only if this database was enrolled as production by mistake"}},
		{"target enrolled for another tenant", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			enroll(t, newClonerOf(t, nil, []Instance{{Name: "acme-sandbox", Tenant: "globex", Environment: Sandbox, DatabaseURL: e.sbx}}), "acme-sandbox")
			return e.cloner, e.sbx
		}, []string{"enrolled as sandbox instance acme-sandbox of tenant globex", "not as sandbox acme-sandbox of tenant acme"}},
		{"source enrolled as a sandbox", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-sandbox")
			enroll(t, newClonerOf(t, nil, []Instance{{Name: "acme-prod", Tenant: "acme", Environment: Sandbox, DatabaseURL: e.prod}}), "acme-prod")
			return e.cloner, e.sbx
		}, []string{"production acme-prod reaches", "which is enrolled as sandbox instance acme-prod"}},
		{"a copy of production restored as the sandbox", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod")
			restored := pgtest.Copy(t, e.prod)
			return newCloner(t, nil, e.prod, restored, e.other), restored
		}, []string{"carries the marker of production instance acme-prod", "it is a copy of a production database", "clonebot enroll --instance acme-sandbox --config /etc/clonebot/clonebot.yaml --force"}},
		{"a copy of the sandbox's database", func(t *testing.T, e *env) (*Cloner, string) {
			enroll(t, e.cloner, "acme-prod", "acme-sandbox")
			moved := pgtest.Copy(t, e.sbx)
			return newCloner(t, nil, e.prod, moved, e.other), moved
		}, []string{"sandbox acme-sandbox's marker was written in database", "then run: clonebot enroll --instance acme-sandbox --config /etc/clonebot/clonebot.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &env{prod: productionDB(t), sbx: sandboxDB(t), other: sandboxDB(t)}
			e.cloner = newCloner(t, nil, e.prod, e.sbx, e.other)
			c, sbx := tc.setup(t, e)
			plan := refusedEverywhere(t, c, "acme-prod", "acme-sandbox", sbx, tc.want...)
			if len(plan.Categories) != 0 {
				t.Errorf("an unproven pair was counted: %+v", plan.Categories)
			}
		})
	}
}

// Two entries that reach one database through different URLs (TCP and the Unix
// socket) are the same database, with or without the system identifier.
func TestSameDatabaseUnderTwoURLs(t *testing.T) {
	t.Parallel()
	t.Run("system identifier", func(t *testing.T) {
		t.Parallel()
		prod := productionDB(t)
		c := newCloner(t, nil, prod, pgtest.SocketURL(t, prod), sandboxDB(t))
		_, err := c.Enroll(context.Background(), "acme-prod", EnrollOptions{})
		if !errors.Is(err, ErrEnrollRefused) || !strings.Contains(err.Error(), "acme-prod and acme-sandbox reach the same database") {
			t.Errorf("enroll: %v, want a refusal naming both entries", err)
		}
		enroll(t, newClonerOf(t, nil, []Instance{{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: prod}}), "acme-prod")
		plan := refusedEverywhere(t, c, "acme-prod", "acme-sandbox", prod, "acme-prod and acme-sandbox reach the same database")
		if plan.Target.Database.SystemIdentifier == "" || plan.Source.Database.DatabaseOID != plan.Target.Database.DatabaseOID {
			t.Errorf("evidence: %+v %+v", plan.Source.Database, plan.Target.Database)
		}
	})
	t.Run("probe when pg_control_system is refused", func(t *testing.T) {
		t.Parallel()
		prod := productionDB(t)
		execSQL(t, prod, "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC")
		role := pgtest.NewRole(t, prod)
		tcp := pgtest.AsRole(prod, role)
		c := newCloner(t, nil, tcp, pgtest.SocketURL(t, tcp), sandboxDB(t))
		plan := refusedEverywhere(t, c, "acme-prod", "acme-sandbox", prod, "acme-prod and acme-sandbox reach the same database")
		if plan.Target.Database.SystemIdentifier != "" || plan.Target.Database.Role != role {
			t.Errorf("evidence: %+v, want no system identifier, role %s", plan.Target.Database, role)
		}
		// Two different databases are still told apart.
		other := newCloner(t, nil, tcp, sandboxDB(t), sandboxDB(t))
		if p, err := other.Check(context.Background(), "acme-prod", "acme-sandbox"); err != nil || strings.Contains(strings.Join(p.Problems, "\n"), "same database") {
			t.Errorf("different databases: %v %q", err, p.Problems)
		}
	})
}

func TestEnrollGuards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := &env{prod: productionDB(t), sbx: sandboxDB(t), other: sandboxDB(t)}
	e.cloner = newCloner(t, nil, e.prod, e.sbx, e.other)
	enroll(t, e.cloner, "acme-prod", "acme-sandbox")

	t.Run("enrolled once", func(t *testing.T) {
		again, err := e.cloner.Enroll(ctx, "acme-sandbox", EnrollOptions{})
		if err != nil || !again.Unchanged || again.Marker.Instance != "acme-sandbox" || again.Marker.Operator != "test@host" {
			t.Errorf("enroll again: %v %+v", err, again)
		}
		sbx := connectT(t, e.sbx)
		if n := queryInt(t, sbx, "SELECT count(*) FROM clonebot.enrollment"); n != 1 {
			t.Errorf("%d markers, want 1", n)
		}
		// The marker is the enrolling role's alone.
		if n := queryInt(t, sbx, `SELECT count(*) FROM pg_namespace n WHERE n.nspname = 'clonebot'
  AND NOT has_schema_privilege('public', n.oid, 'USAGE') AND NOT has_table_privilege('public', 'clonebot.enrollment', 'SELECT')`); n != 1 {
			t.Error("schema clonebot or its marker is granted to PUBLIC")
		}
	})
	t.Run("another instance's marker needs --force", func(t *testing.T) {
		c := newClonerOf(t, nil, []Instance{{Name: "acme-sandbox-2", Tenant: "acme", Environment: Sandbox, DatabaseURL: e.sbx}})
		_, err := c.Enroll(ctx, "acme-sandbox-2", EnrollOptions{})
		if !errors.Is(err, ErrEnrollRefused) || !strings.Contains(err.Error(), "clonebot enroll --instance acme-sandbox-2 --config /etc/clonebot/clonebot.yaml --force") {
			t.Errorf("enroll: %v", err)
		}
	})
	t.Run("--force never enrolls another entry's database", func(t *testing.T) {
		c := newCloner(t, nil, e.prod, pgtest.SocketURL(t, e.prod), e.other)
		_, err := c.Enroll(ctx, "acme-sandbox", EnrollOptions{Force: true})
		if !errors.Is(err, ErrEnrollRefused) || !strings.Contains(err.Error(), "acme-sandbox and acme-prod reach the same database") {
			t.Errorf("enroll --force: %v", err)
		}
		if n := queryInt(t, connectT(t, e.prod), "SELECT count(*) FROM clonebot.enrollment WHERE environment = 'sandbox'"); n != 0 {
			t.Error("production got a sandbox marker")
		}
	})
	t.Run("--force over a copy waits for the instance its marker names", func(t *testing.T) {
		restored := pgtest.Copy(t, e.prod)
		c := newCloner(t, nil, "postgres://postgres@127.0.0.1:1/down?connect_timeout=1", restored, e.other)
		_, err := c.Enroll(ctx, "acme-sandbox", EnrollOptions{Force: true})
		if !errors.Is(err, ErrEnrollRefused) || !strings.Contains(err.Error(), "enrolled as acme-prod, which did not answer") {
			t.Errorf("enroll --force: %v", err)
		}
	})
	t.Run("--force over a restored copy of production", func(t *testing.T) {
		restored := pgtest.Copy(t, e.prod)
		execSQL(t, restored, "CREATE TABLE clonebot.kept (id int); INSERT INTO clonebot.kept VALUES (1), (2)")
		c := newCloner(t, nil, e.prod, restored, e.other)
		got, err := c.Enroll(ctx, "acme-sandbox", EnrollOptions{Force: true, Operator: "ops@host"})
		if err != nil || !got.Marker.Forced || got.Previous == nil || got.Previous.Instance != "acme-prod" {
			t.Fatalf("enroll --force: %v %+v", err, got)
		}
		plan, err := c.Plan(ctx, "acme-prod", "acme-sandbox")
		if err != nil || !plan.OK() || plan.Target.Marker.Instance != "acme-sandbox" {
			t.Fatalf("plan: %v %q", err, plan.Problems)
		}
		// clonebot's own schema is never classified, counted or wiped.
		if _, err := c.Clone(ctx, "acme-prod", "acme-sandbox", Options{}); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, connectT(t, restored), "SELECT count(*) FROM clonebot.kept"); n != 2 {
			t.Errorf("clonebot.kept has %d rows after the clone, want 2", n)
		}
	})
}

// A sandbox holding production-sized customer data is worth a warning.
func TestCustomerRowsWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	plan, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !plan.OK() || len(plan.Warnings) != 0 {
		t.Fatalf("default threshold: %v %q %q", err, plan.Problems, plan.Warnings)
	}
	customers := queryInt(t, connectT(t, e.sbx), "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM contacts) + (SELECT count(*) FROM subscriptions) + (SELECT count(*) FROM invoices) + (SELECT count(*) FROM payments)")
	c := newCloner(t, nil, e.prod, e.sbx, e.other)
	c.customerMax = customers - 1
	plan, err = c.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !plan.OK() || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "customer_data") {
		t.Fatalf("threshold %d: %v %q %q", customers-1, err, plan.Problems, plan.Warnings)
	}
}
