package opstest

import (
	"context"
	"slices"
	"testing"
	"time"
)

// readyAnnouncements is the conversation of a valid request approved by an agent,
// whose sandbox holds sandbox-only workflows (exported before the wipe).
var readyAnnouncements = []string{"awaiting_approval", "awaiting_approval/internal", "scheduled", "running", "export", "ready", "ready/internal"}

// Two replicas share the bot database and both receive every webhook, each also
// duplicated by the simulator: one clone runs and every announcement is posted once.
func TestTwoReplicasEveryWebhookTwiceOneClone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{replicas: 2})
	w.sim.SetWebhookDuplicates(1)
	began := time.Now()

	id := w.fileRequest()
	w.waitAnnounced(id, "awaiting_approval", time.Minute)
	approving := time.Now()
	w.approve(id)
	w.waitAnnounced(id, "ready", 2*time.Minute)
	ready := time.Since(approving)

	if got := w.announcements(id); !slices.Equal(got, readyAnnouncements) {
		t.Errorf("announcements = %v, want %v", got, readyAnnouncements)
	}
	if got := w.statusTags(id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v, want only clone_status_ready", got)
	}
	if n := w.count("SELECT count(*) FROM audit_log WHERE ticket_id = $1 AND from_state = 'running' AND to_state = 'ready'", id); n != 1 {
		t.Errorf("%d running->ready transitions, want 1", n)
	}
	if n := w.count("SELECT count(*) FROM audit_log WHERE ticket_id = $1 AND to_state = 'running'", id); n != 1 {
		t.Errorf("%d clone starts, want 1", n)
	}
	if n := w.count("SELECT count(*) FROM river_job WHERE kind = 'clone'"); n != 1 {
		t.Errorf("%d clone jobs, want 1", n)
	}
	// The ready notice can be posted a moment before River records the clone job
	// as completed.
	if n := w.countEventually(1, "SELECT count(*) FROM river_job WHERE kind = 'clone' AND state = 'completed'"); n != 1 {
		t.Errorf("%d completed clone jobs, want 1", n)
	}
	var runners []string
	for _, r := range w.replicas {
		if r.logged("clone starting", map[string]any{"ticket": id}) {
			runners = append(runners, r.name)
		}
	}
	if len(runners) != 1 {
		t.Errorf("clone started by %v, want exactly one replica", runners)
	}

	// Every webhook reached both replicas twice; each replica answered each one.
	// The last ones (Zendesk's events for the ready notice) may still be in flight.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	hooks := w.sim.Webhooks()
	byStatus := map[int]int{}
	for _, h := range hooks {
		byStatus[h.Status]++
	}
	accepted := w.count("SELECT count(*) FROM webhook_deliveries WHERE ticket_id = $1", id)
	if byStatus[202]+byStatus[200] != len(hooks) {
		t.Errorf("webhook answers %v: some were neither accepted nor duplicates", byStatus)
	}
	if int64(byStatus[202]) != accepted {
		t.Errorf("%d deliveries answered 202 but %d recorded", byStatus[202], accepted)
	}
	syncs := w.count("SELECT count(*) FROM river_job WHERE kind = 'ticket_sync' AND (args->>'ticket_id')::bigint = $1", id)
	outcome(t, "replicas: %d webhooks sent (%d changes x 2 replicas x 2 copies), answers %v, %d deliveries recorded, %d ticket syncs; clone by %v; approval to ready notice %s; whole story %s",
		len(hooks), len(hooks)/4, byStatus, accepted, syncs, runners, ready.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
