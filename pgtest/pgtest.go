// Package pgtest gives each test its own real PostgreSQL database, created from a
// template database so that schema set-up is paid once per template, not per test.
//
// The server is the local one (127.0.0.1:5432, trust auth) unless
// CLONEBOT_TEST_DATABASE_URL names another maintenance database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the maintenance database used when CLONEBOT_TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the maintenance database URL tests use to create databases.
func AdminURL() string {
	if u := os.Getenv("CLONEBOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// URLFor returns the URL of database name on the test server.
func URLFor(name string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		panic(fmt.Sprintf("pgtest: CLONEBOT_TEST_DATABASE_URL is not a URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

// Setup fills a freshly created template database reached at url.
type Setup func(ctx context.Context, url string) error

// NewDatabase creates an empty database for t and drops it when t ends. It returns
// the database's URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	url, err := create(t, "")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return url
}

// FromTemplate returns a new database for t, copied from the template named key,
// which is built with setup the first time any test process asks for it. The key must
// change whenever setup would build something different (hash the schema into it).
// A template dropped meanwhile (make clean-db) is built again.
func FromTemplate(t testing.TB, key string, setup Setup) string {
	t.Helper()
	for {
		tpl, err := ensureTemplate(context.Background(), key, setup)
		if err != nil {
			t.Fatalf("pgtest: template %s: %v", key, err)
		}
		url, err := create(t, tpl)
		if errors.Is(err, errTemplateGone) {
			continue
		}
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		return url
	}
}

// Key hashes parts (schema text, migration files) into a short template key.
func Key(prefix string, parts ...[]byte) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s_%x", prefix, h.Sum64())
}

// errTemplateGone says a template was dropped between its check and its use.
var errTemplateGone = errors.New("template database dropped meanwhile")

// NewDatabase's and FromTemplate's database, dropped when t ends. Copies from a
// template hold its advisory lock shared, so DropTemplates waits for them.
func create(t testing.TB, template string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "clonebot_test_" + randomSuffix()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w (is PostgreSQL running?)", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", templateLock(template)); err != nil {
			return "", fmt.Errorf("lock template %s: %w", template, err)
		}
		var ready bool
		err := admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", template).Scan(&ready)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !ready {
			return "", errTemplateGone
		}
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		return "", fmt.Errorf("%s: %w", stmt, err)
	}
	t.Cleanup(func() { Drop(t, name) })
	return URLFor(name), nil
}

// Drop removes database name, ending any session still connected to it.
func Drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
		return
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
	}
}

// ensureTemplate builds the template database once across all test processes: an
// advisory lock serialises builders and a finished template is marked with
// datistemplate, so a half-built one left by a killed process is rebuilt.
func ensureTemplate(ctx context.Context, key string, setup Setup) (string, error) {
	name := templatePrefix + key
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	lockID := templateLock(name)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockID) //nolint:errcheck
	var ready bool
	err = admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop stale template: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	if err := setup(ctx, URLFor(name)); err != nil {
		return "", fmt.Errorf("set up template: %w", err)
	}
	// Sessions left open by setup would block CREATE DATABASE ... TEMPLATE.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return "", fmt.Errorf("close template sessions: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("mark template: %w", err)
	}
	return name, nil
}

// templatePrefix starts the name of every template database.
const templatePrefix = "clonebot_tpl_"

// templateLock is the advisory lock of a template: held exclusively to build or
// drop it, shared to copy it.
func templateLock(name string) int64 { return int64(fnvHash(name)) }

// DropTemplates drops the template databases whose key starts with keyPrefix
// ("" for all), waiting for copies in progress, and returns their names and total
// size. A template in use is left, and reported in the error.
func DropTemplates(ctx context.Context, adminURL, keyPrefix string) ([]string, int64, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, 0, fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, "SELECT datname::text, pg_database_size(oid) FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", templatePrefix+keyPrefix)
	if err != nil {
		return nil, 0, fmt.Errorf("list templates: %w", err)
	}
	type tpl struct {
		Name string
		Size int64
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tpl])
	if err != nil {
		return nil, 0, fmt.Errorf("list templates: %w", err)
	}
	var dropped []string
	var total int64
	var errs []error
	for _, t := range found {
		if err := dropTemplate(ctx, admin, t.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		dropped = append(dropped, t.Name)
		total += t.Size
	}
	return dropped, total, errors.Join(errs...)
}

func dropTemplate(ctx context.Context, admin *pgx.Conn, name string) error {
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock(name)); err != nil {
		return fmt.Errorf("lock template %s: %w", name, err)
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLock(name)) //nolint:errcheck
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE false"); err != nil {
		return fmt.Errorf("unmark template %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident); err != nil {
		_, _ = admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true")
		return fmt.Errorf("drop template %s: %w", name, err)
	}
	return nil
}

func fnvHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// redact hides a password in a URL before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// SetConnections opens or closes the database at dbURL to new sessions, ending the
// open ones when closing: to a client it is as if the server went away, while other
// tests' databases on the same server are untouched.
func SetConnections(t testing.TB, dbURL string, allow bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", pgx.Identifier{name}.Sanitize(), allow)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if !allow {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
}

// QueryOne runs a query that returns one value on the database at dbURL, failing t
// on any error.
func QueryOne[T any](t testing.TB, dbURL, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	return v
}
