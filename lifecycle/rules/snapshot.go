package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/gaiia/clonebot/parser"
)

// View is what a sync reads of a ticket: the ticket and its audits, read so that
// they agree.
type View struct {
	Ticket  parser.Ticket
	Audits  []parser.Audit
	Deleted bool // the ticket is gone: no audits to order it by
}

// LastAudit is the newest audit of the view, 0 if none.
func (v View) LastAudit() int64 {
	var last int64
	for _, a := range v.Audits {
		last = max(last, a.ID)
	}
	return last
}

// Snapshot is everything a ticket says, read once per sync.
type Snapshot struct {
	Closed   bool // solved, closed or deleted
	Deleted  bool // the ticket is gone: no audits to order it by
	Tagged   bool // carries the request tag
	Hold     bool // held by an agent (see TagDecision.Decides)
	Reject   bool // rejected by an agent
	Request  *parser.Request
	Problems []parser.Problem
	// PlanProblems are the preflight's refusals; nil when the plan passed or was
	// not needed.
	PlanProblems []string
	Approval     Approval
	// Rollback is the rollback tag's latest addition, read for a ready request
	// only (FillReady); Copy is what the sandbox keeps for that rollback, asked
	// only when the tag asks for one (AsksRollback).
	Rollback    TagDecision
	Copy        CopyState
	LastAuditID int64 // the newest audit read

	history history // the audits read, for the judgements of their authors
	tags    []string
	ready   bool // read for a ready request: only the rollback tag counts
}

// CopyState is what the sandbox keeps of the copy its clone left for a rollback,
// as the sandbox said when the rollback was asked for.
type CopyState string

// What the sandbox may keep of a clone's pre-clone copy.
const (
	CopyUnknown    CopyState = ""           // not asked
	CopyKept       CopyState = "kept"       // restorable
	CopyExpired    CopyState = "expired"    // its retention has passed
	CopySuperseded CopyState = "superseded" // a newer clone into the sandbox replaced it
	CopyGone       CopyState = "gone"       // nothing kept: rolled back already, or dropped once expired
)

// Approval is the approval tag's latest addition, if the ticket carries it.
type Approval struct {
	TagDecision
	// Stale: the request was not valid at the approval's audit, or a later audit
	// changed it (the same second included).
	Stale bool
}

// Valid reports whether the approval schedules the request as it stands.
func (a Approval) Valid() bool { return a.Decides() && !a.Stale }

// Reader reads snapshots with the configured tags, deciders and instances.
type Reader struct {
	Tags     Tags
	Deciders Deciders
	Parser   parser.Options
}

// Outline is what a ticket says before its request is read.
func (r Reader) Outline(v View) Snapshot {
	return Snapshot{Closed: v.Ticket.Closed(), Deleted: v.Deleted, Tagged: v.Ticket.HasTag(r.Tags.Request), LastAuditID: v.LastAudit()}
}

// Open reports whether the request must be read: a tagged, open ticket whose
// clone has not run.
func (s Snapshot) Open(state State) bool {
	return s.Tagged && !s.Closed && !state.Owned()
}

// ReadsRollback reports whether the ticket must be read for its rollback tag: the
// request's clone is ready, and the ticket still exists (solved or without the
// request tag, it may still ask for the sandbox back).
func (s Snapshot) ReadsRollback(state State) bool {
	return state == Ready && !s.Deleted
}

// Fill parses the request and walks the audits; t carries its requester's
// organizations. The snapshot's decision tags are read once their authors are
// judged (Judge).
func (r Reader) Fill(s *Snapshot, t parser.Ticket, audits []parser.Audit) {
	s.Request, s.Problems = parser.Parse(t, r.Parser)
	s.history = newHistory(t, audits, func(t parser.Ticket) string { return requestOf(t, r.Tags, r.Parser) })
	s.tags = t.Tags
}

// FillReady walks the audits of a ready request's ticket: only the rollback tag
// can move it, so the request is not read again.
func (r Reader) FillReady(s *Snapshot, t parser.Ticket, audits []parser.Audit) {
	s.history, s.tags, s.ready = newHistory(t, audits, nil), t.Tags, true
}

// DecisionAudits are the audits whose authors' roles decide: the last addition of
// each decision tag the ticket carries, made by hand by someone not automated.
func (r Reader) DecisionAudits(s Snapshot) []TagAuthor {
	tags := r.Tags.decisions()
	if s.ready {
		tags = []string{r.Tags.Rollback}
	}
	return s.history.decisionAudits(s.carries, tags, r.Deciders)
}

// Judge sets the snapshot's decision tags from the judged roles of their authors,
// by audit id.
func (r Reader) Judge(s *Snapshot, roles map[int64]parser.Role) {
	h, tags := s.history, r.Tags
	if s.ready {
		s.Rollback = h.tagDecision(tags.Rollback, s.carries(tags.Rollback), roles, r.Deciders)
		return
	}
	s.Hold = h.tagDecision(tags.Hold, s.carries(tags.Hold), roles, r.Deciders).Decides()
	s.Reject = h.tagDecision(tags.Reject, s.carries(tags.Reject), roles, r.Deciders).Decides()
	a := Approval{TagDecision: h.tagDecision(tags.Approve, s.carries(tags.Approve), roles, r.Deciders)}
	if a.AuditID != 0 {
		a.Stale = !h.unchangedSince(h.index(a.AuditID))
	}
	s.Approval = a
}

// NeedsCheck reports whether the request must be checked against its instances:
// a valid request that no agent holds or rejects.
func (s Snapshot) NeedsCheck() bool {
	return s.Request != nil && !s.Hold && !s.Reject
}

func (s Snapshot) carries(tag string) bool {
	return parser.Ticket{Tags: s.tags}.HasTag(tag)
}

// problemsKey identifies a set of problems, so the same set is announced once.
func problemsKey(ps []parser.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Field + "\x00" + p.Value + "\x00" + p.Message
	}
	return hashStrings(parts)
}

func planKey(problems []string) string { return hashStrings(problems) }

func hashStrings(parts []string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x01")))
	return hex.EncodeToString(sum[:8])
}
