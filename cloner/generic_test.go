package cloner

import (
	"context"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
)

// A schema unrelated to the platform's, with its own manifest: the cloner knows
// nothing but what the manifest says.
const shopSchema = `CREATE SCHEMA shop;
CREATE TYPE shop.colour AS ENUM ('red', 'green', 'blue');
CREATE DOMAIN shop.price AS numeric CHECK (VALUE >= 0);
CREATE TABLE shop.staff (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.products (
  sku text PRIMARY KEY, title text NOT NULL, price shop.price NOT NULL, tags text[], attrs jsonb, colours shop.colour[], meta json,
  supplier_api_key text NOT NULL DEFAULT 'redacted',
  owner_id int REFERENCES shop.staff (id));
CREATE TABLE shop.product_notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text NOT NULL REFERENCES shop.products (sku),
  body text, author_id int REFERENCES shop.staff (id), upper_body text GENERATED ALWAYS AS (upper(body)) STORED);
CREATE INDEX product_notes_sku ON shop.product_notes (sku);
CREATE TABLE shop.orders (id serial PRIMARY KEY, sku text NOT NULL REFERENCES shop.products (sku), customer text NOT NULL);
CREATE SEQUENCE shop.media_ids;
CREATE TABLE shop.product_docs (id bigint PRIMARY KEY DEFAULT nextval('shop.media_ids'), sku text NOT NULL REFERENCES shop.products (sku), url text);
CREATE TABLE shop.product_images (id integer PRIMARY KEY DEFAULT nextval('shop.media_ids'), sku text NOT NULL REFERENCES shop.products (sku), url text);`

const shopManifest = `cloned:
  products: [shop.products, shop.product_notes, shop.product_docs, shop.product_images]
excluded:
  people: [shop.staff]
  sales: [shop.orders]
scrub: [shop.products.supplier_api_key]
`

// shopDatabases are a production and a sandbox of the shop schema, empty, the
// sandbox's with sandboxBefore run before the schema and sandboxAfter after it.
func shopDatabases(t *testing.T, sandboxBefore, sandboxAfter string) (m *Manifest, prod, sbx string) {
	t.Helper()
	m, err := ParseManifest([]byte(shopManifest))
	if err != nil {
		t.Fatal(err)
	}
	prod, sbx = pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, shopSchema)
	execSQL(t, sbx, sandboxBefore+shopSchema+sandboxAfter)
	return m, prod, sbx
}

