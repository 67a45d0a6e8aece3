package opstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

func readyz(r *replica) int {
	resp, err := http.Get("http://" + r.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The bot database goes away while tickets change: both replicas answer 503 with a
// Retry-After under a minute (without one Zendesk would drop the delivery), the
// simulator retries, and once the database is back every delivery is accepted and
// the requests move on.
func TestBotDatabaseOutageDuringIntakeLosesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{replicas: 2, webhookAttempts: 8, webhookRetryDelay: 250 * time.Millisecond})
	pgtest.SetConnections(t, w.botURL, false)
	down := time.Now()
	for _, r := range w.replicas {
		w.waitFor(30*time.Second, r.name+" unready", func(context.Context) (bool, error) { return readyz(r) == http.StatusServiceUnavailable, nil })
	}
	ids := []int64{w.fileRequest(), w.fileRequest()}
	w.update(ids[1], w.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Thanks!", Public: true}})
	// The outage lasts until the replicas have turned deliveries away: one 503 per
	// change at least.
	w.waitFor(time.Minute, "webhooks answered 503", func(context.Context) (bool, error) {
		n := 0
		for _, r := range w.replicas {
			n += metricSum(t, r, `clonebot_webhook_requests_total{`, `status="503"`)
		}
		return n >= 3, nil
	})
	pgtest.SetConnections(t, w.botURL, true)
	outage := time.Since(down)
	restored := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	drained := time.Since(restored)
	for _, id := range ids {
		w.waitAnnounced(id, "awaiting_approval", time.Minute)
	}
	announced := time.Since(restored)

	var retried, failedAttempts, accepted, duplicates int
	for _, h := range w.sim.Webhooks() {
		switch h.Status {
		case http.StatusAccepted:
			accepted++
		case http.StatusOK:
			duplicates++
		default:
			t.Errorf("delivery %s to %s ended with %d %s after %d attempts", h.InvocationID, h.URL, h.Status, h.Err, h.Attempts)
		}
		if h.Attempts > 1 {
			retried++
			failedAttempts += h.Attempts - 1
		}
		if h.Status == http.StatusAccepted {
			if n := w.count("SELECT count(*) FROM webhook_deliveries WHERE invocation_id = $1", h.InvocationID); n != 1 {
				t.Errorf("delivery %s was accepted but not recorded", h.InvocationID)
			}
		}
	}
	if retried == 0 {
		t.Error("no delivery was retried: the outage was not exercised")
	}
	unavailable := 0
	for _, r := range w.replicas {
		unavailable += metricSum(t, r, `clonebot_webhook_requests_total{`, `status="503"`)
	}
	for _, id := range ids {
		if got := w.announcements(id); !slices.Equal(got, []string{"awaiting_approval", "awaiting_approval/internal"}) {
			t.Errorf("ticket %d announcements = %v", id, got)
		}
	}
	outcome(t, "bot database outage: %s down; %d webhook answers 503 across both replicas; %d deliveries retried (%d failed attempts), all then answered: %d accepted, %d duplicates or ignored; webhook queue drained %s after the restore; both requests announced %s after it",
		outage.Round(time.Millisecond), unavailable, retried, failedAttempts, accepted, duplicates, drained.Round(time.Millisecond), announced.Round(time.Millisecond))
}

// metricSum adds the values of a replica's metric lines that start with prefix and
// contain label.
func metricSum(t *testing.T, r *replica, prefix, label string) int {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	if _, err := bufioCopy(&buf, resp); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

// The sandbox's database stops answering when an agent approves: the ticket is not
// left silent. Within a minute it hears, once, that the request is being checked
// (with the reason in an internal note); the sync keeps retrying; once the
// sandbox answers, the ticket hears it, and the clone runs to its ready notice.
func TestInstanceUnreachableTheTicketHearsAndTheCloneRuns(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.fileRequest()
	w.waitAnnounced(id, "awaiting_approval", time.Minute)

	pgtest.SetConnections(t, w.sbxURL, false)
	approved := time.Now()
	w.approve(id)
	w.waitAnnounced(id, "checking", time.Minute)
	heard := time.Since(approved)
	if heard > time.Minute {
		t.Errorf("the ticket heard %s after the approval, more than a minute", heard.Round(time.Millisecond))
	}
	comments := w.sim.Comments(id)
	note := comments[len(comments)-1]
	if note.Public || !strings.Contains(note.Body, "acme-sandbox") || !strings.Contains(note.Body, "accepting connections") {
		t.Errorf("the last comment should be an internal note naming the instance and the reason, got public=%v:\n%s", note.Public, note.Body)
	}
	// The sync keeps failing, and the ticket hears nothing more: wait for another
	// failure, and a due run after it, before the instance comes back.
	failures := w.count("SELECT attempts FROM ticket_troubles WHERE ticket_id = $1", id)
	w.waitFor(2*time.Minute, "another failed sync", func(context.Context) (bool, error) {
		return w.count("SELECT coalesce(max(attempts), 0) FROM ticket_troubles WHERE ticket_id = $1", id) > failures, nil
	})
	dues := w.count("SELECT count(*) FROM river_job WHERE kind = 'due' AND state = 'completed'")
	w.waitFor(time.Minute, "a due run after it", func(context.Context) (bool, error) {
		return w.count("SELECT count(*) FROM river_job WHERE kind = 'due' AND state = 'completed'") > dues, nil
	})
	pgtest.SetConnections(t, w.sbxURL, true)
	back := time.Now()
	w.waitState(id, "ready", 3*time.Minute)
	w.waitAnnounced(id, "ready", time.Minute)
	readyIn := time.Since(back)

	want := []string{"awaiting_approval", "awaiting_approval/internal", "checking", "checking/internal", "resolved", "scheduled", "running", "export", "ready", "ready/internal"}
	if got := w.announcements(id); !slices.Equal(got, want) {
		t.Errorf("announcements = %v, want %v", got, want)
	}
	if got := w.statusTags(id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v", got)
	}
	announced := 0
	for _, r := range w.replicas {
		announced += metricSum(t, r, "clonebot_troubles_announced_total{", `job="ticket_sync"`)
	}
	if announced != 1 {
		t.Errorf("clonebot_troubles_announced_total{job=ticket_sync} = %d, want 1", announced)
	}
	outcome(t, "instance unreachable: the ticket heard %s after the approval (once, reason in an internal note); sandbox back, ready notice %s later",
		heard.Round(time.Millisecond), readyIn.Round(time.Millisecond))
}

// requestedAfter reports whether the simulator answered method path after the
// first seen requests of its log.
func (w *world) requestedAfter(seen int, method, path string) bool {
	for _, r := range w.sim.Requests()[seen:] {
		if r.Method == method && strings.TrimSuffix(r.Path, ".json") == path {
			return true
		}
	}
	return false
}

func bufioCopy(dst *strings.Builder, resp *http.Response) (int64, error) {
	n, err := io.Copy(dst, resp.Body)
	if err != nil {
		return n, fmt.Errorf("read %s: %w", resp.Request.URL, err)
	}
	return n, nil
}
