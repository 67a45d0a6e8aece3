package parser

import (
	"strings"

	"github.com/gaiia/clonebot/registry"
)

// Fields holds the ids of the ticket's custom fields (config zendesk.fields).
// A zero id means the field is not configured: only the description is read.
type Fields struct{ ProductionInstance, SandboxInstance, WipeConfirmation, Users int64 }

// Options configures Parse.
type Options struct {
	Fields Fields
	// Registry is the instances a ticket may name; valid by construction, so that
	// no registry mistake makes every answer "ambiguous".
	Registry *registry.Registry
}

// Environments of an instance.
const (
	Production = registry.Production
	Sandbox    = registry.Sandbox
)

// foldName is the one normalisation of instance names: trimmed, lower-cased.
func foldName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}
