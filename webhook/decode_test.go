package webhook

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDecodeTrigger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want Event
	}{
		// updated_at has whole-second resolution: it dates the change, never identifies it.
		{name: "text values", body: `{"ticket_id":"4821348213","updated_at":"2025-03-04T10:01:02Z","actor_id":"361123456789"}`,
			want: Event{TicketID: 4821348213, ActorID: 361123456789, Kind: "trigger", Time: time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC)}},
		{name: "numbers", body: `{"ticket_id":4821348213,"current_user_id":361123456789,"kind":"sandbox_clone"}`,
			want: Event{TicketID: 4821348213, ActorID: 361123456789, Kind: "sandbox_clone"}},
		{name: "event beats kind, spaces trimmed", body: `{"ticket_id":" 4821348217 ","event":"updated","kind":"x","actor_id":""}`,
			want: Event{TicketID: 4821348217, Kind: "updated"}},
		{name: "actor_id beats current_user_id", body: `{"ticket_id":"4821348217","actor_id":"361123456789","current_user_id":"361112345678"}`,
			want: Event{TicketID: 4821348217, ActorID: 361123456789, Kind: "trigger"}},
		{name: "updated_at in minutes is no identity either", body: `{"ticket_id":"4821348217","updated_at":"March 4, 2025 10:01"}`,
			want: Event{TicketID: 4821348217, Kind: "trigger"}},
		{name: "extra fields and tags", body: `{"ticket_id":"4821348217","tags":"sandbox_clone vip","status":"Open","detail":"x"}`,
			want: Event{TicketID: 4821348217, Kind: "trigger"}},
		{name: "ticket type is not an event type", body: `{"ticket_id":"4821348217","type":"Task"}`,
			want: Event{TicketID: 4821348217, Kind: "trigger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decode([]byte(tt.body), "sandbox_clone")
			if err != nil || d.ignore != "" {
				t.Fatalf("decode: %v, ignore %q", err, d.ignore)
			}
			if d.ev != tt.want {
				t.Errorf("decode =\n%+v, want\n%+v", d.ev, tt.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       error
	}{
		{"not json", `ticket_id=4821348213`, ErrMalformed},
		{"array", `[{"ticket_id":"4821348213"}]`, ErrMalformed},
		{"truncated", `{"ticket_id":"48`, ErrMalformed},
		{"empty", ``, ErrMalformed},
		{"no ticket id", `{"updated_at":"2025-03-04T10:01:02Z"}`, ErrNoTicketID},
		{"empty placeholder", `{"ticket_id":""}`, ErrNoTicketID},
		{"zero", `{"ticket_id":"0"}`, ErrNoTicketID},
		{"negative", `{"ticket_id":-4}`, ErrNoTicketID},
		{"not a number", `{"ticket_id":"{{ticket.id}}"}`, ErrMalformed},
		{"event without ticket", `{"type":"zen:event-type:ticket.created","id":"e1","detail":{"tags":["sandbox_clone"]}}`, ErrNoTicketID},
		{"event with odd tags", `{"type":"zen:event-type:ticket.created","detail":{"id":"4821348213","tags":"sandbox_clone"}}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.body), "sandbox_clone")
			if !errors.Is(err, tt.want) {
				t.Fatalf("decode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeEventFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		ignored    bool
		ticket     int64
	}{
		{"user event", `{"type":"zen:event-type:user.created","id":"u1","subject":"zen:user:361123456789","detail":{"id":"361123456789"}}`, true, 0},
		{"untagged ticket", `{"type":"zen:event-type:ticket.status_changed","id":"e1","detail":{"id":"4821348219","tags":["vip"]}}`, true, 4821348219},
		{"tag just removed", `{"type":"zen:event-type:ticket.tags_changed","id":"e2","detail":{"id":"4821348219","tags":[]},"event":{"tags_removed":["sandbox_clone"]}}`, false, 4821348219},
		{"id from subject", `{"type":"zen:event-type:ticket.created","id":"e3","subject":"zen:ticket:4821348212","detail":{"tags":["sandbox_clone"]}}`, false, 4821348212},
		{"numeric ids", `{"type":"zen:event-type:ticket.created","id":"e4","detail":{"id":4821348212,"actor_id":361123456789,"tags":["sandbox_clone"]}}`, false, 4821348212},
		// A ready clone's ticket whose request tag was removed may still ask for its rollback.
		{"rollback tag alone", `{"type":"zen:event-type:ticket.tags_changed","id":"e5","detail":{"id":"4821348219","tags":["clone_rollback","clone_status_ready"]}}`, false, 4821348219},
		{"rollback tag just removed", `{"type":"zen:event-type:ticket.tags_changed","id":"e6","detail":{"id":"4821348219","tags":["vip"]},"event":{"tags_removed":["clone_rollback"]}}`, true, 4821348219},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decode([]byte(tt.body), "sandbox_clone", "clone_rollback")
			if err != nil {
				t.Fatal(err)
			}
			if (d.ignore != "") != tt.ignored || d.ev.TicketID != tt.ticket {
				t.Fatalf("decode = %+v ignore %q, want ignored %v ticket %d", d.ev, d.ignore, tt.ignored, tt.ticket)
			}
		})
	}
}

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	want := map[string]Event{
		"trigger.json": {TicketID: 4821348213, ActorID: 361123456789, Kind: "trigger"},
		"trigger-detailed.json": {TicketID: 4821348213, ActorID: 361112345678, Kind: "sandbox_clone",
			Time: time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC)},
		"event-ticket-created.json": {TicketID: 4821348213, EventID: "0b6a3c1e-6f0d-4f5e-9a51-2d7c9e4b8a10", ActorID: 361123456789, Kind: "ticket.created",
			Time: time.Date(2025, 3, 4, 9, 12, 44, 512340000, time.UTC)},
		"event-tags-changed.json": {TicketID: 4821348213, EventID: "5f1c0a3e-9b2d-4e1f-8a7b-6c5d4e3f2a1b", ActorID: 361112345678, Kind: "ticket.tags_changed",
			Time: time.Date(2025, 3, 4, 10, 1, 2, 123456789, time.UTC)},
		"event-custom-field-changed.json": {TicketID: 4821348213, EventID: "8d2e7f40-1c3b-4a6d-b5e9-0f7a2c4d6e81", ActorID: 361123456789, Kind: "ticket.custom_field_changed",
			Time: time.Date(2025, 3, 4, 9, 40, 17, 4211000, time.UTC)},
		"event-status-changed.json": {TicketID: 4821348213, EventID: "3a9b5c7d-2e4f-4061-8273-94a5b6c7d8e9", ActorID: 361112345678, Kind: "ticket.status_changed",
			Time: time.Date(2025, 3, 4, 9, 30, 5, 771000000, time.UTC)},
		"event-comment-added.json": {TicketID: 4821348213, EventID: "c47d1e2f-8a90-4b3c-9d5e-6f7081a2b3c4", ActorID: 361123456789, Kind: "ticket.comment_added",
			Time: time.Date(2025, 3, 4, 9, 35, 51, 250000000, time.UTC)},
	}
	files, err := filepath.Glob("../fixtures/webhooks/*.json")
	if err != nil || len(files) != len(want) {
		t.Fatalf("fixtures: %d files (%v), want %d", len(files), err, len(want))
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decode(body, "sandbox_clone")
		if err != nil || d.ignore != "" {
			t.Errorf("%s: %v, ignore %q", f, err, d.ignore)
			continue
		}
		if w := want[filepath.Base(f)]; d.ev != w {
			t.Errorf("%s =\n%+v, want\n%+v", f, d.ev, w)
		}
	}
}

func TestIdentityKeepsKeysStorable(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, 5000))
	for _, s := range []string{long, "a\x00b", "\xff\xfe"} {
		got := identity(s)
		if len(got) > maxIdentityLen || got == s {
			t.Errorf("identity(%q...) = %q", s[:2], got)
		}
		if identity(s) != got {
			t.Error("identity is not deterministic")
		}
	}
	if identity(" abc ") != "abc" {
		t.Error("short keys must pass through trimmed")
	}
}

func readFixture(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "fixtures", "webhooks", name))
}
