package cloner

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5/pgconn"
)

// A foreign key is carried only when production's copy of it was validated and
// the clone copies both its tables whole, the key's columns as they are.
func TestCarryForeignKeys(t *testing.T) {
	t.Parallel()
	type setup struct {
		prodValidated bool
		prodColumns   []string
		prodMatch     string
		prodCollation string
		partitioned   bool     // the referencing table
		nulled        []string // columns of the referencing table the copy NULLs
		targetScrub   bool     // the referenced column is scrubbed
		notValid      bool     // the sandbox's key is NOT VALID
		keyIndex      string
		excluded      bool // the referencing table is not copied
		plansBytes    int64
		self          bool // the key references its own table
	}
	ok := setup{prodValidated: true, prodColumns: []string{"region_id"}, prodMatch: "s", keyIndex: "regions_pkey", plansBytes: 2 << 20}
	cases := []struct {
		name  string
		edit  func(*setup)
		carry bool
	}{
		{"valid in production, copied whole", func(*setup) {}, true},
		{"not valid in production", func(s *setup) { s.prodValidated = false }, false},
		{"other columns in production", func(s *setup) { s.prodColumns = []string{"other_id"} }, false},
		{"MATCH FULL in production", func(s *setup) { s.prodMatch = "f" }, false},
		{"another collation in production", func(s *setup) { s.prodCollation = "pg_catalog.C" }, false},
		{"partitioned referencing table", func(s *setup) { s.partitioned = true }, false},
		{"referencing column NULLed", func(s *setup) { s.nulled = []string{"region_id"} }, false},
		{"another column NULLed", func(s *setup) { s.nulled = []string{"note"} }, true},
		{"referenced column scrubbed", func(s *setup) { s.targetScrub = true }, false},
		{"NOT VALID in the sandbox", func(s *setup) { s.notValid = true }, false},
		{"referenced index unknown", func(s *setup) { s.keyIndex = "regions_code_key" }, false},
		{"referencing table excluded", func(s *setup) { s.excluded = true }, false},
		{"referencing table twice the referenced", func(s *setup) { s.plansBytes = 2 << 20 }, true},
		{"referencing table smaller than twice", func(s *setup) { s.plansBytes = 2<<20 - 1 }, false},
		{"a reference to its own table", func(s *setup) { s.self = true }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			regions := &relation{oid: 1, schema: "app", name: "regions", quoted: "app.regions", kind: "r",
				keys: []constraintDef{{name: "regions_pkey", def: "PRIMARY KEY (id)"}}}
			plans := &relation{oid: 2, schema: "app", name: "plans", quoted: "app.plans", kind: "r"}
			if s.partitioned {
				plans.kind = "p"
			}
			def := "FOREIGN KEY (region_id) REFERENCES app.regions(id)"
			if s.notValid {
				def += " NOT VALID"
			}
			plans.foreignKeys = []foreignKeyDef{{constraintDef: constraintDef{name: "plans_region_id_fkey", def: def}, target: 1,
				keyColumns: keyColumns{columns: []string{"region_id"}, refColumns: []string{"id"}, collations: []string{"", ""}, match: "s"}, keyIndex: s.keyIndex}}
			if s.self {
				plans.keys, s.keyIndex = []constraintDef{{name: "plans_pkey", def: "PRIMARY KEY (id)"}}, "plans_pkey"
				fk := &plans.foreignKeys[0]
				fk.target, fk.keyIndex, fk.def = 2, "plans_pkey", "FOREIGN KEY (region_id) REFERENCES app.plans(id)"
			}
			set := newStagedSet([]*relation{regions, plans}, &dependents{})
			spec := func(oid uint32, cols ...string) copySpec {
				c := copySpec{table: &table{oid: oid}}
				for _, name := range cols {
					c.add(column{name: name, typ: "integer", builtin: true}, false)
				}
				return c
			}
			regionsSpec, plansSpec := spec(1, "id", "name"), spec(2, "id", "name")
			if s.targetScrub {
				regionsSpec = spec(1, "name")
			}
			for _, name := range []string{"region_id", "note"} {
				plansSpec.add(column{name: name, typ: "integer", builtin: true}, slices.Contains(s.nulled, name))
			}
			copies := []copySpec{regionsSpec}
			if !s.excluded {
				copies = append(copies, plansSpec)
			}
			prod := &catalog{fks: []foreignKey{{name: "any_name", table: tableName{"app", "plans"}, refTable: tableName{"app", "regions"},
				keyColumns: keyColumns{columns: s.prodColumns, refColumns: []string{"id"}, collations: []string{s.prodCollation, ""}, match: s.prodMatch}, validated: s.prodValidated}}}
			set.carryForeignKeys(copies, prod, map[string]int64{"app.regions": 1 << 20, "app.plans": s.plansBytes})
			fk := plans.foreignKeys[0]
			if fk.carried != tc.carry || set.carried() != map[bool]int{true: 1}[tc.carry] {
				t.Fatalf("carried %v (%d), want %v", fk.carried, set.carried(), tc.carry)
			}
			if regions.keys[0].early != tc.carry || regions.carriedIn != tc.carry {
				t.Errorf("referenced key early %v, referenced %v; want %v", regions.keys[0].early, regions.carriedIn, tc.carry)
			}
			stmt, validate, err := set.foreignKeyStatement(plans, fk)
			if err != nil {
				t.Fatal(err)
			}
			if tc.carry && (validate || stmt != `ALTER TABLE "clonebot_stage_app"."plans" ADD CONSTRAINT "plans_region_id_fkey" `+
				`FOREIGN KEY (region_id) REFERENCES "clonebot_stage_app"."regions"(id)`) {
				t.Errorf("carried key added as %q, validate %v", stmt, validate)
			}
			keys, err := regions.keyStatements()
			if err != nil {
				t.Fatal(err)
			}
			early, err := regions.earlyKeyStatements()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys)+len(early) != 1 || len(early) == 1 != tc.carry {
				t.Errorf("keys after the load %q, before %q", keys, early)
			}
		})
	}
}

