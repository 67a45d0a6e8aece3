package parser

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// An audit as Zendesk sends it: ids past 2^32, a comment among the events, tags
// as arrays, a custom field by its id, and the time to the second.
const auditJSON = `{
  "id": 31415926535901, "ticket_id": 4821348213, "created_at": "2026-11-28T10:00:07Z",
  "author_id": 361123456789, "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": null}},
  "metadata": {"system": {}, "custom": {}},
  "events": [
    {"id": 31415926535902, "type": "Comment", "body": "Sorry, here it is", "public": true, "author_id": 361123456789},
    {"id": 31415926535903, "type": "Change", "field_name": "tags", "value": ["sandbox_clone", "vip"], "previous_value": ["sandbox_clone"]},
    {"id": 31415926535904, "type": "Change", "field_name": "360042000002", "value": "acme-sandbox", "previous_value": null},
    {"id": 31415926535905, "type": "Change", "field_name": "360042000003", "value": true, "previous_value": false},
    {"id": 31415926535906, "type": "Change", "field_name": "organization_id", "value": 360099887766, "previous_value": "360011112222"}
  ]
}`

func TestDecodeAudit(t *testing.T) {
	t.Parallel()
	a, err := DecodeAudit(json.RawMessage(auditJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := Audit{
		ID: 31415926535901, AuthorID: 361123456789, CreatedAt: time.Date(2026, 11, 28, 10, 0, 7, 0, time.UTC),
		Changes: []Change{
			{Field: "tags", Value: []string{"sandbox_clone", "vip"}, Previous: []string{"sandbox_clone"}},
			{Field: "360042000002", Value: "acme-sandbox", Previous: nil},
			{Field: "360042000003", Value: true, Previous: false},
			{Field: "organization_id", Value: "360099887766", Previous: "360011112222"},
		},
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("DecodeAudit =\n%+v\nwant\n%+v", a, want)
	}
}

func TestDecodeAuditShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		check      func(Audit) bool
	}{
		{"trigger on the audit", `{"id":31415926535901,"author_id":361123456789,"via":{"channel":"rule","source":{"rel":"trigger"}},"events":[]}`,
			func(a Audit) bool { return a.ViaRule }},
		{"trigger on the audit, events without a via", `{"id":31415926535901,"author_id":361123456789,"via":{"channel":"rule"},"events":[{"type":"Change","field_name":"tags","value":["a"],"previous_value":[]}]}`,
			func(a Audit) bool { return a.ViaRule && a.Changes[0].ViaRule }},
		// A trigger firing on a person's update: its changes are events of the
		// person's audit, each with the trigger's via; the person's are not its.
		{"trigger on one event", `{"id":31415926535901,"author_id":361123456789,"via":{"channel":"web"},"events":[
			{"type":"Change","field_name":"tags","value":["a","clone_approved"],"previous_value":["a"]},
			{"type":"Change","field_name":"priority","value":"high","previous_value":"normal","via":{"channel":"rule","source":{"rel":"trigger"}}},
			{"type":"Notification","subject":"x","via":{"channel":"rule","source":{"rel":"trigger"}}}]}`,
			func(a Audit) bool {
				return !a.ViaRule && len(a.Changes) == 2 && !a.Changes[0].ViaRule && a.Changes[1].ViaRule
			}},
		{"tags as text", `{"id":31415926535901,"author_id":361123456789,"events":[{"type":"Change","field_name":"tags","value":"a  b","previous_value":"a"}]}`,
			func(a Audit) bool {
				return reflect.DeepEqual(a.Changes[0].Value, []string{"a", "b"}) && reflect.DeepEqual(a.Changes[0].Previous, []string{"a"})
			}},
		{"created ticket", `{"id":"31415926535901","author_id":"361123456789","events":[{"type":"Create","field_name":"tags","value":["sandbox_clone"]}]}`,
			func(a Audit) bool {
				prev, _ := a.Changes[0].Previous.([]string)
				return a.ID == 31415926535901 && len(prev) == 0
			}},
		{"system user", `{"id":31415926535901,"author_id":-1,"events":[]}`,
			func(a Audit) bool { return a.AuthorID == -1 }},
		{"numbers for a text field", `{"id":31415926535901,"author_id":1,"events":[{"type":"Change","field_name":"360042000004","value":17,"previous_value":1e3}]}`,
			func(a Audit) bool { return a.Changes[0].Value == "17" && a.Changes[0].Previous == "1000" }},
	}
	for _, tc := range cases {
		a, err := DecodeAudit(json.RawMessage(tc.body))
		if err != nil || !tc.check(a) {
			t.Errorf("%s: %+v, %v", tc.name, a, err)
		}
	}
	for _, bad := range []string{`[]`, `{"id":0}`, `{"id":"x"}`, `{"id":31415926535901,"author_id":"bob"}`,
		`{"id":31415926535901,"events":[{"type":"Change","field_name":"tags","value":true}]}`} {
		if _, err := DecodeAudit(json.RawMessage(bad)); err == nil {
			t.Errorf("DecodeAudit(%s) accepted", bad)
		}
	}
}

