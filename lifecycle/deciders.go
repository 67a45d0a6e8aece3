package lifecycle

import (
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/parser"
)

// deciders says whose tags are decisions. Approving, holding and rejecting are an
// agent's or admin's acts, done by hand: never the bot's own user or a configured
// service account (whatever their role), never a trigger.
type deciders struct {
	bot      int64
	services map[int64]bool
}

func newDeciders(z config.Zendesk) deciders {
	d := deciders{bot: z.BotUserID, services: map[int64]bool{}}
	for _, id := range z.ServiceAccountIDs {
		d.services[id] = true
	}
	return d
}

// automated reports whether user is the bot or a service account.
func (d deciders) automated(user int64) bool { return user == d.bot || d.services[user] }

// TagDecision is the latest addition of a decision tag (approve, hold, reject)
// that the ticket still carries.
type TagDecision struct {
	Present bool  // the ticket carries the tag
	AuditID int64 // the audit that last added it; 0 if no audit read shows it
	By      int64
	// Role is the author's role as judged when the bot first saw the audit, so
	// that promoting an end user later does not turn their tag into a decision;
	// "" when the user could not act then (suspended, deleted).
	Role parser.Role
	// Automated: added by the bot or a service account. ViaRule: by a trigger.
	Automated, ViaRule bool
}

// Decides reports whether the tag is a decision: present, added by hand by an
// agent or admin who is neither the bot nor a service account.
func (d TagDecision) Decides() bool {
	return d.Present && d.AuditID != 0 && !d.Automated && !d.ViaRule && d.Role.Staff()
}

// tagAuthor is an audit whose author must be judged.
type tagAuthor struct {
	AuditID, AuthorID int64
}

// decisionAudits lists the audits whose authors' roles decide: the last addition of
// each decision tag the ticket carries, made by hand by someone not automated.
func (h history) decisionAudits(carried func(tag string) bool, tags []string, who deciders) []tagAuthor {
	var out []tagAuthor
	for _, tag := range tags {
		if !carried(tag) {
			continue
		}
		if i := h.lastAdded(tag); i >= 0 && !h[i].audit.ViaRule && !who.automated(h[i].audit.AuthorID) {
			out = append(out, tagAuthor{h[i].audit.ID, h[i].audit.AuthorID})
		}
	}
	return out
}

// tagDecision describes the latest addition of tag; roles holds the judged
// roles by audit id.
func (h history) tagDecision(tag string, present bool, roles map[int64]parser.Role, who deciders) TagDecision {
	d := TagDecision{Present: present}
	i := h.lastAdded(tag)
	if !present || i < 0 {
		return d
	}
	a := h[i].audit
	d.AuditID, d.By, d.ViaRule, d.Automated = a.ID, a.AuthorID, a.ViaRule, who.automated(a.AuthorID)
	d.Role = roles[a.ID]
	return d
}
