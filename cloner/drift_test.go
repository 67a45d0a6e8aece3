package cloner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
)

// driftSchema has every shape the drift must handle: integer keys of each size
// (negative ones too), a composite key led by text, uuid and timestamp keys, a
// table without a primary key holding duplicate rows, a partitioned table, a json
// column (no hash operator class), a NULLed reference, a scrubbed and a generated
// column, and identifiers that need quoting.
const driftSchema = `CREATE TABLE people (id bigint PRIMARY KEY, name text);
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE plain (id bigint PRIMARY KEY, name text NOT NULL, body jsonb, tags text[], owner_id bigint REFERENCES people (id),
  secret text DEFAULT 'unset', at timestamptz, raw bytea, mood mood, name_len int GENERATED ALWAYS AS (length(name)) STORED);
CREATE TABLE pairs (region text, code int, label text, PRIMARY KEY (region, code));
CREATE TABLE uuids (id uuid PRIMARY KEY, note text, meta json);
CREATE TABLE stamps (at timestamptz PRIMARY KEY, amount numeric(12,2));
CREATE TABLE loose (a int, b text, c int[]);
CREATE TABLE smalls (id smallint PRIMARY KEY, v text);
CREATE TABLE kinds (id int PRIMARY KEY, f float8, n numeric, d date, iv interval, ts timestamp, ok bool, pt point, rg int4range,
  ip inet, doc xml, j jsonb, grid int[][]);
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."select/ä""q" ("Key Col" text PRIMARY KEY, "values" int[], "Mixed Case" text);
CREATE TABLE parted (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_a PARTITION OF parted FOR VALUES IN ('a');
CREATE TABLE parted_b PARTITION OF parted FOR VALUES IN ('b');`

const driftManifest = `cloned:
  catalog: [plain, pairs, uuids, stamps, smalls]
  loose_things: [loose, parted]
  odd: ['"Odd Schema"."select/ä""q"']
  kinds: [kinds]
excluded:
  people: [people]
scrub: [plain.secret]
`

// driftSeed fills both sides alike, as a clone would have left the sandbox.
const driftSeed = `INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 20) g;
INSERT INTO plain (id, name, body, tags, secret, at, raw, mood)
  SELECT g, 'Flow ' || g, jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')), ARRAY['a', NULL, 'q"uote'], 'secret-' || g,
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour', decode(md5(g::text), 'hex'), 'calm'
  FROM generate_series(1, 2000) g;
INSERT INTO plain (id, name) VALUES (-9223372036854775808, 'min'), (-1, 'minus one'), (0, 'zero'), (4398046511104, '2^42'), (9223372036854775807, 'max');
INSERT INTO pairs SELECT r, c, r || '-' || c FROM unnest(ARRAY['east', 'West', 'nörth', 'a b', 'Ähre']) r, generate_series(1, 50) c;
INSERT INTO uuids SELECT md5('u' || g)::uuid, 'note ' || g, json_build_object('g', g) FROM generate_series(1, 300) g;
INSERT INTO stamps SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day', g * 1.25 FROM generate_series(1, 200) g;
INSERT INTO loose SELECT g % 50, 'b' || (g % 7), ARRAY[g % 3] FROM generate_series(1, 400) g;
INSERT INTO smalls SELECT g, 'v' || g FROM generate_series(-100, 100) g;
INSERT INTO "Odd Schema"."select/ä""q" SELECT 'k ' || g || CASE WHEN g % 3 = 0 THEN 'é' ELSE 'E' END, ARRAY[g, g], 'M' FROM generate_series(1, 100) g;
INSERT INTO parted SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, 'v' || g FROM generate_series(1, 300) g;
INSERT INTO kinds VALUES
  (1, 'NaN', 'NaN', 'infinity', '1 year 2 mons 3 days 04:05:06.789', '2024-02-29 23:59:59.999999', true, '(1.5,-2)', '[1,10)',
   '10.0.0.1/8', '<a>x &amp; y</a>', '{"k": [1, "two", null, {"deep": true}]}', '{{1,2},{3,4}}'),
  (2, 'Infinity', 1e-30, '-infinity', '-1 day', 'infinity', false, NULL, 'empty', '::1', NULL, '"just a string"', NULL),
  (3, '-Infinity', 123456789012345678901234567890.123456789, '2000-01-01', '0', '1970-01-01', NULL, '(0,0)', '(,5]', '192.168.0.0/16', '', '[]', '{}'),
  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`

