package cloner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a test's controllable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clockedEnv is newEnv with a cloner on a controllable clock and a retention of
// one day.
func clockedEnv(t *testing.T) (*env, *clock) {
	t.Helper()
	e := newEnv(t, nil)
	clk := &clock{now: time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)}
	c, err := New(Config{Instances: e.cloner.registry(), Logger: e.cloner.log, Now: clk.Now, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.cloner = c
	return e, clk
}

func (c *Cloner) registry() []Instance {
	var out []Instance
	for _, in := range c.instances {
		out = append(out, in)
	}
	return out
}

// A rollback refuses, with its reason and without touching the sandbox: a
// production target, an unenrolled one, a sandbox never cloned, another clone's
// copy, an expired copy, and a table whose columns changed since the clone.
func TestRollbackRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, clk := clockedEnv(t)
	if _, err := e.cloner.Rollback(ctx, "acme-prod", RollbackOptions{}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not a sandbox") {
		t.Errorf("production target: %v", err)
	}
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{}); !errors.Is(err, ErrNoCopy) {
		t.Errorf("never cloned: %v, want ErrNoCopy", err)
	}
	if _, err := e.cloner.CheckRollback(ctx, "acme-sandbox", "c0ffee"); !errors.Is(err, ErrNoCopy) || !errors.Is(err, ErrRefused) {
		t.Errorf("check, never cloned: %v, want ErrNoCopy", err)
	}
	if _, err := e.cloner.CheckRollback(ctx, "acme-prod", "c0ffee"); !errors.Is(err, ErrRefused) {
		t.Errorf("check of production: %v, want ErrRefused", err)
	}
	first, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	second, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cloned := fingerprint(t, e.sbx)
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: first.ID}); !errors.Is(err, ErrSuperseded) {
		t.Errorf("the first clone's copy after a second clone: %v, want ErrSuperseded", err)
	}
	if rc, err := e.cloner.CheckRollback(ctx, "acme-sandbox", first.ID); !errors.Is(err, ErrSuperseded) || rc == nil || rc.CloneID != second.ID {
		t.Errorf("check of the first clone's copy after a second clone: %+v %v, want ErrSuperseded and the second clone's copy", rc, err)
	}
	if rc, err := e.cloner.CheckRollback(ctx, "acme-sandbox", second.ID); err != nil || rc == nil || rc.CloneID != second.ID {
		t.Errorf("check of the second clone's copy: %+v %v", rc, err)
	}
	execSQL(t, e.sbx, "ALTER TABLE plans ADD COLUMN promo text")
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: second.ID}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "columns of public.plans changed since the clone") {
		t.Errorf("changed table: %v", err)
	}
	execSQL(t, e.sbx, "ALTER TABLE plans DROP COLUMN promo")
	// A retyped column is named with both types.
	var typ string
	if err := connectT(t, e.sbx).QueryRow(ctx, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.plans'::regclass AND attname = 'name'").Scan(&typ); err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.sbx, "ALTER TABLE plans ALTER COLUMN name TYPE varchar(300)")
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{CloneID: second.ID}); !errors.Is(err, ErrRefused) ||
		!strings.Contains(err.Error(), "name character varying(300)") || !strings.Contains(err.Error(), "name "+typ) {
		t.Errorf("retyped column: %v", err)
	}
	execSQL(t, e.sbx, "ALTER TABLE plans ALTER COLUMN name TYPE "+typ)
	execSQL(t, e.sbx, "UPDATE clonebot.enrollment SET instance = 'globex-sandbox'")
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "clonebot enroll --instance acme-sandbox") {
		t.Errorf("a sandbox whose marker names another instance: %v", err)
	}
	execSQL(t, e.sbx, "UPDATE clonebot.enrollment SET instance = 'acme-sandbox'")
	clk.advance(25 * time.Hour)
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{}); !errors.Is(err, ErrExpired) {
		t.Errorf("after the retention: %v, want ErrExpired", err)
	}
	if _, err := e.cloner.CheckRollback(ctx, "acme-sandbox", second.ID); !errors.Is(err, ErrExpired) {
		t.Errorf("check after the retention: %v, want ErrExpired", err)
	}
	sameFingerprint(t, "sandbox after refused rollbacks", cloned, fingerprint(t, e.sbx))
}

// Pruning drops a copy once it has expired, and only then, with what a killed
// clone left staged; the sandbox's tables are untouched.
func TestPruneDropsExpiredCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, clk := clockedEnv(t)
	rep, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, e.sbx, "CREATE SCHEMA clonebot_stage_public; CREATE TABLE clonebot_stage_public.plans (id int)")
	cloned := fingerprint(t, e.sbx)
	got := e.cloner.PruneRollbackCopies(ctx)
	// globex-sandbox, never cloned, has nothing to prune.
	if len(got) != 1 || got[0].Sandbox != "acme-sandbox" || got[0].Dropped != nil || got[0].Staged != 1 || got[0].Err != nil {
		t.Fatalf("prune before expiry: %+v", got)
	}
	copies, err := e.cloner.RollbackCopies(ctx, "acme-sandbox")
	if err != nil || copies["acme-sandbox"] == nil || copies["acme-sandbox"].CloneID != rep.ID {
		t.Fatalf("copy before expiry: %+v %v", copies, err)
	}
	if want := rep.StartedAt.Add(24 * time.Hour); copies["acme-sandbox"].ExpiresAt.Before(want) {
		t.Errorf("expires at %s, want at least %s", copies["acme-sandbox"].ExpiresAt, want)
	}
	clk.advance(24*time.Hour + time.Minute)
	got = e.cloner.PruneRollbackCopies(ctx)
	if len(got) == 0 || got[0].Dropped == nil || got[0].Dropped.CloneID != rep.ID {
		t.Fatalf("prune after expiry: %+v", got)
	}
	if n := queryInt(t, connectT(t, e.sbx), "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'clonebot_')"); n != 0 {
		t.Errorf("%d bot schemas left", n)
	}
	if _, err := e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{}); !errors.Is(err, ErrNoCopy) {
		t.Errorf("rollback after pruning: %v, want ErrNoCopy", err)
	}
	sameFingerprint(t, "sandbox after pruning", cloned, fingerprint(t, e.sbx))
}
