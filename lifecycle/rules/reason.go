package rules

// Reason says why a request moved: a stable short code, stored in the audit log
// and logged, and selecting the announcement. Its wording is Text.
type Reason string

// Reasons of the decisions a ticket's changes cause.
const (
	ReasonNone            Reason = ""
	ReasonValid           Reason = "valid"
	ReasonProblems        Reason = "problems"
	ReasonPreflight       Reason = "preflight_refused"
	ReasonApproved        Reason = "approved"
	ReasonApprovalRefused Reason = "approval_refused"
	ReasonChanged         Reason = "changed"
	// ReasonRevised: the request changed while it waited for an approval (and
	// none counted): it is acknowledged again, with the plan of what it now asks.
	ReasonRevised   Reason = "revised"
	ReasonWithdrawn Reason = "withdrawn"
	ReasonHold      Reason = "held"
	ReasonRejected  Reason = "rejected"
	ReasonCancelled Reason = "cancelled"
	// A ready clone's rollback tag: an agent's (the copy kept, or not), an end user's.
	ReasonRollbackAsked       Reason = "rollback_requested"
	ReasonRollbackUnavailable Reason = "rollback_unavailable"
	ReasonRollbackRefused     Reason = "rollback_refused"
)

// Reasons of the moves the bot makes itself.
const (
	ReasonReceived     Reason = "received"
	ReasonApproverGone Reason = "approver_gone"
	ReasonStarted      Reason = "started"
	ReasonVerified     Reason = "verified"
	ReasonCloneFailed  Reason = "clone_failed"
	ReasonInterrupted  Reason = "interrupted"
	ReasonRestored     Reason = "restored"
	// ReasonRollbackFailed: the rollback stopped, the sandbox still the clone's.
	ReasonRollbackFailed Reason = "rollback_failed"
)

var reasonTexts = map[Reason]string{
	ReasonValid:               "request valid, awaiting approval",
	ReasonProblems:            "request incomplete or invalid",
	ReasonPreflight:           "preflight refused the clone",
	ReasonApproved:            "approved by an agent",
	ReasonApprovalRefused:     "approval tag added by an end user",
	ReasonChanged:             "request changed after approval",
	ReasonRevised:             "request changed while awaiting approval",
	ReasonWithdrawn:           "approval withdrawn",
	ReasonHold:                "put on hold by an agent",
	ReasonRejected:            "rejected by an agent",
	ReasonCancelled:           "request tag removed or ticket closed",
	ReasonReceived:            "clone request tag seen",
	ReasonApproverGone:        "approver can no longer approve",
	ReasonStarted:             "clone started",
	ReasonVerified:            "clone verified and committed",
	ReasonCloneFailed:         "clone failed; sandbox unchanged",
	ReasonInterrupted:         "clone interrupted; restarting",
	ReasonRollbackAsked:       "rollback requested by an agent",
	ReasonRollbackUnavailable: "rollback asked for; the pre-clone copy is no longer kept",
	ReasonRollbackRefused:     "rollback tag added by an end user",
	ReasonRestored:            "sandbox restored as before the clone, verified",
	ReasonRollbackFailed:      "rollback failed; sandbox still the clone's",
}

// Reasons lists every reason the bot records.
func Reasons() []Reason {
	return []Reason{ReasonValid, ReasonProblems, ReasonPreflight, ReasonApproved, ReasonApprovalRefused, ReasonChanged, ReasonRevised,
		ReasonWithdrawn, ReasonHold, ReasonRejected, ReasonCancelled, ReasonReceived, ReasonApproverGone, ReasonStarted,
		ReasonVerified, ReasonCloneFailed, ReasonInterrupted, ReasonRollbackAsked, ReasonRollbackUnavailable, ReasonRollbackRefused,
		ReasonRestored, ReasonRollbackFailed}
}

// Text is how the reason reads to a person. A code this release does not know
// (one written by a newer release, or a sentence by an older one) reads as itself.
func (r Reason) Text() string {
	if t, ok := reasonTexts[r]; ok {
		return t
	}
	return string(r)
}
