package rules

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gaiia/clonebot/parser"
	"github.com/gaiia/clonebot/registry"
)

// A trigger that fires on a person's update writes its changes into that
// person's audit, each event with a via of its own: the person's tag stays the
// person's decision, and the trigger's tag is nobody's.
func TestTriggerEventsInAPersonsAudit(t *testing.T) {
	t.Parallel()
	const org, customer, agent, bot = 360099887766, 361100000010, 361100000020, 361100000001
	reg, err := registry.New([]registry.Instance{
		{Name: "acme-prod", Environment: registry.Production, URL: "https://acme.example-isp.app", DatabaseURL: "postgres://x/p", Tenant: "acme", OrganizationIDs: []int64{org}},
		{Name: "acme-sandbox", Environment: registry.Sandbox, URL: "https://acme.sandbox.example-isp.app", DatabaseURL: "postgres://x/s", Tenant: "acme", OrganizationIDs: []int64{org}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := Reader{
		Tags:     Tags{Request: "sandbox_clone", Approve: "clone_approved", Hold: "clone_hold", Reject: "clone_rejected", Rollback: "clone_rollback"},
		Deciders: Deciders{Bot: bot},
		Parser:   parser.Options{Registry: reg, Fields: parser.Fields{ProductionInstance: 1, SandboxInstance: 2, WipeConfirmation: 3, Users: 4}},
	}
	const filed = `{"id":31415926535901,"author_id":361100000010,"created_at":"2026-01-01T10:00:00Z","via":{"channel":"web"},"events":[
		{"type":"Create","field_name":"tags","value":["sandbox_clone"]},
		{"type":"Create","field_name":"1","value":"acme-prod"},{"type":"Create","field_name":"2","value":"acme-sandbox"},
		{"type":"Create","field_name":"3","value":true},{"type":"Create","field_name":"4","value":"dana@acme.example"}]}`
	trigger := `"via":{"channel":"rule","source":{"from":{"id":360000123,"title":"Escalate"},"rel":"trigger"}}`
	priority := `{"type":"Change","field_name":"priority","value":"high","previous_value":"normal",` + trigger + `}`
	update := func(id, author int64, events ...string) string {
		evs := ""
		for i, e := range events {
			if i > 0 {
				evs += ","
			}
			evs += e
		}
		return fmt.Sprintf(`{"id":%d,"author_id":%d,"created_at":"2026-01-01T11:00:00Z","via":{"channel":"web"},"events":[%s]}`, id, author, evs)
	}
	tags := func(value, previous, via string) string {
		e := fmt.Sprintf(`{"type":"Change","field_name":"tags","value":%s,"previous_value":%s`, value, previous)
		if via != "" {
			e += "," + via
		}
		return e + "}"
	}
	cases := []struct {
		name   string
		tags   []string // the ticket's tags now
		audits []string
		want   Decision
	}{
		{"an agent's approval, a trigger setting the priority", []string{"sandbox_clone", "clone_approved"},
			[]string{update(31415926535907, agent, tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, ""), priority)},
			Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}},
		{"an agent's approval, a trigger adding a tag of its own", []string{"sandbox_clone", "clone_approved", "escalated"},
			[]string{update(31415926535907, agent, tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, ""),
				tags(`["sandbox_clone","clone_approved","escalated"]`, `["sandbox_clone","clone_approved"]`, trigger))},
			Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}},
		{"an agent's comment, a trigger adding the approval tag", []string{"sandbox_clone", "clone_approved"},
			[]string{update(31415926535907, agent, `{"type":"Comment","body":"looks fine","public":false}`,
				tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, trigger))},
			None},
		{"an agent's withdrawal, a trigger adding the approval tag back", []string{"sandbox_clone", "clone_approved"},
			[]string{
				update(31415926535907, agent, tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, "")),
				update(31415926535913, agent, tags(`["sandbox_clone"]`, `["sandbox_clone","clone_approved"]`, ""),
					tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, trigger)),
			},
			None},
		{"an end user's approval tag, a trigger setting the priority", []string{"sandbox_clone", "clone_approved"},
			[]string{update(31415926535907, customer, tags(`["sandbox_clone","clone_approved"]`, `["sandbox_clone"]`, ""), priority)},
			Decision{Next: AwaitingApproval, Reason: ReasonApprovalRefused}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var audits []parser.Audit
			for _, raw := range append([]string{filed}, tc.audits...) {
				a, err := parser.DecodeAudit(json.RawMessage(raw))
				if err != nil {
					t.Fatal(err)
				}
				audits = append(audits, a)
			}
			tk := parser.Ticket{ID: 5, Status: "open", OrganizationID: org, RequesterID: customer, RequesterOrganizations: []int64{org},
				Tags:         tc.tags,
				CustomFields: map[int64]any{1: "acme-prod", 2: "acme-sandbox", 3: true, 4: "dana@acme.example"},
				CreatedAt:    time.Now(), UpdatedAt: time.Now()}
			v := View{Ticket: tk, Audits: audits}
			s := r.Outline(v)
			r.Fill(&s, tk, audits)
			if s.Request == nil {
				t.Fatalf("problems: %v", s.Problems)
			}
			roles := map[int64]parser.Role{}
			for _, a := range r.DecisionAudits(s) {
				roles[a.AuditID] = map[int64]parser.Role{customer: parser.RoleEndUser, agent: parser.RoleAgent}[a.AuthorID]
			}
			r.Judge(&s, roles)
			_, d := Step(Record{State: AwaitingApproval, Fingerprint: s.Request.Fingerprint, Acknowledged: true}, s)
			if d != tc.want {
				t.Errorf("decision %+v, want %+v (approval %+v)", d, tc.want, s.Approval)
			}
		})
	}
}
