package parser

import (
	"fmt"
	"slices"
	"strings"
)

// Parse reads a clone request from a ticket. It returns either the request
// or the problems that stop it, never both: a request exists only when
// every answer is present, unambiguous and allowed.
func Parse(t Ticket, opts Options) (*Request, []Problem) {
	desc := readDescription(t.Description)
	reg := catalog{all: opts.Registry.All(), org: t.OrganizationID}
	f := opts.Fields
	var ps problemList

	orgKnown := ps.checkOrganization(t, reg)
	prodAns := ps.lookup(t, f.ProductionInstance, desc, keyProduction, FieldProduction)
	sbAns := ps.lookup(t, f.SandboxInstance, desc, keySandbox, FieldSandbox)
	wipeAns := ps.lookup(t, f.WipeConfirmation, desc, keyWipe, FieldWipe)
	usersAns := ps.lookup(t, f.Users, desc, keyUsers, FieldUsers)

	prod, sb := ps.resolvePair(reg, orgKnown, prodAns, sbAns)
	wipe := ps.checkWipe(wipeAns, desc)
	users := ps.readUsers(usersAns)
	if len(ps) > 0 {
		return nil, ps
	}
	req := &Request{
		Production: prod.Name, Sandbox: sb.Name, Tenant: prod.Tenant,
		WipeConfirmed: wipe, Users: users,
		RequesterID: t.RequesterID, OrganizationID: t.OrganizationID,
	}
	req.Fingerprint = fingerprint(*req)
	return req, nil
}

// wipeWhy ends every wipe-confirmation problem: the reason we insist.
const wipeWhy = " The clone replaces everything in the current sandbox; confirm only once your admins have saved what they want to keep."

// problemList collects problems in the order the customer reads the form.
type problemList []Problem

func (ps *problemList) add(p ...Problem) { *ps = append(*ps, p...) }

// lookup wraps lookup, recording a conflict in the description.
func (ps *problemList) lookup(t Ticket, id int64, desc descAnswers, key answerKey, field string) answer {
	a, p := lookup(t, id, desc, key, field)
	if p != nil {
		ps.add(*p)
		return answer{value: false} // a conflict must not read as "missing" too
	}
	return a
}

// checkOrganization reports whether the ticket's organization owns any
// instance, and the requester belongs to it. Without that, no instance can be
// named, and saying which names exist would tell one customer about another.
func (ps *problemList) checkOrganization(t Ticket, reg catalog) bool {
	if t.OrganizationID == 0 {
		ps.add(Problem{FieldOrganization, "", "This ticket is not linked to an organization, so we cannot tell which instances are yours. Please file it while signed in with your company account, or ask your administrator to add you to your organization."})
		return false
	}
	if t.RequesterOrganizations != nil && !slices.Contains(t.RequesterOrganizations, t.OrganizationID) {
		ps.add(Problem{FieldOrganization, "", "This ticket is filed under an organization that its requester does not belong to, so it cannot ask for that organization's sandboxes. Please file the request from an account of the organization, or ask your administrator to add you to it."})
		return false
	}
	if len(reg.ownedNames(Production))+len(reg.ownedNames(Sandbox)) == 0 {
		ps.add(Problem{FieldOrganization, "", "Your organization is not set up for sandbox clones yet. Please ask your account team to enable it."})
		return false
	}
	return true
}

// checkWipe applies the wipe-confirmation rule (see isExplicitYes).
func (ps *problemList) checkWipe(a answer, desc descAnswers) bool {
	if a.missing() {
		ps.add(Problem{FieldWipe, "", "Confirm that the current sandbox can be wiped: tick the Wipe confirmation box, or write the line \"Wipe confirmed: yes\"." + wipeWhy})
		return false
	}
	if b, isBool := a.value.(bool); isBool {
		if b && a.fromField {
			return true
		}
		if a.fromField {
			ps.add(uncheckedBox(desc))
		}
		return false // false and not from a field: a conflict already reported
	}
	text, _ := a.text()
	if isExplicitYes(text) {
		return true
	}
	ps.add(Problem{FieldWipe, quote(text), "We need an unambiguous yes. Answer exactly \"yes\" (or tick the Wipe confirmation box) once the current sandbox can be wiped, and tell us separately if something must be kept." + wipeWhy})
	return false
}

// uncheckedBox explains an unticked box. Zendesk cannot tell "never
// ticked" from "unticked again", so a yes in the (unchangeable) description
// does not override it: the customer or an agent ticks the box.
func uncheckedBox(desc descAnswers) Problem {
	msg := "The Wipe confirmation box is not ticked. Tick it (or reply asking us to tick it) once your admins agree the current sandbox can be wiped."
	for _, v := range desc[keyWipe] {
		if isExplicitYes(v) {
			msg = "Your description says yes, but the Wipe confirmation box on the ticket is not ticked, and the box takes precedence. Tick it, or reply asking us to tick it."
		}
	}
	return Problem{FieldWipe, "", msg + wipeWhy}
}

// readUsers checks the user list answer.
func (ps *problemList) readUsers(a answer) []User {
	text, ok := a.text()
	switch {
	case a.missing():
		ps.add(Problem{FieldUsers, "", "List at least one person to re-invite to the new sandbox (it starts with no users): fill in the Users to re-invite field, or write \"Users:\" followed by one email address per line."})
		return nil
	case !ok:
		if a.fromField {
			ps.add(Problem{FieldUsers, quote(fmt.Sprint(a.value)), "This is not a list of people. Write the people to re-invite as email addresses, one per line."})
		}
		return nil
	}
	users, problems := readUsers(text)
	ps.add(problems...)
	return users
}

// missingInstance tells the customer how to name an instance.
func missingInstance(field string) Problem {
	return Problem{field, "", fmt.Sprintf("Tell us the %s: fill in the %s field, or write a line \"%s: <instance name>\" in the ticket description.",
		strings.ToLower(field), field, field)}
}
