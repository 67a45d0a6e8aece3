package rules

import "slices"

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
	// RollbackAudit is the audit of the last rollback tag answered (acted on,
	// refused or explained): a tag counts once, and only one added later asks
	// again.
	RollbackAudit int64
}

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

// Acknowledges reports whether the decision acknowledges the request: its
// announcement then shows the agents the whole preflight plan. A request that
// changed while it waited for an approval, or after one, is acknowledged again:
// the agents approve the plan of what it now asks, never an earlier one's.
func (d Decision) Acknowledges() bool { return d.Acknowledge || d.Reason.acknowledges() }

// acknowledges reports whether a decision for this reason announces the request
// with its plan, whatever came before.
func (r Reason) acknowledges() bool {
	return r == ReasonValid || r == ReasonRevised || r == ReasonChanged
}

// None is the decision to do nothing.
var None = Decision{}

// Decide applies a ticket snapshot to a request record. It is pure: the whole life
// cycle's rules are here, and the tests walk every state through it.
func Decide(cur Record, s Snapshot) Decision {
	switch {
	case cur.State == Ready:
		return decideRollback(cur, s)
	case cur.State.Owned():
		return None // one-time; a running clone owns the request, a rolled back one is done
	case cur.State == "" && (!s.Tagged || s.Closed):
		return None // not a clone request (or closed before we saw it)
	case !s.Tagged || s.Closed:
		return to(cur, Cancelled, ReasonCancelled)
	case s.Reject:
		return to(cur, Rejected, ReasonRejected)
	case s.Hold:
		return to(cur, OnHold, ReasonHold)
	case len(s.Problems) > 0:
		if cur.State == NeedsInfo && cur.ProblemsKey == problemsKey(s.Problems) {
			return None
		}
		return Decision{Next: NeedsInfo, Reason: ReasonProblems}
	case len(s.PlanProblems) > 0:
		if cur.State == OnHold && cur.ProblemsKey == planKey(s.PlanProblems) {
			return None
		}
		return Decision{Next: OnHold, Reason: ReasonPreflight}
	}
	d := decideApproval(cur, s)
	d.Acknowledge = !cur.Acknowledged && d.Reason != ReasonNone && !d.Reason.acknowledges()
	return d
}

// decideApproval handles a valid request whose preflight passed.
func decideApproval(cur Record, s Snapshot) Decision {
	changed := cur.Fingerprint != "" && cur.Fingerprint != s.Request.Fingerprint
	a := s.Approval
	valid := a.Valid() && a.AuditID > cur.ApprovalsAfter
	refuse := a.byEndUser() && !slices.Contains(cur.RefusedApprovals, a.AuditID)
	switch {
	case cur.State.Pending() && valid && cur.ApprovedFingerprint != s.Request.Fingerprint:
		// Changed, and approved again since (by the same sync's reading).
		return Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}
	case cur.State.Pending() && valid:
		return None
	case cur.State.Pending() && (changed || a.Present):
		return Decision{Next: AwaitingApproval, Reason: ReasonChanged, Refuse: refuse}
	case cur.State.Pending():
		return Decision{Next: AwaitingApproval, Reason: ReasonWithdrawn}
	case valid:
		return Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}
	case cur.State == AwaitingApproval && changed:
		// An approval tag given before the change (the same second included)
		// does not count; the plan the agents saw is not this request's.
		return Decision{Next: AwaitingApproval, Reason: ReasonRevised, Refuse: refuse}
	case refuse:
		return Decision{Next: AwaitingApproval, Reason: ReasonApprovalRefused}
	case cur.State == Failed && !changed:
		return None // a retry needs a fresh approval
	}
	return to(cur, AwaitingApproval, ReasonValid)
}

// decideRollback handles a ready request: only a rollback tag added since the
// last one answered, after the approval the clone ran on, moves it. An agent's
// restores the sandbox if its copy is kept, else is explained; an end user's is
// refused politely.
func decideRollback(cur Record, s Snapshot) Decision {
	r := s.Rollback
	switch {
	case !s.newRollback(cur):
		return None
	case r.Decides() && s.Copy == CopyKept:
		return Decision{Next: RollingBack, Reason: ReasonRollbackAsked}
	case r.Decides() && s.Copy != CopyUnknown:
		return Decision{Next: Ready, Reason: ReasonRollbackUnavailable}
	case r.byEndUser():
		return Decision{Next: Ready, Reason: ReasonRollbackRefused}
	}
	return None
}

// AsksRollback reports whether the ticket asks for the ready clone's rollback: an
// agent's or admin's rollback tag not answered yet. The sandbox is then asked
// what it keeps (Snapshot.Copy) before Decide.
func (s Snapshot) AsksRollback(cur Record) bool {
	return cur.State == Ready && s.newRollback(cur) && s.Rollback.Decides()
}

// newRollback reports whether the rollback tag was added after the approval the
// clone ran on (a tag already there then asks nothing of this clone) and after
// the last rollback tag answered.
func (s Snapshot) newRollback(cur Record) bool {
	return s.Rollback.AuditID > max(cur.ApprovalAudit, cur.RollbackAudit)
}

// to moves to state next unless the request is already there.
func to(cur Record, next State, why Reason) Decision {
	if cur.State == next {
		return None
	}
	return Decision{Next: next, Reason: why}
}

// Step decides and returns the record to keep: the snapshot's request, and what
// the decision changes of it. A snapshot older than the record (a sync that read
// the ticket before another one applied a newer reading) changes nothing.
func Step(cur Record, s Snapshot) (Record, Decision) {
	if s.LastAuditID < cur.LastAuditID && !s.Deleted {
		return cur, None
	}
	d := Decide(cur, s)
	next := cur
	next.LastAuditID = s.LastAuditID
	if s.Request != nil && !cur.State.Owned() {
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
	case ReasonRollbackAsked, ReasonRollbackRefused, ReasonRollbackUnavailable:
		next.RollbackAudit = s.Rollback.AuditID
	}
	if d.Acknowledges() {
		next.Acknowledged = true
	}
	if d.Refuse || d.Reason == ReasonApprovalRefused {
		next.RefusedApprovals = append(slices.Clone(cur.RefusedApprovals), s.Approval.AuditID)
	}
	return next, d
}
