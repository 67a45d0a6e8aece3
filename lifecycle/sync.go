package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/riverqueue/river"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// syncer re-reads tickets and moves their requests along: it reads the ticket
// and its audits, decides once from what it read (planning the clone when the
// decision announces the plan), and applies the decision once, under the
// request's row lock, if nobody moved the request meanwhile.
type syncer struct {
	zendesk  ticketReader
	cloner   planner
	reader   rules.Reader
	repo     *repo
	record   *recorder
	troubles *troubles
	windows  schedule.Windows
	policy   Policy
	log      *logrus.Entry
	now      func() time.Time
	observe  observeFunc
}

func (s *syncer) worker() river.Worker[jobs.TicketSyncArgs] { return &syncWorker{s: s} }

type syncWorker struct {
	river.WorkerDefaults[jobs.TicketSyncArgs]
	s *syncer
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[jobs.TicketSyncArgs]) error {
	ctx = notifier.WithTicket(ctx, job.Args.TicketID) // Zendesk retries are logged with it
	err := zendeskJobError(w.s.sync(ctx, job.Args.TicketID, troubleSync))
	w.s.observe(job.JobRow, job.Args.TicketID, err)
	return err
}

// sync re-reads a ticket and moves its request along on behalf of job: a failure
// once the ticket was read (an instance that does not answer) is the ticket's
// trouble until a sync goes through.
func (s *syncer) sync(ctx context.Context, ticketID int64, job string) error {
	err := s.syncOnce(ctx, ticketID)
	var read *readFailure
	if err != nil && !errors.As(err, &read) {
		s.troubles.failed(ctx, ticketID, job, err)
	}
	return err
}

// readFailure marks a sync that failed before it knew the ticket: reading it, or
// the bot's own state.
type readFailure struct{ err error }

func (r *readFailure) Error() string { return r.err.Error() }
func (r *readFailure) Unwrap() error { return r.err }

// errMoved stops a pass whose reading of the request is no longer the request:
// another worker moved it, or judged a tag's author first. The sync decides again.
var errMoved = errors.New("the request moved while it was decided")

// passes bounds how often a sync decides again after errMoved; the job retries
// after them.
const passes = 3

func (s *syncer) syncOnce(ctx context.Context, ticketID int64) error {
	// Free the pending slot first: an event that arrives from now on queues a new
	// sync, which will see whatever this one reads too late to see.
	if err := s.repo.releasePending(ctx, ticketID); err != nil {
		return err
	}
	v, err := s.readView(ctx, ticketID)
	if err != nil {
		return &readFailure{err}
	}
	rd := &reading{view: v, ticket: v.Ticket, checks: map[string]*cloner.Plan{}, plans: map[string]*cloner.Plan{}}
	for range passes {
		if err = s.pass(ctx, rd); !errors.Is(err, errMoved) {
			return err
		}
	}
	return fmt.Errorf("ticket %d: %w %d times; syncing again", ticketID, err, passes)
}

// reading is what one sync learns, kept across its passes: Zendesk and the
// instances are asked once.
type reading struct {
	view     rules.View
	ticket   parser.Ticket // with the requester's organizations once read
	orgsRead bool
	fresh    []judgement // authors this sync judged
	checks   map[string]*cloner.Plan
	plans    map[string]*cloner.Plan
}

// decided is one pass's decision and what it was decided from.
type decided struct {
	read  *request // the request as read; nil when there was none
	roles map[int64]parser.Role
	snap  rules.Snapshot
	next  rules.Record
	d     rules.Decision
	plan  *cloner.Plan // for the announcement; nil unless it acknowledges the request
	// kept is the copy a rollback asked for would restore, or the newer clone's
	// that replaced it; nil when not asked or nothing is kept.
	kept *cloner.RollbackCopy
}

