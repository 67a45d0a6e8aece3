package rules

import (
	"cmp"
	"slices"

	"github.com/gaiia/clonebot/parser"
)

// step is one audit of a ticket and the request as it stood after it.
type step struct {
	audit parser.Audit
	// fingerprint is the request after the audit: "" when the ticket did not
	// then carry the request tag or did not hold a valid request.
	fingerprint string
	// added and removed are the tags the audit added and removed; byRule are
	// those of added that only a trigger's or automation's events added (the
	// audit's author did not add them by hand).
	added, removed, byRule []string
}

// history is a ticket's audits, oldest first by id (never by time: audits are
// stamped to the second), each with the request as it stood after it.
type history []step

// newHistory walks the ticket back through its audits, newest first, reading
// the request as it stood after each one with requestOf (nil: the tags alone
// matter, every fingerprint is "").
func newHistory(t parser.Ticket, audits []parser.Audit, requestOf func(parser.Ticket) string) history {
	audits = slices.Clone(audits)
	slices.SortFunc(audits, func(a, b parser.Audit) int { return cmp.Compare(a.ID, b.ID) })
	h := make(history, len(audits))
	after := t
	for i := len(audits) - 1; i >= 0; i-- {
		h[i] = step{audit: audits[i]}
		if requestOf != nil {
			h[i].fingerprint = requestOf(after)
		}
		before := after.Before(audits[i])
		h[i].added, h[i].removed = tagDiff(before.Tags, after.Tags)
		h[i].added, h[i].byRule = addedByRule(audits[i], h[i].added)
		after = before
	}
	return h
}

// requestOf is the fingerprint of the ticket's request, "" when there is none.
func requestOf(t parser.Ticket, tags Tags, opts parser.Options) string {
	if !t.HasTag(tags.Request) {
		return ""
	}
	req, _ := parser.Parse(t, opts)
	if req == nil {
		return ""
	}
	return req.Fingerprint
}

// addedByRule returns the tags a added, and those of them that only its changes
// made by a rule added. In one audit a person may add a tag and a trigger, firing
// on that update, add another; or the person may remove a tag and the trigger
// add it back: it was then last added by the trigger, though the audit leaves it
// as it found it. added is what the audit changed from the ticket before it to
// the ticket after it.
func addedByRule(a parser.Audit, added []string) (all, byRule []string) {
	all = added
	rule := map[string]bool{} // tag -> added by a rule's change only
	for _, c := range a.Changes {
		if c.Field != "tags" {
			continue
		}
		value, _ := c.Value.([]string)
		previous, _ := c.Previous.([]string)
		for _, tag := range value {
			if slices.Contains(previous, tag) {
				continue
			}
			if byRuleOnly, seen := rule[tag]; !seen || byRuleOnly {
				rule[tag] = c.ViaRule
			}
			if !slices.Contains(all, tag) {
				all = append(slices.Clone(all), tag)
			}
		}
	}
	for _, tag := range all {
		if rule[tag] {
			byRule = append(byRule, tag)
		}
	}
	return all, byRule
}

// viaRule reports whether the tag the audit added was added by a rule, not by
// its author's hand.
func (s step) viaRule(tag string) bool { return s.audit.ViaRule || slices.Contains(s.byRule, tag) }

func tagDiff(before, after []string) (added, removed []string) {
	for _, t := range after {
		if !slices.Contains(before, t) {
			added = append(added, t)
		}
	}
	for _, t := range before {
		if !slices.Contains(after, t) {
			removed = append(removed, t)
		}
	}
	return added, removed
}

// lastAdded returns the index of the audit that last added tag, or -1. Only
// meaningful while the ticket carries the tag: then no later audit removed it.
func (h history) lastAdded(tag string) int {
	for i := len(h) - 1; i >= 0; i-- {
		if slices.Contains(h[i].added, tag) {
			return i
		}
	}
	return -1
}

// unchangedSince reports whether the request stood valid after audit i and no
// later audit changed it: an approval binds the request as it stood at its
// audit, and an edit in any later audit (the same second included) voids it.
func (h history) unchangedSince(i int) bool {
	fp := h[i].fingerprint
	if fp == "" {
		return false
	}
	for _, s := range h[i+1:] {
		if s.fingerprint != fp {
			return false
		}
	}
	return true
}

// index returns the position of audit id, or -1.
func (h history) index(id int64) int {
	for i := range h {
		if h[i].audit.ID == id {
			return i
		}
	}
	return -1
}
