package cloner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/pgtest"
)

// A sandbox role that may read but not clone: the plan lists every missing right
// with the statement that fixes it, the clone exports nothing, and once the
// statements run, the same role clones.
func TestLimitedSandboxRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	owner, bot := pgtest.NewRole(t, e.sbx), pgtest.NewRole(t, e.sbx)
	// The application's tables belong to its own role; the bot's role may read them.
	execSQL(t, e.sbx, fmt.Sprintf(`DO $$DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') LOOP
    EXECUTE format('ALTER TABLE %%s OWNER TO %%I', r.t, %[1]s);
  END LOOP;
END$$;
GRANT USAGE ON SCHEMA public TO %[2]s;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[2]s;
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY; -- no policy: every row hidden from others than its owner`, quoteLiteral(owner), pgx.Identifier{bot}.Sanitize()))
	c := newCloner(t, nil, e.prod, pgtest.AsRole(e.sbx, bot), e.other)

	plan := refusedEverywhere(t, c, "acme-prod", "acme-sandbox", e.sbx,
		"role "+bot+" may not read the enrollment marker", // enrolled by another role
		"may not silence triggers during the load (SET session_replication_role)",
		"may not drop and rebuild the cloned tables' indexes and constraints",
		"(owned by "+owner+")",
		"may not wipe the manifest tables (TRUNCATE) on public.accounts",
		"may not read and restore every row of the manifest tables: row-level security would hide rows from it (BYPASSRLS) on public.accounts",
		"may not load the cloned tables (INSERT) on public.addons",
		"may not re-add the foreign keys (REFERENCES",
		"may not move sequences past the copied ids (SELECT and UPDATE)",
		"may not rebuild the cloned tables' indexes (CREATE on their schemas) on schema public",
		"may not create tables in schema clonebot",
	)
	for _, fix := range fixes(t, plan.Problems) {
		execSQL(t, e.sbx, fix)
	}
	after, err := c.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !after.OK() {
		t.Fatalf("plan after the fixes: %v\n%s", err, strings.Join(after.Problems, "\n"))
	}
	rep, err := c.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil || !rep.Verification.OK {
		t.Fatalf("clone as %s after the fixes: %v", bot, err)
	}
}

// fixes are the statements after "Fix: " in the problems, in order.
func fixes(t *testing.T, problems []string) []string {
	t.Helper()
	var out []string
	for _, p := range problems {
		_, fix, ok := strings.Cut(p, "Fix: ")
		if !ok {
			t.Errorf("problem without a fix: %s", p)
			continue
		}
		out = append(out, strings.Split(fix, "; ")...)
	}
	return out
}

// The production role must read what the clone copies; what it may not read is
// named with its GRANT before anything is exported.
func TestLimitedProductionRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	reader := pgtest.NewRole(t, e.prod)
	execSQL(t, e.prod, fmt.Sprintf(`REVOKE USAGE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA clonebot TO %[1]s; GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s;
GRANT SELECT ON clonebot.enrollment TO %[1]s; REVOKE SELECT ON plans, integrations FROM %[1]s; GRANT SELECT (id, kind) ON integrations TO %[1]s;
ALTER TABLE taxes ENABLE ROW LEVEL SECURITY; CREATE POLICY taxes_some ON taxes FOR SELECT USING (id %% 2 = 0)`, pgx.Identifier{reader}.Sanitize()))
	c := newCloner(t, nil, pgtest.AsRole(e.prod, reader), e.sbx, e.other)
	plan := refusedEverywhere(t, c, "acme-prod", "acme-sandbox", e.sbx,
		"production acme-prod: role "+reader+" may not read the cloned tables (SELECT) on public.plans",
		"may not reach the schemas of the cloned tables (USAGE) on schema public",
		"may not read the names of the integrations and workflows (SELECT) on public.integrations.label",
		// Row-level security would hide half of taxes from the copy and from its checksum alike.
		"may not read every row of the cloned tables: row-level security would hide rows from it (BYPASSRLS) on public.taxes",
	)
	for _, fix := range fixes(t, plan.Problems) {
		execSQL(t, e.prod, fix)
	}
	if _, err := c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{}); err != nil {
		t.Fatalf("clone after the fixes: %v", err)
	}
	if got, want := rowsOf(t, e.sbx, "public.taxes"), rowsOf(t, e.prod, "public.taxes"); got != want || want == "" {
		t.Errorf("taxes in the sandbox differ from production's:\n%s\n%s", got, want)
	}
	if _, err := c.Clone(context.Background(), "acme-prod", "nope", Options{}); !errors.Is(err, ErrRefused) {
		t.Errorf("unknown target: %v", err)
	}
}
