package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clonebot-fixtures-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "clonebot-fixtures")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build clonebot-fixtures:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fixturesCmd(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(binary, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
	}
	return o.String(), e.String(), code
}

// dbName returns a database name for the test, dropped when it ends.
func dbName(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("clonebot_test_fx_%d", time.Now().UnixNano())
	t.Cleanup(func() { pgtest.Drop(t, name) })
	return name
}

func exists(t *testing.T, name string) bool {
	t.Helper()
	return count(t, pgtest.AdminURL(), fmt.Sprintf("SELECT count(*) FROM pg_database WHERE datname = '%s'", name)) == 1
}

func count(t *testing.T, url, q string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"create", "--help"}, {"create", "-h"}, {"create", "--url", pgtest.URLFor("x"), "--help"}} {
		out, errOut, code := fixturesCmd(args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: clonebot-fixtures create") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// Bad flags exit 2 with one message, before anything is created.
func TestUsageErrorsCreateNothing(t *testing.T) {
	name := dbName(t)
	url := pgtest.URLFor(name)
	for _, args := range [][]string{
		{}, {"bogus"}, {"create"}, {"create", "--url", url, "--kind", "bogus"}, {"create", "--url", url, "--config-mb", "0"},
		{"create", "--url", "mysql://x/y"}, {"create", "--url", url, "--seed", "many"}, {"create", "--url", url, "extra"},
	} {
		out, errOut, code := fixturesCmd(args...)
		if code != 2 || out != "" || strings.Count(errOut, "clonebot-fixtures:") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want 2 and one message", args, code, out, errOut)
		}
	}
	if exists(t, name) {
		t.Errorf("a refused command created %s", name)
	}
}

// Running create again keeps what the first run made; --recreate rebuilds it.
func TestCreateIsIdempotent(t *testing.T) {
	name := dbName(t)
	url := pgtest.URLFor(name)
	args := []string{"create", "--url", url, "--config-mb", "0.05", "--customer-mb", "0.05"}
	out, errOut, code := fixturesCmd(args...)
	if code != 0 || !strings.Contains(out, "generated production instance") {
		t.Fatalf("first run: exit %d %q %q", code, out, errOut)
	}
	const plans = "SELECT count(*) FROM plans"
	before := count(t, url, plans)
	out, errOut, code = fixturesCmd(args...)
	if code != 0 || !strings.Contains(out, "left as it is") {
		t.Fatalf("second run: exit %d %q %q", code, out, errOut)
	}
	if after := count(t, url, plans); after != before {
		t.Errorf("the second run changed plans: %d rows, had %d", after, before)
	}
	out, errOut, code = fixturesCmd(append(args, "--recreate", "--kind", "sandbox")...)
	if code != 0 || !strings.Contains(out, "generated sandbox instance") {
		t.Fatalf("--recreate: exit %d %q %q", code, out, errOut)
	}
}

// A database holding tables it did not finish is not filled over.
func TestRefusesAForeignDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE TABLE precious (id int)"); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := fixturesCmd("create", "--url", url)
	if code != 1 || !strings.Contains(errOut, "--recreate") {
		t.Errorf("exit %d, %q: want a refusal naming --recreate", code, errOut)
	}
	if n := count(t, url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 1 {
		t.Errorf("%d tables, want the one that was there", n)
	}
}

// SIGTERM stops a run cleanly: a plain message, exit 130, nothing marked complete.
func TestStopsOnSIGTERM(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	// The schema's first statement waits for an advisory lock the test holds.
	for _, q := range []string{
		`CREATE FUNCTION wait_for_the_test() RETURNS event_trigger LANGUAGE plpgsql AS $$
		 BEGIN PERFORM pg_advisory_lock(4243); PERFORM pg_advisory_unlock(4243); END $$`,
		"CREATE EVENT TRIGGER wait_for_the_test ON ddl_command_start EXECUTE FUNCTION wait_for_the_test()",
		"SELECT pg_advisory_lock(4243)",
	} {
		if _, err := holder.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "create", "--url", url)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(time.Minute)
	for count(t, url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the schema never waited for the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("after SIGTERM: %v, stderr %q; want exit 130 and a plain message", err, errOut.String())
	}
}
