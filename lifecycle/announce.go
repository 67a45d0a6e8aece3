package lifecycle

import (
	"fmt"

	"github.com/gaiia/clonebot/notifier"
)

// messageFor maps a decision's reason to what is posted.
var messageFor = map[Reason]Message{
	ReasonValid:           MsgAwaitingApproval,
	ReasonProblems:        MsgNeedsInfo,
	ReasonPreflight:       MsgPreflight,
	ReasonApproved:        MsgScheduled,
	ReasonApprovalRefused: MsgApprovalRefused,
	ReasonChanged:         MsgChanged,
	ReasonWithdrawn:       MsgWithdrawn,
	ReasonHold:            MsgOnHold,
	ReasonRejected:        MsgRejected,
	ReasonCancelled:       MsgCancelled,
}

// announcements renders the comments of a transition, keyed by its audit entry so
// each is posted once. A request never acknowledged is acknowledged first (with
// the agents' plan), whatever the transition.
func (s *Service) announcements(r *row, d Decision, snap Snapshot, auditID int64) ([]outboxItem, error) {
	msg, ok := messageFor[d.Reason]
	if !ok {
		return nil, fmt.Errorf("no message for %q", d.Reason)
	}
	data := s.messageData(r)
	data.Problems = snap.Problems
	data.PlanProblems = snap.PlanProblems
	data.Plan = snap.plan
	var items []outboxItem
	if d.Acknowledge {
		ack, err := s.render(r.TicketID, MsgAwaitingApproval, AwaitingApproval, data, auditID)
		if err != nil {
			return nil, err
		}
		items = ack
	}
	main, err := s.render(r.TicketID, msg, d.Next, data, auditID)
	if err != nil {
		return nil, err
	}
	items = append(items, main...)
	if d.Refuse {
		refusal, err := s.render(r.TicketID, MsgApprovalRefused, d.Next, data, auditID)
		if err != nil {
			return nil, err
		}
		items = append(items, refusal...)
	}
	return items, nil
}

func (s *Service) messageData(r *row) MessageData {
	w := s.windowFor(r.Tenant)
	d := MessageData{Request: r.Request, Tags: s.cfg.Settings.Zendesk.Tags, Window: w.String(), Attempt: r.Attempts}
	if !r.ScheduledFor.IsZero() {
		d.ScheduledFor = r.ScheduledFor.In(w.Loc).Format("Mon 2 Jan 2006 15:04 MST")
	}
	return d
}

// render turns a message into outbox items keyed by the audit entry of the
// transition: the public comment carries the status tag; the internal note, when
// there is one, follows it.
func (s *Service) render(ticketID int64, msg Message, state State, data MessageData, auditID int64) ([]outboxItem, error) {
	return s.renderKeyed(ticketID, msg, state, data, fmt.Sprintf("%d/%s/%d", ticketID, msg, auditID))
}

// renderKeyed renders a message under key; with no state, the status tag stays.
func (s *Service) renderKeyed(ticketID int64, msg Message, state State, data MessageData, key string) ([]outboxItem, error) {
	public, internal, err := s.messages.Render(msg, data)
	if err != nil {
		return nil, err
	}
	items := []outboxItem{{Key: key, Public: true, Body: public}}
	if state != "" {
		items[0].StatusTag = state.StatusTag()
	}
	if internal != "" {
		items = append(items, outboxItem{Key: key + "/internal", Public: false, Body: internal})
	}
	return items, nil
}

// announcement converts a stored item for the notifier.
func (it outboxItem) announcement() notifier.Announcement {
	a := notifier.Announcement{Key: it.Key, Public: it.Public, Body: it.Body, StatusTag: it.StatusTag}
	for _, f := range it.Attachments {
		a.Attachments = append(a.Attachments, notifier.File{Name: f.Name, ContentType: f.ContentType, Data: f.Data})
	}
	return a
}