// Walking a ticket back through its audits gives the ticket as it stood after each.
func TestTicketBefore(t *testing.T) {
	t.Parallel()
	f := corpusOptions().Fields
	now := formTicket("acme-prod", "acme-sandbox", true, "a@acme.com")
	now.Tags = []string{"sandbox_clone", "clone_approved"}
	now.RequesterOrganizations = []int64{360099887766}
	audits := []Audit{
		{ID: 31415926535901, Changes: []Change{{Field: "tags", Value: []string{"sandbox_clone"}}, {Field: "360042000001", Value: "acme-prod"}}},
		{ID: 31415926535907, Changes: []Change{{Field: "360042000002", Value: "acme-uat", Previous: nil}}},
		{ID: 31415926535913, Changes: []Change{{Field: "tags", Value: []string{"sandbox_clone", "clone_approved"}, Previous: []string{"sandbox_clone"}},
			{Field: "360042000002", Value: "acme-sandbox", Previous: "acme-uat"}}},
		{ID: 31415926535919, Changes: []Change{{Field: "requester_id", Value: "361123456789", Previous: "361123456790"}}},
	}
	t3 := now.Before(audits[3])
	if t3.RequesterID != 361123456790 || t3.RequesterOrganizations != nil || now.RequesterID != 361123456789 {
		t.Errorf("before the requester change: requester %d orgs %v; the ticket itself must not change", t3.RequesterID, t3.RequesterOrganizations)
	}
	t2 := t3.Before(audits[2])
	if t2.CustomFields[f.SandboxInstance] != "acme-uat" || strings.Join(t2.Tags, " ") != "sandbox_clone" || now.CustomFields[f.SandboxInstance] != "acme-sandbox" {
		t.Errorf("before the approval: sandbox %v tags %v", t2.CustomFields[f.SandboxInstance], t2.Tags)
	}
	// A person removes a tag and a trigger, firing on the update, adds another:
	// undone last first, the ticket before the audit is the one the person saw.
	both := Audit{ID: 31415926535925, Changes: []Change{
		{Field: "tags", Value: []string{"sandbox_clone"}, Previous: []string{"sandbox_clone", "clone_approved"}},
		{Field: "tags", Value: []string{"sandbox_clone", "escalated"}, Previous: []string{"sandbox_clone"}, ViaRule: true},
	}}
	after := now
	after.Tags = []string{"sandbox_clone", "escalated"}
	if got := after.Before(both).Tags; strings.Join(got, " ") != "sandbox_clone clone_approved" {
		t.Errorf("before a person's and a trigger's change of the tags: %v", got)
	}
	t0 := t2.Before(audits[1]).Before(audits[0])
	if t0.CustomFields[f.SandboxInstance] != nil || t0.CustomFields[f.ProductionInstance] != nil || len(t0.Tags) != 0 {
		t.Errorf("before the ticket was created: %+v", t0)
	}
}
