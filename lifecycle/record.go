package lifecycle

import (
	"context"
	"fmt"

	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/parser"
)

// move is one transition of a request as the bot records it: the audit entries,
// the row, and the announcements, all in the caller's transaction.
type move struct {
	entries []entry  // in order; the announcements are keyed by the last one's id
	notices []notice // announced in order
	// data adds to what the templates see of the request.
	data     func(*messages.Data)
	problems []parser.Problem // saved with the row
}

// notice is one announcement of a move and the status tag its comment leaves.
type notice struct {
	msg messages.Message
	tag rules.State
}

// recorder records moves and renders their announcements.
type recorder struct {
	render  *messages.Renderer
	tags    rules.Tags
	windows schedule.Windows
}

// record writes a move of r: every step of a transition goes through here, so
// that none is saved unaudited or audited unannounced.
func (rc *recorder) record(ctx context.Context, q *repo, r *request, m move) error {
	var id int64
	for _, e := range m.entries {
		var err error
		if id, err = q.appendAudit(ctx, r.TicketID, e); err != nil {
			return err
		}
	}
	if err := q.save(ctx, r, m.problems); err != nil {
		return err
	}
	data := rc.data(r)
	if m.data != nil {
		m.data(&data)
	}
	var items []outboxItem
	for _, n := range m.notices {
		more, err := rc.items(n.msg, n.tag, data, announcementKey(r.TicketID, n.msg, id))
		if err != nil {
			return err
		}
		items = append(items, more...)
	}
	return q.queueAnnouncements(ctx, r.TicketID, items)
}

// announce queues one message that is no transition (a trouble, its end), keyed
// by id; the status tag stays as it is.
func (rc *recorder) announce(ctx context.Context, q *repo, r *request, msg messages.Message, id int64, data messages.Data) error {
	items, err := rc.items(msg, "", data, announcementKey(r.TicketID, msg, id))
	if err != nil {
		return err
	}
	return q.queueAnnouncements(ctx, r.TicketID, items)
}

// announcementKey keys an announcement so that it is queued and posted once: the
// ticket, the message, and the audit entry (or trouble) that caused it.
func announcementKey(ticketID int64, msg messages.Message, id int64) string {
	return fmt.Sprintf("%d/%s/%d", ticketID, msg, id)
}

// items renders a message as outbox items: the public comment carries the status
// tag (none with no state); the internal note, when there is one, follows it.
func (rc *recorder) items(msg messages.Message, state rules.State, data messages.Data, key string) ([]outboxItem, error) {
	public, internal, err := rc.render.Render(msg, data)
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

// data is what every message may show of a request.
func (rc *recorder) data(r *request) messages.Data {
	w := rc.windows.For(r.Tenant)
	d := messages.Data{Request: r.Request, Tags: rc.tags, Window: w.String(), Attempt: r.Attempts}
	if !r.ScheduledFor.IsZero() {
		d.ScheduledFor = r.ScheduledFor.In(w.Loc).Format("Mon 2 Jan 2006 15:04 MST")
	}
	return d
}
