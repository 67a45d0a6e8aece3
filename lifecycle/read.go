package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// viewReads bounds the attempts at a consistent reading of a ticket that keeps
// changing; the job retries after them.
const viewReads = 3

// readView reads the audits, the ticket, then the audits again: a change between
// the reads shows as a new audit, and the reading starts over, so that the ticket
// and its audits describe the same moment.
func (s *syncer) readView(ctx context.Context, id int64) (rules.View, error) {
	before, err := s.readAudits(ctx, id)
	if err != nil {
		return rules.View{}, err
	}
	for range viewReads {
		t, deleted, err := s.readTicket(ctx, id)
		if err != nil || deleted {
			return rules.View{Ticket: t, Deleted: deleted}, err
		}
		after, err := s.readAudits(ctx, id)
		if err != nil {
			return rules.View{}, err
		}
		v := rules.View{Ticket: t, Audits: after}
		if v.LastAudit() == (rules.View{Audits: before}).LastAudit() {
			return v, nil
		}
		before = after
	}
	return rules.View{}, fmt.Errorf("ticket %d changed during each of %d readings; will read it again", id, viewReads)
}

// readTicket reads a ticket. A deleted ticket reads as a closed, untagged one,
// which cancels a pending request.
func (s *syncer) readTicket(ctx context.Context, id int64) (parser.Ticket, bool, error) {
	t, err := s.zendesk.Ticket(ctx, id)
	switch {
	case errors.Is(err, notifier.ErrNotFound):
		return parser.Deleted(id, s.now()), true, nil
	case errors.Is(err, notifier.ErrMalformed):
		return parser.Ticket{}, false, river.JobCancel(fmt.Errorf("read ticket %d: %w", id, err))
	case err != nil:
		return parser.Ticket{}, false, fromZendesk(fmt.Errorf("read ticket %d: %w", id, err))
	}
	return t, false, nil
}

// readAudits reads a ticket's audits; a deleted ticket has none.
func (s *syncer) readAudits(ctx context.Context, id int64) ([]parser.Audit, error) {
	audits, err := s.zendesk.Audits(ctx, id)
	switch {
	case errors.Is(err, notifier.ErrNotFound):
		return nil, nil
	case errors.Is(err, notifier.ErrMalformed):
		return nil, river.JobCancel(fmt.Errorf("read audits of ticket %d: %w", id, err))
	case err != nil:
		return nil, fromZendesk(fmt.Errorf("read audits of ticket %d: %w", id, err))
	}
	return audits, nil
}

// readRequesterOrganizations reads the organizations of the ticket's requester
// into the reading's ticket, once, so that the parser can refuse a ticket filed
// under another one.
func (s *syncer) readRequesterOrganizations(ctx context.Context, rd *reading) error {
	if rd.orgsRead || rd.ticket.RequesterID <= 0 {
		return nil
	}
	orgs, err := s.zendesk.Organizations(ctx, rd.ticket.RequesterID)
	if errors.Is(err, notifier.ErrNotFound) {
		orgs = nil // the requester was deleted for good: a member of nothing
	} else if err != nil {
		return fromZendesk(fmt.Errorf("read organizations of requester %d: %w", rd.ticket.RequesterID, err))
	}
	rd.ticket.RequesterOrganizations = append([]int64{}, orgs...)
	rd.orgsRead = true
	return nil
}

// judge returns the roles of the authors of audits: as stored when the bot first
// saw each audit, else as this sync judged them, else judged now from their
// current user (kept in the reading, to be stored with the outcome).
func (s *syncer) judge(ctx context.Context, rd *reading, audits []rules.TagAuthor) (map[int64]parser.Role, error) {
	ids := make([]int64, len(audits))
	for i, a := range audits {
		ids[i] = a.AuditID
	}
	roles, err := s.repo.roles(ctx, rd.ticket.ID, ids)
	if err != nil {
		return nil, &readFailure{err}
	}
	for _, j := range rd.fresh {
		if _, ok := roles[j.AuditID]; !ok {
			roles[j.AuditID] = j.Role
		}
	}
	for _, a := range audits {
		if _, ok := roles[a.AuditID]; ok {
			continue
		}
		role, err := s.currentRole(ctx, a.AuthorID)
		if err != nil {
			return nil, err
		}
		roles[a.AuditID] = role
		rd.fresh = append(rd.fresh, judgement{AuditID: a.AuditID, AuthorID: a.AuthorID, Role: role})
	}
	return roles, nil
}

func auditIDs(roles map[int64]parser.Role) []int64 {
	ids := make([]int64, 0, len(roles))
	for id := range roles {
		ids = append(ids, id)
	}
	return ids
}

// currentRole is a user's role if the user can act now: RoleNone when
// suspended, deleted or gone.
func (s *syncer) currentRole(ctx context.Context, userID int64) (parser.Role, error) {
	u, err := s.zendesk.User(ctx, userID)
	if errors.Is(err, notifier.ErrNotFound) {
		return parser.RoleNone, nil
	}
	if err != nil {
		return parser.RoleNone, fromZendesk(fmt.Errorf("read user %d: %w", userID, err))
	}
	if !u.Active || u.Suspended {
		return parser.RoleNone, nil
	}
	return u.Role, nil
}