// pass decides from one reading of the request, then applies the decision.
func (s *syncer) pass(ctx context.Context, rd *reading) error {
	dc, err := s.decide(ctx, rd)
	if err != nil {
		return err
	}
	return s.repo.inTx(ctx, func(q *repo) error { return s.apply(ctx, q, rd, dc) })
}

// decide reads the request as it stands and decides, from it and the ticket read,
// what the sync does: the rules' Step, and the plan when the decision needs it.
func (s *syncer) decide(ctx context.Context, rd *reading) (decided, error) {
	cur, err := s.repo.loadRequest(ctx, rd.ticket.ID)
	if err != nil {
		return decided{}, &readFailure{err}
	}
	dc := decided{read: cur}
	rec := rules.Record{}
	if cur != nil {
		rec = cur.Record
	}
	if dc.snap, dc.roles, err = s.snapshot(ctx, rd, rec.State); err != nil {
		return dc, err
	}
	if cur == nil && dc.snap.Open(rec.State) {
		rec.State = rules.Received // created as the decision is applied
	}
	if dc.snap.AsksRollback(rec) {
		if dc.snap.Copy, dc.kept, err = s.checkRollback(ctx, cur); err != nil {
			return dc, err
		}
	}
	dc.next, dc.d = rules.Step(rec, dc.snap)
	if dc.d.Acknowledges() {
		// The request becomes valid: its announcement shows the whole plan.
		dc.plan, err = s.plan(ctx, rd, dc.snap.Request)
	}
	return dc, err
}

// snapshot reads what Decide needs, asking Zendesk and the instances only when the
// answer can matter.
func (s *syncer) snapshot(ctx context.Context, rd *reading, state rules.State) (rules.Snapshot, map[int64]parser.Role, error) {
	snap := s.reader.Outline(rd.view)
	if snap.ReadsRollback(state) {
		s.reader.FillReady(&snap, rd.ticket, rd.view.Audits)
		roles, err := s.judge(ctx, rd, s.reader.DecisionAudits(snap))
		if err != nil {
			return snap, nil, err
		}
		s.reader.Judge(&snap, roles)
		return snap, roles, nil
	}
	if !snap.Open(state) {
		return snap, nil, nil
	}
	if err := s.readRequesterOrganizations(ctx, rd); err != nil {
		return snap, nil, err
	}
	s.reader.Fill(&snap, rd.ticket, rd.view.Audits)
	roles, err := s.judge(ctx, rd, s.reader.DecisionAudits(snap))
	if err != nil {
		return snap, nil, err
	}
	s.reader.Judge(&snap, roles)
	if !snap.NeedsCheck() {
		return snap, roles, nil
	}
	// Checks only (catalogs, no rows): a sync runs on every ticket event, and only
	// the move to awaiting approval shows the counted plan.
	checked, err := s.check(ctx, rd, snap.Request)
	if err != nil {
		return snap, roles, err
	}
	snap.PlanProblems = checked.Problems
	return snap, roles, nil
}

func (s *syncer) check(ctx context.Context, rd *reading, r *parser.Request) (*cloner.Plan, error) {
	return cached(rd.checks, r, func() (*cloner.Plan, error) { return s.cloner.Check(ctx, r.Production, r.Sandbox) })
}

func (s *syncer) plan(ctx context.Context, rd *reading, r *parser.Request) (*cloner.Plan, error) {
	return cached(rd.plans, r, func() (*cloner.Plan, error) { return s.cloner.Plan(ctx, r.Production, r.Sandbox) })
}

// cached asks an instance question once per sync and pair of instances.
func cached(answers map[string]*cloner.Plan, r *parser.Request, ask func() (*cloner.Plan, error)) (*cloner.Plan, error) {
	key := r.Production + "\x00" + r.Sandbox
	if p, ok := answers[key]; ok {
		return p, nil
	}
	p, err := ask()
	if err != nil {
		return nil, preflightFailed(r, err)
	}
	answers[key] = p
	return p, nil
}

