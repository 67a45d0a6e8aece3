package rules

import "github.com/gaiia/clonebot/parser"

// Deciders says whose tags may be decisions. Approving, holding, rejecting and
// rolling back are an agent's or admin's acts, done by hand: never the bot's own user or a
// configured service account (whatever their role), never a trigger.
type Deciders struct {
	Bot      int64   // the bot's own Zendesk user
	Services []int64 // other automation users
}

// Automated reports whether user is the bot or a service account.
func (d Deciders) Automated(user int64) bool {
	if user == d.Bot {
		return true
	}
	for _, s := range d.Services {
		if s == user {
			return true
		}
	}
	return false
}

// TagDecision is the latest addition of a decision tag (approve, hold, reject,
// rollback) that the ticket still carries.
type TagDecision struct {
	Present bool  // the ticket carries the tag
	AuditID int64 // the audit that last added it; 0 if no audit read shows it
	By      int64
	// Role is the author's role as judged when the bot first saw the audit, so
	// that promoting an end user later does not turn their tag into a decision;
	// RoleNone when the user could not act then (suspended, deleted).
	Role parser.Role
	// Automated: added by the bot or a service account. ViaRule: by a trigger.
	Automated, ViaRule bool
}

// Decides reports whether the tag is a decision: present, added by hand by an
// agent or admin who is neither the bot nor a service account.
func (d TagDecision) Decides() bool {
	return d.Present && d.AuditID != 0 && !d.Automated && !d.ViaRule && d.Role.Staff()
}

// byEndUser reports whether an end user added the tag by hand: the bot answers
// such a tag politely, once.
func (d TagDecision) byEndUser() bool {
	return d.Present && d.AuditID != 0 && d.Role == parser.RoleEndUser && !d.Automated && !d.ViaRule
}

// TagAuthor is an audit whose author's role decides whether its tag is a
// decision: judged once, when the bot first sees the audit, and kept.
type TagAuthor struct {
	AuditID, AuthorID int64
}

// decisionAudits lists the audits whose authors' roles decide: the last addition of
// each decision tag the ticket carries, made by hand by someone not automated.
func (h history) decisionAudits(carried func(tag string) bool, tags []string, who Deciders) []TagAuthor {
	var out []TagAuthor
	for _, tag := range tags {
		if !carried(tag) {
			continue
		}
		if i := h.lastAdded(tag); i >= 0 && !h[i].viaRule(tag) && !who.Automated(h[i].audit.AuthorID) {
			out = append(out, TagAuthor{h[i].audit.ID, h[i].audit.AuthorID})
		}
	}
	return out
}

// tagDecision describes the latest addition of tag; roles holds the judged
// roles by audit id.
func (h history) tagDecision(tag string, present bool, roles map[int64]parser.Role, who Deciders) TagDecision {
	d := TagDecision{Present: present}
	i := h.lastAdded(tag)
	if !present || i < 0 {
		return d
	}
	a := h[i].audit
	d.AuditID, d.By, d.ViaRule, d.Automated = a.ID, a.AuthorID, h[i].viaRule(tag), who.Automated(a.AuthorID)
	d.Role = roles[a.ID]
	return d
}
