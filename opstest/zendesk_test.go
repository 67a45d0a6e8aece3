package opstest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gaiia/clonebot/zendesksim"
)

// zendeskOutage is how long Zendesk answers every API call with 503.
const zendeskOutage = 25 * time.Second

// Zendesk goes down right after an approval was read: nothing can be posted or
// re-read for a while. Once it is back, the clone runs and every announcement
// reaches the ticket, in order, once.
func TestZendeskDownAnnouncementsDeliveredAfterwardsInOrderOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.fileRequest()
	w.waitAnnounced(id, "awaiting_approval", time.Minute)

	// Hold the approval's sync at its last Zendesk call (judging the approver, right
	// after reading the requester's organizations), and take Zendesk down meanwhile.
	w.sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: fmt.Sprintf("/api/v2/users/%d.json", w.agent.ID), Delay: 2 * time.Second})
	approved, seen := time.Now(), len(w.sim.Requests())
	w.approve(id)
	w.waitFor(30*time.Second, "the requester's organizations read", func(context.Context) (bool, error) {
		return w.requestedAfter(seen, "GET", fmt.Sprintf("/api/v2/users/%d/organization_memberships", w.customer.ID)), nil
	})
	w.sim.InjectFault(zendesksim.Fault{PathPrefix: "/api/", Status: 503, Times: -1})
	down := time.Now()
	w.waitState(id, "scheduled", 30*time.Second)
	time.Sleep(zendeskOutage - time.Since(down))
	w.sim.ClearFaults()
	up := time.Now()

	w.waitState(id, "ready", 2*time.Minute)
	w.waitAnnounced(id, "ready", time.Minute)
	delivered := time.Since(up)

	if got := w.announcements(id); !slices.Equal(got, readyAnnouncements) {
		t.Errorf("announcements = %v, want %v", got, readyAnnouncements)
	}
	if got := w.statusTags(id); !slices.Equal(got, []string{"clone_status_ready"}) {
		t.Errorf("status tags = %v", got)
	}
	// The ticket's comments are the outbox in order: each posted once, oldest first.
	if n := w.count("SELECT count(*) FROM outbox WHERE ticket_id = $1 AND posted_at IS NULL", id); n != 0 {
		t.Errorf("%d announcements never posted", n)
	}
	if n := w.count(`SELECT count(*) FROM (SELECT posted_at < lag(posted_at) OVER (ORDER BY id) AS late FROM outbox WHERE ticket_id = $1) x WHERE late`, id); n != 0 {
		t.Errorf("%d announcements were posted before an older one", n)
	}
	var refused int
	for _, r := range w.sim.Requests() {
		if r.Status == 503 {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no call met the outage")
	}
	failedPosts := w.count("SELECT coalesce(sum(attempts - 1), 0) FROM outbox WHERE ticket_id = $1", id)
	outcome(t, "zendesk down: %s of 503s (%d calls refused, %d failed posts recorded); ready notice posted %s after Zendesk came back, approval to ready %s; all %d announcements once, in order",
		up.Sub(down).Round(time.Millisecond), refused, failedPosts, delivered.Round(time.Millisecond), time.Since(approved).Round(time.Millisecond), len(readyAnnouncements))
}
