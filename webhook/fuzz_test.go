package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzVerify checks that no input is accepted without the right MAC, and that a
// correctly signed request is refused only for its timestamp.
func FuzzVerify(f *testing.F) {
	f.Add("KiZZol9QISOph0iCsVHWC+IHs+zKP6oMq4HgiCAFbYg=", "2025-03-04T10:01:02Z", []byte(`{"ticket_id":"48213"}`))
	f.Add("", "", []byte{})
	f.Add("====", "2025-03-04T10:01:02.999999999+01:00", []byte("\x00\xff"))
	now := time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC)
	v := verifier{secrets: []string{"fuzz-secret", TestSecret}, maxAge: 5 * time.Minute, now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		if err := v.verify(sig, ts, body); err == nil {
			got, _ := base64.StdEncoding.DecodeString(sig)
			if !hmac.Equal(got, mac("fuzz-secret", ts, body)) && !hmac.Equal(got, mac(TestSecret, ts, body)) {
				t.Fatalf("accepted a signature no secret made: %q %q", sig, ts)
			}
		}
		err := v.verify(Sign("fuzz-secret", ts, body), ts, body)
		if errors.Is(err, ErrBadSignature) {
			t.Fatalf("refused its own signature: %v", err)
		}
		if err == nil {
			parsed, perr := time.Parse(time.RFC3339Nano, ts)
			if perr != nil || parsed.Sub(now).Abs() > 5*time.Minute {
				t.Fatalf("accepted timestamp %q outside the window", ts)
			}
		}
		if ts == "" && !errors.Is(err, ErrMissingSignature) {
			t.Fatalf("empty timestamp gave %v", err)
		}
	})
}

// FuzzDecode feeds arbitrary bodies to the style detection and both decoders.
func FuzzDecode(f *testing.F) {
	addFixtures(f)
	f.Add([]byte(`{"ticket_id":"4821348213"}`))
	f.Add([]byte(`{"ticket_id":4821348213,"updated_at":12,"event":null}`))
	f.Add([]byte(`{"type":"zen:event-type:ticket.created","id":"\u0000","subject":"zen:ticket:4821348217","detail":{"tags":["sandbox_clone"]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decode(body, "sandbox_clone")
		checkDecoded(t, d, err)
	})
}

// FuzzDecodeTrigger targets the admin-written trigger body.
func FuzzDecodeTrigger(f *testing.F) {
	f.Add([]byte(`{"ticket_id":"4821348213","updated_at":"2025-03-04T10:01:02Z","actor_id":"361123456789"}`))
	f.Add([]byte(`{"ticket_id":" 4821348213 ","current_user_id":361123456789,"kind":"x","event":""}`))
	f.Add([]byte(`{"ticket_id":"9223372036854775808"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeTrigger(body)
		checkDecoded(t, d, err)
		if err == nil && d.ignore != "" {
			t.Fatal("a trigger body is never ignored by the decoder")
		}
	})
}

// FuzzDecodeEvent targets the event-subscription envelope.
func FuzzDecodeEvent(f *testing.F) {
	addFixtures(f)
	f.Add([]byte(`{"type":"zen:event-type:ticket.tags_changed","id":"e","detail":{"id":"5","tags":[]},"event":{"tags_removed":["sandbox_clone"]}}`))
	f.Add([]byte(`{"type":"zen:event-type:user.created","id":"u"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeEvent(body, "sandbox_clone")
		checkDecoded(t, d, err)
	})
}

func addFixtures(f *testing.F) {
	for _, name := range []string{"event-tags-changed.json", "event-ticket-created.json", "trigger-detailed.json"} {
		if b, err := readFixture(name); err == nil {
			f.Add(b)
		}
	}
}

// checkDecoded holds what the rest of the bot relies on: an accepted event names a
// ticket and carries only text PostgreSQL can store in an index.
func checkDecoded(t *testing.T, d decoded, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoTicketID) {
			t.Fatalf("unexpected error class: %v", err)
		}
		return
	}
	if d.ignore != "" && d.ev.TicketID == 0 {
		return // not a ticket event
	}
	if d.ev.TicketID <= 0 {
		t.Fatalf("event without a ticket: %+v", d.ev)
	}
	for _, s := range []string{d.ev.Kind, d.ev.EventID} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("unstorable text %q", s)
		}
	}
	if d.ev.Kind == "" || len(d.ev.Kind) > maxKindLen || len(d.ev.EventID) > maxIdentityLen+len("sha256:")+64 {
		t.Fatalf("sizes out of bounds: %+v", d.ev)
	}
}
