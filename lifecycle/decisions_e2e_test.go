package lifecycle

import (
	"slices"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/zendesksim"
)

func (h *harness) wantKinds(id int64, want ...string) {
	h.t.Helper()
	if got := h.kinds(id); !slices.Equal(got, want) {
		h.t.Fatalf("announcements queued = %v, want %v", got, want)
	}
}

func (h *harness) wantState(id int64, want rules.State) {
	h.t.Helper()
	if got := h.state(id); got != want {
		h.t.Fatalf("request is %q, want %q", got, want)
	}
}

// A ticket filed with the approval tag on it is acknowledged and planned like any
// other; the customer's tag is refused once; an agent's tag afterwards approves.
func TestFiledWithTheApprovalTag(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true, "clone_approved")
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "approval_refused")
	// The refusal names the customer, whose id is past 2^31 like every real user's.
	var actor int64
	if err := h.pool.QueryRow(h.ctx, `SELECT actor_id FROM audit_log WHERE ticket_id = $1::bigint AND reason = $2::text`,
		id, string(rules.ReasonApprovalRefused)).Scan(&actor); err != nil || actor != h.customer.ID {
		t.Fatalf("refusal recorded for actor %d (%v), want the customer %d", actor, err, h.customer.ID)
	}

	h.update(id, h.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Any news?", Public: true}})
	h.sync(id)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "approval_refused")

	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "approval_refused", "scheduled")

	h.post(id)
	var bodies []string
	for _, c := range h.sim.Comments(id) {
		if c.AuthorID == h.bot.ID {
			bodies = append(bodies, strings.SplitN(c.Body, "\n", 2)[0])
		}
	}
	if len(bodies) != 4 || !strings.HasPrefix(bodies[0], "Thanks, we have your request") || !strings.HasPrefix(bodies[1], "Preflight plan:") ||
		!strings.Contains(bodies[2], "only counts when our support team adds it") || !strings.HasPrefix(bodies[3], "Your clone is approved") {
		t.Fatalf("the ticket reads, in order:\n%s", strings.Join(bodies, "\n"))
	}
	if tags := h.sim.Ticket(id).Tags; !slices.Contains(tags, "clone_status_scheduled") || slices.Contains(tags, "clone_status_awaiting_approval") {
		t.Errorf("status tags = %v, want clone_status_scheduled only", tags)
	}
}

// The bot's own user, a service account and a trigger never approve, whatever
// their role; neither is answered as an end user would be.
func TestAutomatedApprovalsAreNoApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	h.sync(id)
	adds := []struct {
		name string
		by   int64
		rule bool
	}{{"the bot (an admin)", h.bot.ID, false}, {"a service account (an admin)", h.service.ID, false}, {"a trigger, for an agent", h.agent.ID, true}}
	for _, a := range adds {
		h.update(id, a.by, zendesksim.TicketChange{AddTags: []string{"clone_approved"}, ViaTrigger: a.rule})
		h.sync(id)
		if got := h.state(id); got != rules.AwaitingApproval {
			t.Fatalf("after the approval tag of %s the request is %s", a.name, got)
		}
		h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
		h.sync(id)
	}
	// Holding and rejecting are decisions too.
	h.update(id, h.bot.ID, zendesksim.TicketChange{AddTags: []string{"clone_hold", "clone_rejected"}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal")
}

// A trigger of the account that fires on an update writes its changes into that
// update's audit, each with a via of its own: the agent's approval tag stays the
// agent's decision, and a tag the trigger adds is nobody's.
func TestTriggerFiringOnAnUpdateKeepsTheApprovalTheAgents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	h.sync(id)
	h.update(id, h.agent.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Looking at it."},
		Trigger: &zendesksim.TriggerActions{AddTags: []string{"clone_approved"}, Priority: "high"}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal")

	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"},
		Trigger: &zendesksim.TriggerActions{AddTags: []string{"escalated"}, Priority: "urgent"}})
	if a := h.sim.Audits(id); a[len(a)-1].ViaChannel != "web" || len(a[len(a)-1].Events) != 3 {
		t.Fatalf("the approval's audit is not the agent's with the trigger's events in it: %+v", a[len(a)-1])
	}
	h.sync(id)
	h.wantState(id, rules.Scheduled)
}

