package rules

import (
	"testing"

	"github.com/gaiia/clonebot/parser"
)

// Audit ids of a ticket, in order; Zendesk's are past 10^13.
const (
	created  int64 = 31415926535901
	audit1   int64 = 31415926535907
	audit2   int64 = 31415926535913
	audit3   int64 = 31415926535919
	agentID  int64 = 361112345678
	otherReq int64 = 361123456790
)

var req = &parser.Request{Production: "acme-prod", Sandbox: "acme-sandbox", Tenant: "acme", WipeConfirmed: true, Fingerprint: "fp1"}

// snapshots a test can apply.
func valid() Snapshot { return Snapshot{Tagged: true, Request: req, LastAuditID: audit2} }

func withApproval(role parser.Role, audit int64) Snapshot {
	s := valid()
	s.Approval = Approval{TagDecision: TagDecision{Present: true, AuditID: audit, By: agentID, Role: role}}
	return s
}

// rollback is a ready request's ticket whose rollback tag role added in audit, the
// sandbox keeping copy.
func rollback(role parser.Role, audit int64, copy CopyState) Snapshot {
	s := Snapshot{Tagged: true, LastAuditID: audit, Copy: copy, ready: true}
	s.Rollback = TagDecision{Present: true, AuditID: audit, By: agentID, Role: role}
	return s
}

func dec(next State, why Reason, schedule, ack bool) Decision {
	return Decision{Next: next, Reason: why, Schedule: schedule, Acknowledge: ack}
}

