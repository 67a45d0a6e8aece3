package parser

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeTicket feeds arbitrary bodies through DecodeTicket and Parse.
func FuzzDecodeTicket(f *testing.F) {
	f.Add([]byte(`{"ticket":{"id":4821348213,"organization_id":360099887766,"custom_fields":[{"id":360042000001,"value":"acme-prod"},{"id":360042000002,"value":"acme-sandbox"},{"id":360042000003,"value":true},{"id":360042000004,"value":"a@acme.com"}]}}`))
	f.Add([]byte(`{"id":"4821348214","custom_fields":[{"id":360042000001,"value":5},{"id":360042000004,"value":["x",1e3,null,{"a":1}]}]}`))
	opts := corpusOptions()
	f.Fuzz(func(t *testing.T, body []byte) {
		tk, err := DecodeTicket(body)
		if err != nil {
			return
		}
		if tk.ID <= 0 {
			t.Fatalf("decoded ticket without an id: %+v", tk)
		}
		for id, v := range tk.CustomFields {
			switch v.(type) {
			case nil, string, bool, []string:
			default:
				t.Fatalf("custom field %d has type %T", id, v)
			}
		}
		checkParse(t, tk, opts)
	})
}

// FuzzParse fuzzes the four answers and the description of a ticket.
// wipeMode picks the checkbox: 0 absent, 1 ticked, 2 unticked, else the
// wipe text is the field's value.
func FuzzParse(f *testing.F) {
	f.Add("acme-prod", "acme-sandbox", "", "a@acme.com", "", uint8(1), uint8(1))
	f.Add("", "", "", "", "Production instance: acme-prod\nSandbox: acme-uat\nWipe confirmed: yes\nUsers:\n- a@acme.com\n- B <b@acme.com> (admin)", uint8(0), uint8(1))
	f.Add("our prod (acme-prod)", "https://acme.sandbox.example-isp.app/", "yes, it can be wiped", "x; y,z\n\"q, r\" <s@t.uk>", "Users: c@d.ef", uint8(3), uint8(1))
	f.Add("acme-prod", "acme-prod", "yes?", "a@@b", "Sandbox: beta-sandbox", uint8(2), uint8(2))
	opts := corpusOptions()
	orgs := []int64{0, 360099887766, 360011112222, 361199887700}
	f.Fuzz(func(t *testing.T, prod, sandbox, wipe, users, desc string, wipeMode, org uint8) {
		tk := Ticket{ID: 4821348213, RequesterID: 361123456789, OrganizationID: orgs[int(org)%len(orgs)], Description: desc, CustomFields: map[int64]any{}}
		ff := opts.Fields
		tk.CustomFields[ff.ProductionInstance] = prod
		tk.CustomFields[ff.SandboxInstance] = strings.Split(sandbox, "|")
		tk.CustomFields[ff.Users] = users
		switch wipeMode {
		case 0:
		case 1, 2:
			tk.CustomFields[ff.WipeConfirmation] = wipeMode == 1
		default:
			tk.CustomFields[ff.WipeConfirmation] = wipe
		}
		checkParse(t, tk, opts)
	})
}

// checkParse asserts what must hold for every ticket: exactly one of a
// request or problems, a request only for an allowed clone, and problems
// fit for a customer.
func checkParse(t *testing.T, tk Ticket, opts Options) {
	t.Helper()
	req, problems := Parse(tk, opts)
	checkExactlyOne(t, req, problems)
	if req == nil {
		checkProblems(t, problems)
		return
	}
	checkRequest(t, tk, req, opts)
	again, _ := Parse(tk, opts)
	if again == nil || again.Fingerprint != req.Fingerprint {
		t.Fatalf("Parse is not deterministic: %+v then %+v", req, again)
	}
}

func checkProblems(t *testing.T, problems []Problem) {
	t.Helper()
	fields := []string{FieldProduction, FieldSandbox, FieldWipe, FieldUsers, FieldOrganization}
	for _, p := range problems {
		if !slices.Contains(fields, p.Field) || p.Message == "" {
			t.Fatalf("problem without a known field or a message: %+v", p)
		}
		if !utf8.ValidString(p.Value) || utf8.RuneCountInString(p.Value) > quoteLimit || strings.ContainsAny(p.Value, "\n\r") {
			t.Fatalf("problem value is not a short one-line quote: %q", p.Value)
		}
	}
}

func checkRequest(t *testing.T, tk Ticket, req *Request, opts Options) {
	t.Helper()
	reg := catalog{all: opts.Registry.All(), org: tk.OrganizationID}
	prod, okP := reg.byName(req.Production)
	sb, okS := reg.byName(req.Sandbox)
	if !okP || !okS || prod.Environment != Production || sb.Environment != Sandbox ||
		prod.Tenant != sb.Tenant || req.Tenant != prod.Tenant || !reg.owned(prod) || !reg.owned(sb) {
		t.Fatalf("request for a clone that is not allowed: %+v", req)
	}
	if !req.WipeConfirmed || len(req.Users) == 0 || len(req.Users) > MaxUsers {
		t.Fatalf("request without confirmation or with %d users: %+v", len(req.Users), req)
	}
	seen := map[string]bool{}
	for _, u := range req.Users {
		if u.Email != strings.ToLower(u.Email) || seen[u.Email] || checkEmail(u.Email) != "" {
			t.Fatalf("bad or repeated user %+v", u)
		}
		seen[u.Email] = true
	}
	if req.Fingerprint != fingerprint(*req) {
		t.Fatalf("fingerprint does not match the request")
	}
}
