package pgtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Copy returns a new database for t copied from the one at dbURL, as a restore of
// a dump would make it (another database, the same contents), and drops it when t
// ends. Nobody may be connected to the original meanwhile.
func Copy(t testing.TB, dbURL string) string {
	t.Helper()
	name := "clonebot_test_" + randomSuffix()
	adminExec(t, AdminURL(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{databaseName(t, dbURL)}.Sanitize())
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() { Drop(t, name) })
	return URLFor(name)
}

// SocketURL returns a URL reaching the database at dbURL through the server's
// Unix socket, with the same user: another URL to the same database. It fails t
// when the server has no socket in /var/run/postgresql (it is not local).
func SocketURL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	const dir = "/var/run/postgresql"
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	if _, err := os.Stat(dir + "/.s.PGSQL." + port); err != nil {
		t.Fatalf("pgtest: no Unix socket for the test server: %v", err)
	}
	q := u.Query()
	q.Set("host", dir)
	q.Set("port", port)
	u.Host, u.RawQuery = "", q.Encode()
	return u.String()
}

// NewRole creates a login role with no privileges for t, and drops it when t
// ends, with everything it owns or was granted in the databases at dbURLs. It
// returns the role's name.
func NewRole(t testing.TB, dbURLs ...string) string {
	t.Helper()
	name := "clonebot_test_role_" + randomSuffix()
	ident := pgx.Identifier{name}.Sanitize()
	adminExec(t, AdminURL(), "CREATE ROLE "+ident+" LOGIN")
	t.Cleanup(func() {
		for _, u := range dbURLs {
			adminExec(t, u, "REASSIGN OWNED BY "+ident+" TO CURRENT_USER; DROP OWNED BY "+ident)
		}
		adminExec(t, AdminURL(), "DROP ROLE "+ident)
	})
	return name
}

// AsRole returns dbURL with role as its user.
func AsRole(dbURL, role string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	u.User = url.User(role)
	return u.String()
}

func databaseName(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// adminExec runs sql on the database at dbURL as the test server's administrator.
func adminExec(t testing.TB, dbURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	admin, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	admin.Path = u.Path
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Errorf("pgtest: connect: %v", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("pgtest: %s: %v", sql, err)
	}
}
