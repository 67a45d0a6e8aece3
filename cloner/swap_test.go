package cloner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// schemaDump is pg_dump --schema-only of a database, the bot's schemas left out:
// two equal dumps mean the application sees the same objects with the same
// definitions, privileges, owners and comments.
func schemaDump(t testing.TB, url string) string {
	t.Helper()
	out, err := exec.Command("pg_dump", "--schema-only", "--exclude-schema=clonebot*", url).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump (needed by this test; it comes with the PostgreSQL client): %v\n%s", err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, `\restrict`) && !strings.HasPrefix(line, `\unrestrict`) { // a random key per dump
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// diffLines shows the lines of b that are not in a, and the other way round.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// attachedManifest classifies testdata/attached.sql.
const attachedManifest = `
cloned:
  network: [app.regions, app.plans, app.events, app.tiers, app.tier_limits]
excluded:
  customer_data: [app.customers, app.sessions]
`

// attachedEnv is an environment on the attached schema: production and sandbox
// hold different rows of the same schema, with sql run on the sandbox after.
func attachedEnv(t *testing.T, sandboxSQL string) *env {
	t.Helper()
	schema, err := os.ReadFile("testdata/attached.sql")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/attached_data.sql")
	if err != nil {
		t.Fatal(err)
	}
	fill := func(side string) pgtest.Setup {
		return func(ctx context.Context, url string) error {
			return runSQL(ctx, url, string(schema), strings.ReplaceAll(string(data), ":'side'", quoteLiteral(side)))
		}
	}
	key := pgtest.Key("attached", schema, data)
	e := &env{prod: pgtest.FromTemplate(t, key+"_p", fill("production")), sbx: pgtest.FromTemplate(t, key+"_s", fill("sandbox")), other: pgtest.NewDatabase(t)}
	if sandboxSQL != "" {
		execSQL(t, e.sbx, sandboxSQL)
	}
	m, err := ParseManifest([]byte(attachedManifest))
	if err != nil {
		t.Fatal(err)
	}
	e.cloner = newCloner(t, m, e.prod, e.sbx, e.other)
	enroll(t, e.cloner, "acme-prod", "acme-sandbox")
	return e
}

// runSQL runs scripts in the database at url.
func runSQL(ctx context.Context, url string, scripts ...string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range scripts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// sequenceValues is every application sequence's state: equal strings, each
// sequence gives the same next value.
func sequenceValues(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn := connectT(t, url)
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND NOT starts_with(n.nspname, 'clonebot') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range names {
		var last int64
		var called bool
		if err := conn.QueryRow(ctx, "SELECT last_value, is_called FROM "+name).Scan(&last, &called); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %v\n", name, last, called)
	}
	return b.String()
}

// rowsOf is every row of a relation as text, sorted: equal strings, equal contents.
func rowsOf(t *testing.T, url, relation string) string {
	t.Helper()
	var s string
	q := "SELECT coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '') FROM " + relation + " r"
	if err := connectT(t, url).QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// A swap replaces the tables and re-points everything built on them: a schema dump
// of the sandbox reads the same before and after (indexes, keys, foreign keys,
// partitions, triggers and their states, policies, privileges, owners, comments,
// identity and serial sequences, statistics, views and materialized views), the
// tables hold production's rows, the materialized views are filled from them, and
// the old tables are the rollback copy, which a rollback restores exactly.
func TestSwapKeepsEverythingAttached(t *testing.T) {
	t.Parallel()
	e := attachedEnv(t, "")
	ctx := context.Background()
	// Sequences ahead of the rows (ids used, rows gone): the rollback puts them back.
	execSQL(t, e.sbx, "SELECT setval('app.regions_id_seq', 500); SELECT setval(pg_get_serial_sequence('app.tiers', 'id'), 200, false)")
	schema, original, sequences := schemaDump(t, e.sbx), fingerprint(t, e.sbx), sequenceValues(t, e.sbx)
	originalViews := rowsOf(t, e.sbx, "app.plans_per_region") + rowsOf(t, e.sbx, "app.plan_name_count")
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{Jobs: 3})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	if rep.Method != MethodSwap || !rep.Verification.OK {
		t.Fatalf("method %q %q, verification %+v", rep.Method, rep.MethodReasons, rep.Verification)
	}
	if got := schemaDump(t, e.sbx); got != schema {
		t.Fatalf("the sandbox's schema changed:\n%s", diffLines(schema, got))
	}
	for _, table := range []string{"app.regions", "app.plans", "app.events", "app.tiers", "app.tier_limits", "app.plan_names"} {
		if rowsOf(t, e.sbx, table) != rowsOf(t, e.prod, table) {
			t.Errorf("%s differs from production", table)
		}
	}
	for _, table := range []string{"app.customers", "app.sessions"} {
		if rowsOf(t, e.sbx, table) != "" {
			t.Errorf("excluded %s is not empty", table)
		}
	}
	for _, m := range []string{"app.plans_per_region", "app.plan_name_count"} {
		want := rowsOf(t, e.prod, "(SELECT region_id, count(*) AS plans FROM app.plans GROUP BY region_id)")
		if m == "app.plan_name_count" {
			want = rowsOf(t, e.prod, "(SELECT count(*) AS n FROM app.plan_names)")
		}
		if got := rowsOf(t, e.sbx, m); got != want {
			t.Errorf("%s holds %q, want production's %q", m, got, want)
		}
	}
	if strings.Join(rep.Refreshed, ",") != "app.plan_name_count,app.plan_prices,app.plans_per_region" { // natural order
		t.Errorf("refreshed %q", rep.Refreshed)
	}
	// Production's validated keys between plain cloned tables are carried where the
	// referencing table is the larger: plans' region; not regions' parent (a
	// reference to itself), events' (partitioned), customers' (excluded).
	if rep.Verification.ForeignKeysCarried != 1 {
		t.Errorf("%d foreign keys carried, want 1", rep.Verification.ForeignKeysCarried)
	}
	sbx := connectT(t, e.sbx)
	// A carried key is in force: its triggers fire as any key's.
	_, err = sbx.Exec(ctx, "INSERT INTO app.plans (region_id, name) VALUES (-1, 'dangling')")
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "plans_region_id_fkey" {
		t.Errorf("insert of a dangling plan: %v, want a foreign key violation", err)
	}
	// The re-created trigger fires; the disabled one stays disabled; the serial and
	// identity sequences go on past the copied ids.
	execSQL(t, e.sbx, "UPDATE app.plans SET name = name || ' renamed' WHERE id = (SELECT min(id) FROM app.plans)")
	if n := queryInt(t, sbx, "SELECT count(*) FROM app.plans WHERE updated_at IS NOT NULL"); n != 1 {
		t.Errorf("%d plans touched by the trigger, want 1", n)
	}
	execSQL(t, e.sbx, "TRUNCATE app.sessions")
	execSQL(t, e.sbx, "INSERT INTO app.regions (code, name) VALUES ('new', 'New'); INSERT INTO app.plans (region_id, name) VALUES (1, 'new')")

	copies, err := e.cloner.RollbackCopies(ctx, "acme-sandbox")
	if rc := copies["acme-sandbox"]; err != nil || rc == nil || rc.CloneID != rep.ID || rc.Method != MethodSwap || rc.Bytes <= 0 {
		t.Fatalf("rollback copy: %+v %v", rc, err)
	}
	back, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: rep.ID})
	if err != nil || !back.OK {
		t.Fatalf("rollback: %v %+v", err, back)
	}
	if got := schemaDump(t, e.sbx); got != schema {
		t.Fatalf("the sandbox's schema changed by the rollback:\n%s", diffLines(schema, got))
	}
	sameFingerprint(t, "sandbox after rollback", original, fingerprint(t, e.sbx))
	if got := sequenceValues(t, e.sbx); got != sequences {
		t.Errorf("sequences after the rollback:\n%s\nbefore the clone:\n%s", got, sequences)
	}
	if got := rowsOf(t, e.sbx, "app.plans_per_region") + rowsOf(t, e.sbx, "app.plan_name_count"); got != originalViews {
		t.Errorf("materialized views after rollback: %q, want %q", got, originalViews)
	}
	if n := queryInt(t, sbx, "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'clonebot_')"); n != 0 {
		t.Errorf("%d bot schemas left after the rollback", n)
	}
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{}); !errors.Is(err, ErrNoCopy) {
		t.Errorf("second rollback: %v, want ErrNoCopy", err)
	}
}

