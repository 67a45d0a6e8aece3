// Command webhookload sends signed Zendesk webhooks to a running clonebot at a fixed
// rate, measures how fast each is acknowledged and, given the bot database, counts the
// accepted deliveries that left no durable record (lost).
//
// Every request is a distinct delivery: its own ticket id and invocation id, half in
// the trigger style and half as tags_changed events. Bodies are built and signed
// before the clock starts, and latency is measured from each request's scheduled send
// time, so a stalled server cannot hide its queueing delay (no coordinated omission).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/webhook"
)

type options struct {
	url, secret, db string
	rate            int
	duration        time.Duration
	firstTicket     int64
	maxInFlight     int
	timeout         time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080/webhooks/zendesk", "webhook URL")
	flag.StringVar(&o.secret, "secret", "", "webhook signing secret (required)")
	flag.StringVar(&o.db, "db", "", "bot database URL; if set, count lost deliveries after the run")
	flag.IntVar(&o.rate, "rate", 1000, "deliveries per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	flag.Int64Var(&o.firstTicket, "first-ticket", time.Now().Unix()*100, "first ticket id; each delivery uses the next")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 4000, "requests outstanding at once before the generator itself stalls")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout (Zendesk's is about 10 s)")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(1)
	}
}

// request is one pre-signed delivery.
type request struct {
	ticket     int64
	invocation string
	timestamp  string
	signature  string
	body       string
}

// result is what happened to one request.
type result struct {
	status  int // 0: transport error
	latency time.Duration
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.secret == "" || o.rate <= 0 || o.duration <= 0 {
		return fmt.Errorf("need -secret, a positive -rate and -duration")
	}
	reqs := build(o)
	client := &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{
			MaxIdleConns: o.maxInFlight, MaxIdleConnsPerHost: o.maxInFlight,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
	}
	results, elapsed, stalls := send(ctx, client, o, reqs)
	report(out, o, results, elapsed, stalls)
	if o.db == "" {
		return nil
	}
	lost, err := countLost(ctx, o.db, reqs, results)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "lost (202 without a delivery row and a ticket_sync job or pending row): %d\n", lost)
	if lost > 0 {
		return fmt.Errorf("%d accepted deliveries were lost", lost)
	}
	return nil
}

func build(o options) []request {
	n := o.rate * int(o.duration/time.Millisecond) / 1000
	ts := time.Now().UTC().Format(time.RFC3339)
	run := time.Now().UnixNano()
	reqs := make([]request, n)
	for i := range reqs {
		r := request{ticket: o.firstTicket + int64(i), invocation: fmt.Sprintf("load-%d-%d", run, i), timestamp: ts}
		if i%2 == 0 {
			r.body = fmt.Sprintf(`{"ticket_id":"%d","updated_at":"%s","actor_id":"361123456789"}`, r.ticket, ts)
		} else {
			r.body = eventBody(r.ticket, fmt.Sprintf("%d-%d", run, i), ts)
		}
		r.signature = webhook.Sign(o.secret, ts, []byte(r.body))
		reqs[i] = r
	}
	return reqs
}

func eventBody(ticket int64, id, ts string) string {
	return fmt.Sprintf(`{"account_id":10928374,"detail":{"actor_id":"361112345678","assignee_id":"361112345678",`+
		`"brand_id":"360001234567","created_at":"2025-03-04T09:12:44Z","custom_status":"24680",`+
		`"description":"Please clone acme-prod's configuration into acme-sandbox.","external_id":null,`+
		`"form_id":"360000111222","group_id":"360000333444","id":"%d","is_public":true,`+
		`"organization_id":"360099887766","priority":"NORMAL","requester_id":"361123456789","status":"OPEN",`+
		`"subject":"Sandbox refresh request","submitter_id":"361123456789","tags":["sandbox_clone","clone_approved"],`+
		`"type":"TASK","updated_at":"%s","via":{"channel":"web"}},"event":{"meta":{"sequence":`+
		`{"id":"6F1C0A3E9B2D4E1F8A7B6C5D4E3F2A1B","position":1}},"tags_added":["clone_approved"],"tags_removed":[]},`+
		`"id":"load-%s","subject":"zen:ticket:%d","time":"%s","type":"zen:event-type:ticket.tags_changed",`+
		`"zendesk_event_version":"2022-11-06"}`, ticket, ts, id, ticket, ts)
}

