package zendesksim

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	errNotFound = errors.New("not found")
	errClosed   = errors.New("closed prevents ticket update")
	errConflict = errors.New("safe update conflict")
	errInvalid  = errors.New("invalid request")
)

// change is one ticket update, from the Go API or the REST API.
type change struct {
	actor      int64
	via        string // audit via channel: web, api or rule
	setTags    []string
	hasSetTags bool
	addTags    []string
	removeTags []string
	fields     map[int64]any
	status     string
	priority   string
	comment    *commentInput
	stamp      *time.Time
	safe       bool
	trigger    *TriggerActions // fires on the update, in its audit
}

type commentInput struct {
	body, html  string
	public      bool
	author      int64
	attachments []Attachment
}

// diff is what a change did, for webhooks.
type diff struct {
	created     bool
	tagsAdded   []string
	tagsRemoved []string
	prevStatus  string
	fields      map[int64][2]any // id -> previous, current
	comment     *Comment
}

func (d diff) empty() bool {
	return !d.created && len(d.tagsAdded) == 0 && len(d.tagsRemoved) == 0 &&
		d.prevStatus == "" && len(d.fields) == 0 && d.comment == nil
}

// applyLocked applies ch to t, records an audit and queues webhooks. A change that
// changes nothing records nothing.
func (s *Server) applyLocked(t *ticket, ch change) (*Audit, error) {
	if t.Status == "closed" {
		return nil, errClosed
	}
	// A stamp of the current second passes, as with Zendesk, whose stamps have
	// whole-second resolution too.
	if ch.safe && ch.stamp != nil && !ch.stamp.Truncate(time.Second).Equal(t.UpdatedAt) {
		return nil, errConflict
	}
	var events []map[string]any
	var d diff
	if ch.comment != nil {
		c := s.addCommentLocked(t, ch.comment)
		d.comment = c
		events = append(events, commentEvent(c))
	}
	events = append(events, s.applyTagsLocked(t, ch, &d)...)
	if ch.status != "" && ch.status != t.Status {
		events = append(events, changeEvent("status", ch.status, t.Status))
		d.prevStatus = t.Status
		t.Status = ch.status
	}
	if ch.priority != "" && ch.priority != t.Priority {
		events = append(events, changeEvent("priority", ch.priority, t.Priority))
		t.Priority = ch.priority
	}
	events = append(events, applyFields(t, ch.fields, &d)...)
	if ch.trigger != nil && !d.empty() {
		events = append(events, applyTrigger(t, *ch.trigger, &d)...)
	}
	if d.empty() {
		return nil, nil
	}
	// Zendesk stamps to the second: changes within one second share updated_at
	// and their audits' created_at (only audit ids order them).
	if now := s.now(); now.After(t.UpdatedAt) {
		t.UpdatedAt = now
	}
	a := s.recordAuditLocked(t, ch.actor, ch.via, events)
	s.notifyLocked(t, ch.actor, d)
	return a, nil
}

func (s *Server) applyTagsLocked(t *ticket, ch change, d *diff) []map[string]any {
	before := slices.Clone(t.Tags)
	after := before
	if ch.hasSetTags {
		after = normTags(ch.setTags)
	}
	after = normTags(append(slices.Clone(after), normTags(ch.addTags)...))
	after = slices.DeleteFunc(after, func(tag string) bool { return slices.Contains(normTags(ch.removeTags), tag) })
	for _, tag := range after {
		if !slices.Contains(before, tag) {
			d.tagsAdded = append(d.tagsAdded, tag)
		}
	}
	for _, tag := range before {
		if !slices.Contains(after, tag) {
			d.tagsRemoved = append(d.tagsRemoved, tag)
		}
	}
	if len(d.tagsAdded) == 0 && len(d.tagsRemoved) == 0 {
		return nil
	}
	t.Tags = after
	return []map[string]any{changeEvent("tags", slices.Clone(after), before)}
}

// applyTrigger applies what a trigger sets after a person's update, as events of
// that update's audit, each with the trigger's via.
func applyTrigger(t *ticket, tr TriggerActions, d *diff) []map[string]any {
	var events []map[string]any
	before := slices.Clone(t.Tags)
	if after := normTags(append(slices.Clone(before), normTags(tr.AddTags)...)); len(after) > len(before) {
		for _, tag := range after {
			if !slices.Contains(before, tag) && !slices.Contains(d.tagsAdded, tag) {
				d.tagsAdded = append(d.tagsAdded, tag)
			}
		}
		t.Tags = after
		events = append(events, changeEvent("tags", slices.Clone(after), before))
	}
	if tr.Priority != "" && tr.Priority != t.Priority {
		events = append(events, changeEvent("priority", tr.Priority, t.Priority))
		t.Priority = tr.Priority
	}
	for _, e := range events {
		e["via"] = triggerVia()
	}
	return events
}

// triggerVia is the via of what the simulated account's trigger does.
func triggerVia() map[string]any {
	return map[string]any{"channel": "rule", "source": map[string]any{
		"from": map[string]any{"id": 360000000001, "title": "Simulated trigger"}, "to": map[string]any{}, "rel": "trigger"}}
}

func applyFields(t *ticket, fields map[int64]any, d *diff) []map[string]any {
	ids := make([]int64, 0, len(fields))
	for id := range fields {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var events []map[string]any
	for _, id := range ids {
		prev, cur := t.CustomFields[id], fields[id]
		if reflect.DeepEqual(prev, cur) {
			continue
		}
		if d.fields == nil {
			d.fields = map[int64][2]any{}
		}
		d.fields[id] = [2]any{prev, cur}
		t.CustomFields[id] = cur
		events = append(events, changeEvent(strconv.FormatInt(id, 10), cur, prev))
	}
	return events
}

func (s *Server) addCommentLocked(t *ticket, in *commentInput) *Comment {
	c := &Comment{
		ID:          s.newEventIDLocked(),
		AuthorID:    in.author,
		Body:        in.body,
		HTMLBody:    in.html,
		Public:      in.public,
		Attachments: in.attachments,
		CreatedAt:   s.now(),
	}
	if c.Body == "" && c.HTMLBody != "" {
		c.Body = stripTags(c.HTMLBody)
	}
	t.comments = append(t.comments, c)
	return c
}

func (s *Server) recordAuditLocked(t *ticket, author int64, via string, events []map[string]any) *Audit {
	a := &Audit{ID: s.newEventIDLocked(), AuthorID: author, CreatedAt: t.UpdatedAt, ViaChannel: via, Events: events}
	for _, e := range events {
		if e["id"] == nil {
			e["id"] = s.newEventIDLocked()
		}
		if e["type"] == "Comment" {
			e["audit_id"] = a.ID
		}
	}
	t.audits = append(t.audits, a)
	return a
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }

func changeEvent(field string, value, previous any) map[string]any {
	return map[string]any{"type": "Change", "field_name": field, "value": value, "previous_value": previous}
}

func createEvent(field string, value any) map[string]any {
	return map[string]any{"type": "Create", "field_name": field, "value": value}
}

func commentEvent(c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "type": "Comment", "author_id": c.AuthorID, "body": c.Body,
		"html_body": htmlBody(c), "plain_body": c.Body, "public": c.Public,
		"attachments": attachmentsJSON("", c.Attachments), "audit_id": nil,
	}
}

func normTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, tag := range tags {
		for _, f := range strings.Fields(strings.ToLower(tag)) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func stripTags(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