// Where a swap cannot re-point what depends on a table, the clone runs in place,
// and says why: the plan names every reason. The in-place clone keeps the schema
// as it was too, and its rollback copy restores the sandbox.
func TestInPlaceWhenSwapCannotRepoint(t *testing.T) {
	t.Parallel()
	blockers := []struct{ sql, reason string }{
		{"CREATE TABLE app.regions_archive () INHERITS (app.regions)", "inherits from app.regions"},
		{"CREATE FUNCTION app.cheapest() RETURNS SETOF app.plans LANGUAGE sql AS 'SELECT * FROM app.plans ORDER BY price LIMIT 1'", "function app.cheapest() uses the row type of table app.plans"},
		{"CREATE VIEW app.busiest AS SELECT * FROM app.plans_per_region ORDER BY plans DESC LIMIT 3", "materialized view app.plans_per_region has views or materialized views built on it"},
		{"CREATE PUBLICATION clonebot_test_pub FOR TABLE app.events", "is in publication clonebot_test_pub"},
	}
	var sqls []string
	for _, b := range blockers {
		sqls = append(sqls, b.sql)
	}
	e := attachedEnv(t, strings.Join(sqls, ";\n"))
	execSQL(t, e.prod, sqls[0]+";\n"+sqls[1]+";\n"+sqls[2])
	// The child holds rows of its own, which the plan counts once, as the copy reads.
	execSQL(t, e.prod, "INSERT INTO app.regions_archive SELECT * FROM ONLY app.regions LIMIT 2")
	m, err := ParseManifest([]byte(strings.Replace(attachedManifest, "[app.regions,", "[app.regions, app.regions_archive,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.cloner = newCloner(t, m, e.prod, e.sbx, e.other)
	ctx := context.Background()
	plan, err := e.cloner.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !plan.OK() {
		t.Fatalf("plan: %v %q", err, plan.Problems)
	}
	if plan.Method != MethodInPlace {
		t.Fatalf("method %q, want in place", plan.Method)
	}
	counted := map[string]int64{}
	for _, cp := range plan.Categories {
		for _, tp := range cp.Tables {
			counted[tp.Table] = tp.Rows
		}
	}
	prod := connectT(t, e.prod)
	for _, name := range []string{"app.regions", "app.regions_archive"} {
		if want := queryInt(t, prod, "SELECT count(*) FROM ONLY "+name); counted[name] != want || want == 0 {
			t.Errorf("plan counts %d rows in %s, which holds %d of its own", counted[name], name, want)
		}
	}
	for _, b := range blockers {
		if !slices.ContainsFunc(plan.MethodReasons, func(r string) bool { return strings.Contains(r, b.reason) }) {
			t.Errorf("reasons %q lack %q", plan.MethodReasons, b.reason)
		}
	}
	execSQL(t, e.sbx, "SELECT setval('app.regions_id_seq', 500); SELECT setval(pg_get_serial_sequence('app.tiers', 'id'), 200, false)")
	schema, original, sequences := schemaDump(t, e.sbx), fingerprint(t, e.sbx), sequenceValues(t, e.sbx)
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil || rep.Method != MethodInPlace {
		t.Fatalf("clone: %v, method %q", err, rep.Method)
	}
	if got := schemaDump(t, e.sbx); got != schema {
		t.Fatalf("the sandbox's schema changed:\n%s", diffLines(schema, got))
	}
	if rowsOf(t, e.sbx, "app.plans") != rowsOf(t, e.prod, "app.plans") {
		t.Error("plans differ from production")
	}
	if got, want := rowsOf(t, e.sbx, "app.busiest"), rowsOf(t, e.prod, "(SELECT region_id, count(*) AS plans FROM app.plans GROUP BY region_id ORDER BY plans DESC LIMIT 3)"); got != want {
		t.Errorf("the view over the refreshed materialized view reads %q, want %q", got, want)
	}
	back, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: rep.ID})
	if err != nil || !back.OK {
		t.Fatalf("rollback: %v", err)
	}
	if got := schemaDump(t, e.sbx); got != schema {
		t.Fatalf("the sandbox's schema changed by the rollback:\n%s", diffLines(schema, got))
	}
	sameFingerprint(t, "sandbox after rollback", original, fingerprint(t, e.sbx))
	if got := sequenceValues(t, e.sbx); got != sequences {
		t.Errorf("sequences after the rollback:\n%s\nbefore the clone:\n%s", got, sequences)
	}
}

// Tables split between workers (every table with more than one page, here) load
// whole: each row once, checked against production, the schema as it was.
func TestSplitTablesLoadWhole(t *testing.T) {
	t.Parallel()
	e := attachedEnv(t, "")
	execSQL(t, e.prod, "INSERT INTO app.plans (region_id, name, price, attributes) SELECT 1 + g % 12, 'bulk ' || g, g % 900, jsonb_build_object('pad', repeat('x', 300)) FROM generate_series(1, 3000) g")
	ctx := context.Background()
	schema := schemaDump(t, e.sbx)
	var parts int
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{Jobs: 3, splitMin: 1, Progress: func(p Progress) {
		if p.Phase == "copy" && p.TableDone && p.Table == "app.plans" {
			parts++
		}
	}})
	if err != nil || rep.Method != MethodSwap || !rep.Verification.OK {
		t.Fatalf("clone: %v %+v", err, rep)
	}
	if parts < 2 {
		t.Errorf("app.plans loaded in %d part, want several", parts)
	}
	if got := schemaDump(t, e.sbx); got != schema {
		t.Fatalf("the sandbox's schema changed:\n%s", diffLines(schema, got))
	}
	for _, table := range []string{"app.regions", "app.plans", "app.events"} {
		if rowsOf(t, e.sbx, table) != rowsOf(t, e.prod, table) {
			t.Errorf("%s differs from production", table)
		}
	}
}

