package cloner

import (
	"slices"
	"testing"
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