// carriedSchema has keys unlike the attached schema's: a two-column text key
// referencing a unique index that is no constraint, in a quoted schema, and a key
// that production holds NOT VALID (the test makes it so).
const carriedSchema = `
CREATE SCHEMA "Net Ops";
CREATE TABLE "Net Ops".sites (region text NOT NULL, code text NOT NULL, name text);
CREATE UNIQUE INDEX sites_region_code ON "Net Ops".sites (region, code);
CREATE TABLE "Net Ops".ports (id bigint PRIMARY KEY, region text NOT NULL, site_code text NOT NULL, label text,
    CONSTRAINT ports_site FOREIGN KEY (region, site_code) REFERENCES "Net Ops".sites (region, code) MATCH FULL);
CREATE TABLE "Net Ops".tags (name text PRIMARY KEY);
CREATE TABLE "Net Ops".tagged (id bigint PRIMARY KEY, tag text NOT NULL REFERENCES "Net Ops".tags (name), note text);
`

const carriedManifest = `
cloned:
  network: ['"Net Ops".sites', '"Net Ops".ports', '"Net Ops".tags', '"Net Ops".tagged']
`

// A composite key onto a unique index is carried; a key production never
// validated is checked, and the sandbox ends equal to production with both keys
// in force. (A key whose columns production compares under another collation is
// never carried either: the plan refuses such a column before that.)
func TestCarriedKeysOnAnotherSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fill := `INSERT INTO "Net Ops".sites SELECT 'r' || g % 7, 'site-' || g, 'Site ' || g FROM generate_series(1, 50) g;
INSERT INTO "Net Ops".ports SELECT 100000000000 + g, 'r' || (g % 50 + 1) % 7, 'site-' || (g % 50 + 1), 'port ' || g FROM generate_series(1, 3000) g;
INSERT INTO "Net Ops".tags SELECT 'tag ' || g FROM generate_series(1, 20) g;
INSERT INTO "Net Ops".tagged SELECT 200000000000 + g, 'tag ' || (g % 20 + 1), repeat('n', g % 50) FROM generate_series(1, 3000) g;`
	prod, sbx, other := pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, carriedSchema+`ALTER TABLE "Net Ops".tagged DROP CONSTRAINT tagged_tag_fkey;
ALTER TABLE "Net Ops".tagged ADD CONSTRAINT tagged_tag_fkey FOREIGN KEY (tag) REFERENCES "Net Ops".tags (name) NOT VALID;`+fill)
	execSQL(t, sbx, carriedSchema+`INSERT INTO "Net Ops".tags VALUES ('old'); INSERT INTO "Net Ops".tagged VALUES (1, 'old', 'sandbox');`)
	m, err := ParseManifest([]byte(carriedManifest))
	if err != nil {
		t.Fatal(err)
	}
	c := newCloner(t, m, prod, sbx, other)
	enroll(t, c, "acme-prod", "acme-sandbox")
	schema := schemaDump(t, sbx)
	rep, err := c.Clone(ctx, "acme-prod", "acme-sandbox", Options{Jobs: 2})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	if rep.Method != MethodSwap || rep.Verification.ForeignKeysCarried != 1 || rep.Verification.ForeignKeysValidated != 1 {
		t.Errorf("method %q, %d keys carried (want ports_site), %d validated (want tagged's, NOT VALID in production)",
			rep.Method, rep.Verification.ForeignKeysCarried, rep.Verification.ForeignKeysValidated)
	}
	if got := schemaDump(t, sbx); got != schema {
		t.Fatalf("the sandbox's schema changed:\n%s", diffLines(schema, got))
	}
	for _, table := range []string{`"Net Ops".sites`, `"Net Ops".ports`, `"Net Ops".tags`, `"Net Ops".tagged`} {
		if rowsOf(t, sbx, table) != rowsOf(t, prod, table) {
			t.Errorf("%s differs from production", table)
		}
	}
	conn := connectT(t, sbx)
	for _, insert := range []string{
		`INSERT INTO "Net Ops".ports VALUES (1, 'r1', 'no such site', NULL)`,
		`INSERT INTO "Net Ops".tagged VALUES (2, 'no such tag', NULL)`,
	} {
		_, err := conn.Exec(ctx, insert)
		if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "23503" {
			t.Errorf("%s: %v, want a foreign key violation", insert, err)
		}
	}
}
