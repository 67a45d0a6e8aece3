// Package registry is the instance registry: every tenant database clonebot
// knows, one Instance type for all who need one (the configuration that lists
// them, the parser that resolves a ticket's answers to them, the cloner that
// connects to them), and one set of rules that a list of instances must meet.
//
// Check finds every problem of a list, for the configuration to name each by its
// key; New refuses a list with any, so a *Registry is valid by construction. It
// imports nothing else of the project.
package registry

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Environments an instance can be in.
const (
	Production = "production"
	Sandbox    = "sandbox"
)

// Instance is one tenant database. The YAML keys are those of an entry of a
// tenant's instances in clonebot.yaml; Tenant and OrganizationIDs come from the
// tenant the entry is listed under.
type Instance struct {
	Name        string `yaml:"name"`
	Environment string `yaml:"environment"` // Production or Sandbox
	// URL is the address customers see in their browser; optional.
	URL string `yaml:"url"`
	// DatabaseURL is the instance's PostgreSQL URL.
	DatabaseURL string `yaml:"database_url"`
	Tenant      string `yaml:"-"`
	// OrganizationIDs are the tenant's Zendesk organizations: tickets from them may
	// name this instance.
	OrganizationIDs []int64 `yaml:"-"`
}

// Problem is one way a list of instances breaks the rules.
type Problem struct {
	Index int    // the instance, by its position in the list
	Field string // its YAML key ("name", "environment", "url", "database_url"), or "tenant"
	// Duplicate is the position of an earlier instance of the same name; -1 when
	// the problem is not a duplicate.
	Duplicate int
	Message   string // how to fix it, never quoting a URL (it may hold a password)
}

// Check lists every problem of instances.
func Check(instances []Instance) []Problem {
	var ps []Problem
	seen := map[string]int{}
	for i, in := range instances {
		add := func(field, msg string) { ps = append(ps, Problem{Index: i, Field: field, Duplicate: -1, Message: msg}) }
		checkName(in.Name, add)
		if in.Environment != Production && in.Environment != Sandbox {
			add("environment", "must be production or sandbox")
		}
		checkURLs(in, add)
		if in.Tenant == "" {
			add("tenant", "required: the tenant the instance belongs to")
		}
		key := strings.ToLower(strings.TrimSpace(in.Name))
		if prev, dup := seen[key]; dup && key != "" {
			ps = append(ps, Problem{Index: i, Field: "name", Duplicate: prev, Message: fmt.Sprintf("instance %q is listed twice; names must be unique", in.Name)})
			continue
		}
		seen[key] = i
	}
	return ps
}

func checkName(name string, add func(field, msg string)) {
	switch {
	case name == "":
		add("name", "required")
	case name != strings.ToLower(strings.TrimSpace(name)) || strings.ContainsAny(name, " \t"):
		add("name", "instance names are lower case without spaces, e.g. acme-sandbox")
	}
}

func checkURLs(in Instance, add func(field, msg string)) {
	if in.DatabaseURL == "" {
		add("database_url", "required: the instance's PostgreSQL URL")
	} else if u, err := url.Parse(in.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		add("database_url", "must be a postgres:// URL")
	}
	if in.URL != "" {
		if u, err := url.Parse(in.URL); err != nil || u.Host == "" {
			add("url", "must be the instance's web address, e.g. https://acme.example-isp.app")
		}
	}
}

// Registry is a list of instances that meets the rules.
type Registry struct {
	all []Instance
}

// New checks instances and returns them as a Registry, or an error naming each
// problem.
func New(instances []Instance) (*Registry, error) {
	ps := Check(instances)
	if len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = fmt.Errorf("instance %d (%q): %s: %s", p.Index+1, instances[p.Index].Name, p.Field, p.Message)
		}
		return nil, fmt.Errorf("instance registry: %w", errors.Join(errs...))
	}
	return &Registry{all: append([]Instance(nil), instances...)}, nil
}

// All returns the instances in their order.
func (r *Registry) All() []Instance {
	if r == nil {
		return nil
	}
	return r.all
}
