// Package metrics defines clonebot's Prometheus metrics on a registry of its own, so
// that each process (and each test) has separate counters and nothing is global.
//
// Every family is exported from the start: Init sets each known combination of
// label values to zero, so that an alert on a rate or on an absent series works
// before the first event.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector clonebot exports.
type Metrics struct {
	Registry *prometheus.Registry

	// WebhookRequests counts webhook requests by answered HTTP status and outcome
	// (accepted, duplicate, ignored, refused).
	WebhookRequests *prometheus.CounterVec
	// WebhookLatency is the time to answer a webhook request.
	WebhookLatency prometheus.Histogram
	// Jobs counts finished jobs by kind and outcome (ok, retry, snooze, cancel).
	Jobs *prometheus.CounterVec
	// CloneDuration is the wall time of clones by outcome.
	CloneDuration *prometheus.HistogramVec
	// RollbackDuration is the wall time of ticket-driven rollbacks by outcome.
	RollbackDuration *prometheus.HistogramVec
	// RowsCopied and BytesCopied count what clones copied, by category.
	RowsCopied  *prometheus.CounterVec
	BytesCopied *prometheus.CounterVec
	// ZendeskCalls counts Zendesk API calls by method, route, status (the HTTP
	// status, or "network_error" when no answer came) and whether it was a retry.
	ZendeskCalls *prometheus.CounterVec
	// RequestsByState is the number of clone requests in each state.
	RequestsByState *prometheus.GaugeVec
	// BuildInfo is 1, labelled with the running version, commit and Go version.
	BuildInfo *prometheus.GaugeVec
	// TicketsInTrouble is the number of tickets told that their job (ticket_sync or
	// clone) keeps failing, not yet resolved; TroublesAnnounced counts such tickets.
	TicketsInTrouble  *prometheus.GaugeVec
	TroublesAnnounced *prometheus.CounterVec
	// SweepSyncs counts the ticket syncs the reconciliation sweep queued: changes
	// no webhook brought (lost, or not yet arrived).
	SweepSyncs prometheus.Counter
}

// Known are the label values to export at zero from the start.
type Known struct {
	WebhookAnswers   [][2]string // status, outcome
	JobKinds         []string
	JobOutcomes      []string
	CloneOutcomes    []string
	RollbackOutcomes []string
	Categories       []string    // cloned categories
	ZendeskCalls     [][2]string // method, route
	States           []string
	TroubleJobs      []string // jobs whose failures tickets hear about
}

// Init exports every known combination of label values at zero.
func (m *Metrics) Init(k Known) {
	for _, a := range k.WebhookAnswers {
		m.WebhookRequests.WithLabelValues(a[0], a[1])
	}
	for _, kind := range k.JobKinds {
		for _, o := range k.JobOutcomes {
			m.Jobs.WithLabelValues(kind, o)
		}
	}
	for _, o := range k.CloneOutcomes {
		m.CloneDuration.WithLabelValues(o)
	}
	for _, o := range k.RollbackOutcomes {
		m.RollbackDuration.WithLabelValues(o)
	}
	for _, c := range k.Categories {
		m.RowsCopied.WithLabelValues(c)
		m.BytesCopied.WithLabelValues(c)
	}
	for _, c := range k.ZendeskCalls {
		m.ZendeskCalls.WithLabelValues(c[0], c[1], "200", "false")
	}
	for _, s := range k.States {
		m.RequestsByState.WithLabelValues(s)
	}
	for _, j := range k.TroubleJobs {
		m.TicketsInTrouble.WithLabelValues(j)
		m.TroublesAnnounced.WithLabelValues(j)
	}
}

// SetBuild records the running build in BuildInfo.
func (m *Metrics) SetBuild(version, commit, goVersion string) {
	m.BuildInfo.WithLabelValues(version, commit, goVersion).Set(1)
}

// New builds the collectors and registers them, with the Go and process collectors,
// on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_webhook_requests_total", Help: "Webhook requests by HTTP status and outcome.",
		}, []string{"status", "outcome"}),
		WebhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "clonebot_webhook_duration_seconds", Help: "Time to answer a webhook request.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_jobs_total", Help: "Finished jobs by kind and outcome.",
		}, []string{"kind", "outcome"}),
		CloneDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clonebot_clone_duration_seconds", Help: "Wall time of clones by outcome.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"outcome"}),
		RollbackDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clonebot_rollback_duration_seconds", Help: "Wall time of rollbacks asked for on tickets, by outcome.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"outcome"}),
		RowsCopied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_clone_rows_total", Help: "Rows copied by clones, by category.",
		}, []string{"category"}),
		BytesCopied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_clone_bytes_total", Help: "Bytes copied by clones, by category.",
		}, []string{"category"}),
		ZendeskCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_zendesk_calls_total", Help: "Zendesk API calls by method, route, status and retry.",
		}, []string{"method", "route", "status", "retry"}),
		RequestsByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clonebot_requests", Help: "Clone requests by state.",
		}, []string{"state"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clonebot_build_info", Help: "Always 1; the labels say which build runs.",
		}, []string{"version", "commit", "go_version"}),
		TicketsInTrouble: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clonebot_tickets_in_trouble", Help: "Tickets told that their job keeps failing (an instance not answering), by job.",
		}, []string{"job"}),
		TroublesAnnounced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clonebot_troubles_announced_total", Help: "Tickets told that their job keeps failing, by job.",
		}, []string{"job"}),
		SweepSyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clonebot_sweep_syncs_total", Help: "Ticket syncs queued by the reconciliation sweep (changes no webhook brought).",
		}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.WebhookRequests, m.WebhookLatency, m.Jobs, m.CloneDuration, m.RollbackDuration,
		m.RowsCopied, m.BytesCopied, m.ZendeskCalls, m.RequestsByState, m.BuildInfo,
		m.TicketsInTrouble, m.TroublesAnnounced, m.SweepSyncs,
	)
	return m
}
