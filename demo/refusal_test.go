package demo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/zendesksim"
)

// A sandbox whose database no longer proves it is the sandbox when its window
// comes: the clone is refused before anything is posted about it: no "started"
// notice, no export of the sandbox-only work, no wipe.
func TestScheduledCloneIntoAnUnprovenSandboxPostsNothing(t *testing.T) {
	e := start(t, Options{})
	ctx := context.Background()
	tk := e.Sim.CreateTicket(e.Customer.ID, zendesksim.TicketSpec{
		Subject: "Please refresh our sandbox", Description: "Replace our sandbox with production's configuration.",
		OrganizationID: e.OrgID, Tags: []string{"sandbox_clone"},
		CustomFields: map[int64]any{FieldProduction: "acme-prod", FieldSandbox: "acme-sandbox", FieldWipe: true, FieldUsers: "dana@acme-fiber.example"},
	})
	if err := e.WaitAnnounced(ctx, tk.ID, "awaiting_approval"); err != nil {
		t.Fatal(err)
	}
	if err := e.update(tk.ID, e.Agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitAnnounced(ctx, tk.ID, "scheduled"); err != nil {
		t.Fatal(err)
	}
	// The marker is lost, as when the entry is pointed at another database.
	conn, err := pgx.Connect(ctx, e.SandboxURL())
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "DROP SCHEMA clonebot CASCADE")
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := pgtest.QueryOne[string](t, e.SandboxURL(), fmt.Sprintf(tableDigest, "workflows"))
	e.Clock.Set(e.nextWindow().Add(time.Minute))
	if err := e.WaitAnnounced(ctx, tk.ID, "preflight"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range announcementsOnce(t, e, tk.ID) {
		if kind := strings.Split(ref, "/")[1]; kind == "running" || kind == "export" || kind == "ready" {
			t.Errorf("announced %s for a clone the preflight refuses", ref)
		}
	}
	var note string
	for _, c := range e.Sim.Comments(tk.ID) {
		if len(c.Attachments) > 0 {
			t.Errorf("a comment carries attachments: %s", c.Body)
		}
		if !c.Public && strings.HasPrefix(c.Body, "Preflight refused") {
			note = c.Body
		}
	}
	if !strings.Contains(note, "sandbox acme-sandbox is not enrolled") || !strings.Contains(note, "clonebot enroll --instance acme-sandbox") {
		t.Errorf("the agents' note does not say how to enroll the sandbox:\n%s", note)
	}
	if after := pgtest.QueryOne[string](t, e.SandboxURL(), fmt.Sprintf(tableDigest, "workflows")); after != before {
		t.Error("the sandbox changed")
	}
}
