package opstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/cloner"
)

// tables lists the manifest's cloned and excluded tables.
func tables() (cloned, excluded []string, scrub []string) {
	m := cloner.DefaultManifest()
	for _, c := range m.Cloned {
		cloned = append(cloned, c.Tables...)
	}
	for _, c := range m.Excluded {
		excluded = append(excluded, c.Tables...)
	}
	return cloned, excluded, m.Scrub
}

// digestSQL is a table's rows as a count and an order-independent sum of row
// hashes: cheap on large tables, and equal only for equal contents in practice.
const digestSQL = `SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(x::text, 0)::numeric), 0)::text FROM (SELECT %s FROM %s) x`

// digests are the digests of every manifest table of an instance, all columns.
func digests(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := connect(t, ctx, dbURL)
	defer conn.Close(ctx)
	return digestsOn(t, ctx, conn)
}

// digestsOn is digests, read on conn (in its transaction, if it has one).
func digestsOn(t *testing.T, ctx context.Context, conn *pgx.Conn) map[string]string {
	t.Helper()
	cloned, excluded, _ := tables()
	out := map[string]string{}
	for _, table := range append(cloned, excluded...) {
		out[table] = digest(t, ctx, conn, table, "*")
	}
	return out
}

// comparableDigests are the digests of the cloned tables of an instance over the
// columns a clone carries over unchanged: without scrubbed columns and without
// references to excluded tables, which the clone sets to NULL.
func comparableDigests(t *testing.T, prodURL, dbURL string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := connect(t, ctx, dbURL)
	defer conn.Close(ctx)
	return comparableOn(t, ctx, prodURL, conn)
}

// comparableOn is comparableDigests, read on conn (in its transaction, if it has
// one); the columns come from production.
func comparableOn(t *testing.T, ctx context.Context, prodURL string, conn *pgx.Conn) map[string]string {
	t.Helper()
	cloned, excluded, scrub := tables()
	prod := connect(t, ctx, prodURL)
	defer prod.Close(ctx)
	out := map[string]string{}
	for _, table := range cloned {
		var cols string
		err := prod.QueryRow(ctx, `SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a
			WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'f'
				AND a.attnum = ANY(c.conkey) AND c.confrelid::regclass::text = ANY($2))
			AND NOT ($1 || '.' || a.attname = ANY($3))`, table, excluded, scrub).Scan(&cols)
		if err != nil {
			t.Fatalf("columns of %s: %v", table, err)
		}
		out[table] = digest(t, ctx, conn, table, cols)
	}
	return out
}

func digest(t *testing.T, ctx context.Context, conn *pgx.Conn, table, cols string) string {
	t.Helper()
	var d string
	if err := conn.QueryRow(ctx, fmt.Sprintf(digestSQL, cols, pgx.Identifier{table}.Sanitize())).Scan(&d); err != nil {
		t.Fatalf("digest of %s: %v", table, err)
	}
	return d
}

func connect(t *testing.T, ctx context.Context, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// diff names the tables whose digests differ.
func diff(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	return out
}
