package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/store"
)

func migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := store.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

// The state column takes every state of the rules, and nothing else: a state
// added to the rules fails here until a migration widens the CHECK.
func TestRequestStatesAreTheRulesStates(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := context.Background()
	for i, st := range rules.States {
		if _, err := pool.Exec(ctx, "INSERT INTO clone_requests (ticket_id, state) VALUES ($1::bigint, $2::text)", int64(4294968213+i), string(st)); err != nil {
			t.Errorf("state %s refused: %v", st, err)
		}
	}
	_, err := pool.Exec(ctx, "INSERT INTO clone_requests (ticket_id, state) VALUES (1, 'approved, probably')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
		t.Fatalf("an unknown state: %v, want a check violation", err)
	}
}

// During a rolling upgrade, replicas of the previous release share the migrated
// database: their statements (copied here as that release ran them) still work.
func TestPreviousReleaseRunsOnTheMigratedSchema(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := context.Background()
	const id = int64(4294968213)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	exec(`INSERT INTO clone_requests (ticket_id, state) VALUES ($1::bigint, $2::text)`, id, "received")
	exec(`INSERT INTO audit_log (ticket_id, from_state, to_state, reason, actor_id, detail)
		VALUES ($1::bigint, nullif($2::text, ''), $3::text, $4::text, nullif($5::bigint, 0), $6::jsonb) RETURNING id`,
		id, "", "received", "clone request tag seen", int64(0), nil)
	now := time.Now()
	exec(`UPDATE clone_requests SET state = $2::text, production = nullif($3::text, ''), sandbox = nullif($4::text, ''),
		tenant = nullif($5::text, ''), fingerprint = nullif($6::text, ''), approved_fingerprint = nullif($7::text, ''),
		approval_audit_id = $8::bigint, approvals_after = $9::bigint, failed_at = $10::timestamptz, refused_audits = $11::bigint[],
		problems = $12::jsonb, acknowledged = $13::boolean, last_audit_id = $14::bigint, ticket_updated_at = $15::timestamptz,
		scheduled_for = $16::timestamptz, attempts = $17::integer, request = $18::jsonb, approved_by = nullif($19::bigint, 0),
		updated_at = now()
		WHERE ticket_id = $1::bigint`,
		id, "failed", "acme-prod", "acme-sandbox", "acme", "fp1", "fp1", int64(31415926535913), int64(31415926535913), now,
		[]int64{}, []byte(`{"key":"","items":null}`), true, int64(31415926535913), now, now, 1, []byte(`{}`), int64(361112345678))
	exec("UPDATE clone_requests SET report = $2::jsonb, last_error = $3::text WHERE ticket_id = $1::bigint", id, nil, "boom")
	var state string
	var failed, updated *time.Time
	err := pool.QueryRow(ctx, `SELECT state, failed_at, ticket_updated_at FROM clone_requests WHERE ticket_id = $1::bigint`, id).Scan(&state, &failed, &updated)
	if err != nil || state != "failed" || failed == nil || updated == nil {
		t.Fatalf("the previous release's row reads back %s %v %v (%v)", state, failed, updated, err)
	}
	err = pool.QueryRow(ctx, `SELECT ticket_id, state, coalesce(production, ''), coalesce(sandbox, ''), coalesce(tenant, ''),
	coalesce(fingerprint, ''), coalesce(approved_fingerprint, ''), approval_audit_id, coalesce(approved_by, 0), approvals_after, failed_at,
	refused_audits, coalesce(problems->>'key', ''), acknowledged, last_audit_id, ticket_updated_at, scheduled_for, attempts, request
	FROM clone_requests WHERE ticket_id = $1::bigint FOR UPDATE`, id).Scan(new(int64), new(string), new(string), new(string), new(string),
		new(string), new(string), new(int64), new(int64), new(int64), new(*time.Time),
		new([]int64), new(string), new(bool), new(int64), new(*time.Time), new(*time.Time), new(int), new([]byte))
	if err != nil {
		t.Fatalf("the previous release's read: %v", err)
	}
}