// Values TOASTed by the load are compressed with lz4 where the server has it: the
// same values, written faster.
func TestSwapCompressesWideValuesWithLZ4(t *testing.T) {
	t.Parallel()
	e := attachedEnv(t, "")
	execSQL(t, e.prod, "UPDATE app.plans SET attributes = jsonb_build_object('notes', (SELECT string_agg(md5(g::text || id), ' ') FROM generate_series(1, 300) g)) WHERE id % 2 = 0")
	rep, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	if err != nil || rep.Method != MethodSwap {
		t.Fatalf("clone: %v", err)
	}
	sbx := connectT(t, e.sbx)
	want := "pglz"
	if queryInt(t, sbx, "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)") == 1 {
		want = "lz4"
	}
	var methods []string
	rows, err := sbx.Query(context.Background(), "SELECT DISTINCT pg_column_compression(attributes) FROM app.plans WHERE pg_column_compression(attributes) IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	if methods, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(methods) != 1 || methods[0] != want {
		t.Errorf("compressed with %q, want %s", methods, want)
	}
	if rowsOf(t, e.sbx, "app.plans") != rowsOf(t, e.prod, "app.plans") {
		t.Error("plans differ from production")
	}
}

// A foreign key that production never validated is not carried: the staged table's
// rows are checked against it, and a dangling row stops the clone, leaving the
// sandbox as it was. The export is held until the load's failure stops it: the
// error reported is the load's, not the export's cancellation.
func TestSwapChecksKeysProductionDidNotValidate(t *testing.T) {
	t.Parallel()
	e := attachedEnv(t, "")
	ctx := context.Background()
	execSQL(t, e.prod, `ALTER TABLE app.plans DROP CONSTRAINT plans_region_id_fkey;
		INSERT INTO app.plans (region_id, name) VALUES (-7, 'dangling in production');
		ALTER TABLE app.plans ADD CONSTRAINT plans_region_id_fkey FOREIGN KEY (region_id) REFERENCES app.regions (id) NOT VALID`)
	before := fingerprint(t, e.sbx)
	slowExport := func(ctx context.Context) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
		}
	}
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{Jobs: 2, duringExport: slowExport})
	if err == nil || !strings.Contains(err.Error(), "plans_region_id_fkey") {
		t.Fatalf("clone: %v, want the foreign key's violation", err)
	}
	if rep.Method != MethodSwap {
		t.Errorf("method %q, want a swap", rep.Method)
	}
	sameFingerprint(t, "sandbox after the failed clone", before, fingerprint(t, e.sbx))
}