// An agent approves and the customer changes the sandbox in the same second: the
// approval was for the request the agent saw, so nothing is scheduled. Once
// scheduled, an edit in the approval's second still voids it.
func TestSameSecondChangeVoidsTheApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	h.sync(id)
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.update(id, h.customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{ruleFieldSandbox: "acme-uat"}})
	if a := h.sim.Audits(id); !a[len(a)-1].CreatedAt.Equal(a[len(a)-2].CreatedAt) {
		t.Fatal("the two changes are not in the same second")
	}
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	// The agents are told that their tag did not count, and shown the new plan.
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "revised", "revised/internal")
	if note := h.lastNote(id); !strings.Contains(note, "added before the change and does not count") ||
		!strings.Contains(note, "Preflight plan: acme-prod -> acme-uat") {
		t.Fatalf("the agents' note after the change reads:\n%s", note)
	}

	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)
	h.update(id, h.customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{ruleFieldSandbox: "acme-sandbox"}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "revised", "revised/internal", "scheduled", "changed", "changed/internal")
	if note := h.lastNote(id); !strings.Contains(note, "approval no longer counts") || !strings.Contains(note, "Preflight plan: acme-prod -> acme-sandbox") {
		t.Fatalf("the agents' note after the change reads:\n%s", note)
	}
	// A change that keeps the request's meaning (its address for its name) keeps
	// the approval.
	h.update(id, h.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.update(id, h.customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{ruleFieldSandbox: "https://acme.sandbox.example-isp.app"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)
}

// The customer names another sandbox while the request waits for an approval: the
// agents get the plan of the request as it now stands before anyone approves, and
// the approval schedules the clone of the sandbox that plan named.
func TestChangeWhileAwaitingApprovalIsPlannedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.file("acme-sandbox", true)
	h.sync(id)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal")
	h.update(id, h.customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{ruleFieldSandbox: "acme-uat"}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "revised", "revised/internal")
	note := h.lastNote(id)
	if !strings.Contains(note, "Preflight plan: acme-prod -> acme-uat") || strings.Contains(note, "does not count") {
		t.Fatalf("the agents' note after the change reads:\n%s", note)
	}
	var public string
	if err := h.pool.QueryRow(h.ctx, "SELECT body FROM outbox WHERE ticket_id = $1::bigint AND public ORDER BY id DESC LIMIT 1", id).Scan(&public); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(public, "replace sandbox **acme-uat**") {
		t.Fatalf("the customer is told:\n%s", public)
	}
	var reason string
	if err := h.pool.QueryRow(h.ctx, "SELECT reason FROM audit_log WHERE ticket_id = $1::bigint ORDER BY id DESC LIMIT 1", id).Scan(&reason); err != nil || reason != string(rules.ReasonRevised) {
		t.Fatalf("last audit_log reason %q (%v), want %q", reason, err, rules.ReasonRevised)
	}
	// Read again, nothing new: announced once.
	h.update(id, h.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Thanks!", Public: true}})
	h.sync(id)
	h.wantKinds(id, "awaiting_approval", "awaiting_approval/internal", "revised", "revised/internal")

	h.update(id, h.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)
	var sandbox string
	if err := h.pool.QueryRow(h.ctx, "SELECT sandbox FROM clone_requests WHERE ticket_id = $1::bigint", id).Scan(&sandbox); err != nil || sandbox != "acme-uat" {
		t.Fatalf("scheduled sandbox %q (%v), want acme-uat", sandbox, err)
	}
}

// Roles are judged per audit: an end user's tag stays an end user's after the user
// is promoted; the promoted user's later tag approves.
func TestPromotionDoesNotTurnAnOldTagIntoAnApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	lee := h.sim.CreateUser("Lee", "lee@acme-fiber.example", "end-user")
	id := h.file("acme-sandbox", true)
	h.sync(id)
	h.update(id, lee.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	if _, err := h.sim.UpdateUser(lee.ID, zendesksim.UserChange{Role: "agent"}); err != nil {
		t.Fatal(err)
	}
	h.update(id, h.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "Lee works for you now.", Public: true}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
	h.update(id, lee.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}})
	h.update(id, lee.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
	h.sync(id)
	h.wantState(id, rules.Scheduled)
}

// The requester must belong to the ticket's organization: its default one or any
// of its memberships.
func TestRequesterMustBelongToTheOrganization(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	other := h.sim.CreateOrganization("Another ISP")
	outsider := h.sim.CreateUser("Ola", "ola@another-isp.example", "end-user")
	if err := h.sim.AddMembership(outsider.ID, other); err != nil {
		t.Fatal(err)
	}
	id := h.sim.CreateTicket(outsider.ID, zendesksim.TicketSpec{
		Subject: "Sandbox please", OrganizationID: h.org, Tags: []string{"sandbox_clone"},
		CustomFields: map[int64]any{ruleFieldProduction: "acme-prod", ruleFieldSandbox: "acme-sandbox", ruleFieldWipe: true, ruleFieldUsers: "ola@another-isp.example"},
	}).ID
	h.sync(id)
	h.wantState(id, rules.NeedsInfo)
	h.post(id)
	comments := h.sim.Comments(id)
	if last := comments[len(comments)-1].Body; !strings.Contains(last, "does not belong to") || strings.Contains(last, "acme-prod") {
		t.Fatalf("the refusal should say why and name no instance:\n%s", last)
	}
	// Added to the organization (a second membership), the request goes through.
	if err := h.sim.AddMembership(outsider.ID, h.org); err != nil {
		t.Fatal(err)
	}
	h.update(id, outsider.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "I was added.", Public: true}})
	h.sync(id)
	h.wantState(id, rules.AwaitingApproval)
}
