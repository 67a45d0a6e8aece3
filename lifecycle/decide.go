package lifecycle

import (
	"slices"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/parser"
)

// Record is what the bot remembers of a request between ticket changes.
type Record struct {
	State State
	// Fingerprint is the request as last read; ApprovedFingerprint the one the
	// scheduled clone runs, approved by ApprovedBy in audit ApprovalAudit.
	Fingerprint         string
	ApprovedFingerprint string
	ApprovalAudit       int64
	ApprovedBy          int64
	// ApprovalsAfter: an approval counts only if given in a later audit. It is the
	// approval a failed clone ran on, or one whose approver could no longer
	// approve when the clone was due: those need a fresh approval.
	ApprovalsAfter int64
	// RefusedApprovals are the audits whose end-user approval tag was answered.
	RefusedApprovals []int64
	ProblemsKey      string // fingerprint of the last problems announced
	// Acknowledged: the request was acknowledged (the customer's "we have your
	// request" and the agents' plan) since it last became valid.
	Acknowledged bool
	// LastAuditID is the newest audit of the ticket applied; a sync that read
	// less (it started earlier) is not applied over it.
	LastAuditID int64
}

// Approval is the approval tag's latest addition, if the ticket carries it.
type Approval struct {
	TagDecision
	// Stale: the request was not valid at the approval's audit, or a later audit
	// changed it (the same second included).
	Stale bool
}

// Valid reports whether the approval schedules the request as it stands.
func (a Approval) Valid() bool { return a.Decides() && !a.Stale }

// refusable reports whether the tag is an end user's (by hand), which the bot
// answers politely once.
func (a Approval) refusable() bool {
	return a.Present && a.AuditID != 0 && a.Role == parser.RoleEndUser && !a.Automated && !a.ViaRule
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
	LastAuditID  int64 // the newest audit read

	plan    *cloner.Plan // the preflight plan, for the announcement
	history history      // the audits read, for the judgements of their authors
	checked bool         // the instances were checked (PlanProblems is their answer)
}

// Reason says why a decision was taken; it selects the announcement.
type Reason string

// Reasons for a transition.
const (
	ReasonNone            Reason = ""
	ReasonValid           Reason = "request valid, awaiting approval"
	ReasonProblems        Reason = "request incomplete or invalid"
	ReasonPreflight       Reason = "preflight refused the clone"
	ReasonApproved        Reason = "approved by an agent"
	ReasonApprovalRefused Reason = "approval tag added by an end user"
	ReasonChanged         Reason = "request changed after approval"
	ReasonWithdrawn       Reason = "approval withdrawn"
	ReasonHold            Reason = "put on hold by an agent"
	ReasonRejected        Reason = "rejected by an agent"
	ReasonCancelled       Reason = "request tag removed or ticket closed"
)

// Decision is the outcome of a sync: the next state (possibly the same) and why.
// A zero Reason means nothing happens.
type Decision struct {
	Next     State
	Reason   Reason
	Schedule bool // approved now: schedule the clone
	// Acknowledge: the request was never acknowledged; announce it (with the
	// agents' plan) before the decision's own message.
	Acknowledge bool
	// Refuse: an end user's approval tag is answered too, after the decision's
	// own message (a scheduled clone is off, and the customer's tag does not
	// put it back).
	Refuse bool
}

// none is the decision to do nothing.
var none = Decision{}

// Decide applies a ticket snapshot to a request record. It is pure: the whole life
// cycle's rules are here, and the tests walk every state through it.
func Decide(cur Record, s Snapshot) Decision {
	switch {
	case cur.State == Ready || cur.State == Running:
		return none // one-time; a running clone owns the request
	case cur.State == "" && (!s.Tagged || s.Closed):
		return none // not a clone request (or closed before we saw it)
	case !s.Tagged || s.Closed:
		return to(cur, Cancelled, ReasonCancelled)
	case s.Reject:
		return to(cur, Rejected, ReasonRejected)
	case s.Hold:
		return to(cur, OnHold, ReasonHold)
	case len(s.Problems) > 0:
		if cur.State == NeedsInfo && cur.ProblemsKey == problemsKey(s.Problems) {
			return none
		}
		return Decision{Next: NeedsInfo, Reason: ReasonProblems}
	case len(s.PlanProblems) > 0:
		if cur.State == OnHold && cur.ProblemsKey == planKey(s.PlanProblems) {
			return none
		}
		return Decision{Next: OnHold, Reason: ReasonPreflight}
	}
	d := decideApproval(cur, s)
	d.Acknowledge = !cur.Acknowledged && d.Reason != ReasonNone && d.Reason != ReasonValid
	return d
}

// decideApproval handles a valid request whose preflight passed.
func decideApproval(cur Record, s Snapshot) Decision {
	changed := cur.Fingerprint != "" && cur.Fingerprint != s.Request.Fingerprint
	a := s.Approval
	valid := a.Valid() && a.AuditID > cur.ApprovalsAfter
	refuse := a.refusable() && !slices.Contains(cur.RefusedApprovals, a.AuditID)
	switch {
	case cur.State.pending() && valid && cur.ApprovedFingerprint != s.Request.Fingerprint:
		// Changed, and approved again since (by the same sync's reading).
		return Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}
	case cur.State.pending() && valid:
		return none
	case cur.State.pending() && (changed || a.Present):
		return Decision{Next: AwaitingApproval, Reason: ReasonChanged, Refuse: refuse}
	case cur.State.pending():
		return Decision{Next: AwaitingApproval, Reason: ReasonWithdrawn}
	case valid:
		return Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}
	case refuse:
		return Decision{Next: AwaitingApproval, Reason: ReasonApprovalRefused}
	case cur.State == Failed && !changed:
		return none // a retry needs a fresh approval
	}
	return to(cur, AwaitingApproval, ReasonValid)
}

// to moves to state next unless the request is already there.
func to(cur Record, next State, why Reason) Decision {
	if cur.State == next {
		return none
	}
	return Decision{Next: next, Reason: why}
}

// Step decides and returns the record to keep: the snapshot's request, and what
// the decision changes of it. A snapshot older than the record (a sync that read
// the ticket before another one applied a newer reading) changes nothing.
func Step(cur Record, s Snapshot) (Record, Decision) {
	if s.LastAuditID < cur.LastAuditID && !s.Deleted {
		return cur, none
	}
	d := Decide(cur, s)
	next := cur
	next.LastAuditID = s.LastAuditID
	if s.Request != nil && cur.State != Ready && cur.State != Running {
		next.Fingerprint = s.Request.Fingerprint
	}
	if d.Reason == ReasonNone {
		return next, d
	}
	next.State = d.Next
	switch d.Reason {
	case ReasonProblems:
		next.ProblemsKey, next.Acknowledged = problemsKey(s.Problems), false
	case ReasonPreflight:
		next.ProblemsKey = planKey(s.PlanProblems)
	case ReasonCancelled:
		next.Acknowledged = false
	case ReasonApproved:
		next.ApprovedFingerprint, next.ApprovalAudit, next.ApprovedBy = next.Fingerprint, s.Approval.AuditID, s.Approval.By
	case ReasonChanged, ReasonWithdrawn:
		next.ApprovedFingerprint, next.ApprovalAudit, next.ApprovedBy = "", 0, 0
	}
	if d.Acknowledge || d.Reason == ReasonValid {
		next.Acknowledged = true
	}
	if d.Refuse || d.Reason == ReasonApprovalRefused {
		next.RefusedApprovals = append(slices.Clone(cur.RefusedApprovals), s.Approval.AuditID)
	}
	return next, d
}
