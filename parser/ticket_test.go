package parser

import (
	"testing"
	"time"
)

// Zendesk's statuses and roles, as the rules read them.
func TestClosedStatusesAndStaffRoles(t *testing.T) {
	t.Parallel()
	for status, closed := range map[string]bool{"new": false, "open": false, "pending": false, "hold": false, "solved": true, "closed": true, "deleted": true} {
		if got := (Ticket{Status: status}).Closed(); got != closed {
			t.Errorf("status %s: Closed = %v, want %v", status, got, closed)
		}
	}
	if d := Deleted(4821348213, time.Now()); !d.Closed() || d.HasTag("sandbox_clone") || d.ID != 4821348213 {
		t.Errorf("a deleted ticket reads %+v", d)
	}
	for role, staff := range map[Role]bool{RoleAgent: true, RoleAdmin: true, RoleEndUser: false, RoleNone: false, "light-agent": false} {
		if got := role.Staff(); got != staff {
			t.Errorf("role %q: Staff = %v, want %v", role, got, staff)
		}
	}
}
