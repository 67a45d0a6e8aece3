package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// ticketView is what a sync reads of a ticket: the ticket and its audits, read so
// that they agree, oldest audit first.
type ticketView struct {
	ticket  parser.Ticket
	audits  []parser.Audit
	deleted bool
}

// viewReads bounds the attempts at a consistent reading of a ticket that keeps
// changing; the job retries after them.
const viewReads = 3

// readView reads the audits, the ticket, then the audits again: a change between
// the reads shows as a new audit, and the reading starts over, so that the ticket
// and its audits describe the same moment.
func (s *Service) readView(ctx context.Context, id int64) (ticketView, error) {
	before, err := s.readAudits(ctx, id)
	if err != nil {
		return ticketView{}, err
	}
	for range viewReads {
		t, deleted, err := s.readTicket(ctx, id)
		if err != nil || deleted {
			return ticketView{ticket: t, deleted: deleted}, err
		}
		after, err := s.readAudits(ctx, id)
		if err != nil {
			return ticketView{}, err
		}
		if lastAudit(after) == lastAudit(before) {
			return ticketView{ticket: t, audits: after}, nil
		}
		before = after
	}
	return ticketView{}, fmt.Errorf("ticket %d changed during each of %d readings; will read it again", id, viewReads)
}

// readTicket fetches and decodes a ticket. A deleted ticket reads as a closed,
// untagged one, which cancels a pending request.
func (s *Service) readTicket(ctx context.Context, id int64) (parser.Ticket, bool, error) {
	t, err := s.cfg.Zendesk.Ticket(ctx, id)
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

// readAudits fetches and decodes a ticket's audits; a deleted ticket has none.
func (s *Service) readAudits(ctx context.Context, id int64) ([]parser.Audit, error) {
	audits, err := s.cfg.Zendesk.Audits(ctx, id)
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

func lastAudit(audits []parser.Audit) int64 {
	var last int64
	for _, a := range audits {
		last = max(last, a.ID)
	}
	return last
}

// readRequesterOrganizations reads the organizations of the ticket's requester
// into the ticket, so that the parser can refuse a ticket filed under another one.
func (s *Service) readRequesterOrganizations(ctx context.Context, t *parser.Ticket) error {
	if t.RequesterID <= 0 {
		return nil
	}
	orgs, err := s.cfg.Zendesk.Organizations(ctx, t.RequesterID)
	if errors.Is(err, notifier.ErrNotFound) {
		orgs = nil // the requester was deleted for good: a member of nothing
	} else if err != nil {
		return fromZendesk(fmt.Errorf("read organizations of requester %d: %w", t.RequesterID, err))
	}
	t.RequesterOrganizations = append([]int64{}, orgs...)
	return nil
}

// zendeskFailure marks an error as Zendesk's (unreachable, refusing, rate
// limiting), as opposed to the bot's or an instance's.
type zendeskFailure struct{ err error }

func (z *zendeskFailure) Error() string { return z.err.Error() }
func (z *zendeskFailure) Unwrap() error { return z.err }

func fromZendesk(err error) error {
	if err == nil {
		return nil
	}
	return &zendeskFailure{err}
}

// isZendesk reports whether err is a failure of a Zendesk call.
func isZendesk(err error) bool {
	var z *zendeskFailure
	return errors.As(err, &z)
}
