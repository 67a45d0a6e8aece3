package lifecycle

import (
	"testing"
	"time"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// With no webhook at all, the sweep finds the changed tickets in Zendesk's
// incremental export (a minute late, as Zendesk holds the last minute back):
// new requests, and the withdrawal of one the bot follows; a ticket that is no
// clone request is left alone.
func TestSweepFindsWhatWebhooksMissed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	pending := func(id int64) int64 {
		return pgtest.QueryOne[int64](t, h.poolURL(), "SELECT count(*) FROM ticket_sync_pending WHERE ticket_id = $1::bigint", id)
	}
	sweep := func() {
		t.Helper()
		if err := h.s.sweep.sweep(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	request := h.file("acme-sandbox", true)
	other := h.sim.CreateTicket(h.customer.ID, zendesksim.TicketSpec{Subject: "Invoice question", OrganizationID: h.org}).ID
	sweep()
	if pending(request) != 0 {
		t.Fatal("the sweep saw a change of the last minute, which Zendesk holds back")
	}
	h.simClock.Add(61 * time.Second)
	sweep()
	if pending(request) != 1 || pending(other) != 0 {
		t.Fatalf("after the minute: request pending %d, other ticket pending %d; want 1 and 0", pending(request), pending(other))
	}
	h.sync(request)
	h.wantState(request, rules.AwaitingApproval)

	// Withdrawn: no longer tagged, but followed.
	h.update(request, h.customer.ID, zendesksim.TicketChange{RemoveTags: []string{"sandbox_clone"}})
	h.simClock.Add(61 * time.Second)
	sweep()
	if pending(request) != 1 {
		t.Fatal("the sweep did not queue the withdrawn request")
	}
	h.sync(request)
	h.wantState(request, rules.Cancelled)
	// The cursor moves on: nothing changed since, nothing queued.
	sweep()
	if pending(request) != 0 {
		t.Fatal("the sweep read the same change twice")
	}
	if n := value(t, h.metrics.SweepSyncs); n != 2 {
		t.Errorf("clonebot_sweep_syncs_total = %v, want 2", n)
	}
}
