package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/store/storetest"
)

// The database figures are read at each scrape, and the last ones stand while
// the database does not answer.
func TestDBGauges(t *testing.T) {
	t.Parallel()
	pool, url := storetest.NewPool(t)
	ctx := context.Background()
	g := newDBGauges(pool, []string{"acme-sandbox", "beta-sandbox"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	expect := func(want string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "clonebot_outbox_pending", "clonebot_last_successful_clone_timestamp_seconds"); err != nil {
			t.Error(err)
		}
	}
	expect(`
# HELP clonebot_last_successful_clone_timestamp_seconds When the bot last finished a clone into the sandbox (Unix time); 0 when never.
# TYPE clonebot_last_successful_clone_timestamp_seconds gauge
clonebot_last_successful_clone_timestamp_seconds{sandbox="acme-sandbox"} 0
clonebot_last_successful_clone_timestamp_seconds{sandbox="beta-sandbox"} 0
# HELP clonebot_outbox_pending Announcements waiting to be posted on their tickets.
# TYPE clonebot_outbox_pending gauge
clonebot_outbox_pending 0
`)
	readyAt := time.Date(2026, 3, 1, 7, 30, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO clone_requests (ticket_id, state, sandbox) VALUES (4200000001, 'ready', 'acme-sandbox'), (4200000002, 'failed', 'beta-sandbox')", nil},
		{"INSERT INTO audit_log (ticket_id, to_state, reason, created_at) VALUES (4200000001, 'ready', 'test', $1), (4200000002, 'failed', 'test', $1)", []any{readyAt}},
		{"INSERT INTO outbox (ticket_id, key, public, body, created_at) VALUES (4200000001, 'a', true, 'x', now() - interval '90 seconds'), (4200000001, 'b', true, 'y', now())", nil},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprintf(`
# HELP clonebot_last_successful_clone_timestamp_seconds When the bot last finished a clone into the sandbox (Unix time); 0 when never.
# TYPE clonebot_last_successful_clone_timestamp_seconds gauge
clonebot_last_successful_clone_timestamp_seconds{sandbox="acme-sandbox"} %s
clonebot_last_successful_clone_timestamp_seconds{sandbox="beta-sandbox"} 0
# HELP clonebot_outbox_pending Announcements waiting to be posted on their tickets.
# TYPE clonebot_outbox_pending gauge
clonebot_outbox_pending 2
`, strconv.FormatFloat(float64(readyAt.Unix()), 'g', -1, 64))
	expect(want)
	if oldest := testutil.ToFloat64(onlyOldest{g}); oldest < 90 {
		t.Errorf("oldest pending %.0fs, want at least 90", oldest)
	}
	pgtest.SetConnections(t, url, false)
	pool.Reset()
	expect(want) // the database is gone: the last figures stand
}

// onlyOldest exposes the oldest-pending gauge alone, for testutil.ToFloat64.
type onlyOldest struct{ g *dbGauges }

func (o onlyOldest) Describe(ch chan<- *prometheus.Desc) { ch <- o.g.oldest }
func (o onlyOldest) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 8)
	o.g.Collect(all)
	close(all)
	for m := range all {
		if m.Desc() == o.g.oldest {
			ch <- m
		}
	}
}

func TestZendeskStatusLabel(t *testing.T) {
	for status, want := range map[int]string{0: "network_error", 200: "200", 429: "429"} {
		if got := statusLabel(status); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", status, got, want)
		}
	}
}
