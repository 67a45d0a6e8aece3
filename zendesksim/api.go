package zendesksim

import (
	"fmt"
	"slices"
	"strconv"
)

// CreateUser adds a user; role is "end-user", "agent" or "admin".
func (s *Server) CreateUser(name, email, role string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &User{ID: next(&s.ids.user), Name: name, Email: email, Role: role, Active: true}
	s.users[u.ID] = u
	return u.snapshot()
}

// CreateOrganization adds an organization and returns its id.
func (s *Server) CreateOrganization(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := next(&s.ids.organization)
	s.orgs[id] = name
	return id
}

// CreateTicket files a ticket as the user as (its requester and submitter), records
// the creation audit and sends the webhooks.
func (s *Server) CreateTicket(as int64, spec TicketSpec) Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createLocked(as, "web", spec).snapshot()
}

func (s *Server) createLocked(as int64, via string, spec TicketSpec) *ticket {
	now := s.now()
	t := &ticket{Ticket: Ticket{
		ID: next(&s.ids.ticket), Subject: spec.Subject, Description: spec.Description,
		Status: "new", Priority: spec.Priority, Type: spec.Type, Tags: normTags(spec.Tags),
		RequesterID: as, SubmitterID: as, OrganizationID: spec.OrganizationID,
		CustomFields: map[int64]any{}, CreatedAt: now, UpdatedAt: now,
	}}
	for id, v := range spec.CustomFields {
		t.CustomFields[id] = v
	}
	s.tickets[t.ID] = t
	c := s.addCommentLocked(t, &commentInput{body: spec.Description, public: true, author: as})
	events := []map[string]any{
		commentEvent(c),
		createEvent("subject", t.Subject),
		createEvent("status", t.Status),
		createEvent("tags", slices.Clone(t.Tags)),
		createEvent("requester_id", strconv.FormatInt(as, 10)),
	}
	ids := make([]int64, 0, len(t.CustomFields))
	for id := range t.CustomFields {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		events = append(events, createEvent(strconv.FormatInt(id, 10), t.CustomFields[id]))
	}
	s.recordAuditLocked(t, as, via, events)
	s.notifyLocked(t, as, diff{created: true, tagsAdded: slices.Clone(t.Tags), comment: c})
	return t
}

// UpdateTicket edits ticket id as the user as, as done in Zendesk's UI, records an
// audit and sends the webhooks. It fails on a closed or unknown ticket.
func (s *Server) UpdateTicket(id, as int64, ch TicketChange) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, fmt.Errorf("zendesksim: update ticket %d: %w", id, errNotFound)
	}
	c := change{
		actor: as, via: "web", addTags: ch.AddTags, removeTags: ch.RemoveTags,
		fields: ch.CustomFields, status: ch.Status, trigger: ch.Trigger,
	}
	if ch.ViaTrigger {
		c.via = "rule"
	}
	if ch.Comment != nil {
		c.comment = &commentInput{body: ch.Comment.Body, html: ch.Comment.HTMLBody, public: ch.Comment.Public, author: as}
		for _, f := range ch.Comment.Attachments {
			c.comment.attachments = append(c.comment.attachments, s.storeAttachmentLocked(f.Name, f.ContentType, f.Data))
		}
	}
	if _, err := s.applyLocked(t, c); err != nil {
		return Ticket{}, fmt.Errorf("zendesksim: update ticket %d: %w", id, err)
	}
	return t.snapshot(), nil
}

// Ticket returns a snapshot of ticket id, or the zero Ticket if there is none.
func (s *Server) Ticket(id int64) Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		return t.snapshot()
	}
	return Ticket{}
}

// Comments returns the comments of ticket id, oldest first.
func (s *Server) Comments(id int64) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return nil
	}
	out := make([]Comment, 0, len(t.comments))
	for _, c := range t.comments {
		out = append(out, c.snapshot())
	}
	return out
}

// Audits returns the audits of ticket id, oldest first.
func (s *Server) Audits(id int64) []Audit {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return nil
	}
	out := make([]Audit, 0, len(t.audits))
	for _, a := range t.audits {
		out = append(out, *a)
	}
	return out
}

// User returns user id, or false.
func (s *Server) User(id int64) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return u.snapshot(), true
}

func (s *Server) storeAttachmentLocked(name, contentType string, data []byte) Attachment {
	a := Attachment{ID: s.newEventIDLocked(), FileName: name, ContentType: contentType, Size: int64(len(data)), Data: slices.Clone(data)}
	s.attachments[a.ID] = &a
	return a
}

// apiActorLocked is the user that API requests act as.
func (s *Server) apiActorLocked() int64 {
	for _, u := range s.users {
		if s.cfg.Email != "" && u.Email == s.cfg.Email {
			return u.ID
		}
	}
	return -1
}

// AddMembership makes user a member of organization org; the first organization
// of a user becomes its default, as in Zendesk.
func (s *Server) AddMembership(userID, org int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("zendesksim: add membership of user %d: %w", userID, errNotFound)
	}
	if _, ok := s.orgs[org]; !ok {
		return fmt.Errorf("zendesksim: add membership in organization %d: %w", org, errNotFound)
	}
	if !slices.Contains(u.Memberships, org) {
		u.Memberships = append(u.Memberships, org)
	}
	if u.OrganizationID == 0 {
		u.OrganizationID = org
	}
	return nil
}

// UserChange edits a user as an admin would in Zendesk.
type UserChange struct {
	Role      string // new role, unless empty
	Suspended *bool
	// Deleted deletes the user: Zendesk keeps answering for it, with active false.
	Deleted bool
}

// UpdateUser changes user id.
func (s *Server) UpdateUser(id int64, ch UserChange) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, fmt.Errorf("zendesksim: update user %d: %w", id, errNotFound)
	}
	if ch.Role != "" {
		u.Role = ch.Role
	}
	if ch.Suspended != nil {
		u.Suspended = *ch.Suspended
	}
	if ch.Deleted {
		u.Active = false
	}
	return u.snapshot(), nil
}
