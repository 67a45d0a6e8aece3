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