func TestDecideEveryState(t *testing.T) {
	problems := Snapshot{Tagged: true, Problems: []parser.Problem{{Field: "Sandbox instance", Message: "missing"}}}
	closed := valid()
	closed.Closed = true
	untagged := valid()
	untagged.Tagged = false
	hold := valid()
	hold.Hold = true
	reject := valid()
	reject.Reject = true
	preflight := valid()
	preflight.PlanProblems = []string{"table public.new_table is not classified"}
	agent := withApproval("agent", audit2)
	admin := withApproval("admin", audit2)
	endUser := withApproval("end-user", audit2)
	byTrigger := withApproval("agent", audit2)
	byTrigger.Approval.ViaRule = true
	byBot := withApproval("agent", audit2)
	byBot.Approval.Automated = true
	gone := withApproval("", audit2) // suspended or deleted when judged
	stale := withApproval("agent", audit1)
	stale.Approval.Stale = true // the request changed after the approval's audit
	changedReq := &parser.Request{Production: "acme-prod", Sandbox: "acme-sandbox-2", Tenant: "acme", Fingerprint: "fp2"}
	changed := valid()
	changed.Request = changedReq
	changedApproved := withApproval("agent", audit3)
	changedApproved.Request = changedReq
	changedByEndUser := withApproval("end-user", audit3)
	changedByEndUser.Request = changedReq
	changedStale := withApproval("agent", audit1)
	changedStale.Request, changedStale.Approval.Stale = changedReq, true

	ready := Record{State: Ready, Fingerprint: "fp1", Acknowledged: true, ApprovedFingerprint: "fp1", ApprovalAudit: audit2}
	answered := ready
	answered.RollbackAudit = audit3
	solvedRollback := rollback("admin", audit3, CopyKept)
	solvedRollback.Closed, solvedRollback.Tagged = true, false
	rollbackByTrigger := rollback("agent", audit3, CopyKept)
	rollbackByTrigger.Rollback.ViaRule = true
	rollbackByBot := rollback("agent", audit3, CopyKept)
	rollbackByBot.Rollback.Automated = true

	rec := func(s State) Record {
		return Record{State: s, Fingerprint: "fp1", Acknowledged: true, ApprovedFingerprint: approvedIf(s), ApprovalAudit: approvalIf(s)}
	}
	failed := rec(Failed)
	failed.ApprovalsAfter = audit2 // the failed clone ran on the approval of audit2

	cases := []struct {
		name string
		cur  Record
		snap Snapshot
		want Decision
	}{
		// Not yet a request.
		{"untagged ticket is not a request", Record{}, untagged, None},
		{"closed new ticket is ignored", Record{}, closed, None},
		{"new valid request awaits approval", Record{State: Received}, valid(), dec(AwaitingApproval, ReasonValid, false, false)},
		{"new incomplete request needs info", Record{State: Received}, problems, dec(NeedsInfo, ReasonProblems, false, false)},
		{"new request approved at once: acknowledged, then scheduled", Record{State: Received}, agent, dec(Scheduled, ReasonApproved, true, true)},
		{"filed with the customer's approval tag: acknowledged, then refused", Record{State: Received}, endUser, dec(AwaitingApproval, ReasonApprovalRefused, false, true)},
		{"filed with the bot's approval tag: acknowledged only", Record{State: Received}, byBot, dec(AwaitingApproval, ReasonValid, false, false)},
		// needs_info
		{"needs_info fixed", Record{State: NeedsInfo, Fingerprint: "fp1"}, valid(), dec(AwaitingApproval, ReasonValid, false, false)},
		{"needs_info same problems stay quiet", Record{State: NeedsInfo, ProblemsKey: problemsKey(problems.Problems)}, problems, None},
		{"needs_info other problems announced", Record{State: NeedsInfo, ProblemsKey: "old"}, problems, dec(NeedsInfo, ReasonProblems, false, false)},
		{"needs_info cancelled", rec(NeedsInfo), untagged, dec(Cancelled, ReasonCancelled, false, false)},
		// awaiting_approval
		{"awaiting stays quiet", rec(AwaitingApproval), valid(), None},
		{"awaiting approved by agent", rec(AwaitingApproval), agent, dec(Scheduled, ReasonApproved, true, false)},
		{"awaiting approved by admin", rec(AwaitingApproval), admin, dec(Scheduled, ReasonApproved, true, false)},
		{"awaiting end-user approval refused", rec(AwaitingApproval), endUser, dec(AwaitingApproval, ReasonApprovalRefused, false, false)},
		{"awaiting end-user approval refused once", Record{State: AwaitingApproval, Fingerprint: "fp1", Acknowledged: true, RefusedApprovals: []int64{audit2}}, endUser, None},
		{"awaiting trigger-added tag is no approval", rec(AwaitingApproval), byTrigger, None},
		{"awaiting bot-added tag is no approval", rec(AwaitingApproval), byBot, None},
		{"awaiting tag of a suspended agent is no approval", rec(AwaitingApproval), gone, None},
		{"awaiting approval of an older request is no approval", rec(AwaitingApproval), stale, None},
		{"awaiting edited then approved", rec(AwaitingApproval), changedApproved, dec(Scheduled, ReasonApproved, true, false)},
		{"awaiting edited: the new version acknowledged, with its plan", rec(AwaitingApproval), changed, dec(AwaitingApproval, ReasonRevised, false, false)},
		{"awaiting approved then edited in the same second", rec(AwaitingApproval), changedStale, dec(AwaitingApproval, ReasonRevised, false, false)},
		{"awaiting edited and tagged by the customer", rec(AwaitingApproval), changedByEndUser, Decision{Next: AwaitingApproval, Reason: ReasonRevised, Refuse: true}},
		{"awaiting preflight refused", rec(AwaitingApproval), preflight, dec(OnHold, ReasonPreflight, false, false)},
		{"awaiting held", rec(AwaitingApproval), hold, dec(OnHold, ReasonHold, false, false)},
		{"awaiting rejected", rec(AwaitingApproval), reject, dec(Rejected, ReasonRejected, false, false)},
		{"awaiting closed", rec(AwaitingApproval), closed, dec(Cancelled, ReasonCancelled, false, false)},
		{"awaiting now invalid", rec(AwaitingApproval), problems, dec(NeedsInfo, ReasonProblems, false, false)},
		// approved / scheduled
		{"scheduled stays while approved", rec(Scheduled), agent, None},
		{"scheduled request edited loses approval", rec(Scheduled), changedStale, dec(AwaitingApproval, ReasonChanged, false, false)},
		{"scheduled request edited in the approval's second loses it", rec(Scheduled), stale, dec(AwaitingApproval, ReasonChanged, false, false)},
		{"scheduled request edited and approved again", rec(Scheduled), changedApproved, dec(Scheduled, ReasonApproved, true, false)},
		{"scheduled approval withdrawn", rec(Scheduled), valid(), dec(AwaitingApproval, ReasonWithdrawn, false, false)},
		{"scheduled held", rec(Scheduled), hold, dec(OnHold, ReasonHold, false, false)},
		{"scheduled rejected", rec(Scheduled), reject, dec(Rejected, ReasonRejected, false, false)},
		{"scheduled cancelled by closing", rec(Scheduled), closed, dec(Cancelled, ReasonCancelled, false, false)},
		{"scheduled cancelled by removing the tag", rec(Scheduled), untagged, dec(Cancelled, ReasonCancelled, false, false)},
		{"approved edited", rec(Approved), changed, dec(AwaitingApproval, ReasonChanged, false, false)},
		// on_hold
		{"hold stays", rec(OnHold), hold, None},
		{"hold released, still approved", rec(OnHold), agent, dec(Scheduled, ReasonApproved, true, false)},
		{"hold released, not approved", rec(OnHold), valid(), dec(AwaitingApproval, ReasonValid, false, false)},
		{"preflight hold same problems quiet", Record{State: OnHold, Fingerprint: "fp1", ProblemsKey: planKey(preflight.PlanProblems)}, preflight, None},
		// rejected and cancelled are left only by undoing their cause
		{"rejected stays", rec(Rejected), reject, None},
		{"rejected reconsidered", rec(Rejected), valid(), dec(AwaitingApproval, ReasonValid, false, false)},
		{"cancelled stays", rec(Cancelled), closed, None},
		{"cancelled re-requested", Record{State: Cancelled, Fingerprint: "fp1"}, valid(), dec(AwaitingApproval, ReasonValid, false, false)},
		// running and ready belong to the clone
		{"running ignores edits", rec(Running), changed, None},
		{"running ignores closing", rec(Running), closed, None},
		{"ready is final", rec(Ready), agent, None},
		{"ready ignores closing", rec(Ready), closed, None},
		// ready: only the rollback tag, added after the approval the clone ran on
		{"ready rolled back by an agent", ready, rollback("agent", audit3, CopyKept), dec(RollingBack, ReasonRollbackAsked, false, false)},
		{"ready rolled back by an admin of a solved ticket", ready, solvedRollback, dec(RollingBack, ReasonRollbackAsked, false, false)},
		{"ready rollback after the retention explained", ready, rollback("agent", audit3, CopyExpired), dec(Ready, ReasonRollbackUnavailable, false, false)},
		{"ready rollback after a newer clone explained", ready, rollback("agent", audit3, CopySuperseded), dec(Ready, ReasonRollbackUnavailable, false, false)},
		{"ready rollback of a pruned copy explained", ready, rollback("agent", audit3, CopyGone), dec(Ready, ReasonRollbackUnavailable, false, false)},
		{"ready rollback not checked against the sandbox waits", ready, rollback("agent", audit3, CopyUnknown), None},
		{"ready end-user rollback refused", ready, rollback("end-user", audit3, CopyUnknown), dec(Ready, ReasonRollbackRefused, false, false)},
		{"ready end-user rollback refused once", answered, rollback("end-user", audit3, CopyUnknown), None},
		{"ready agent rollback after a refused one", answered, rollback("agent", audit3+6, CopyKept), dec(RollingBack, ReasonRollbackAsked, false, false)},
		{"ready explained rollback stays explained", answered, rollback("agent", audit3, CopyExpired), None},
		{"ready rollback tag from before the approval asks nothing", ready, rollback("agent", audit1, CopyKept), None},
		{"ready rollback tag of a trigger", ready, rollbackByTrigger, None},
		{"ready rollback tag of the bot", ready, rollbackByBot, None},
		{"ready rollback tag of a suspended agent", ready, rollback("", audit3, CopyKept), None},
		{"rolling back ignores another tag", Record{State: RollingBack, ApprovalAudit: audit2, RollbackAudit: audit3}, rollback("agent", audit3+6, CopyKept), None},
		{"rolled back is final", Record{State: RolledBack, ApprovalAudit: audit2, RollbackAudit: audit3}, rollback("agent", audit3+6, CopyKept), None},
		// failed: a retry needs a fresh approval, in a later audit
		{"failed stays with the old approval", failed, agent, None},
		{"failed retried by a new approval", failed, withApproval("agent", audit3), dec(Scheduled, ReasonApproved, true, false)},
		{"failed request edited", failed, changed, dec(AwaitingApproval, ReasonValid, false, false)},
		{"failed cancelled", rec(Failed), closed, dec(Cancelled, ReasonCancelled, false, false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.cur, tc.snap); got != tc.want {
				t.Errorf("Decide(%s) = %+v, want %+v", tc.cur.State, got, tc.want)
			}
		})
	}
}

