package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	eventTypePrefix  = "zen:event-type:"
	ticketTypePrefix = eventTypePrefix + "ticket."
	ticketSubject    = "zen:ticket:"
	maxKindLen       = 64
	maxIdentityLen   = 200
)

// Errors from decoding; both answer 400.
var (
	ErrMalformed  = errors.New("body is not a JSON object")
	ErrNoTicketID = errors.New("payload has no ticket id")
)

// decoded is a payload turned into an Event, or the reason it is not a clone request.
type decoded struct {
	ev     Event
	ignore string // non-empty: answer 200 and store nothing
}

// decode reads either payload style. An event subscription's envelope has a type
// starting with zen:event-type:; anything else is a trigger body written by an admin.
// A ticket event concerns the bot when the ticket carries requestTag or one of
// also (the rollback tag), or just lost requestTag.
func decode(body []byte, requestTag string, also ...string) (decoded, error) {
	var probe struct {
		Type json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return decoded{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var typ string
	if json.Unmarshal(probe.Type, &typ) == nil && strings.HasPrefix(typ, eventTypePrefix) {
		return decodeEvent(body, requestTag, also...)
	}
	return decodeTrigger(body)
}

// triggerBody is the body of a trigger-connected webhook. Placeholders render as text,
// so every field accepts a string as well as a number.
type triggerBody struct {
	TicketID      flexInt    `json:"ticket_id"`
	UpdatedAt     flexString `json:"updated_at"`
	ActorID       flexInt    `json:"actor_id"`
	CurrentUserID flexInt    `json:"current_user_id"`
	Event         flexString `json:"event"`
	Kind          flexString `json:"kind"`
}

func decodeTrigger(body []byte) (decoded, error) {
	var b triggerBody
	if err := json.Unmarshal(body, &b); err != nil {
		return decoded{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if b.TicketID <= 0 {
		return decoded{}, ErrNoTicketID
	}
	ev := Event{
		TicketID: int64(b.TicketID),
		ActorID:  int64(b.ActorID),
		Kind:     kindOf(string(b.Event), string(b.Kind), "trigger"),
	}
	if ev.ActorID == 0 {
		ev.ActorID = int64(b.CurrentUserID)
	}
	// No identity from updated_at: it has whole-second resolution (the
	// updated_at_with_timestamp placeholder renders minutes), so two real changes
	// can share it, and dropping the second as a repeat would lose it. Retries of
	// one notification share Zendesk's invocation id instead.
	ev.Time = parseTime(string(b.UpdatedAt))
	return decoded{ev: ev}, nil
}

// envelope is an event-subscription payload; only what the bot needs is decoded.
type envelope struct {
	ID      flexString `json:"id"`
	Type    string     `json:"type"`
	Subject flexString `json:"subject"`
	Time    flexString `json:"time"`
	Detail  struct {
		ID      flexInt  `json:"id"`
		ActorID flexInt  `json:"actor_id"`
		Tags    []string `json:"tags"`
	} `json:"detail"`
	Event struct {
		TagsRemoved []string `json:"tags_removed"`
	} `json:"event"`
}

func decodeEvent(body []byte, requestTag string, also ...string) (decoded, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return decoded{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(env.Type, ticketTypePrefix) {
		return decoded{ignore: "not a ticket event"}, nil
	}
	ev := Event{
		TicketID: int64(env.Detail.ID),
		EventID:  identity(string(env.ID)),
		ActorID:  int64(env.Detail.ActorID),
		Kind:     kindOf(strings.TrimPrefix(env.Type, eventTypePrefix)),
		Time:     parseTime(string(env.Time)),
	}
	if ev.TicketID <= 0 {
		ev.TicketID = subjectTicket(string(env.Subject))
	}
	if ev.TicketID <= 0 {
		return decoded{}, ErrNoTicketID
	}
	// A ticket that never had the request tag is not a clone request; one that just
	// lost it is, because the worker must see the request withdrawn; one with the
	// rollback tag may be a ready clone's whose request tag was removed since.
	if !slices.Contains(env.Detail.Tags, requestTag) && !slices.Contains(env.Event.TagsRemoved, requestTag) &&
		!slices.ContainsFunc(also, func(tag string) bool { return tag != "" && slices.Contains(env.Detail.Tags, tag) }) {
		return decoded{ev: ev, ignore: "ticket is not tagged " + requestTag}, nil
	}
	return decoded{ev: ev}, nil
}

// identity makes a dedupe key storable whatever the sender put in it: PostgreSQL text
// holds no NUL byte and a btree index entry must stay small, so a long or odd key is
// replaced by its SHA-256, which keeps equal keys equal.
func identity(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxIdentityLen && utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// subjectTicket reads N from "zen:ticket:N", or returns 0.
func subjectTicket(subject string) int64 {
	s, ok := strings.CutPrefix(subject, ticketSubject)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// kindOf returns the first non-empty candidate, cut to a sane length because a
// trigger body is free text.
func kindOf(candidates ...string) string {
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		c = strings.ReplaceAll(c, "\x00", "")
		if len(c) > maxKindLen {
			c = strings.ToValidUTF8(c[:maxKindLen], "")
		}
		if c == "" {
			continue
		}
		return c
	}
	return "unknown"
}

// parseTime accepts the ISO-8601 forms Zendesk renders; anything else is left zero,
// since the time is informative only.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
