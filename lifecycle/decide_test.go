package lifecycle

import (
	"testing"
	"time"

	"github.com/gaiia/clonebot/parser"
)

var (
	t0  = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	req = &parser.Request{Production: "acme-prod", Sandbox: "acme-sandbox", Tenant: "acme", WipeConfirmed: true, Fingerprint: "fp1"}
)

// snapshots a test can apply.
func valid() Snapshot { return Snapshot{Tagged: true, Request: req, Seen: t0} }

func withApproval(role string, at time.Time) Snapshot {
	s := valid()
	s.Approval = Approval{Present: true, By: 42, Role: role, At: at}
	return s
}

func TestDecideEveryState(t *testing.T) {
	problems := Snapshot{Tagged: true, Problems: []parser.Problem{{Field: "Sandbox instance", Message: "missing"}}, Seen: t0}
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
	agent := withApproval("agent", t0.Add(time.Minute))
	admin := withApproval("admin", t0.Add(time.Minute))
	endUser := withApproval("end-user", t0.Add(time.Minute))
	byTrigger := withApproval("agent", t0.Add(time.Minute))
	byTrigger.Approval.ViaTrigger = true
	stale := withApproval("agent", t0.Add(-time.Minute)) // given before the current fingerprint
	changed := withApproval("agent", t0.Add(time.Minute))
	changed.Request = &parser.Request{Production: "acme-prod", Sandbox: "acme-sandbox-2", Tenant: "acme", Fingerprint: "fp2"}

	base := Record{Fingerprint: "fp1", FingerprintSince: t0}
	rec := func(s State) Record { r := base; r.State = s; return r }

	cases := []struct {
		name string
		cur  Record
		snap Snapshot
		want Decision
	}{
		// Not yet a request.
		{"untagged ticket is not a request", Record{}, untagged, none},
		{"closed new ticket is ignored", Record{}, closed, none},
		{"new valid request awaits approval", Record{State: Received}, valid(), Decision{AwaitingApproval, ReasonValid, false}},
		{"new incomplete request needs info", Record{State: Received}, problems, Decision{NeedsInfo, ReasonProblems, false}},
		{"new request approved at once by an agent", Record{State: Received}, agent, Decision{Scheduled, ReasonApproved, true}},
		// needs_info
		{"needs_info fixed", rec(NeedsInfo), valid(), Decision{AwaitingApproval, ReasonValid, false}},
		{"needs_info same problems stay quiet", Record{State: NeedsInfo, ProblemsKey: problemsKey(problems.Problems)}, problems, none},
		{"needs_info other problems announced", Record{State: NeedsInfo, ProblemsKey: "old"}, problems, Decision{NeedsInfo, ReasonProblems, false}},
		{"needs_info cancelled", rec(NeedsInfo), untagged, Decision{Cancelled, ReasonCancelled, false}},
		// awaiting_approval
		{"awaiting stays quiet", rec(AwaitingApproval), valid(), none},
		{"awaiting approved by agent", rec(AwaitingApproval), agent, Decision{Scheduled, ReasonApproved, true}},
		{"awaiting approved by admin", rec(AwaitingApproval), admin, Decision{Scheduled, ReasonApproved, true}},
		{"awaiting end-user approval refused", rec(AwaitingApproval), endUser, Decision{AwaitingApproval, ReasonApprovalRefused, false}},
		{"awaiting end-user approval refused once", Record{State: AwaitingApproval, Fingerprint: "fp1", FingerprintSince: t0, RefusedApprovals: []time.Time{t0.Add(time.Minute)}}, endUser, none},
		{"awaiting trigger-added tag is no approval", rec(AwaitingApproval), byTrigger, none},
		{"awaiting approval older than the request is no approval", rec(AwaitingApproval), stale, none},
		{"awaiting edited then approved", rec(AwaitingApproval), changed, Decision{Scheduled, ReasonApproved, true}},
		{"awaiting preflight refused", rec(AwaitingApproval), preflight, Decision{OnHold, ReasonPreflight, false}},
		{"awaiting held", rec(AwaitingApproval), hold, Decision{OnHold, ReasonHold, false}},
		{"awaiting rejected", rec(AwaitingApproval), reject, Decision{Rejected, ReasonRejected, false}},
		{"awaiting closed", rec(AwaitingApproval), closed, Decision{Cancelled, ReasonCancelled, false}},
		{"awaiting now invalid", rec(AwaitingApproval), problems, Decision{NeedsInfo, ReasonProblems, false}},
		// approved / scheduled
		{"scheduled stays while approved", rec(Scheduled), agent, none},
		{"scheduled request edited loses approval", rec(Scheduled), changed, Decision{AwaitingApproval, ReasonChanged, false}},
		{"scheduled approval withdrawn", rec(Scheduled), valid(), Decision{AwaitingApproval, ReasonWithdrawn, false}},
		{"scheduled held", rec(Scheduled), hold, Decision{OnHold, ReasonHold, false}},
		{"scheduled rejected", rec(Scheduled), reject, Decision{Rejected, ReasonRejected, false}},
		{"scheduled cancelled by closing", rec(Scheduled), closed, Decision{Cancelled, ReasonCancelled, false}},
		{"scheduled cancelled by removing the tag", rec(Scheduled), untagged, Decision{Cancelled, ReasonCancelled, false}},
		{"approved edited", rec(Approved), changed, Decision{AwaitingApproval, ReasonChanged, false}},
		// on_hold
		{"hold stays", rec(OnHold), hold, none},
		{"hold released, still approved", rec(OnHold), agent, Decision{Scheduled, ReasonApproved, true}},
		{"hold released, not approved", rec(OnHold), valid(), Decision{AwaitingApproval, ReasonValid, false}},
		{"preflight hold same problems quiet", Record{State: OnHold, Fingerprint: "fp1", ProblemsKey: planKey(preflight.PlanProblems)}, preflight, none},
		// rejected and cancelled are left only by undoing their cause
		{"rejected stays", rec(Rejected), reject, none},
		{"rejected reconsidered", rec(Rejected), valid(), Decision{AwaitingApproval, ReasonValid, false}},
		{"cancelled stays", rec(Cancelled), closed, none},
		{"cancelled re-requested", rec(Cancelled), valid(), Decision{AwaitingApproval, ReasonValid, false}},
		// running and ready belong to the clone
		{"running ignores edits", rec(Running), changed, none},
		{"running ignores closing", rec(Running), closed, none},
		{"ready is final", rec(Ready), agent, none},
		{"ready ignores closing", rec(Ready), closed, none},
		// failed: a retry needs a fresh approval
		{"failed stays with the old approval", Record{State: Failed, Fingerprint: "fp1", FingerprintSince: t0, FailedAt: t0.Add(2 * time.Minute)}, agent, none},
		{"failed retried by a new approval", Record{State: Failed, Fingerprint: "fp1", FingerprintSince: t0, FailedAt: t0.Add(30 * time.Second)}, agent, Decision{Scheduled, ReasonApproved, true}},
		{"failed request edited", Record{State: Failed, Fingerprint: "fp1", FingerprintSince: t0, FailedAt: t0}, func() Snapshot { s := valid(); s.Request = changed.Request; return s }(), Decision{AwaitingApproval, ReasonValid, false}},
		{"failed cancelled", rec(Failed), closed, Decision{Cancelled, ReasonCancelled, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.cur, tc.snap); got != tc.want {
				t.Errorf("Decide(%s) = %+v, want %+v", tc.cur.State, got, tc.want)
			}
		})
	}
}

// TestDecideNeverLeavesTerminalStatesByItself walks every state through an untagged ticket.
func TestDecideNeverLeavesTerminalStatesByItself(t *testing.T) {
	for _, s := range States {
		d := Decide(Record{State: s, Fingerprint: "fp1", FingerprintSince: t0}, Snapshot{})
		switch s {
		case Ready, Running:
			if d != none {
				t.Errorf("%s moved to %s on an untagged ticket", s, d.Next)
			}
		case Cancelled:
			if d != none {
				t.Errorf("cancelled moved again: %+v", d)
			}
		default:
			if d.Next != Cancelled {
				t.Errorf("%s on an untagged ticket = %+v, want cancelled", s, d)
			}
		}
	}
}
