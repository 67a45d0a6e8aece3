package zendesksim

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strconv"
	"time"
)

const timeFormat = "2006-01-02T15:04:05Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ticketJSON renders a ticket as GET /api/v2/tickets/{id}.json does.
func (s *Server) ticketJSON(base string, t *ticket) map[string]any {
	return map[string]any{
		"id":                  t.ID,
		"url":                 fmt.Sprintf("%s/api/v2/tickets/%d.json", base, t.ID),
		"external_id":         nil,
		"via":                 map[string]any{"channel": "web", "source": map[string]any{"from": map[string]any{}, "to": map[string]any{}, "rel": nil}},
		"created_at":          ts(t.CreatedAt),
		"updated_at":          ts(t.UpdatedAt),
		"generated_timestamp": t.UpdatedAt.Unix(),
		"type":                nullString(t.Type),
		"subject":             t.Subject,
		"raw_subject":         t.Subject,
		"description":         t.Description,
		"priority":            nullString(t.Priority),
		"status":              t.Status,
		"recipient":           nil,
		"requester_id":        t.RequesterID,
		"submitter_id":        t.SubmitterID,
		"assignee_id":         nullID(t.AssigneeID),
		"organization_id":     nullID(t.OrganizationID),
		"group_id":            nil,
		"collaborator_ids":    []int64{},
		"follower_ids":        []int64{},
		"email_cc_ids":        []int64{},
		"has_incidents":       false,
		"is_public":           true,
		"due_at":              nil,
		"tags":                slices.Clone(t.Tags),
		"custom_fields":       s.customFieldsJSON(t),
		"fields":              s.customFieldsJSON(t),
		"ticket_form_id":      nil,
		"brand_id":            nil,
		"allow_channelback":   false,
		"allow_attachments":   true,
	}
}

func (s *Server) customFieldsJSON(t *ticket) []map[string]any {
	ids := slices.Clone(s.cfg.CustomFieldIDs)
	for id := range t.CustomFields {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]any{"id": id, "value": s.fieldValue(t.CustomFields[id])})
	}
	return out
}

var digits = regexp.MustCompile(`^-?[0-9]+$`)

// fieldValue renders a custom field value; numbers are strings unless
// NumericCustomFields asks for JSON numbers.
func (s *Server) fieldValue(v any) any {
	switch x := v.(type) {
	case int:
		return s.number(strconv.Itoa(x), float64(x))
	case int64:
		return s.number(strconv.FormatInt(x, 10), float64(x))
	case float64:
		return s.number(strconv.FormatFloat(x, 'f', -1, 64), x)
	case string:
		if s.cfg.NumericCustomFields && digits.MatchString(x) {
			n, err := strconv.ParseInt(x, 10, 64)
			if err == nil {
				return n
			}
		}
		return x
	default:
		return v
	}
}

func (s *Server) number(text string, n float64) any {
	if s.cfg.NumericCustomFields {
		return n
	}
	return text
}

func htmlBody(c *Comment) string {
	if c.HTMLBody != "" {
		return c.HTMLBody
	}
	return `<div class="zd-comment" dir="auto">` + html.EscapeString(c.Body) + `</div>`
}

func attachmentsJSON(base string, atts []Attachment) []map[string]any {
	out := make([]map[string]any, 0, len(atts))
	for _, a := range atts {
		out = append(out, attachmentJSON(base, a))
	}
	return out
}

func attachmentJSON(base string, a Attachment) map[string]any {
	u := fmt.Sprintf("%s/attachments/%d/%s", base, a.ID, a.FileName)
	return map[string]any{
		"id": a.ID, "url": fmt.Sprintf("%s/api/v2/attachments/%d.json", base, a.ID),
		"file_name": a.FileName, "content_url": u, "mapped_content_url": u,
		"content_type": a.ContentType, "size": a.Size, "width": nil, "height": nil,
		"inline": false, "deleted": false, "malware_access_override": false,
		"malware_scan_result": "malware_not_found", "thumbnails": []any{},
	}
}

func commentJSON(base string, c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "type": "Comment", "author_id": c.AuthorID, "body": c.Body,
		"html_body": htmlBody(c), "plain_body": c.Body, "public": c.Public,
		"attachments": attachmentsJSON(base, c.Attachments), "audit_id": nil,
		"via":        map[string]any{"channel": "api", "source": map[string]any{"from": map[string]any{}, "to": map[string]any{}, "rel": nil}},
		"created_at": ts(c.CreatedAt), "metadata": map[string]any{"system": map[string]any{}, "custom": map[string]any{}},
	}
}

func auditJSON(ticketID int64, a *Audit) map[string]any {
	via := map[string]any{"channel": a.ViaChannel, "source": map[string]any{"from": map[string]any{}, "to": map[string]any{}, "rel": nil}}
	if a.ViaChannel == "rule" {
		via = triggerVia()
	}
	return map[string]any{
		"id": a.ID, "ticket_id": ticketID, "created_at": ts(a.CreatedAt), "author_id": a.AuthorID,
		"via": via, "metadata": map[string]any{"system": map[string]any{}, "custom": map[string]any{}},
		"events": a.Events,
	}
}

func userJSON(base string, u *User) map[string]any {
	roleType := any(nil)
	if u.Role == "agent" {
		roleType = 0
	}
	return map[string]any{
		"id": u.ID, "url": fmt.Sprintf("%s/api/v2/users/%d.json", base, u.ID), "name": u.Name,
		"email": u.Email, "role": u.Role, "role_type": roleType, "custom_role_id": nil,
		"active": u.Active, "verified": true, "suspended": u.Suspended, "organization_id": nullID(u.OrganizationID),
		"time_zone": "Eastern Time (US & Canada)", "locale": "en-US", "locale_id": 1,
		"created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z",
	}
}

func membershipJSON(base string, u *User, org int64, orgName string) map[string]any {
	// Zendesk numbers memberships on their own; the pair is unique, so derive one.
	id := org%1_000_000*1_000_000 + u.ID%1_000_000
	return map[string]any{
		"id": id, "url": fmt.Sprintf("%s/api/v2/organization_memberships/%d.json", base, id),
		"user_id": u.ID, "organization_id": org, "organization_name": orgName,
		"default": org == u.OrganizationID, "view_tickets": true,
		"created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z",
	}
}