// checkRollback asks the sandbox of a ready request whether it still keeps the
// copy its clone left: the copy (or the newer clone's that replaced it) and what
// it means for the rollback. A request whose clone is not known (none was
// recorded) has nothing to restore.
func (s *syncer) checkRollback(ctx context.Context, r *request) (rules.CopyState, *cloner.RollbackCopy, error) {
	if r.CloneID == "" {
		return rules.CopyGone, nil, nil
	}
	kept, err := s.cloner.CheckRollback(ctx, r.Sandbox, r.CloneID)
	switch {
	case err == nil:
		return rules.CopyKept, kept, nil
	case errors.Is(err, cloner.ErrSuperseded):
		return rules.CopySuperseded, kept, nil
	case errors.Is(err, cloner.ErrExpired):
		return rules.CopyExpired, kept, nil
	case errors.Is(err, cloner.ErrRefused):
		return rules.CopyGone, nil, nil // nothing kept, or no such sandbox any more
	}
	return rules.CopyUnknown, nil, fmt.Errorf("%w: the copy of %s kept by clone %s: %w", errPreflight, r.Sandbox, r.CloneID, err)
}

// errPreflight marks a sync that read the ticket but could not check or plan the
// clone, or check its rollback: an instance did not answer.
var errPreflight = errors.New("preflight")

func preflightFailed(r *parser.Request, err error) error {
	return fmt.Errorf("%w %s -> %s: %w", errPreflight, r.Production, r.Sandbox, err)
}

// apply records the decision in q's transaction, with the authors this sync
// judged (another sync's judgement, stored first, wins), unless the request moved
// since it was read.
func (s *syncer) apply(ctx context.Context, q *repo, rd *reading, dc decided) error {
	id := rd.ticket.ID
	r, err := q.lockRequest(ctx, id)
	if err != nil {
		return err
	}
	if moved(dc.read, r) {
		return errMoved
	}
	if err := s.keepJudgements(ctx, q, rd, dc.roles); err != nil {
		return err
	}
	if r == nil {
		if !dc.snap.Open(rules.Received) {
			_, err := q.endTrouble(ctx, id) // no request (any more): quietly
			return err
		}
		if r, err = q.insertReceived(ctx, id); err != nil {
			return err
		}
	}
	log := s.log.WithField("ticket", id)
	if dc.snap.LastAuditID < r.LastAuditID && !dc.snap.Deleted {
		log.Debug("ignoring an older reading of the ticket")
		return nil
	}
	from := r.State
	r.Record = dc.next
	remember(r, dc.snap)
	// A rollback under way owns its ticket's trouble: its job ends it.
	if from != rules.RollingBack {
		if err := s.troubles.resolve(ctx, q, r); err != nil {
			return err
		}
	}
	if dc.d.Reason == rules.ReasonNone {
		log.WithField("state", r.State).Info("ticket synced; no change")
		return q.save(ctx, r, dc.snap.Problems)
	}
	log.WithFields(logrus.Fields{"from": from, "to": dc.d.Next, "reason": dc.d.Reason}).Info("request moves")
	return s.transition(ctx, q, r, from, dc)
}

// moved reports whether the request locked is not the one read.
func moved(read, locked *request) bool {
	if read == nil || locked == nil {
		return read != locked
	}
	return !reflect.DeepEqual(read.Record, locked.Record)
}

// keepJudgements stores the authors this sync judged; if another sync stored a
// different judgement of an author this pass used, the pass decides again.
func (s *syncer) keepJudgements(ctx context.Context, q *repo, rd *reading, used map[int64]parser.Role) error {
	if len(used) == 0 {
		return nil
	}
	if err := q.storeJudgements(ctx, rd.ticket.ID, rd.fresh); err != nil {
		return err
	}
	stored, err := q.roles(ctx, rd.ticket.ID, auditIDs(used))
	if err != nil {
		return err
	}
	if !maps.Equal(stored, used) {
		return errMoved
	}
	return nil
}

