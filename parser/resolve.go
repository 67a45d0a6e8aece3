package parser

import (
	"fmt"
	"strings"

	"github.com/gaiia/clonebot/registry"
)

// resolvePair turns the two instance answers into catalog instances and
// checks them together: different instances, a production to read, a
// sandbox to write (never production), one tenant.
func (ps *problemList) resolvePair(reg catalog, orgKnown bool, prodAns, sbAns answer) (prod, sb registry.Instance) {
	prod, prodOK := ps.resolve(reg, orgKnown, prodAns, FieldProduction)
	sb, sbOK := ps.resolve(reg, orgKnown, sbAns, FieldSandbox)
	if !prodOK || !sbOK {
		return prod, sb
	}
	if prod.Name == sb.Name {
		ps.add(Problem{FieldSandbox, sb.Name, "The sandbox to replace must be a different instance from the production instance to copy."})
		return prod, sb
	}
	ps.checkEnvironment(prod, FieldProduction, Production, "is a sandbox instance. Name the production instance whose configuration should be copied.")
	ps.checkEnvironment(sb, FieldSandbox, Sandbox, "is a production instance, and a clone never overwrites production. Name the sandbox instance to be replaced.")
	if prod.Tenant != sb.Tenant {
		ps.add(Problem{FieldSandbox, sb.Name, fmt.Sprintf("%s and %s belong to different accounts. A sandbox can only be cloned from the production instance of its own account.", prod.Name, sb.Name)})
	}
	return prod, sb
}

func (ps *problemList) checkEnvironment(in registry.Instance, field, env, msg string) {
	if in.Environment != env {
		ps.add(Problem{field, in.Name, in.Name + " " + msg})
	}
}

// resolve maps one answer to an instance the ticket's organization owns.
// An instance of another organization gets the same answer as an unknown
// name, so that a ticket cannot probe which instances exist.
func (ps *problemList) resolve(reg catalog, orgKnown bool, a answer, field string) (registry.Instance, bool) {
	env := Production
	if field == FieldSandbox {
		env = Sandbox
	}
	text, isText := a.text()
	switch {
	case a.missing():
		ps.add(missingInstance(field))
		return registry.Instance{}, false
	case !isText:
		if a.fromField {
			ps.add(Problem{field, quote(fmt.Sprint(a.value)), "This is not an instance name. Write the instance's name, or its URL."})
		}
		return registry.Instance{}, false
	case len(text) > maxInstanceText:
		ps.add(Problem{field, quote(text), fmt.Sprintf("This is too long to be an instance name (over %d characters). Write only the instance's name or its URL.", maxInstanceText)})
		return registry.Instance{}, false
	case !orgKnown:
		return registry.Instance{}, false // the Organization problem says why
	}
	found := reg.match(text)
	switch {
	case len(found) > 1:
		ps.add(Problem{field, quote(text), "This names more than one instance, so we cannot tell which one you mean. Write only the one instance's name." + reg.hint(env)})
		return registry.Instance{}, false
	case len(found) == 0 || !reg.owned(found[0]):
		ps.add(Problem{field, quote(text), "We could not find an instance of your organization by this name. Write the instance's name exactly, or its URL." + reg.hint(env)})
		return registry.Instance{}, false
	}
	return found[0], true
}

// hint lists the organization's own instances of one environment.
func (r catalog) hint(env string) string {
	names := r.ownedNames(env)
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" Your organization's %s instances: %s.", env, strings.Join(names, ", "))
}