func approvedIf(s State) string {
	if s.Pending() {
		return "fp1"
	}
	return ""
}

func approvalIf(s State) int64 {
	if s.Pending() {
		return audit2
	}
	return 0
}

// TestDecideNeverLeavesTerminalStatesByItself walks every state through an untagged ticket.
func TestDecideNeverLeavesTerminalStatesByItself(t *testing.T) {
	for _, s := range States {
		d := Decide(Record{State: s, Fingerprint: "fp1"}, Snapshot{})
		switch s {
		case Ready, Running, RollingBack, RolledBack:
			if d != None {
				t.Errorf("%s moved to %s on an untagged ticket", s, d.Next)
			}
		case Cancelled:
			if d != None {
				t.Errorf("cancelled moved again: %+v", d)
			}
		default:
			if d.Next != Cancelled {
				t.Errorf("%s on an untagged ticket = %+v, want cancelled", s, d)
			}
		}
	}
}

// Step keeps what a decision changes, and ignores a reading older than the record.
func TestStepRecords(t *testing.T) {
	next, d := Step(Record{State: Received, LastAuditID: created}, withApproval("end-user", audit2))
	if d.Reason != ReasonApprovalRefused || !next.Acknowledged || len(next.RefusedApprovals) != 1 || next.RefusedApprovals[0] != audit2 || next.LastAuditID != audit2 {
		t.Fatalf("refusal: %+v %+v", next, d)
	}
	next, d = Step(next, withApproval("agent", audit3))
	if d.Reason != ReasonApproved || next.ApprovalAudit != audit3 || next.ApprovedFingerprint != "fp1" || next.State != Scheduled {
		t.Fatalf("approval: %+v %+v", next, d)
	}
	older := valid()
	older.LastAuditID = audit1
	if again, d := Step(next, older); d != None || again.State != Scheduled || again.LastAuditID != next.LastAuditID {
		t.Fatalf("an older reading changed the record: %+v %+v", again, d)
	}
	deleted := Snapshot{Closed: true, Deleted: true}
	if gone, d := Step(next, deleted); d.Reason != ReasonCancelled || gone.State != Cancelled {
		t.Fatalf("a deleted ticket (no audits) must cancel: %+v %+v", gone, d)
	}
	problems := Snapshot{Tagged: true, Problems: []parser.Problem{{Field: "Sandbox instance", Message: "missing"}}, LastAuditID: audit3 + 6}
	if invalid, _ := Step(next, problems); invalid.State != NeedsInfo || invalid.Acknowledged {
		t.Fatalf("an invalid request must be acknowledged again once fixed: %+v", invalid)
	}
}

