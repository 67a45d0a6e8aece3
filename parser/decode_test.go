package parser

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeTicket(t *testing.T) {
	t.Parallel()
	body := `{"ticket":{"id":4821348213,"requester_id":361123456789,"submitter_id":null,"organization_id":"360099887766",
		"subject":"S","description":"D","status":"Open","tags":["sandbox_clone"],"updated_at":"2026-11-20T14:05:42Z",
		"custom_fields":[{"id":1,"value":"acme-prod"},{"id":2,"value":true},{"id":3,"value":null},{"id":4,"value":["a","b",null,7]},
		{"id":5,"value":745},{"id":6,"value":12.50},{"id":7,"value":1e3},{"id":"8","value":123456789012345678901234},
		{"id":9,"value":{"id":7}},{"id":10},{"id":1,"value":"acme-prod"}]}}`
	got, err := DecodeTicket([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Ticket{
		ID: 4821348213, RequesterID: 361123456789, OrganizationID: 360099887766,
		Subject: "S", Description: "D", Status: "open", Tags: []string{"sandbox_clone"},
		CustomFields: map[int64]any{1: "acme-prod", 2: true, 3: nil, 4: []string{"a", "b", "7"}, 5: "745", 6: "12.5",
			7: "1000", 8: "123456789012345678901234", 9: `{"id":7}`, 10: nil},
		UpdatedAt: time.Date(2026, 11, 20, 14, 5, 42, 0, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeTicket =\n%#v\nwant\n%#v", got, want)
	}
	if !got.HasTag("SANDBOX_CLONE") || got.HasTag("clone_approved") {
		t.Errorf("HasTag is wrong for tags %v", got.Tags)
	}
}

func TestDecodeTicketBare(t *testing.T) {
	t.Parallel()
	got, err := DecodeTicket([]byte(`{"id":"7","status":"PENDING"}`))
	if err != nil || got.ID != 7 || got.Status != "pending" {
		t.Fatalf("DecodeTicket bare = %+v, %v", got, err)
	}
}

func TestDecodeTicketErrors(t *testing.T) {
	t.Parallel()
	bad := []string{
		``, `null`, `[]`, `"x"`, `{}`, `{"ticket":null}`, `{"ticket":[]}`, `{"ticket":{}}`, `{"ticket":{"id":0}}`,
		`{"ticket":{"id":-1}}`, `{"ticket":{"id":1.5}}`, `{"ticket":{"id":"abc"}}`, `{"ticket":{"id":1}} trailing`,
		`{"ticket":{"id":1,"custom_fields":[{"value":1}]}}`, `{"ticket":{"id":1,"tags":"a b"}}`,
		`{"ticket":{"id":1,"custom_fields":[{"id":2,"value":"a"},{"id":2,"value":"b"}]}}`,
		`{"ticket":{"id":1,"created_at":"2026-13-01"}}`,
		`{"ticket":{"id":1,"subject":` + strings.Repeat(" ", MaxTicketBytes) + `"x"}}`,
	}
	for _, b := range bad {
		if _, err := DecodeTicket([]byte(b)); err == nil {
			t.Errorf("DecodeTicket(%.60q) succeeded, want an error", b)
		}
	}
}

func TestDecimalString(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"5": "5", "-0": "-0", "12.50": "12.5", "1.0": "1", "1e3": "1000", "1E+2": "100", "2.5e-3": "0.0025",
		"9007199254740993": "9007199254740993", "1e400": "1e400", "0.1": "0.1", "-1.25E1": "-12.5",
	}
	for in, want := range tests {
		if got := decimalString(json.Number(in)); got != want {
			t.Errorf("decimalString(%s) = %s, want %s", in, got, want)
		}
	}
}
