package cloner

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/gaiia/clonebot/fixtures"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
)

func fixtureKey(kind string, opts fixtures.GenerateOptions) string {
	return "cloner_" + kind + "_" + fixtures.Fingerprint(opts)
}

// small keeps test instances at a few hundred kilobytes.
var small = fixtures.GenerateOptions{Seed: 7, ConfigBytes: 256 << 10, CustomerBytes: 256 << 10}

func productionDB(t testing.TB) string {
	return pgtest.FromTemplate(t, fixtureKey("prod", small), func(ctx context.Context, url string) error {
		if err := fixtures.ApplySchema(ctx, url); err != nil {
			return err
		}
		return fixtures.Generate(ctx, url, small)
	})
}

func sandboxDB(t testing.TB) string {
	opts := small
	opts.Kind, opts.Seed = fixtures.Sandbox, 8
	return pgtest.FromTemplate(t, fixtureKey("sbx", opts), func(ctx context.Context, url string) error {
		if err := fixtures.ApplySchema(ctx, url); err != nil {
			return err
		}
		return fixtures.Generate(ctx, url, opts)
	})
}

// env is one test's instances: acme-prod, acme-sandbox, and globex-sandbox of
// another tenant.
type env struct {
	prod, sbx, other string
	cloner           *Cloner
}

func newEnv(t testing.TB, m *Manifest) *env {
	t.Helper()
	e := &env{prod: productionDB(t), sbx: sandboxDB(t), other: sandboxDB(t)}
	e.cloner = newCloner(t, m, e.prod, e.sbx, e.other)
	enroll(t, e.cloner, "acme-prod", "acme-sandbox", "globex-sandbox")
	return e
}

// newCloner builds the cloner of acme-prod, acme-sandbox and globex-sandbox (of
// another tenant), on the given databases; nothing is enrolled.
func newCloner(t testing.TB, m *Manifest, prod, sbx, other string) *Cloner {
	t.Helper()
	return newClonerOf(t, m, []Instance{
		{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: prod},
		{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, DatabaseURL: sbx},
		{Name: "globex-sandbox", Tenant: "globex", Environment: Sandbox, DatabaseURL: other},
	})
}

func newClonerOf(t testing.TB, m *Manifest, instances []Instance) *Cloner {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{Instances: instances, Manifest: m, Logger: logrus.NewEntry(log), ConfigFile: "/etc/clonebot/clonebot.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll writes the markers of the named instances.
func enroll(t testing.TB, c *Cloner, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := c.Enroll(context.Background(), name, EnrollOptions{Operator: "test@host", Version: "test"}); err != nil {
			t.Fatalf("enroll %s: %v", name, err)
		}
	}
}

func connectT(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func execSQL(t testing.TB, url, sql string) {
	t.Helper()
	if _, err := connectT(t, url).Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t testing.TB, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// fingerprint is an md5 of every row of every user table, by table: equal
// fingerprints mean equal contents.
func fingerprint(t testing.TB, url string) map[string]string {
	t.Helper()
	conn := connectT(t, url)
	ctx := context.Background()
	cat, err := readCatalog(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range cat.names {
		var sum string
		q := "SELECT coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM " + name.ident() + " r"
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatalf("fingerprint %s: %v", name, err)
		}
		out[name.String()] = sum
	}
	return out
}

func sameFingerprint(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: %d tables before, %d after", what, len(before), len(after))
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s: table %s changed", what, name)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}
