package registry

import (
	"strings"
	"testing"
)

func valid() []Instance {
	return []Instance{
		{Name: "acme-prod", Environment: Production, Tenant: "acme", DatabaseURL: "postgres://db/acme_prod", URL: "https://acme.example-isp.app"},
		{Name: "acme-sandbox", Environment: Sandbox, Tenant: "acme", DatabaseURL: "postgresql://db/acme_sandbox"},
	}
}

func TestCheckNamesEachProblem(t *testing.T) {
	t.Parallel()
	if ps := Check(valid()); len(ps) != 0 {
		t.Fatalf("a valid list has problems: %+v", ps)
	}
	cases := []struct {
		name  string
		edit  func(*Instance)
		field string
	}{
		{"no name", func(in *Instance) { in.Name = "" }, "name"},
		{"upper case", func(in *Instance) { in.Name = "Acme-Sandbox" }, "name"},
		{"a space", func(in *Instance) { in.Name = "acme sandbox" }, "name"},
		{"unknown environment", func(in *Instance) { in.Environment = "staging" }, "environment"},
		{"no database", func(in *Instance) { in.DatabaseURL = "" }, "database_url"},
		{"not a postgres URL", func(in *Instance) { in.DatabaseURL = "mysql://db/x" }, "database_url"},
		{"a web address without a host", func(in *Instance) { in.URL = "acme" }, "url"},
		{"no tenant", func(in *Instance) { in.Tenant = "" }, "tenant"},
	}
	for _, tc := range cases {
		list := valid()
		tc.edit(&list[1])
		ps := Check(list)
		if len(ps) != 1 || ps[0].Index != 1 || ps[0].Field != tc.field || ps[0].Duplicate != -1 {
			t.Errorf("%s: problems %+v, want one of instance 1's %s", tc.name, ps, tc.field)
		}
	}
}

// Names are compared as the parser matches them: a name listed twice whatever
// its case is refused, naming the first.
func TestCheckRefusesDuplicates(t *testing.T) {
	t.Parallel()
	list := append(valid(), Instance{Name: "acme-prod", Environment: Sandbox, Tenant: "acme", DatabaseURL: "postgres://db/other"})
	ps := Check(list)
	if len(ps) != 1 || ps[0].Index != 2 || ps[0].Duplicate != 0 || ps[0].Field != "name" {
		t.Fatalf("problems %+v, want instance 2 a duplicate of 0", ps)
	}
}

// A bad list is no Registry; the error names every problem and no URL.
func TestNewRefusesABadList(t *testing.T) {
	t.Parallel()
	list := valid()
	list[0].Environment = "staging"
	list[1].DatabaseURL = "mysql://secret@db/x"
	_, err := New(list)
	if err == nil || !strings.Contains(err.Error(), "environment") || !strings.Contains(err.Error(), "database_url") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("New = %v", err)
	}
	r, err := New(valid())
	if err != nil || len(r.All()) != 2 || r.All()[1].Tenant != "acme" {
		t.Fatalf("New(valid) = %+v, %v", r, err)
	}
}
