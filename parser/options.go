package parser

import (
	"fmt"
	"strings"
)

// Fields holds the ids of the ticket's custom fields (config zendesk.fields).
// A zero id means the field is not configured: only the description is read.
type Fields struct{ ProductionInstance, SandboxInstance, WipeConfirmation, Users int64 }

// Instance is one entry of the instance registry, as the parser needs it.
type Instance struct {
	Name, Tenant string
	// Environment is "production" or "sandbox".
	Environment string
	// URL is the address customers see in their browser; it is optional.
	URL string
	// OrganizationIDs are the tenant's Zendesk organization ids.
	OrganizationIDs []int64
}

// Options configures Parse.
type Options struct {
	Fields    Fields
	Instances []Instance
}

// Environments of an Instance.
const (
	Production = "production"
	Sandbox    = "sandbox"
)

// Validate reports registry mistakes that would make Parse answer
// "ambiguous" for every ticket; the config loader calls it at start-up.
func (o Options) Validate() error {
	seen := make(map[string]bool, len(o.Instances))
	for _, in := range o.Instances {
		key := foldName(in.Name)
		switch {
		case key == "":
			return fmt.Errorf("instance of tenant %q has no name", in.Tenant)
		case seen[key]:
			return fmt.Errorf("instance %q is listed twice (names are compared case-insensitively)", in.Name)
		case in.Environment != Production && in.Environment != Sandbox:
			return fmt.Errorf("instance %q: environment %q must be %q or %q", in.Name, in.Environment, Production, Sandbox)
		case in.Tenant == "":
			return fmt.Errorf("instance %q has no tenant", in.Name)
		}
		seen[key] = true
	}
	return nil
}

// foldName is the one normalisation of instance names: trimmed, lower-cased.
func foldName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}
