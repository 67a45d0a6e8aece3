package zendesksim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// notifyLocked queues the webhooks for a change of t made by actor.
func (s *Server) notifyLocked(t *ticket, actor int64, d diff) {
	if len(s.cfg.WebhookURLs) == 0 {
		return
	}
	if s.cfg.WebhookStyle == TriggerStyle {
		if s.cfg.TriggerTag != "" && !slices.Contains(t.Tags, s.cfg.TriggerTag) {
			return
		}
		s.hooks.push("trigger", mustJSON(s.triggerBodyLocked(t, actor)))
		return
	}
	seq := strings.ToUpper(strings.ReplaceAll(newUUID(), "-", ""))
	for i, ev := range s.eventsFor(d) {
		ev.event["meta"] = map[string]any{"sequence": map[string]any{"id": seq, "position": i + 1}}
		body := map[string]any{
			"account_id": s.cfg.AccountID, "detail": s.detailLocked(t, actor), "event": ev.event,
			"id": newUUID(), "subject": fmt.Sprintf("zen:ticket:%d", t.ID),
			"time": s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000000000Z"), "type": ev.typ,
			"zendesk_event_version": "2022-11-06",
		}
		s.hooks.push(ev.typ, mustJSON(body))
	}
}

// triggerBodyLocked is the body an admin would write in the trigger action: every
// value is rendered as text.
func (s *Server) triggerBodyLocked(t *ticket, actor int64) map[string]string {
	role := ""
	if u, ok := s.users[actor]; ok {
		role = displayRole(u.Role)
	}
	return map[string]string{
		"ticket_id": strconv.FormatInt(t.ID, 10), "updated_at": ts(t.UpdatedAt),
		"actor_id": strconv.FormatInt(actor, 10), "actor_role": role,
		"tags": strings.Join(t.Tags, " "), "status": displayRole(t.Status),
	}
}

// displayRole capitalises like Zendesk placeholders do (Admin, Agent, End-user, Open).
func displayRole(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type eventBody struct {
	typ   string
	event map[string]any
}

func (s *Server) eventsFor(d diff) []eventBody {
	const prefix = "zen:event-type:ticket."
	var out []eventBody
	if d.created {
		out = append(out, eventBody{prefix + "created", map[string]any{}})
	}
	if d.comment != nil && !d.created {
		c := d.comment
		out = append(out, eventBody{prefix + "comment_added", map[string]any{"comment": map[string]any{
			"id": strconv.FormatInt(c.ID, 10), "body": c.Body, "is_public": c.Public,
			"author": map[string]any{"id": strconv.FormatInt(c.AuthorID, 10)},
		}}})
	}
	if !d.created && (len(d.tagsAdded) > 0 || len(d.tagsRemoved) > 0) {
		out = append(out, eventBody{prefix + "tags_changed", map[string]any{
			"tags_added": nonNil(d.tagsAdded), "tags_removed": nonNil(d.tagsRemoved),
		}})
	}
	if d.prevStatus != "" {
		out = append(out, eventBody{prefix + "status_changed", map[string]any{"previous": strings.ToUpper(d.prevStatus)}})
	}
	ids := make([]int64, 0, len(d.fields))
	for id := range d.fields {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pc := d.fields[id]
		out = append(out, eventBody{prefix + "custom_field_changed", map[string]any{
			"current": s.fieldValue(pc[1]), "previous": s.fieldValue(pc[0]),
			"custom_field": map[string]any{"id": strconv.FormatInt(id, 10), "title": "", "type": "text"},
		}})
	}
	return out
}

// detailLocked is the event payload's ticket snapshot: ids as strings, enums upper-case.
func (s *Server) detailLocked(t *ticket, actor int64) map[string]any {
	return map[string]any{
		"actor_id": strconv.FormatInt(actor, 10), "assignee_id": idString(t.AssigneeID),
		"brand_id": nil, "created_at": ts(t.CreatedAt), "custom_status": nil,
		"description": t.Description, "external_id": nil, "form_id": nil, "group_id": nil,
		"id": strconv.FormatInt(t.ID, 10), "is_public": true,
		"organization_id": idString(t.OrganizationID), "priority": upperOrNil(t.Priority),
		"requester_id": idString(t.RequesterID), "status": strings.ToUpper(t.Status),
		"subject": t.Subject, "submitter_id": idString(t.SubmitterID), "tags": slices.Clone(t.Tags),
		"type": upperOrNil(t.Type), "updated_at": ts(t.UpdatedAt), "via": map[string]any{"channel": "web_service"},
	}
}

func idString(id int64) any {
	if id == 0 {
		return nil
	}
	return strconv.FormatInt(id, 10)
}

func upperOrNil(s string) any {
	if s == "" {
		return nil
	}
	return strings.ToUpper(s)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("zendesksim: marshal webhook body: %v", err))
	}
	return b
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