// send fires reqs at the fixed rate, each in its own goroutine, and waits for all.
// stalls counts sends delayed because max-in-flight requests were outstanding.
func send(ctx context.Context, client *http.Client, o options, reqs []request) ([]result, time.Duration, int) {
	results := make([]result, len(reqs))
	interval := time.Second / time.Duration(o.rate)
	slots := make(chan struct{}, o.maxInFlight)
	var wg sync.WaitGroup
	stalls := 0
	start := time.Now()
	for i := range reqs {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		default:
			stalls++
			slots <- struct{}{}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			results[i] = deliver(ctx, client, o.url, reqs[i], due)
		})
	}
	wg.Wait()
	return results, time.Since(start), stalls
}

func deliver(ctx context.Context, client *http.Client, url string, r request, due time.Time) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(r.body))
	if err != nil {
		return result{latency: time.Since(due)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderSignature, r.signature)
	req.Header.Set(webhook.HeaderTimestamp, r.timestamp)
	req.Header.Set(webhook.HeaderInvocationID, r.invocation)
	resp, err := client.Do(req)
	if err != nil {
		return result{latency: time.Since(due)}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{status: resp.StatusCode, latency: time.Since(due)}
}

func report(out io.Writer, o options, results []result, elapsed time.Duration, stalls int) {
	statuses := map[int]int{}
	lat := make([]time.Duration, 0, len(results))
	for _, r := range results {
		statuses[r.status]++
		lat = append(lat, r.latency)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(out, "target: %d/s for %s = %d deliveries\n", o.rate, o.duration, len(results))
	fmt.Fprintf(out, "throughput: %.0f acknowledged/s (%d in %s, incl. the wait for the last answers)\n",
		float64(len(results)-statuses[0])/elapsed.Seconds(), len(results)-statuses[0], elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "latency from scheduled send: p50 %s  p90 %s  p99 %s  max %s\n",
		ms(q(.50)), ms(q(.90)), ms(q(.99)), ms(lat[len(lat)-1]))
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "transport-error"
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, statuses[k]))
	}
	fmt.Fprintf(out, "statuses: %s\n", strings.Join(parts, " "))
	if stalls > 0 {
		fmt.Fprintf(out, "generator stalls (max-in-flight reached): %d\n", stalls)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// countLost counts the 202s that have no delivery row, or whose ticket has neither a
// ticket_sync job (in any state) nor a pending sync.
func countLost(ctx context.Context, dbURL string, reqs []request, results []result) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("connect to the bot database: %w", err)
	}
	defer conn.Close(ctx)
	var invs []string
	var tickets []int64
	for i, r := range results {
		if r.status == http.StatusAccepted {
			invs = append(invs, reqs[i].invocation)
			tickets = append(tickets, reqs[i].ticket)
		}
	}
	var lost int64
	err = conn.QueryRow(ctx, `
WITH accepted (invocation_id, ticket_id) AS (SELECT * FROM unnest($1::text[], $2::bigint[])),
     synced AS (SELECT DISTINCT (args->>'ticket_id')::bigint AS ticket_id FROM river_job WHERE kind = 'ticket_sync')
SELECT count(*) FROM accepted a
WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.invocation_id = a.invocation_id)
   OR (NOT EXISTS (SELECT 1 FROM synced s WHERE s.ticket_id = a.ticket_id)
       AND NOT EXISTS (SELECT 1 FROM ticket_sync_pending p WHERE p.ticket_id = a.ticket_id))`, invs, tickets).Scan(&lost)
	if err != nil {
		return 0, fmt.Errorf("count lost deliveries: %w", err)
	}
	return lost, nil
}