// driftMutations changes every table of one side: deletes, updates and inserts,
// random but repeatable (setseed), different per side.
func driftMutations(seed float64, tag string) string {
	return fmt.Sprintf(`SELECT setseed(%v);
DELETE FROM pairs WHERE random() < 0.05;
UPDATE pairs SET label = label || '%[2]s' WHERE random() < 0.05;
INSERT INTO pairs SELECT 'east', c, '%[2]s' FROM generate_series(51, 60) c WHERE random() < 0.5;
DELETE FROM uuids WHERE random() < 0.05;
UPDATE uuids SET meta = json_build_object('by', '%[2]s') WHERE random() < 0.05;
INSERT INTO uuids SELECT md5('%[2]s' || g)::uuid, 'new', NULL FROM generate_series(1, 7) g;
DELETE FROM stamps WHERE random() < 0.05;
UPDATE stamps SET amount = amount + 1 WHERE random() < 0.05;
INSERT INTO stamps SELECT timestamptz '2030-01-01 00:00:00+00' + g * interval '1 second', 1 FROM generate_series(1, 5) g WHERE random() < 0.7;
DELETE FROM loose WHERE ctid IN (SELECT ctid FROM loose WHERE random() < 0.05);
UPDATE loose SET b = b || '%[2]s' WHERE random() < 0.03;
INSERT INTO loose SELECT a, b, c FROM loose WHERE random() < 0.02;
DELETE FROM smalls WHERE random() < 0.1;
UPDATE smalls SET v = v || '%[2]s' WHERE random() < 0.1;
INSERT INTO smalls SELECT g, '%[2]s' FROM generate_series(-32768, -32760) g WHERE random() < 0.5;
DELETE FROM "Odd Schema"."select/ä""q" WHERE random() < 0.1;
UPDATE "Odd Schema"."select/ä""q" SET "values" = ARRAY[-1] WHERE random() < 0.1;
INSERT INTO "Odd Schema"."select/ä""q" VALUES ('%[2]s ü', NULL, NULL), ('%[2]s U', '{}', '');
DELETE FROM parted WHERE random() < 0.05;
UPDATE parted SET v = v || '%[2]s' WHERE random() < 0.05;
INSERT INTO parted SELECT g, 'b', '%[2]s' FROM generate_series(1000, 1010) g WHERE random() < 0.5;
UPDATE kinds SET iv = iv + interval '1 second', pt = point(7, 7) WHERE id = CASE '%[2]s' WHEN 'prod' THEN 1 ELSE 2 END;
INSERT INTO kinds (id, n, doc) VALUES (CASE '%[2]s' WHEN 'prod' THEN 10 ELSE 11 END, -0.5, '<%[2]s/>');`, seed, tag)
}

type driftEnv struct {
	prod, sbx string
	cloner    *Cloner
}

func newDriftEnv(t testing.TB) *driftEnv {
	t.Helper()
	m, err := ParseManifest([]byte(driftManifest))
	if err != nil {
		t.Fatal(err)
	}
	e := &driftEnv{prod: pgtest.NewDatabase(t), sbx: pgtest.NewDatabase(t)}
	for _, db := range []string{e.prod, e.sbx} {
		execSQL(t, db, driftSchema)
		execSQL(t, db, driftSeed)
	}
	e.cloner = newClonerOf(t, m, []Instance{
		{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: e.prod},
		{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, DatabaseURL: e.sbx},
	})
	enroll(t, e.cloner, "acme-prod", "acme-sandbox")
	return e
}

// planDrift plans a clone, which compares the sides in one snapshot each.
func planDrift(t testing.TB, c *Cloner, from, to string) (*Plan, []Drift) {
	t.Helper()
	p, err := c.Plan(context.Background(), from, to)
	if err != nil || !p.OK() {
		t.Fatalf("plan: %v %v", err, p.Problems)
	}
	if len(p.Drift) != len(p.driftTables()) || len(p.DriftByCategory) == 0 {
		t.Fatalf("the plan compared %d tables (%d categories), it clones %d", len(p.Drift), len(p.DriftByCategory), len(p.driftTables()))
	}
	return p, p.Drift
}

