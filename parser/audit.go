package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Audit is one update of a ticket, from its audit log: who made it and what it
// set. Audits are ordered by ID: CreatedAt has whole-second resolution, so two
// updates in one second cannot be told apart by time.
type Audit struct {
	ID, AuthorID int64
	CreatedAt    time.Time
	// ViaRule is true when a trigger or automation made the update as a whole
	// (the audit's via channel is "rule"). A trigger that fires on a person's
	// update adds its own changes to that person's audit, each marked by its
	// own via: Change.ViaRule tells them apart.
	ViaRule bool
	Changes []Change
}

// Change is one field an audit set. Field is "tags", "status", "requester_id",
// "organization_id", or a custom field's id in decimal. Values are normalised as
// custom field values are (string, bool, []string or nil); tags are a []string.
// Previous is nil for the fields a ticket was created with.
type Change struct {
	Field           string
	Value, Previous any
	// ViaRule is true when a trigger or automation made this change, even if
	// the audit's author is a person: the event's own via channel is "rule", or
	// it has none and the audit's is. It is not that person's decision.
	ViaRule bool
}

type wireAudit struct {
	ID        json.RawMessage `json:"id"`
	AuthorID  json.RawMessage `json:"author_id"`
	CreatedAt string          `json:"created_at"`
	Via       *wireVia        `json:"via"`
	Events    []struct {
		Type          string          `json:"type"`
		FieldName     string          `json:"field_name"`
		Value         json.RawMessage `json:"value"`
		PreviousValue json.RawMessage `json:"previous_value"`
		Via           *wireVia        `json:"via"`
	} `json:"events"`
}

type wireVia struct {
	Channel string `json:"channel"`
}

func (v *wireVia) rule() bool { return v != nil && v.Channel == "rule" }

// DecodeAudit decodes one audit object of GET /api/v2/tickets/{id}/audits.json.
// Events other than field changes (comments, notifications) are left out.
func DecodeAudit(raw json.RawMessage) (Audit, error) {
	var w wireAudit
	if err := json.Unmarshal(raw, &w); err != nil {
		return Audit{}, fmt.Errorf("decode audit: %w", err)
	}
	var a Audit
	var err error
	if a.ID, err = decodeID(w.ID); err != nil || a.ID == 0 {
		return Audit{}, fmt.Errorf("decode audit: id %s is not a positive integer", truncate(string(w.ID), 40))
	}
	if a.AuthorID, err = decodeSignedID(w.AuthorID); err != nil {
		return Audit{}, fmt.Errorf("decode audit %d: author_id: %w", a.ID, err)
	}
	if a.CreatedAt, err = decodeTime(w.CreatedAt); err != nil {
		return Audit{}, fmt.Errorf("decode audit %d: created_at: %w", a.ID, err)
	}
	a.ViaRule = w.Via.rule()
	for _, e := range w.Events {
		if (e.Type != "Change" && e.Type != "Create") || e.FieldName == "" {
			continue
		}
		c := Change{Field: e.FieldName, ViaRule: a.ViaRule}
		if e.Via != nil {
			c.ViaRule = e.Via.rule() // an event has its own via when it differs from the audit's
		}
		if c.Value, err = decodeChangeValue(e.FieldName, e.Value); err != nil {
			return Audit{}, fmt.Errorf("decode audit %d: %s: %w", a.ID, e.FieldName, err)
		}
		if c.Previous, err = decodeChangeValue(e.FieldName, e.PreviousValue); err != nil {
			return Audit{}, fmt.Errorf("decode audit %d: %s: %w", a.ID, e.FieldName, err)
		}
		a.Changes = append(a.Changes, c)
	}
	return a, nil
}

// decodeSignedID reads an author id: Zendesk's system user is -1.
func decodeSignedID(raw json.RawMessage) (int64, error) {
	t := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if t == "" || t == "null" {
		return 0, nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer id", truncate(t, 40))
	}
	return n, nil
}

// decodeChangeValue normalises a changed value; tag lists may come as an array or
// as one space-separated string.
func decodeChangeValue(field string, raw json.RawMessage) (any, error) {
	v, err := decodeValue(raw)
	if err != nil || field != "tags" {
		return v, err
	}
	switch x := v.(type) {
	case string:
		return strings.Fields(x), nil
	case nil:
		return []string(nil), nil
	case []string:
		return x, nil
	default:
		return nil, fmt.Errorf("tags are a %T, not a list", v)
	}
}

// Before returns the ticket as it stood before audit a: every field the audit set
// gets its previous value back, the audit's changes undone last first (a trigger's
// change of a field follows the person's change of it in the same audit).
// Walking a ticket back through its audits, newest first, gives the ticket as it
// stood after each of them.
func (t Ticket) Before(a Audit) Ticket {
	b := t
	b.Tags = slices.Clone(t.Tags)
	b.CustomFields = make(map[int64]any, len(t.CustomFields))
	for k, v := range t.CustomFields {
		b.CustomFields[k] = v
	}
	for i := len(a.Changes) - 1; i >= 0; i-- {
		b.set(a.Changes[i].Field, a.Changes[i].Previous)
	}
	return b
}

func (t *Ticket) set(field string, v any) {
	switch field {
	case "tags":
		tags, _ := v.([]string)
		t.Tags = slices.Clone(tags)
	case "status":
		s, _ := v.(string)
		t.Status = strings.ToLower(s)
	case "requester_id":
		t.RequesterID = idValue(v)
		t.RequesterOrganizations = nil // the requester's memberships are another user's
	case "organization_id":
		t.OrganizationID = idValue(v)
	default:
		if id, err := strconv.ParseInt(field, 10, 64); err == nil && id > 0 {
			t.CustomFields[id] = v
		}
	}
}

func idValue(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}
