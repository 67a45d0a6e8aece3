package zendesksim

import (
	"slices"
	"time"
)

// User is a Zendesk user.
type User struct {
	ID    int64
	Name  string
	Email string
	Role  string // "end-user", "agent" or "admin"
	// OrganizationID is the user's default organization; Memberships lists every
	// organization the user belongs to, the default first.
	OrganizationID int64
	Memberships    []int64
	// Active is false once the user is deleted (Zendesk keeps deleted users and
	// answers for them with active false); Suspended users cannot sign in.
	Active    bool
	Suspended bool
}

// TicketSpec describes a ticket to create.
type TicketSpec struct {
	Subject        string
	Description    string // becomes the first, public comment
	OrganizationID int64
	Priority       string
	Type           string
	Tags           []string
	CustomFields   map[int64]any
}

// NewComment is a comment added through the Go API.
type NewComment struct {
	Body        string
	HTMLBody    string
	Public      bool
	Attachments []File
}

// File is an attachment's content.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// TicketChange is an edit of a ticket through the Go API, as made in Zendesk's UI.
type TicketChange struct {
	AddTags      []string
	RemoveTags   []string
	CustomFields map[int64]any // nil value clears a field
	Status       string
	Comment      *NewComment
	// ViaTrigger records the change as made by a trigger (via channel "rule")
	// on behalf of the acting user.
	ViaTrigger bool
	// Trigger is what an account's trigger sets when it fires on this update.
	Trigger *TriggerActions
}

// TriggerActions are what a trigger sets when it fires on a person's update:
// Zendesk records them in that update's own audit, after the person's changes,
// each event carrying a via of its own (channel "rule", source "trigger"),
// while the audit stays the person's.
type TriggerActions struct {
	AddTags  []string
	Priority string
}

// Ticket is a snapshot of a ticket.
type Ticket struct {
	ID             int64
	Subject        string
	Description    string
	Status         string
	Priority       string
	Type           string
	Tags           []string
	RequesterID    int64
	SubmitterID    int64
	AssigneeID     int64
	OrganizationID int64
	CustomFields   map[int64]any
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Comment is a snapshot of a ticket comment.
type Comment struct {
	ID          int64
	AuthorID    int64
	Body        string
	HTMLBody    string
	Public      bool
	Attachments []Attachment
	CreatedAt   time.Time
}

// Attachment is a file attached to a comment.
type Attachment struct {
	ID          int64
	FileName    string
	ContentType string
	Size        int64
	Data        []byte
}

// Audit is a snapshot of a ticket audit. Events have the JSON shape Zendesk sends.
type Audit struct {
	ID         int64
	AuthorID   int64
	CreatedAt  time.Time
	ViaChannel string
	Events     []map[string]any
}

// ticket is the stored state of a ticket; guarded by Server.mu.
type ticket struct {
	Ticket
	comments []*Comment
	audits   []*Audit
}

func (t *ticket) snapshot() Ticket {
	s := t.Ticket
	s.Tags = slices.Clone(t.Tags)
	s.CustomFields = make(map[int64]any, len(t.CustomFields))
	for k, v := range t.CustomFields {
		s.CustomFields[k] = v
	}
	return s
}

func (u *User) snapshot() User {
	s := *u
	s.Memberships = slices.Clone(u.Memberships)
	return s
}

func (c *Comment) snapshot() Comment {
	s := *c
	s.Attachments = slices.Clone(c.Attachments)
	return s
}

// upload is a token holding uploaded files until a comment uses it.
type upload struct {
	token       string
	attachments []Attachment
}