// Step remembers the rollback tag it answered, whatever the answer, so that each
// addition of the tag is answered once; the approval stays as the clone ran it.
func TestStepRecordsTheRollbackTagAnswered(t *testing.T) {
	ready := Record{State: Ready, Fingerprint: "fp1", ApprovedFingerprint: "fp1", ApprovalAudit: audit1, LastAuditID: audit1}
	refused, d := Step(ready, rollback("end-user", audit2, CopyUnknown))
	if d.Reason != ReasonRollbackRefused || refused.State != Ready || refused.RollbackAudit != audit2 || refused.ApprovalAudit != audit1 {
		t.Fatalf("refusal: %+v %+v", refused, d)
	}
	asked, d := Step(refused, rollback("agent", audit3, CopyKept))
	if d.Reason != ReasonRollbackAsked || asked.State != RollingBack || asked.RollbackAudit != audit3 || asked.Fingerprint != "fp1" {
		t.Fatalf("rollback: %+v %+v", asked, d)
	}
	if again, d := Step(asked, rollback("agent", audit3+6, CopyKept)); d != None || again.State != RollingBack {
		t.Fatalf("a tag while the rollback runs: %+v %+v", again, d)
	}
}

// A ready request reads the rollback tag only: its authors are the ones judged,
// and an open request's reading never judges the rollback tag's author.
func TestReaderJudgesTheRollbackTagOfAReadyRequestOnly(t *testing.T) {
	r := Reader{Tags: Tags{Request: "sandbox_clone", Approve: "clone_approved", Hold: "clone_hold", Reject: "clone_rejected", Rollback: "clone_rollback"},
		Deciders: Deciders{Bot: 361100000001}}
	tk := parser.Ticket{ID: 4294968213, Status: "open", Tags: []string{"sandbox_clone", "clone_approved", "clone_rollback"}}
	audits := []parser.Audit{
		{ID: created, AuthorID: otherReq, Changes: []parser.Change{{Field: "tags", Value: []string{"sandbox_clone"}}}},
		{ID: audit1, AuthorID: agentID, Changes: []parser.Change{{Field: "tags", Value: []string{"sandbox_clone", "clone_approved"}, Previous: []string{"sandbox_clone"}}}},
		{ID: audit2, AuthorID: otherReq, Changes: []parser.Change{{Field: "tags", Value: tk.Tags, Previous: []string{"sandbox_clone", "clone_approved"}}}},
	}
	var s Snapshot
	r.FillReady(&s, tk, audits)
	if got := r.DecisionAudits(s); len(got) != 1 || got[0] != (TagAuthor{AuditID: audit2, AuthorID: otherReq}) {
		t.Fatalf("a ready request judges %v, want the rollback tag's author only", got)
	}
	r.Judge(&s, map[int64]parser.Role{audit2: parser.RoleEndUser})
	if s.Rollback.AuditID != audit2 || s.Rollback.Role != parser.RoleEndUser || s.Rollback.Decides() || !s.Rollback.byEndUser() {
		t.Fatalf("rollback tag read as %+v", s.Rollback)
	}
	var open Snapshot
	r.Fill(&open, tk, audits)
	for _, a := range r.DecisionAudits(open) {
		if a.AuditID == audit2 {
			t.Fatalf("an open request judges the rollback tag's author: %v", r.DecisionAudits(open))
		}
	}
}
