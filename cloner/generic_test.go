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

func TestCloneGenericSchema(t *testing.T) {
	t.Parallel()
	m, err := ParseManifest([]byte(shopManifest))
	if err != nil {
		t.Fatal(err)
	}
	prod, sbx := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	execSQL(t, prod, shopSchema)
	// Types get other OIDs in the sandbox, as they would in a database with another history.
	execSQL(t, sbx, "CREATE TYPE spare AS ENUM ('x'); CREATE DOMAIN spare_d AS int;"+shopSchema)
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
