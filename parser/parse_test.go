package parser

import (
	"strings"
	"testing"
)

// formTicket is a valid ticket of the acme organization answered on the form.
func formTicket(prod, sandbox string, wipe any, users string) Ticket {
	f := corpusOptions().Fields
	return Ticket{
		ID: 4821348213, RequesterID: 361123456789, OrganizationID: 360099887766, Status: "new",
		CustomFields: map[int64]any{f.ProductionInstance: prod, f.SandboxInstance: sandbox, f.WipeConfirmation: wipe, f.Users: users},
	}
}

func mustParse(t *testing.T, tk Ticket) *Request {
	t.Helper()
	req, problems := Parse(tk, corpusOptions())
	if req == nil {
		t.Fatalf("Parse: problems %v", problems)
	}
	return req
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := mustParse(t, formTicket("acme-prod", "acme-sandbox", true, "a@acme.com (admin)\nb@acme.com"))
	if len(base.Fingerprint) != 64 || strings.Trim(base.Fingerprint, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q is not sha256 hex", base.Fingerprint)
	}
	same := []Ticket{
		formTicket("ACME-PROD", " https://acme.sandbox.example-isp.app/ ", true, "B@acme.com; Ann <A@ACME.com> (Admin), b@acme.com"),
		formTicket("our prod (acme-prod)", "Sandbox: acme-sandbox.", true, "- b@acme.com\n- a@acme.com (admin)\n"),
	}
	for _, tk := range same {
		if got := mustParse(t, tk).Fingerprint; got != base.Fingerprint {
			t.Errorf("same request, different fingerprint for %v", tk.CustomFields)
		}
	}
	other := []Ticket{
		formTicket("acme-prod", "acme-uat", true, "a@acme.com (admin)\nb@acme.com"),
		formTicket("acme-prod", "acme-sandbox", true, "a@acme.com (viewer)\nb@acme.com"),
		formTicket("acme-prod", "acme-sandbox", true, "a@acme.com (admin)"),
		formTicket("acme-prod", "acme-sandbox", true, "a@acme.com (admin)\nb@acme.com\nc@acme.com"),
	}
	for _, tk := range other {
		if got := mustParse(t, tk).Fingerprint; got == base.Fingerprint {
			t.Errorf("different request, same fingerprint for %v", tk.CustomFields)
		}
	}
	moved := formTicket("acme-prod", "acme-sandbox", true, "a@acme.com (admin)\nb@acme.com")
	moved.RequesterID = 361123456790
	if mustParse(t, moved).Fingerprint == base.Fingerprint {
		t.Error("another requester kept the fingerprint")
	}
}

func TestParseFieldWinsOverDescription(t *testing.T) {
	t.Parallel()
	tk := formTicket("acme-prod", "", nil, "")
	tk.Description = "Production instance: beta-prod\nSandbox: acme-uat\nWipe confirmed: yes\nUsers: a@acme.com"
	req := mustParse(t, tk)
	if req.Production != "acme-prod" || req.Sandbox != "acme-uat" || !req.WipeConfirmed || len(req.Users) != 1 {
		t.Errorf("Parse = %+v, want the field's production and the description's other answers", req)
	}
}

func TestParseUnconfiguredFields(t *testing.T) {
	t.Parallel()
	tk := formTicket("beta-prod", "beta-sandbox", false, "x")
	tk.Description = "Production instance: acme-prod\nSandbox: acme-sandbox\nWipe confirmed: y\nUsers: a@acme.com"
	req, problems := Parse(tk, Options{Registry: corpusOptions().Registry})
	if req == nil || req.Production != "acme-prod" {
		t.Errorf("with no field ids configured, the description must be read: %+v %v", req, problems)
	}
}

// TestParseNeverTargetsProduction checks every pair of registry names: a
// request is returned only for a production source and a sandbox target of
// the ticket's own tenant.
func TestParseNeverTargetsProduction(t *testing.T) {
	t.Parallel()
	opts := corpusOptions()
	for _, org := range []int64{0, 360099887766, 360011113333, 42} {
		for _, p := range opts.Registry.All() {
			for _, s := range opts.Registry.All() {
				tk := formTicket(p.Name, s.Name, true, "a@acme.com")
				tk.OrganizationID = org
				req, problems := Parse(tk, opts)
				checkExactlyOne(t, req, problems)
				ok := p.Environment == Production && s.Environment == Sandbox && p.Tenant == s.Tenant &&
					catalog{all: opts.Registry.All(), org: org}.owned(p)
				if (req != nil) != ok {
					t.Errorf("org %d, %s -> %s: request %v, problems %v", org, p.Name, s.Name, req, problems)
				}
			}
		}
	}
}

func TestParseProblemsDoNotLeakOtherTenants(t *testing.T) {
	t.Parallel()
	tk := formTicket("acme-prod", "somewhere", "no", "")
	_, problems := Parse(tk, corpusOptions())
	for _, p := range problems {
		if strings.Contains(p.Message, "beta") {
			t.Errorf("problem mentions another tenant: %v", p)
		}
	}
}

// The requester must belong to the organization the ticket is filed under: an
// agent can file a ticket under any organization, and a user can belong to several.
func TestParseRequesterMustBelongToTheOrganization(t *testing.T) {
	t.Parallel()
	const acme, beta = 360099887766, 360011112222
	cases := []struct {
		name  string
		orgs  []int64
		valid bool
	}{
		{"not read (unchecked)", nil, true},
		{"default organization", []int64{acme}, true},
		{"one of several memberships", []int64{beta, acme}, true},
		{"another organization only", []int64{beta}, false},
		{"no organization at all", []int64{}, false},
	}
	for _, tc := range cases {
		tk := formTicket("acme-prod", "acme-sandbox", true, "a@acme.com")
		tk.RequesterOrganizations = tc.orgs
		req, problems := Parse(tk, corpusOptions())
		if (req != nil) != tc.valid {
			t.Errorf("%s: request %v, problems %v", tc.name, req, problems)
			continue
		}
		if !tc.valid && (len(problems) != 1 || problems[0].Field != FieldOrganization || strings.Contains(problems[0].Message, "acme-")) {
			t.Errorf("%s: want one Organization problem naming no instance, got %v", tc.name, problems)
		}
	}
}

// A field value pasted with an unseen character (a zero-width space, a byte
// order mark) names the same instance and the same person.
func TestParseFieldsWithUnseenCharacters(t *testing.T) {
	t.Parallel()
	tk := formTicket("acme-prod\ufeff", "acme-\u200bsandbox", true, "a@acme.com\u200b")
	req, problems := Parse(tk, corpusOptions())
	if req == nil || req.Sandbox != "acme-sandbox" || req.Production != "acme-prod" || len(req.Users) != 1 || req.Users[0].Email != "a@acme.com" {
		t.Fatalf("Parse = %+v, %v", req, problems)
	}
}