// rowsByKey reads every row of dt from the database at url as text, grouped by
// its key (the primary key when keyed, else the whole row); production's NULLed
// columns are read as NULL.
func rowsByKey(t testing.TB, url string, dt DriftTable, production, keyed bool) map[string][]string {
	t.Helper()
	cols := make([]string, len(dt.Columns))
	for i, c := range dt.Columns {
		cols[i] = col(c.Name)
		if production && c.Nulled {
			cols[i] = "NULL"
		}
	}
	key := "ROW(" + strings.Join(cols, ", ") + ")::text"
	if keyed {
		keys := make([]string, len(dt.Key))
		for i, k := range dt.Key {
			keys[i] = col(k)
		}
		key = "ROW(" + strings.Join(keys, ", ") + ")::text"
	}
	rows, err := connectT(t, url).Query(context.Background(),
		"SELECT "+key+", ROW("+strings.Join(cols, ", ")+")::text FROM "+dt.ident())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = append(out[k], v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// independentDrift counts the drift of t another way: every row of both sides
// read into maps as text (production's NULLed columns as NULL), compared in Go.
func independentDrift(t testing.TB, prodURL, sbxURL string, dt DriftTable) Drift {
	t.Helper()
	keyed := len(dt.Key) > 0
	prod, sbx := rowsByKey(t, prodURL, dt, true, keyed), rowsByKey(t, sbxURL, dt, false, keyed)
	d := Drift{Table: dt.qualified(), Category: dt.Category, ComparedBy: dt.comparedBy()}
	for k, pv := range prod {
		sv := sbx[k]
		switch {
		case !keyed && len(pv) > len(sv):
			d.OnlyInProduction += int64(len(pv) - len(sv))
		case !keyed:
		case sv == nil:
			d.OnlyInProduction++
		case pv[0] != sv[0]:
			d.Changed++
		}
	}
	for k, sv := range sbx {
		pv := prod[k]
		if len(sv) > len(pv) {
			d.OnlyInSandbox += int64(len(sv) - len(pv))
		}
	}
	return d
}

func TestDriftCounts(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	// A scenario counted by hand on one table...
	execSQL(t, e.prod, `DELETE FROM plain WHERE id IN (1, 2); UPDATE plain SET name = 'renamed' WHERE id = 10;
INSERT INTO plain (id, name) VALUES (5001, 'new in production');`)
	execSQL(t, e.sbx, `DELETE FROM plain WHERE id = 3;
UPDATE plain SET name = 'renamed' WHERE id = 10;                 -- the same edit on both sides: no drift
UPDATE plain SET body = body || '{"draft": true}' WHERE id IN (20, 21);
UPDATE plain SET owner_id = 1 WHERE id = 30;                      -- a sandbox reference the clone would NULL
UPDATE plain SET tags = ARRAY['a', NULL, NULL] WHERE id = 40;
UPDATE plain SET secret = 'the sandbox''s own ' || id;           -- scrubbed: never compared
INSERT INTO plain (id, name) VALUES (6001, 'draft one'), (6002, 'draft two');`)
	// ... and random edits on both sides of every other table.
	execSQL(t, e.prod, driftMutations(0.25, "prod"))
	execSQL(t, e.sbx, driftMutations(-0.5, "sbx"))

	p, drift := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	tables := p.driftTables()
	if len(drift) != len(tables) || len(drift) != 9 {
		t.Fatalf("drift of %d tables, want 9: %+v", len(drift), drift)
	}
	want := Drift{Table: "public.plain", Category: "catalog", ComparedBy: ByPrimaryKey, OnlyInProduction: 2, OnlyInSandbox: 4, Changed: 4}
	if drift[0] != want {
		t.Errorf("plain: %+v, want %+v", drift[0], want)
	}
	var total int64
	for i, d := range drift {
		if ind := independentDrift(t, e.prod, e.sbx, tables[i]); d != ind {
			t.Errorf("%s: drift %+v, counted independently %+v", d.Table, d, ind)
		}
		wantBy := ByPrimaryKey
		if d.Table == "public.loose" {
			wantBy = ByWholeRow
		}
		if d.ComparedBy != wantBy {
			t.Errorf("%s compared by %s, want %s", d.Table, d.ComparedBy, wantBy)
		}
		if d.Rows() == 0 {
			t.Errorf("%s: no drift counted; the mutations change every table", d.Table)
		}
		total += d.Rows()
	}
	cats := DriftByCategory(drift)
	if len(cats) != 4 || cats[0].Category != "catalog" || cats[0].Tables != 5 || cats[2].Category != "odd" {
		t.Fatalf("categories: %+v", cats)
	}
	var catTotal int64
	for _, c := range cats {
		catTotal += c.Rows()
	}
	if catTotal != total {
		t.Errorf("categories add up to %d rows, tables to %d", catTotal, total)
	}
}

// TestDriftLookup: with a sandbox far smaller than production, production is read
// at the sandbox's keys only, and the drift is the same as when it is streamed
// whole, and as counted independently.
func TestDriftLookup(t *testing.T) {
	t.Parallel()
	e := mutatedDriftEnv(t)
	shrinkSandbox(t, e)
	ctx := context.Background()

	p, lookedUp := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	e.cloner.lookupKeys = 0
	_, streamed := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	tables := p.driftTables()
	for i, d := range lookedUp {
		if d != streamed[i] {
			t.Errorf("%s: drift %+v read at the sandbox's keys, %+v streamed", d.Table, d, streamed[i])
		}
		if ind := independentDrift(t, e.prod, e.sbx, tables[i]); d != ind {
			t.Errorf("%s: drift %+v, counted independently %+v", d.Table, d, ind)
		}
	}

	// The keyed tables with a sandbox under an eighth of production were looked up;
	// the table without a key, and kinds (too few rows to bother), streamed.
	prod, sbx := connectT(t, e.prod), connectT(t, e.sbx)
	var used []string
	for i := range tables {
		l, err := planLookup(ctx, prod.PgConn(), sbx.PgConn(), &tables[i], lookupMaxKeys)
		if err != nil {
			t.Fatal(err)
		}
		if l != nil {
			used = append(used, tables[i].qualified())
		}
	}
	for _, name := range []string{"public.plain", "public.pairs", "public.parted", "public.stamps"} {
		if !slices.Contains(used, name) {
			t.Errorf("%s was not read at the sandbox's keys; looked up: %v", name, used)
		}
	}
	for _, name := range []string{"public.loose", "public.kinds"} {
		if slices.Contains(used, name) {
			t.Errorf("%s was read at the sandbox's keys", name)
		}
	}
	// A cap below the sandbox's rows streams.
	for i := range tables {
		if tables[i].qualified() == "public.plain" {
			if l, err := planLookup(ctx, prod.PgConn(), sbx.PgConn(), &tables[i], 10); err != nil || l != nil {
				t.Errorf("plain with at most 10 keys: lookup %v, %v", l, err)
			}
		}
	}
}

// TestDriftAfterClone: a sandbox the clone just wrote has no drift at all, so the
// drift compares rows exactly as the clone writes them; edits after it count.
func TestDriftAfterClone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	p, before := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	tables := p.driftTables()
	for i, d := range before {
		if ind := independentDrift(t, e.prod, e.sbx, tables[i]); d != ind {
			t.Errorf("before the clone, %s: drift %+v, counted independently %+v", d.Table, d, ind)
		}
	}
	if _, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{}); err != nil {
		t.Fatalf("clone: %v", err)
	}
	_, after := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	for _, d := range after {
		if d.Rows() != 0 {
			t.Errorf("right after the clone, %s drifted: %+v", d.Table, d)
		}
	}
	execSQL(t, e.sbx, `INSERT INTO workflows (key, name, status, trigger_event) VALUES ('sbx-1', 'Sandbox draft', 'draft', 'manual');
UPDATE communication_templates SET body = body || ' (edited in the sandbox)' WHERE id IN (SELECT id FROM communication_templates ORDER BY id LIMIT 3);
SET session_replication_role = replica; -- updated_at stays: only the scrubbed column changes
UPDATE tenant_settings SET smtp_password = 'sandbox-only';`)
	_, edited := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	got := map[string]Drift{}
	for _, d := range edited {
		if d.Rows() != 0 {
			got[d.Table] = d
		}
	}
	want := map[string]Drift{
		"public.workflows":               {Table: "public.workflows", Category: "workflows", ComparedBy: ByPrimaryKey, OnlyInSandbox: 1},
		"public.communication_templates": {Table: "public.communication_templates", Category: "communication_templates", ComparedBy: ByPrimaryKey, Changed: 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("drift after sandbox edits:\n got %+v\nwant %+v", got, want)
	}
}

// TestDriftRefusesUnsortedKeys: a key that is not unique on one side (the sides
// disagree on the primary key) stops the drift instead of miscounting, whether
// the key is read in index order (integers) or in the order of its hash.
func TestDriftRefusesUnsortedKeys(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"integer", "text"} {
		prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
		execSQL(t, prod, "CREATE TABLE t (id "+typ+" PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 10) g")
		execSQL(t, sbx, "CREATE TABLE t (id "+typ+", v text); INSERT INTO t SELECT g % 5, 'v' FROM generate_series(1, 10) g")
		ctx := context.Background()
		pc, sc := connectT(t, prod), connectT(t, sbx)
		pt, err := pc.BeginTx(ctx, snapshotTx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := sc.BeginTx(ctx, snapshotTx)
		if err != nil {
			t.Fatal(err)
		}
		table := DriftTable{Schema: "public", Name: "t", Category: "c", Key: []string{"id"},
			Columns: []DriftColumn{{Name: "id", Type: typ, Hash: "hashtextextended"}, {Name: "v", Type: "text", Hash: "hashtextextended"}}}
		_, err = driftTables(ctx, pt, st, []DriftTable{table}, lookupMaxKeys)
		if err == nil || !strings.Contains(err.Error(), "sandbox rows are not in strictly ascending key order") {
			t.Errorf("drift over a non-unique %s sandbox key: %v", typ, err)
		}
	}
}

func TestDriftTableValidation(t *testing.T) {
	t.Parallel()
	ok := DriftTable{Schema: "s", Name: "t", Columns: []DriftColumn{{Name: "a", Type: "int"}}}
	tests := []struct {
		name string
		edit func(*DriftTable)
		want string
	}{
		{"no name", func(d *DriftTable) { d.Name = "" }, "without a schema or a name"},
		{"no columns", func(d *DriftTable) { d.Columns = nil }, "no column to compare"},
		{"twice", func(d *DriftTable) { d.Columns = append(d.Columns, d.Columns[0]) }, "listed twice"},
		{"no type", func(d *DriftTable) { d.Columns[0].Type = "" }, "without a name or a type"},
	}
	for _, tt := range tests {
		d := ok
		d.Columns = slices.Clone(ok.Columns)
		tt.edit(&d)
		if err := d.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := ok.validate(); err != nil {
		t.Errorf("valid table: %v", err)
	}
	// A key the copy does not write unchanged cannot match rows.
	nulled := DriftTable{Schema: "s", Name: "t", Key: []string{"a"}, Columns: []DriftColumn{{Name: "a", Type: "int", Nulled: true}}}
	scrubbed := DriftTable{Schema: "s", Name: "t", Key: []string{"b"}, Columns: []DriftColumn{{Name: "a", Type: "int"}}}
	if nulled.comparedBy() != ByWholeRow || scrubbed.comparedBy() != ByWholeRow {
		t.Errorf("tables whose key is NULLed or not copied must be compared by whole rows")
	}
}

// TestCopyParserChunks feeds a real binary COPY stream to the parser in pieces of
// every small size: rows split anywhere decode the same.
func TestCopyParserChunks(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	p, _ := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	ctx := context.Background()
	conn := connectT(t, e.sbx)
	for _, dt := range p.driftTables() {
		var buf bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &buf, driftSQL(&dt, false, true, "")); err != nil {
			t.Fatalf("%s: %v", dt.qualified(), err)
		}
		f := newRowFormat(&dt, true)
		whole, err := parseAll(buf.Bytes(), f, buf.Len())
		if err != nil || len(whole) == 0 {
			t.Fatalf("%s: %d rows, %v", dt.qualified(), len(whole), err)
		}
		for _, chunk := range []int{1, 2, 3, 5, 19, 20, 64} {
			got, err := parseAll(buf.Bytes(), f, chunk)
			if err != nil || !slices.Equal(got, whole) {
				t.Errorf("%s in chunks of %d: %d rows (want %d), %v", dt.qualified(), chunk, len(got), len(whole), err)
			}
		}
		if _, err := parseAll(buf.Bytes()[:buf.Len()-3], f, 7); err == nil || !strings.Contains(err.Error(), "ended in the middle") {
			t.Errorf("%s: a truncated stream: %v", dt.qualified(), err)
		}
	}
	if _, err := parseAll([]byte("PGCOPY\nnot really a copy stream"), rowFormat{}, 4); err == nil {
		t.Error("a stream without the signature was accepted")
	}
	if _, err := parseAll(append(append(slices.Clone(copySignature), make([]byte, 8)...), 0, 3), rowFormat{keys: []keyKind{keyInt}}, 4); err == nil {
		t.Error("a row with the wrong number of fields was accepted")
	}
}

type parsedRow struct {
	key  string
	hash int64
	loc  rowLoc
}

func parseAll(data []byte, f rowFormat, chunk int) ([]parsedRow, error) {
	s := &stream{batches: make(chan *rowBatch, streamDepth), free: make(chan *rowBatch, streamDepth+2)}
	for range streamDepth + 2 {
		s.free <- &rowBatch{}
	}
	var rows []parsedRow
	collected := make(chan struct{})
	go func() {
		for b := range s.batches {
			for _, r := range b.rows {
				rows = append(rows, parsedRow{string(b.keys[r.start:r.end]), r.hash, r.loc})
			}
			s.free <- b
		}
		close(collected)
	}()
	p := &copyParser{f: f, s: s, ctx: context.Background()}
	var err error
	for len(data) > 0 && err == nil {
		n := min(chunk, len(data))
		_, err = p.Write(data[:n])
		data = data[n:]
	}
	if err == nil {
		err = p.finish()
	}
	close(s.batches)
	<-collected
	return rows, err
}
