package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/parser"
)

// snapshot reads what Decide needs, asking Zendesk and the instances only when the
// answer can matter. The authors of decision tags not judged before are judged
// now and returned in fresh, to be stored with the outcome.
func (s *Service) snapshot(ctx context.Context, v ticketView, state State) (snap Snapshot, fresh []judgement, err error) {
	snap = s.outline(v)
	if !snap.open(state) {
		return snap, nil, nil
	}
	t := v.ticket
	if err := s.readRequesterOrganizations(ctx, &t); err != nil {
		return snap, nil, err
	}
	s.fill(&snap, t, v.audits)
	audits := snap.history.decisionAudits(t.HasTag, s.decisionTags(), s.deciders)
	roles, err := loadRoles(ctx, s.cfg.Pool, t.ID, auditIDs(audits))
	if err != nil {
		return snap, nil, err
	}
	if fresh, err = judgeMissing(ctx, roles, audits, s.currentRole); err != nil {
		return snap, nil, err
	}
	snap.judge(roles, t.HasTag, s.cfg.Settings.Zendesk.Tags, s.deciders)
	if snap.Request == nil || snap.Hold || snap.Reject {
		return snap, fresh, nil
	}
	// Checks only (catalogs, no rows): a sync runs on every ticket event, and only
	// the move to awaiting approval shows the counted plan (see errNeedPlan).
	checked, err := s.cfg.Cloner.Check(ctx, snap.Request.Production, snap.Request.Sandbox)
	if err != nil {
		return snap, fresh, preflightFailed(snap.Request, err)
	}
	snap.PlanProblems = checked.Problems
	snap.checked = true
	return snap, fresh, nil
}

// outline is what a ticket says before its request is read.
func (s *Service) outline(v ticketView) Snapshot {
	t := v.ticket
	return Snapshot{
		Closed:  t.Closed(),
		Deleted: v.deleted, Tagged: t.HasTag(s.cfg.Settings.Zendesk.Tags.Request), LastAuditID: lastAudit(v.audits),
	}
}

// open reports whether the request must be read: a tagged, open ticket whose
// clone has not run.
func (snap Snapshot) open(state State) bool {
	return snap.Tagged && !snap.Closed && state != Ready && state != Running
}

// fill parses the request and walks the audits; t carries its requester's
// organizations.
func (s *Service) fill(snap *Snapshot, t parser.Ticket, audits []parser.Audit) {
	snap.Request, snap.Problems = parser.Parse(t, s.parse)
	snap.history = newHistory(t, audits, s.cfg.Settings.Zendesk.Tags, s.parse)
}

// judge sets the snapshot's decision tags from the judged roles of their authors.
func (snap *Snapshot) judge(roles map[int64]parser.Role, carried func(string) bool, tags config.Tags, who deciders) {
	h := snap.history
	snap.Hold = h.tagDecision(tags.Hold, carried(tags.Hold), roles, who).Decides()
	snap.Reject = h.tagDecision(tags.Reject, carried(tags.Reject), roles, who).Decides()
	a := Approval{TagDecision: h.tagDecision(tags.Approve, carried(tags.Approve), roles, who)}
	if a.AuditID != 0 {
		a.Stale = !h.unchangedSince(h.index(a.AuditID))
	}
	snap.Approval = a
}

// errJudgedAgain stops a sync whose authors were judged differently by another
// sync in the meantime, after it skipped the instance checks: it runs again.
var errJudgedAgain = errors.New("the ticket's tag authors were judged again meanwhile; syncing again")

// rejudge applies the roles stored with the outcome, which win over this sync's
// when another sync stored them first.
func (snap *Snapshot) rejudge(roles map[int64]parser.Role, carried func(string) bool, tags config.Tags, who deciders) error {
	before := *snap
	snap.judge(roles, carried, tags, who)
	if !snap.checked && snap.Request != nil && (before.Hold || before.Reject) && !snap.Hold && !snap.Reject {
		return fmt.Errorf("ticket: %w", errJudgedAgain)
	}
	return nil
}
