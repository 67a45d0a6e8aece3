package bot

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/webhook"
)

// initMetrics exports every family from the start: the build, and each known label
// value at zero.
func (b *Bot) initMetrics(manifest *cloner.Manifest) {
	b.metrics.SetBuild(b.build.Version, b.build.Commit, runtime.Version())
	k := metrics.Known{
		WebhookAnswers: webhook.Answers(),
		JobKinds:       jobs.LifeCycleKinds(),
		JobOutcomes:    []string{"ok", "retry", "snooze", "cancel"},
		CloneOutcomes:  []string{string(rules.Ready), string(rules.Failed)},
		// A rollback that ran: restored, or failed with the sandbox still the clone's.
		RollbackOutcomes: []string{string(rules.RolledBack), "failed"},
		ZendeskCalls:     notifier.Calls(),
		TroubleJobs:      []string{jobs.TicketSyncArgs{}.Kind(), jobs.CloneArgs{}.Kind(), jobs.RollbackArgs{}.Kind()},
	}
	for _, c := range manifest.Cloned {
		k.Categories = append(k.Categories, c.Name)
	}
	for _, s := range rules.States {
		k.States = append(k.States, string(s))
	}
	b.metrics.Init(k)
	b.metrics.Registry.MustRegister(newDBGauges(b.pool, sandboxes(b.cfg)))
}

func sandboxes(cfg *config.Config) []string {
	var names []string
	for _, t := range cfg.Tenants {
		for _, in := range t.Instances {
			if in.Environment == config.Sandbox {
				names = append(names, in.Name)
			}
		}
	}
	return names
}

// dbGauges reads at each scrape the figures kept in the bot database, so that
// every replica reports the same: the outbox backlog and each sandbox's last
// successful clone. While the database does not answer, the last values read are
// reported.
type dbGauges struct {
	pool                         *pgxpool.Pool
	pending, oldest, lastCloneAt *prometheus.Desc

	mu   sync.Mutex
	last dbFigures
}

type dbFigures struct {
	pending     float64
	oldest      float64            // seconds
	lastCloneAt map[string]float64 // sandbox -> unix time, 0 when never
}

func newDBGauges(pool *pgxpool.Pool, sandboxes []string) *dbGauges {
	g := &dbGauges{
		pool: pool,
		pending: prometheus.NewDesc("clonebot_outbox_pending",
			"Announcements waiting to be posted on their tickets.", nil, nil),
		oldest: prometheus.NewDesc("clonebot_outbox_oldest_pending_seconds",
			"Age of the oldest announcement waiting to be posted; 0 when none waits.", nil, nil),
		lastCloneAt: prometheus.NewDesc("clonebot_last_successful_clone_timestamp_seconds",
			"When the bot last finished a clone into the sandbox (Unix time); 0 when never.", []string{"sandbox"}, nil),
		last: dbFigures{lastCloneAt: map[string]float64{}},
	}
	for _, s := range sandboxes {
		g.last.lastCloneAt[s] = 0
	}
	return g
}

func (g *dbGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.pending
	ch <- g.oldest
	ch <- g.lastCloneAt
}

func (g *dbGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	_ = g.read(ctx) // on failure the last figures stand
	ch <- prometheus.MustNewConstMetric(g.pending, prometheus.GaugeValue, g.last.pending)
	ch <- prometheus.MustNewConstMetric(g.oldest, prometheus.GaugeValue, g.last.oldest)
	for sandbox, at := range g.last.lastCloneAt {
		ch <- prometheus.MustNewConstMetric(g.lastCloneAt, prometheus.GaugeValue, at, sandbox)
	}
}

const outboxBacklogSQL = `SELECT count(*)::float8, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
FROM outbox WHERE posted_at IS NULL`

const lastClonesSQL = `SELECT r.sandbox, extract(epoch FROM max(a.created_at))::float8
FROM audit_log a JOIN clone_requests r ON r.ticket_id = a.ticket_id
WHERE a.to_state = 'ready' AND r.sandbox IS NOT NULL GROUP BY r.sandbox`

func (g *dbGauges) read(ctx context.Context) error {
	var f dbFigures
	if err := g.pool.QueryRow(ctx, outboxBacklogSQL).Scan(&f.pending, &f.oldest); err != nil {
		return err
	}
	rows, err := g.pool.Query(ctx, lastClonesSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	f.lastCloneAt = map[string]float64{}
	for s := range g.last.lastCloneAt {
		f.lastCloneAt[s] = 0
	}
	for rows.Next() {
		var sandbox string
		var at float64
		if err := rows.Scan(&sandbox, &at); err != nil {
			return err
		}
		f.lastCloneAt[sandbox] = at
	}
	if err := rows.Err(); err != nil {
		return err
	}
	g.last = f
	return nil
}