func TestCloneGenericSchema(t *testing.T) {
	t.Parallel()
	// Types get other OIDs in the sandbox, as they would in a database with another history.
	m, prod, sbx := shopDatabases(t, "CREATE TYPE spare AS ENUM ('x'); CREATE DOMAIN spare_d AS int;", "")
	execSQL(t, prod, `INSERT INTO shop.staff (name) VALUES ('Ann'), ('Bob');
INSERT INTO shop.products SELECT 'SKU' || i, 'Product ' || i, i * 1.5, ARRAY['a', 'b' || i], jsonb_build_object('i', i),
  ARRAY['red', 'blue']::shop.colour[], json_build_object('j', i), 'sk_supplier_' || i, 1 + i % 2 FROM generate_series(1, 500) i;
INSERT INTO shop.product_notes (sku, body, author_id) SELECT 'SKU' || (1 + i % 500), 'note ' || i, 1 FROM generate_series(1, 1000) i;
INSERT INTO shop.orders (sku, customer) SELECT 'SKU' || (1 + i % 500), 'customer ' || i FROM generate_series(1, 300) i;
INSERT INTO shop.product_docs (sku, url) SELECT 'SKU' || i, 'doc' FROM generate_series(1, 40) i;
INSERT INTO shop.product_images (sku, url) SELECT 'SKU' || i, 'img' FROM generate_series(1, 60) i;`)
	execSQL(t, sbx, `INSERT INTO shop.staff (name) VALUES ('Tester');
INSERT INTO shop.products (sku, title, price) VALUES ('OLD', 'Old', 1);
INSERT INTO shop.orders (sku, customer) VALUES ('OLD', 'dummy');`)
	c := newCloner(t, m, prod, sbx, pgtest.NewDatabase(t))
	enroll(t, c, "acme-prod", "acme-sandbox")
	before := fingerprint(t, prod)
	rep, err := c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameFingerprint(t, "production", before, fingerprint(t, prod))
	conn := connectT(t, sbx)
	checks := map[string]int64{
		"SELECT count(*) FROM shop.products":                                     500,
		"SELECT count(*) FROM shop.product_notes":                                1000,
		"SELECT count(*) FROM shop.products WHERE supplier_api_key = 'redacted'": 500,
		"SELECT count(*) FROM shop.products WHERE owner_id IS NOT NULL":          0,
		"SELECT count(*) FROM shop.product_notes WHERE author_id IS NOT NULL":    0,
		"SELECT count(*) FROM shop.product_notes WHERE upper_body = upper(body)": 1000,
		"SELECT count(*) FROM shop.staff":                                        0,
		"SELECT count(*) FROM shop.orders":                                       0,
	}
	for q, want := range checks {
		if got := queryInt(t, conn, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	execSQL(t, sbx, "INSERT INTO shop.product_notes (sku, body) VALUES ('SKU1', 'after clone')")
	// One sequence numbers two tables through their defaults: it moves past both.
	execSQL(t, sbx, "INSERT INTO shop.product_docs (sku) VALUES ('SKU1'); INSERT INTO shop.product_images (sku) VALUES ('SKU1')")
	if n := queryInt(t, conn, "SELECT min(id) FROM (SELECT id FROM shop.product_docs WHERE url IS NULL UNION ALL SELECT id FROM shop.product_images WHERE url IS NULL) s"); n != 101 {
		t.Errorf("first ids after the clone start at %d, want 101 (past the 100 copied)", n)
	}
	if rep.Verification.TablesChecked != 4 || len(rep.Integrations) != 0 || len(rep.Export.Workflows) != 0 {
		t.Errorf("report: %+v", rep.Verification)
	}
	if !strings.Contains(strings.Join(rep.NulledReferences, " "), "shop.products.owner_id -> shop.staff") {
		t.Errorf("nulled: %v", rep.NulledReferences)
	}
}

// Two columns of one type name may hold values differently: the plan compares
// each column's type by what it is, through what it is built on, and refuses a
// difference by name. Types with the same definitions and other OIDs pass.
func TestPlanRefusesTypesDefinedDifferently(t *testing.T) {
	t.Parallel()
	const schema = `CREATE SCHEMA kit;
CREATE TYPE kit.dims AS (w numeric, h numeric);
CREATE DOMAIN kit.money2 AS numeric(30,12) CHECK (VALUE >= 0);
CREATE TYPE kit.state AS ENUM ('draft', 'live', 'retired');
CREATE TYPE kit.box AS (size kit.dims, price kit.money2);
CREATE DOMAIN kit.boxes AS kit.box[];
CREATE TABLE kit.items (id int PRIMARY KEY, size kit.dims, cost kit.money2, state kit.state, packing kit.boxes, states kit.state[], label text);`
	manifest, err := ParseManifest([]byte("cloned:\n  catalog: [kit.items]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, sandbox, want string }{
		{"the same types, other OIDs", "", ""},
		{"composite attributes traded places", `ALTER TYPE kit.dims RENAME ATTRIBUTE w TO tmp; ALTER TYPE kit.dims RENAME ATTRIBUTE h TO w; ALTER TYPE kit.dims RENAME ATTRIBUTE tmp TO h`,
			"kit.items.size (kit.dims): type kit.dims is a composite type (w numeric, h numeric) in production, a composite type (h numeric, w numeric) in the sandbox"},
		{"domain over another precision", `ALTER TABLE kit.items DROP COLUMN cost; ALTER TYPE kit.box DROP ATTRIBUTE price; DROP DOMAIN kit.money2;
CREATE DOMAIN kit.money2 AS numeric(30,2) CHECK (VALUE >= 0); ALTER TABLE kit.items ADD COLUMN cost kit.money2; ALTER TYPE kit.box ADD ATTRIBUTE price kit.money2`,
			"kit.items.cost (kit.money2): type kit.money2 is a domain over numeric(30,12) CHECK ((VALUE >= (0)::numeric)) in production, a domain over numeric(30,2) CHECK ((VALUE >= (0)::numeric)) in the sandbox"},
		{"enum label renamed", `ALTER TYPE kit.state RENAME VALUE 'retired' TO 'archived'`,
			"kit.items.state (kit.state): type kit.state is an enum ('draft', 'live', 'retired') in production, an enum ('draft', 'live', 'archived') in the sandbox"},
		{"a column's collation", `ALTER TABLE kit.items ALTER COLUMN label TYPE text COLLATE "C"`,
			"kit.items.label has collation the database default in production, pg_catalog.C in the sandbox"},
		{"a domain's check", `ALTER DOMAIN kit.money2 DROP CONSTRAINT money2_check`,
			"type kit.money2 is a domain over numeric(30,12) CHECK ((VALUE >= (0)::numeric)) in production, a domain over numeric(30,12) in the sandbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
			execSQL(t, prod, schema)
			execSQL(t, sbx, "CREATE TYPE spare AS (x int); CREATE DOMAIN spare_d AS int;"+schema)
			if tc.sandbox != "" {
				execSQL(t, sbx, tc.sandbox)
			}
			c := newCloner(t, manifest, prod, sbx, pgtest.NewDatabase(t))
			enroll(t, c, "acme-prod", "acme-sandbox")
			plan, err := c.Plan(context.Background(), "acme-prod", "acme-sandbox")
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(plan.Problems, "\n")
			switch {
			case tc.want == "" && !plan.OK():
				t.Errorf("plan refused the same types:\n%s", problems)
			case tc.want != "" && !strings.Contains(problems, tc.want):
				t.Errorf("plan problems do not say %q:\n%s", tc.want, problems)
			}
		})
	}
	// The nested case: the array domain of composites tells a difference two levels down.
	prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, schema)
	execSQL(t, sbx, schema+`; ALTER TABLE kit.items DROP COLUMN size; ALTER TYPE kit.dims ADD ATTRIBUTE d numeric`)
	execSQL(t, prod, `ALTER TABLE kit.items DROP COLUMN size`)
	c := newCloner(t, manifest, prod, sbx, pgtest.NewDatabase(t))
	enroll(t, c, "acme-prod", "acme-sandbox")
	plan, err := c.Plan(context.Background(), "acme-prod", "acme-sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kit.items.packing (kit.boxes): type kit.dims is a composite type (w numeric, h numeric) in production, a composite type (w numeric, h numeric, d numeric) in the sandbox"; !strings.Contains(strings.Join(plan.Problems, "\n"), want) {
		t.Errorf("plan problems do not say %q:\n%s", want, strings.Join(plan.Problems, "\n"))
	}
}

// A row the sandbox refuses during the copy (a check of its own that production's
// rows break) fails the clone with the sandbox's reason, not the closed pipe it
// leaves production's side with; the sandbox stays as it was.
func TestCopyRefusedBySandboxSaysWhy(t *testing.T) {
	t.Parallel()
	m, prod, sbx := shopDatabases(t, "", "; ALTER TABLE shop.products ADD CONSTRAINT products_cheap CHECK (price < 10)")
	execSQL(t, prod, `INSERT INTO shop.products (sku, title, price) SELECT 'SKU' || i, 'Product ' || i, i FROM generate_series(1, 5000) i`)
	execSQL(t, sbx, `INSERT INTO shop.products (sku, title, price) VALUES ('OLD', 'Old', 1)`)
	c := newCloner(t, m, prod, sbx, pgtest.NewDatabase(t))
	enroll(t, c, "acme-prod", "acme-sandbox")
	before := fingerprint(t, sbx)
	_, err := c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	if err == nil || !strings.Contains(err.Error(), "products_cheap") || strings.Contains(err.Error(), "closed pipe") {
		t.Fatalf("clone: %v, want the sandbox's check products_cheap named", err)
	}
	sameFingerprint(t, "sandbox after the refused copy", before, fingerprint(t, sbx))
}

// The sandbox's event triggers stay quiet through a swap's DDL (one that counts
// DDL commands would otherwise write to the sandbox from the clone's stage, and
// one that logs them into a manifest table fails the switch), and a rollback puts
// back a sequence the load drew on (the default of a column the copy does not
// set) where the clone found it.
func TestSwapQuietForEventTriggersAndSequencesTheLoadDrawsOn(t *testing.T) {
	t.Parallel()
	const schema = `CREATE SEQUENCE tok_seq;
CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL, tok bigint DEFAULT nextval('tok_seq'));
CREATE TABLE ddl_log (id serial PRIMARY KEY, tag text)`
	m, err := ParseManifest([]byte("cloned:\n  catalog: [plans]\nexcluded:\n  audit: [ddl_log]\nscrub: [plans.tok]\n"))
	if err != nil {
		t.Fatal(err)
	}
	prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, schema+"; INSERT INTO plans (id, name) SELECT g, 'plan ' || g FROM generate_series(1, 50) g")
	execSQL(t, sbx, schema+"; INSERT INTO plans (id, name) VALUES (9, 'sandbox plan')")
	c := newCloner(t, m, prod, sbx, pgtest.NewDatabase(t))
	enroll(t, c, "acme-prod", "acme-sandbox")
	execSQL(t, sbx, `CREATE SEQUENCE ddl_seen;
CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record; BEGIN
  PERFORM nextval('public.ddl_seen');
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    INSERT INTO public.ddl_log (tag) VALUES (r.command_tag);
  END LOOP;
END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl()`)
	conn := connectT(t, sbx)
	seen := func() bool {
		return queryInt(t, conn, "SELECT count(*) FROM pg_sequences WHERE sequencename = 'ddl_seen' AND last_value IS NOT NULL") == 1
	}
	if seen() {
		t.Fatal("the event trigger fired before the clone")
	}
	before := sequenceValues(t, sbx)
	ctx := context.Background()
	rep, err := c.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil || rep.Method != MethodSwap {
		t.Fatalf("clone: %v (method %q)", err, rep.Method)
	}
	if seen() {
		t.Error("the sandbox's event trigger fired on the clone's DDL")
	}
	if _, err := c.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: rep.ID}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := sequenceValues(t, sbx); got != before {
		t.Errorf("sequences after the rollback:\n%s\nbefore the clone:\n%s", got, before)
	}
}
