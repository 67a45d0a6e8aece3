package cloner

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/pgtest"
)

func boundedCloner(t *testing.T, e *env, lock, statement time.Duration) *Cloner {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{
		Instances: []Instance{
			{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: e.prod},
			{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, DatabaseURL: e.sbx},
		},
		Logger: logrus.NewEntry(log), LockTimeout: lock, StatementTimeout: statement,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A lock held in production (a migration's ACCESS EXCLUSIVE) stops the clone after
// lock_timeout instead of stalling it for as long as the lock, and the failure
// names the table and the session holding it.
func TestCloneGivesUpOnAProductionLockNamingTheHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := fingerprint(t, e.sbx)
	pgtest.HoldLock(t, e.prod, "schema-migration", "LOCK TABLE plans IN ACCESS EXCLUSIVE MODE")
	c := boundedCloner(t, e, 500*time.Millisecond, time.Minute)
	began := time.Now()
	_, err := c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	took := time.Since(began)
	var we *WaitError
	if !errors.As(err, &we) {
		t.Fatalf("clone = %v, want a *WaitError", err)
	}
	msg := err.Error()
	for _, want := range []string{"production acme-prod", "public.plans", "gave up waiting 500ms for a lock", `application_name "schema-migration"`, "AccessExclusiveLock"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure does not say %q:\n%s", want, msg)
		}
	}
	if len(we.Blockers) != 1 || we.Blockers[0].PID == 0 || !we.Blockers[0].Granted || we.Blockers[0].For <= 0 {
		t.Errorf("blockers = %+v, want the one session with its pid and how long it has held the lock", we.Blockers)
	}
	if after := fingerprint(t, e.sbx); !maps.Equal(before, after) {
		t.Error("the sandbox changed")
	}
	t.Logf("outcome: gave up after %s with: %s", took.Round(time.Millisecond), msg)
}

// In the sandbox, a session that merely read a table in an open transaction holds
// what the clone needs to rebuild and wipe it.
func TestCloneGivesUpOnASandboxLockNamingTheHolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pgtest.HoldLock(t, e.sbx, "sandbox-app", "SELECT count(*) FROM workflows")
	c := boundedCloner(t, e, 500*time.Millisecond, time.Minute)
	_, err := c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
	var we *WaitError
	if !errors.As(err, &we) || we.Side != sideSandbox || we.Instance != "acme-sandbox" {
		t.Fatalf("clone = %v, want a *WaitError on the sandbox", err)
	}
	if !strings.Contains(err.Error(), `application_name "sandbox-app"`) || !strings.Contains(err.Error(), "AccessShareLock on public.workflows") {
		t.Errorf("the failure does not name the session and its lock:\n%s", err)
	}
}

// Every session on an instance carries the bounds, whatever the statement.
func TestSessionsCarryTheTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := boundedCloner(t, e, 1500*time.Millisecond, 90*time.Second)
	conn, err := c.connectTo(context.Background(), c.instances["acme-prod"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var lock, statement, app string
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), current_setting('application_name')").
		Scan(&lock, &statement, &app); err != nil {
		t.Fatal(err)
	}
	if lock != "1500ms" || statement != "90s" || app != "clonebot" {
		t.Errorf("lock_timeout %s, statement_timeout %s, application_name %s", lock, statement, app)
	}
	// A statement past statement_timeout fails too.
	c = boundedCloner(t, e, 100*time.Millisecond, 200*time.Millisecond)
	slow, err := c.connectTo(context.Background(), c.instances["acme-prod"])
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close(context.Background())
	_, err = slow.Exec(context.Background(), "SELECT pg_sleep(2)")
	if we := waited(err, sideProduction, []string{"public.plans"}, []string{pgx.Identifier{"public", "plans"}.Sanitize()}); !strings.Contains(we.Error(), "ran out of its") {
		t.Errorf("a statement timeout reads %v", we)
	}
}
