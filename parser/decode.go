package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MaxTicketBytes bounds the body DecodeTicket accepts. Real ticket bodies
// are far smaller; the cap keeps a hostile or corrupted body from costing
// memory in the worker.
const MaxTicketBytes = 8 << 20

// wireTicket is the subset of Zendesk's ticket JSON that clonebot reads.
// Ids are raw because REST sends numbers while event payloads send strings.
type wireTicket struct {
	ID             json.RawMessage `json:"id"`
	RequesterID    json.RawMessage `json:"requester_id"`
	SubmitterID    json.RawMessage `json:"submitter_id"`
	OrganizationID json.RawMessage `json:"organization_id"`
	Subject        string          `json:"subject"`
	Description    string          `json:"description"`
	Status         string          `json:"status"`
	Tags           []string        `json:"tags"`
	CustomFields   []wireField     `json:"custom_fields"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
}

type wireField struct {
	ID    json.RawMessage `json:"id"`
	Value json.RawMessage `json:"value"`
}

// DecodeTicket decodes the body of GET /api/v2/tickets/{id}.json
// ({"ticket":{...}}) or a bare ticket object. Unlike go-zendesk v0.18.0 it
// reads custom field values of any JSON type, so one odd field cannot hide
// the whole ticket.
func DecodeTicket(body []byte) (Ticket, error) {
	if len(body) > MaxTicketBytes {
		return Ticket{}, fmt.Errorf("decode ticket: body is %d bytes, over the %d byte limit", len(body), MaxTicketBytes)
	}
	obj, err := ticketObject(body)
	if err != nil {
		return Ticket{}, fmt.Errorf("decode ticket: %w", err)
	}
	var w wireTicket
	if err := json.Unmarshal(obj, &w); err != nil {
		return Ticket{}, fmt.Errorf("decode ticket: %w", err)
	}
	t, err := w.ticket()
	if err != nil {
		return Ticket{}, fmt.Errorf("decode ticket %s: %w", bytes.TrimSpace(w.ID), err)
	}
	return t, nil
}

// ticketObject unwraps {"ticket":{...}}; any other object must itself be a
// ticket, recognised by its "id".
func ticketObject(body []byte) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, errors.New("body is null, not a ticket")
	}
	if inner, ok := top["ticket"]; ok {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(inner, &probe); err != nil || probe == nil {
			return nil, errors.New(`"ticket" is not an object`)
		}
		return inner, nil
	}
	if _, ok := top["id"]; !ok {
		return nil, errors.New(`neither {"ticket":{...}} nor a ticket object with an "id"`)
	}
	return body, nil
}

func (w wireTicket) ticket() (Ticket, error) {
	var t Ticket
	var err error
	ids := []struct {
		name string
		raw  json.RawMessage
		dst  *int64
	}{
		{"id", w.ID, &t.ID}, {"requester_id", w.RequesterID, &t.RequesterID},
		{"submitter_id", w.SubmitterID, &t.SubmitterID}, {"organization_id", w.OrganizationID, &t.OrganizationID},
	}
	for _, id := range ids {
		if *id.dst, err = decodeID(id.raw); err != nil {
			return Ticket{}, fmt.Errorf("%s: %w", id.name, err)
		}
	}
	if t.ID == 0 {
		return Ticket{}, errors.New("ticket has no id")
	}
	if t.CustomFields, err = decodeFields(w.CustomFields); err != nil {
		return Ticket{}, err
	}
	if t.CreatedAt, err = decodeTime(w.CreatedAt); err != nil {
		return Ticket{}, fmt.Errorf("created_at: %w", err)
	}
	if t.UpdatedAt, err = decodeTime(w.UpdatedAt); err != nil {
		return Ticket{}, fmt.Errorf("updated_at: %w", err)
	}
	t.Subject, t.Description = w.Subject, w.Description
	t.Status = strings.ToLower(strings.TrimSpace(w.Status))
	t.Tags = w.Tags
	return t, nil
}

// decodeID accepts a JSON integer, a string holding one (event payloads),
// or null/absent as 0.
func decodeID(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, err
		}
		if strings.TrimSpace(text) == "" {
			return 0, nil
		}
	}
	id, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("%s is not a positive integer id", truncate(string(raw), 40))
	}
	return id, nil
}

func decodeTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// decodeFields builds the id->value map. A field listed twice with two
// different values is an error: picking one would be a guess.
func decodeFields(wire []wireField) (map[int64]any, error) {
	out := make(map[int64]any, len(wire))
	for _, f := range wire {
		id, err := decodeID(f.ID)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("custom field without a valid id (%s)", truncate(string(f.ID), 40))
		}
		v, err := decodeValue(f.Value)
		if err != nil {
			return nil, fmt.Errorf("custom field %d: %w", id, err)
		}
		if old, dup := out[id]; dup && !reflect.DeepEqual(old, v) {
			return nil, fmt.Errorf("custom field %d is listed twice with different values", id)
		}
		out[id] = v
	}
	return out, nil
}

// decodeValue normalises a custom field value to string, bool, []string or nil.
func decodeValue(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case string(raw) == "true" || string(raw) == "false":
		return string(raw) == "true", nil
	case raw[0] == '"': // the common case, without a decoder of its own (a sync decodes every audit)
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []any:
		return stringList(x), nil
	case nil, bool:
		return x, nil
	default:
		return scalarString(x), nil
	}
}

// stringList turns a multi-select value into its option values; nulls in
// the list carry no answer and are dropped.
func stringList(xs []any) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x != nil {
			out = append(out, scalarString(x))
		}
	}
	return out
}

// scalarString renders any decoded JSON value as text. Objects (lookup
// fields, unknown future types) become compact JSON so that a problem can
// quote them instead of the decoder failing.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return decimalString(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// decimalString writes a JSON number in plain decimal notation ("1e3" ->
// "1000", "5.0" -> "5") without going through float64, which would change
// long ids. Absurd exponents keep their literal rather than cost memory.
func decimalString(n json.Number) string {
	s := string(n)
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	if !hasExp {
		return trimFraction(s)
	}
	e, err := strconv.Atoi(exp)
	if err != nil || e > 100 || e < -100 {
		return s
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return trimFraction(r.FloatString(len(mant) + max(-e, 0)))
}

// trimFraction drops trailing zeros after a decimal point, and the point.
func trimFraction(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
