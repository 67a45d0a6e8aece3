package parser

import (
	"strings"
	"time"
)

// Ticket is the part of a Zendesk ticket that clonebot reads.
type Ticket struct {
	ID, RequesterID, SubmitterID, OrganizationID int64
	// Status is lower-cased: "new", "open", "pending", "hold", "solved", "closed".
	Subject, Description, Status string
	Tags                         []string
	// CustomFields holds values normalised to string, bool, []string or nil;
	// JSON numbers become their decimal string.
	CustomFields map[int64]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// RequesterOrganizations are the organizations the requester belongs to (its
	// default one and its memberships), read from the user by the caller. When
	// set, a ticket filed under an organization the requester is not a member of
	// is refused; nil leaves it unchecked.
	RequesterOrganizations []int64
}

// HasTag reports whether the ticket carries tag. Zendesk stores tags
// lower-cased, but a hand-written fixture or simulator may not.
func (t Ticket) HasTag(tag string) bool {
	for _, have := range t.Tags {
		if strings.EqualFold(have, tag) {
			return true
		}
	}
	return false
}

// Closed reports whether the ticket is done with: solved, closed, or deleted
// (a ticket the API no longer returns reads as deleted).
func (t Ticket) Closed() bool {
	return t.Status == "solved" || t.Status == "closed" || t.Status == StatusDeleted
}

// StatusDeleted is the status of a deleted ticket.
const StatusDeleted = "deleted"

// Deleted returns the ticket id as it reads once deleted: closed, with no tags
// and no answers, which cancels a request the bot follows.
func Deleted(id int64, at time.Time) Ticket {
	return Ticket{ID: id, Status: StatusDeleted, UpdatedAt: at}
}

// Role is a Zendesk user's role. The empty Role is no role at all: a user who
// cannot act (suspended, deleted, gone).
type Role string

// The roles of Zendesk users.
const (
	RoleEndUser Role = "end-user"
	RoleAgent   Role = "agent"
	RoleAdmin   Role = "admin"
	RoleNone    Role = ""
)

// Staff reports whether the role is an agent's or an admin's.
func (r Role) Staff() bool { return r == RoleAgent || r == RoleAdmin }
