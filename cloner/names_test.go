package cloner

import (
	"context"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
)

func TestParseTableNames(t *testing.T) {
	tests := []struct {
		in   string
		want tableName
		show string
	}{
		{"plans", tableName{"public", "plans"}, "public.plans"},
		{"shop.items", tableName{"shop", "items"}, "shop.items"},
		{`public."cust.data"`, tableName{"public", "cust.data"}, `public."cust.data"`},
		{`"public.cust".data`, tableName{"public.cust", "data"}, `"public.cust".data`},
		{`"odd ""q"" s"."a b"`, tableName{`odd "q" s`, "a b"}, `"odd ""q"" s"."a b"`},
		{`Plans`, tableName{"public", "Plans"}, "public.Plans"},
	}
	for _, tc := range tests {
		got, err := parseTable(tc.in)
		if err != nil || got != tc.want || got.String() != tc.show {
			t.Errorf("parseTable(%q) = %#v %q, %v; want %#v %q", tc.in, got, got.String(), err, tc.want, tc.show)
		}
		if back, err := parseTable(got.String()); err != nil || back != got {
			t.Errorf("%q does not read back: %#v %v", got.String(), back, err)
		}
	}
	for _, bad := range []string{"", "a.b.c", `"unclosed`, `a"b`, `"x"y`, "a..b", `""`} {
		if got, err := parseTable(bad); err == nil {
			t.Errorf("parseTable(%q) = %#v, want an error", bad, got)
		}
	}
	ref, err := parseColumn(`"a.b"."c d"."e""f"`)
	if err != nil || ref != (columnRef{tableName{"a.b", "c d"}, `e"f`}) || ref.String() != `"a.b"."c d"."e""f"` {
		t.Errorf("parseColumn: %#v %q %v", ref, ref.String(), err)
	}
}

func TestManifestRejectsClonebotSchema(t *testing.T) {
	_, err := ParseManifest([]byte("cloned:\n  catalog: [plans, clonebot.enrollment]\n"))
	if err == nil || !strings.Contains(err.Error(), "schema clonebot is clonebot's own") {
		t.Errorf("clonebot schema: %v", err)
	}
	_, err = ParseManifest([]byte("cloned:\n  catalog: [plans]\nexcluded:\n  people: [users]\ncustomer_categories: [customers]\n"))
	if err == nil || !strings.Contains(err.Error(), `"customers" is not an excluded category`) {
		t.Errorf("customer_categories: %v", err)
	}
}

// Identifiers with dots, quotes and spaces: schema "public.cust" with table data is
// not table "cust.data" of schema public, and both classify and clone as what
// they are.
const oddSchema = `CREATE SCHEMA "public.cust";
CREATE TABLE "public.cust".data (id serial PRIMARY KEY, v text NOT NULL);
CREATE TABLE public."cust.data" (id serial PRIMARY KEY, card text NOT NULL);
CREATE SCHEMA "odd ""sch"" ema";
CREATE TABLE "odd ""sch"" ema"."ta.ble ""x"" y" (
  "i.d" serial PRIMARY KEY, "na me" text NOT NULL UNIQUE, "se""cret" text DEFAULT 'hidden',
  "cust id" int REFERENCES public."cust.data" (id), "data id" int REFERENCES "public.cust".data (id));
CREATE INDEX "in.dex ""q""" ON "odd ""sch"" ema"."ta.ble ""x"" y" (lower("na me"));`

func TestDottedNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, oddSchema)
	execSQL(t, sbx, oddSchema)
	execSQL(t, prod, `INSERT INTO "public.cust".data (v) SELECT 'v' || i FROM generate_series(1, 30) i;
INSERT INTO public."cust.data" (card) SELECT '4242-' || i FROM generate_series(1, 20) i;
INSERT INTO "odd ""sch"" ema"."ta.ble ""x"" y" ("na me", "se""cret", "cust id", "data id")
  SELECT 'name ' || i, 'sk_' || i, 1 + i % 20, 1 + i % 30 FROM generate_series(1, 40) i;`)
	execSQL(t, sbx, `INSERT INTO public."cust.data" (card) VALUES ('dummy')`)

	// Classifying one of the two look-alikes leaves the other unclassified.
	half, err := ParseManifest([]byte(`cloned:
  config: ['"public.cust".data', '"odd ""sch"" ema"."ta.ble ""x"" y"']
`))
	if err != nil {
		t.Fatal(err)
	}
	c := newCloner(t, half, prod, sbx, pgtest.NewDatabase(t))
	enroll(t, c, "acme-prod", "acme-sandbox")
	plan, err := c.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || plan.OK() || !strings.Contains(strings.Join(plan.Problems, "\n"), `tables the manifest does not classify: public."cust.data"`) {
		t.Fatalf("plan: %v %q", err, plan.Problems)
	}

	full, err := ParseManifest([]byte(`cloned:
  config: ['"public.cust".data', '"odd ""sch"" ema"."ta.ble ""x"" y"']
excluded:
  customers: ['public."cust.data"']
scrub: ['"odd ""sch"" ema"."ta.ble ""x"" y"."se""cret"']
`))
	if err != nil {
		t.Fatal(err)
	}
	c = newCloner(t, full, prod, sbx, pgtest.NewDatabase(t))
	rep, err := c.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := connectT(t, sbx)
	for q, want := range map[string]int64{
		`SELECT count(*) FROM "public.cust".data`:                                                                                         30,
		`SELECT count(*) FROM public."cust.data"`:                                                                                         0,
		`SELECT count(*) FROM "odd ""sch"" ema"."ta.ble ""x"" y" WHERE "se""cret" = 'hidden'`:                                             40,
		`SELECT count(*) FROM "odd ""sch"" ema"."ta.ble ""x"" y" WHERE "cust id" IS NULL`:                                                 40,
		`SELECT count(*) FROM "odd ""sch"" ema"."ta.ble ""x"" y" WHERE "data id" IS NOT NULL`:                                             40,
		`SELECT count(*) FROM pg_indexes WHERE indexname IN ('in.dex "q"', 'ta.ble "x" y_na me_key') AND schemaname NOT LIKE 'clonebot%'`: 2,
	} {
		if got := queryInt(t, conn, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	execSQL(t, sbx, `INSERT INTO "odd ""sch"" ema"."ta.ble ""x"" y" ("na me") VALUES ('after the clone')`)
	want := `"odd ""sch"" ema"."ta.ble ""x"" y"."cust id" -> public."cust.data"`
	if !strings.Contains(strings.Join(rep.NulledReferences, "\n"), want) || rep.Verification.TablesChecked != 2 {
		t.Errorf("report: nulled %q, verification %+v", rep.NulledReferences, rep.Verification)
	}
}
