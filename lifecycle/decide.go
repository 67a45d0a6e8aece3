package lifecycle

import (
	"time"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/parser"
)

// Record is what the bot remembers of a request between ticket changes.
type Record struct {
	State            State
	Fingerprint      string
	FingerprintSince time.Time
	FailedAt         time.Time
	RefusedApprovals []time.Time
	ProblemsKey      string // fingerprint of the last problems announced
}

// Approval is the newest change of the approval tag found in the ticket's audits.
type Approval struct {
	Present    bool // the tag is on the ticket and its newest change added it
	By         int64
	Role       string // end-user, agent or admin
	At         time.Time
	ViaTrigger bool // a trigger or automation added it, not a person
}

// Snapshot is everything a ticket says, read once per sync.
type Snapshot struct {
	Closed   bool // solved or closed
	Tagged   bool // carries the request tag
	Hold     bool
	Reject   bool
	Request  *parser.Request
	Problems []parser.Problem
	// PlanProblems are the preflight's refusals; nil when the plan passed or was
	// not needed.
	PlanProblems []string
	Approval     Approval
	Seen         time.Time // the ticket's updated_at

	plan *cloner.Plan // the preflight plan, for the announcement
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
	return decideApproval(cur, s)
}

// decideApproval handles a valid request whose preflight passed.
func decideApproval(cur Record, s Snapshot) Decision {
	changed := cur.Fingerprint != "" && cur.Fingerprint != s.Request.Fingerprint
	since := cur.FingerprintSince
	if changed || since.IsZero() {
		since = s.Seen
	}
	a := s.Approval
	valid := a.Present && !a.ViaTrigger && (a.Role == "agent" || a.Role == "admin") &&
		!a.At.Before(since) && (cur.FailedAt.IsZero() || a.At.After(cur.FailedAt))
	switch {
	case cur.State.pending() && changed:
		return Decision{Next: AwaitingApproval, Reason: ReasonChanged}
	case cur.State.pending() && !a.Present:
		return Decision{Next: AwaitingApproval, Reason: ReasonWithdrawn}
	case cur.State.pending():
		return none
	case valid:
		return Decision{Next: Scheduled, Reason: ReasonApproved, Schedule: true}
	case a.Present && a.Role == "end-user" && !a.ViaTrigger && !refused(cur, a.At):
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

func refused(cur Record, at time.Time) bool {
	for _, t := range cur.RefusedApprovals {
		if t.Equal(at) {
			return true
		}
	}
	return false
}