// remember copies the snapshot's request into the row, unless the clone owns it.
func remember(r *request, snap rules.Snapshot) {
	if snap.Request == nil || r.State.Owned() {
		return
	}
	r.Request = snap.Request
	r.Production, r.Sandbox, r.Tenant = snap.Request.Production, snap.Request.Sandbox, snap.Request.Tenant
}

// transition records a decision the row already reflects: audit entries,
// announcements, and the clone job when it is due at once.
func (s *syncer) transition(ctx context.Context, q *repo, r *request, from rules.State, dc decided) error {
	d, snap := dc.d, dc.snap
	var m move
	var actor int64
	switch d.Reason {
	case rules.ReasonApprovalRefused:
		actor = snap.Approval.By
	case rules.ReasonRollbackAsked, rules.ReasonRollbackRefused, rules.ReasonRollbackUnavailable:
		actor = snap.Rollback.By
	case rules.ReasonApproved:
		actor = snap.Approval.By
		r.ScheduledFor = s.windows.For(r.Tenant).Next(s.now())
		m.entries = append(m.entries, entry{from: from, to: rules.Approved, reason: d.Reason, actor: actor,
			detail: map[string]any{"fingerprint": r.Fingerprint, "approval_audit": r.ApprovalAudit}})
		from = rules.Approved
	case rules.ReasonChanged, rules.ReasonWithdrawn:
		r.ScheduledFor = time.Time{}
	}
	m.entries = append(m.entries, entry{from: from, to: d.Next, reason: d.Reason, actor: actor, detail: auditDetail(d, snap, r)})
	var err error
	if m.notices, err = notices(d); err != nil {
		return err
	}
	m.problems = snap.Problems
	var drift *messages.DriftView
	var advice *messages.AdviceView
	if dc.plan != nil {
		// The agents' note of the plan: how far the sandbox has drifted, and the
		// last clone into it, for them to judge whether this one is warranted.
		drift = messages.NewDriftView(dc.plan.Drift)
		last, err := q.lastClone(ctx, r.Sandbox)
		if err != nil {
			return err
		}
		advice = s.policy.advise(r.Sandbox, last, drift, s.now(), s.windows.For(r.Tenant).Loc)
	}
	m.data = func(data *messages.Data) {
		data.Problems, data.PlanProblems, data.Plan = snap.Problems, snap.PlanProblems, dc.plan
		if snap.Copy != rules.CopyUnknown {
			data.Rollback = s.record.rollbackView(r, snap.Copy, dc.kept, nil)
		}
		data.Drift, data.Advice = drift, advice
		data.StaleApproval = d.Reason == rules.ReasonRevised && snap.Approval.Decides()
	}
	if err := s.record.record(ctx, q, r, m); err != nil {
		return err
	}
	switch {
	case d.Schedule && !r.ScheduledFor.After(s.now()):
		return q.queueClone(ctx, r, r.Attempts)
	case d.Reason == rules.ReasonRollbackAsked:
		return q.queueRollback(ctx, r)
	}
	return nil
}

func auditDetail(d rules.Decision, snap rules.Snapshot, r *request) map[string]any {
	detail := map[string]any{"fingerprint": r.Fingerprint}
	switch {
	case len(snap.Problems) > 0 && d.Reason == rules.ReasonProblems:
		detail["problems"] = snap.Problems
	case d.Reason == rules.ReasonPreflight:
		detail["plan_problems"] = snap.PlanProblems
	case d.Schedule:
		detail["scheduled_for"] = r.ScheduledFor
	case snap.Rollback.AuditID != 0:
		detail["clone_id"], detail["rollback_audit"] = r.CloneID, r.RollbackAudit
		if snap.Copy != rules.CopyUnknown {
			detail["copy"] = snap.Copy
		}
	}
	return detail
}
