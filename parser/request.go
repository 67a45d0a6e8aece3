package parser

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Request is a valid clone request read from a ticket.
type Request struct {
	Production, Sandbox, Tenant string
	WipeConfirmed               bool
	// Users are in the order the customer listed them, de-duplicated.
	Users                       []User
	RequesterID, OrganizationID int64
	// Fingerprint is the sha256 hex of the request's normalised content.
	// An approval is bound to it, so it changes exactly when the meaning
	// of the request changes.
	Fingerprint string
}

// User is one person to re-invite to the new sandbox.
type User struct {
	Name string
	// Email is lower-cased.
	Email string
	// Role is what the customer wrote in parentheses, spaces collapsed; may be empty.
	Role string
}

// Problem is one reason a ticket is not yet a valid request, written for
// the customer.
type Problem struct {
	// Field is the customer-facing field name, e.g. "Production instance".
	Field string
	// Value quotes the offending input (truncated); it may be empty.
	Value string
	// Message says what is wrong and how to fix it.
	Message string
}

func (p Problem) String() string {
	if p.Value == "" {
		return p.Field + ": " + p.Message
	}
	return fmt.Sprintf("%s: %q: %s", p.Field, p.Value, p.Message)
}

// Customer-facing field names, as the ticket form shows them.
const (
	FieldProduction   = "Production instance"
	FieldSandbox      = "Sandbox instance"
	FieldWipe         = "Wipe confirmation"
	FieldUsers        = "Users to re-invite"
	FieldOrganization = "Organization"
)

// fingerprint hashes the fields that decide what the clone does. User
// names are left out (they change nobody's access) and users are sorted,
// so reordering, re-casing or repeating them keeps the approval valid.
func fingerprint(r Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "clonebot-request v1\nproduction %s\nsandbox %s\ntenant %s\nwipe %t\nrequester %d\norganization %d\n",
		r.Production, r.Sandbox, r.Tenant, r.WipeConfirmed, r.RequesterID, r.OrganizationID)
	users := make([]string, 0, len(r.Users))
	for _, u := range r.Users {
		users = append(users, fmt.Sprintf("user %s %s\n", strings.ToLower(u.Email), strings.ToLower(u.Role)))
	}
	slices.Sort(users)
	users = slices.Compact(users)
	for _, u := range users {
		b.WriteString(u)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
