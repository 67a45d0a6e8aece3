package lifecycle

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/parser"
	"github.com/gaiia/clonebot/registry"
	"github.com/gaiia/clonebot/zendesksim"
)

// The approval rules as a small reference model, written apart from the code under
// test: a ticket is a list of audits, each by someone, each leaving the ticket's
// tags and answers in some state; the expected state of the request is a function
// of that list and of when the bot looked.

// Field ids of the rules' configuration.
const (
	ruleFieldProduction int64 = 360042000001
	ruleFieldSandbox    int64 = 360042000002
	ruleFieldWipe       int64 = 360042000003
	ruleFieldUsers      int64 = 360042000004
)

// ruleSettings configures the bot for a simulated account's bot, service account
// and organization; the tenant's instances are on the databases given.
func ruleSettings(bot, service, org int64, prod, sandbox, uat string) Settings {
	reg, err := registry.New(ruleInstances(org, prod, sandbox, uat))
	if err != nil {
		panic(err) // the rules' own instances
	}
	return Settings{
		Tags:     rules.Tags{Request: "sandbox_clone", Approve: "clone_approved", Hold: "clone_hold", Reject: "clone_rejected", Rollback: "clone_rollback"},
		Deciders: rules.Deciders{Bot: bot, Services: []int64{service}},
		Parser: parser.Options{Registry: reg,
			Fields: parser.Fields{ProductionInstance: ruleFieldProduction, SandboxInstance: ruleFieldSandbox, WipeConfirmation: ruleFieldWipe, Users: ruleFieldUsers}},
		Windows: schedule.Windows{Start: 2 * time.Hour, End: 5 * time.Hour, Zones: map[string]*time.Location{"acme": time.UTC}},
	}
}

// ruleInstances are the rules' tenant's production and two sandboxes, on the
// databases given.
func ruleInstances(org int64, prod, sandbox, uat string) []registry.Instance {
	acme := func(name, env, url, db string) registry.Instance {
		return registry.Instance{Name: name, Environment: env, URL: url, DatabaseURL: db, Tenant: "acme", OrganizationIDs: []int64{org}}
	}
	return []registry.Instance{
		acme("acme-prod", registry.Production, "https://acme.example-isp.app", prod),
		acme("acme-sandbox", registry.Sandbox, "https://acme.sandbox.example-isp.app", sandbox),
		acme("acme-uat", registry.Sandbox, "https://acme-uat.sandbox.example-isp.app", uat),
	}
}

// The answers a customer may give, and what they mean to the model: the instance
// named ("" when the answer is not a valid one) and the people to re-invite.
var (
	sandboxAnswers = []struct{ text, means string }{
		{"acme-sandbox", "acme-sandbox"},
		{"https://acme.sandbox.example-isp.app", "acme-sandbox"}, // the same sandbox, by its address
		{"acme-uat", "acme-uat"},
		{"", ""},         // missing
		{"acme-dev", ""}, // no such instance
	}
	usersAnswers = []struct{ text, means string }{
		{"a@acme.example", "a"},
		{"Ann <A@acme.example>", "a"}, // a name changes nobody's access
		{"a@acme.example\nb@acme.example", "a,b"},
	}
)

// who acts: the model's names for the users of a run.
type who int

const (
	customer who = iota // the requester, an end user
	agent
	promotee // an end user, promoted to agent at some point of some runs
	bot
	service
	nWho
)

// op is one step of a run: an update of the ticket (an audit), a promotion, or a
// sync (the bot reads the ticket).
type op struct {
	kind     string // "update", "promote", "sync"
	by       who
	add, del []string
	sandbox  int // index in sandboxAnswers, -1 unchanged
	users    int // index in usersAnswers, -1 unchanged
	wipe     int // 0 unchanged, 1 ticked, 2 unticked
	status   string
	comment  bool
	trigger  bool // made by a trigger on behalf of by
	// fires are the tags an account's trigger adds when it fires on by's
	// update: Zendesk records them in by's audit, as events of the trigger's.
	fires []string
}

func (o op) String() string {
	switch o.kind {
	case "promote", "sync":
		return o.kind
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", []string{"customer", "agent", "promotee", "bot", "service"}[o.by])
	if o.trigger {
		b.WriteString("trigger:")
	}
	for _, t := range o.add {
		b.WriteString("+" + t + " ")
	}
	for _, t := range o.del {
		b.WriteString("-" + t + " ")
	}
	if o.sandbox >= 0 {
		fmt.Fprintf(&b, "sandbox=%q ", sandboxAnswers[o.sandbox].text)
	}
	if o.users >= 0 {
		fmt.Fprintf(&b, "users=%q ", usersAnswers[o.users].text)
	}
	if o.wipe != 0 {
		fmt.Fprintf(&b, "wipe=%v ", o.wipe == 1)
	}
	if o.status != "" {
		b.WriteString(o.status + " ")
	}
	if o.comment {
		b.WriteString("comment ")
	}
	if len(o.fires) > 0 {
		b.WriteString("firing:+" + strings.Join(o.fires, " +"))
	}
	return strings.TrimSpace(b.String())
}

var decisionTags = []string{"clone_approved", "clone_hold", "clone_rejected"}

// randomOp draws one step; the weights favour the interesting collisions.
func randomOp(r *rand.Rand) op {
	o := op{kind: "update", sandbox: -1, users: -1}
	switch n := r.IntN(100); {
	case n < 18:
		o.by = []who{agent, agent, promotee, customer}[r.IntN(4)]
		o.add = []string{decisionTags[r.IntN(3)]}
		if r.IntN(3) > 0 {
			o.add = []string{"clone_approved"}
		}
	case n < 30:
		o.by = []who{agent, customer, promotee}[r.IntN(3)]
		o.del = []string{decisionTags[r.IntN(3)]}
		if r.IntN(2) == 0 {
			o.del = []string{"clone_approved"}
		}
	case n < 46:
		o.by = []who{customer, customer, agent}[r.IntN(3)]
		switch r.IntN(3) {
		case 0:
			o.sandbox = r.IntN(len(sandboxAnswers))
		case 1:
			o.users = r.IntN(len(usersAnswers))
		default:
			o.wipe = 1 + r.IntN(2)
		}
	case n < 52: // an agent edits and approves in one update
		o.by, o.add, o.sandbox = agent, []string{"clone_approved"}, r.IntN(len(sandboxAnswers))
	case n < 60:
		o.by, o.comment = []who{customer, agent}[r.IntN(2)], true
	case n < 68: // the bot's own updates: comments, status tags, even the approval tag
		o.by = bot
		switch r.IntN(3) {
		case 0:
			o.comment = true
		case 1:
			o.add = []string{"clone_status_awaiting_approval"}
		default:
			o.add = []string{"clone_approved"}
		}
	case n < 72:
		o.by, o.add = service, []string{"clone_approved"}
	case n < 76:
		o.by, o.trigger, o.add = agent, true, []string{"clone_approved"}
	case n < 81: // withdrawn, or asked again
		o.by = customer
		if r.IntN(2) == 0 {
			o.del = []string{"sandbox_clone"}
		} else {
			o.add = []string{"sandbox_clone"}
		}
	case n < 85:
		o.by, o.status = agent, []string{"solved", "open"}[r.IntN(2)]
	case n < 90:
		o.kind = "promote"
	default:
		o.kind = "sync"
	}
	if o.kind == "update" && !o.trigger && o.by != bot && o.by != service && r.IntN(6) == 0 {
		// A trigger of the account fires on the person's update.
		o.fires = [][]string{{"escalated"}, {"clone_approved"}, {"clone_hold"}}[r.IntN(3)]
	}
	return o
}

// filing is how the customer files the ticket.
type filing struct {
	tags                   []string
	sandbox, users, wipeOK int // wipeOK: 1 ticked, 2 unticked
}

func randomFiling(r *rand.Rand) filing {
	f := filing{tags: []string{"sandbox_clone"}, sandbox: r.IntN(len(sandboxAnswers)), users: r.IntN(len(usersAnswers)), wipeOK: 1}
	if r.IntN(4) == 0 {
		f.wipeOK = 2
	}
	if r.IntN(4) == 0 {
		f.tags = append(f.tags, "clone_approved") // filed with the approval tag on it
	}
	return f
}

// modelAudit is what the model keeps of an update.
type modelAudit struct {
	by      who
	trigger bool
	byRule  []string // tags only a trigger firing on the update added
	added   []string
	removed []string
	// request is the request after the update: "" when there is none (not tagged,
	// or not valid), else what it means.
	request string
	judged  string // the author's role when the bot first saw the update
}

// model is the reference: the ticket's audits and the users' roles over time.
type model struct {
	audits []modelAudit
	tags   []string
	status string
	answer struct{ sandbox, users, wipeOK int }
	roles  [nWho]string
	seen   int  // audits the bot has looked at
	known  bool // the bot has seen an open request on the ticket
}

func newModel(f filing) *model {
	m := &model{tags: slices.Clone(f.tags), status: "new"}
	m.roles = [nWho]string{customer: "end-user", agent: "agent", promotee: "end-user", bot: "agent", service: "admin"}
	m.answer.sandbox, m.answer.users, m.answer.wipeOK = f.sandbox, f.users, f.wipeOK
	m.audits = append(m.audits, modelAudit{by: customer, added: slices.Clone(f.tags), request: m.request()})
	return m
}

// request is what the ticket asks for now, "" when it asks for nothing valid.
func (m *model) request() string {
	sb := sandboxAnswers[m.answer.sandbox].means
	if !slices.Contains(m.tags, "sandbox_clone") || sb == "" || m.answer.wipeOK != 1 {
		return ""
	}
	return sb + "|" + usersAnswers[m.answer.users].means
}

func (m *model) apply(o op) {
	before := slices.Clone(m.tags)
	for _, t := range o.add {
		if !slices.Contains(m.tags, t) {
			m.tags = append(m.tags, t)
		}
	}
	m.tags = slices.DeleteFunc(m.tags, func(t string) bool { return slices.Contains(o.del, t) })
	if o.sandbox >= 0 {
		m.answer.sandbox = o.sandbox
	}
	if o.users >= 0 {
		m.answer.users = o.users
	}
	if o.wipe != 0 {
		m.answer.wipeOK = o.wipe
	}
	if o.status != "" {
		m.status = o.status
	}
	a := modelAudit{by: o.by, trigger: o.trigger}
	for _, t := range o.fires {
		if !slices.Contains(m.tags, t) {
			m.tags = append(m.tags, t)
			a.byRule = append(a.byRule, t)
		}
	}
	a.request = m.request()
	for _, t := range m.tags {
		if !slices.Contains(before, t) {
			a.added = append(a.added, t)
		}
	}
	for _, t := range before {
		if !slices.Contains(m.tags, t) {
			a.removed = append(a.removed, t)
		}
	}
	for _, t := range a.byRule { // removed by hand and put back by the trigger: its addition
		if !slices.Contains(a.added, t) {
			a.added = append(a.added, t)
		}
	}
	m.audits = append(m.audits, a)
}

// look is the bot looking at the ticket: it judges the authors of the audits it
// sees for the first time by their roles now.
func (m *model) look() {
	for i := m.seen; i < len(m.audits); i++ {
		m.audits[i].judged = m.roles[m.audits[i].by]
	}
	m.seen = len(m.audits)
	m.known = m.known || slices.Contains(m.tags, "sandbox_clone") && m.status != "solved"
}

// decision is the latest addition of tag, if the ticket carries it, and whether it
// is an agent's or admin's own.
func (m *model) decision(tag string) (int, bool) {
	if !slices.Contains(m.tags, tag) {
		return -1, false
	}
	for i := len(m.audits) - 1; i >= 0; i-- {
		a := m.audits[i]
		if slices.Contains(a.added, tag) {
			human := a.by != bot && a.by != service && !a.trigger && !slices.Contains(a.byRule, tag)
			return i, human && (a.judged == "agent" || a.judged == "admin")
		}
	}
	return -1, false
}

// approved reports whether the approval tag schedules the request: added by an
// agent or admin, for the request as it stood then, unchanged by any later audit.
func (m *model) approved() bool {
	i, ok := m.decision("clone_approved")
	if !ok || m.audits[i].request == "" {
		return false
	}
	for _, a := range m.audits[i+1:] {
		if a.request != m.audits[i].request {
			return false
		}
	}
	return true
}

// endUserApproval is the audit of an end user's approval tag, or -1.
func (m *model) endUserApproval() int {
	i, _ := m.decision("clone_approved")
	if i < 0 {
		return -1
	}
	if a := m.audits[i]; a.by != bot && a.by != service && !a.trigger && !slices.Contains(a.byRule, "clone_approved") && a.judged == "end-user" {
		return i
	}
	return -1
}

// expect is the state the request must be in once the bot has looked.
func (m *model) expect() rules.State {
	_, rejected := m.decision("clone_rejected")
	_, held := m.decision("clone_hold")
	switch {
	case !m.known:
		return "" // withdrawn or closed before the bot saw it: never a request
	case !slices.Contains(m.tags, "sandbox_clone") || m.status == "solved":
		return rules.Cancelled
	case rejected:
		return rules.Rejected
	case held:
		return rules.OnHold
	case m.request() == "":
		return rules.NeedsInfo
	case m.approved():
		return rules.Scheduled
	}
	return rules.AwaitingApproval
}

// ruleRun drives one ticket of the simulator through ops, syncing as the bot
// would, and checks each sync against the model.
type ruleRun struct {
	reader rules.Reader
	sim    *zendesksim.Server
	users  [nWho]zendesksim.User
	ticket int64
	rec    rules.Record
	roles  map[int64]parser.Role // the judgements the bot keeps (tag_authors)
	m      *model
	log    []string
	// decoded keeps the audits decoded from their JSON: audits never change.
	decoded map[int64]parser.Audit
	// e2e, when set, syncs through the bot's own worker function, on PostgreSQL
	// and over HTTP; the record is then the bot's.
	e2e *harness
}

func (r *ruleRun) update(o op) error {
	ch := zendesksim.TicketChange{AddTags: o.add, RemoveTags: o.del, Status: o.status, ViaTrigger: o.trigger}
	if len(o.fires) > 0 {
		ch.Trigger = &zendesksim.TriggerActions{AddTags: o.fires, Priority: "high"}
	}
	fields := map[int64]any{}
	if o.sandbox >= 0 {
		fields[ruleFieldSandbox] = sandboxAnswers[o.sandbox].text
	}
	if o.users >= 0 {
		fields[ruleFieldUsers] = usersAnswers[o.users].text
	}
	if o.wipe != 0 {
		fields[ruleFieldWipe] = o.wipe == 1
	}
	if len(fields) > 0 {
		ch.CustomFields = fields
	}
	if o.comment {
		ch.Comment = &zendesksim.NewComment{Body: "more", Public: true}
	}
	before := len(r.sim.Audits(r.ticket))
	if _, err := r.sim.UpdateTicket(r.ticket, r.users[o.by].ID, ch); err != nil {
		return err
	}
	if len(r.sim.Audits(r.ticket)) > before { // an update that changes nothing records nothing
		r.m.apply(o)
	}
	return nil
}

// view is the ticket and its audits as the API shows them, through their JSON.
func (r *ruleRun) view() (rules.View, error) {
	st := r.sim.Ticket(r.ticket)
	t := parser.Ticket{ID: st.ID, RequesterID: st.RequesterID, SubmitterID: st.SubmitterID, OrganizationID: st.OrganizationID,
		Status: st.Status, Tags: st.Tags, CustomFields: map[int64]any{}, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt}
	for id, v := range st.CustomFields {
		t.CustomFields[id] = v
	}
	u, _ := r.sim.User(st.RequesterID)
	t.RequesterOrganizations = u.Memberships
	var audits []parser.Audit
	for _, a := range r.sim.Audits(r.ticket) {
		if pa, ok := r.decoded[a.ID]; ok {
			audits = append(audits, pa)
			continue
		}
		raw, err := json.Marshal(map[string]any{"id": a.ID, "author_id": a.AuthorID, "created_at": a.CreatedAt.Format(time.RFC3339),
			"via": map[string]any{"channel": a.ViaChannel}, "events": a.Events})
		if err != nil {
			return rules.View{}, err
		}
		pa, err := parser.DecodeAudit(raw)
		if err != nil {
			return rules.View{}, err
		}
		r.decoded[a.ID] = pa
		audits = append(audits, pa)
	}
	return rules.View{Ticket: t, Audits: audits}, nil
}

// sync is the bot's sync without its IO: the snapshot of the ticket, the authors
// judged by their roles now, and one Step.
func (r *ruleRun) sync() (rules.Decision, error) {
	v, err := r.view()
	if err != nil {
		return rules.None, err
	}
	snap := r.reader.Outline(v)
	if snap.Open(r.rec.State) {
		r.reader.Fill(&snap, v.Ticket, v.Audits)
		for _, a := range r.reader.DecisionAudits(snap) {
			if _, judged := r.roles[a.AuditID]; !judged {
				u, _ := r.sim.User(a.AuthorID)
				r.roles[a.AuditID] = parser.Role(u.Role)
			}
		}
		r.reader.Judge(&snap, r.roles)
	}
	if r.rec.State == "" && snap.Tagged && !snap.Closed {
		r.rec.State = rules.Received
	}
	var d rules.Decision
	r.rec, d = rules.Step(r.rec, snap)
	r.m.look()
	return d, nil
}

// syncE2E is the bot's sync worker's function, on PostgreSQL and over HTTP.
func (r *ruleRun) syncE2E() error {
	if err := r.e2e.s.sync.sync(r.e2e.ctx, r.ticket, troubleSync); err != nil {
		return err
	}
	r.rec.State = r.e2e.state(r.ticket)
	r.m.look()
	return nil
}

// check compares a sync with the model.
func (r *ruleRun) check(d rules.Decision, refused map[int64]bool) error {
	if want := r.m.expect(); r.rec.State != want {
		return fmt.Errorf("state %s after the sync, the model says %s", r.rec.State, want)
	}
	if (d.Reason == rules.ReasonApproved || d.Reason == rules.ReasonApprovalRefused) && !r.rec.Acknowledged {
		return fmt.Errorf("%s without acknowledging the request", d.Reason)
	}
	if d.Reason == rules.ReasonApprovalRefused || d.Refuse {
		i := r.m.endUserApproval()
		if i < 0 {
			return fmt.Errorf("refused an approval the model does not see as an end user's")
		}
		id := r.sim.Audits(r.ticket)[i].ID
		if refused[id] {
			return fmt.Errorf("refused the approval of audit %d twice", id)
		}
		refused[id] = true
	}
	return nil
}

func (r *ruleRun) run(ops []op) error {
	refused := map[int64]bool{}
	for _, o := range append(ops, op{kind: "sync"}) {
		r.log = append(r.log, o.String())
		switch o.kind {
		case "promote":
			if _, err := r.sim.UpdateUser(r.users[promotee].ID, zendesksim.UserChange{Role: "agent"}); err != nil {
				return err
			}
			r.m.roles[promotee] = "agent"
		case "sync":
			d, err := rules.None, error(nil)
			if r.e2e != nil {
				err = r.syncE2E()
			} else {
				d, err = r.sync()
			}
			if err != nil {
				return err
			}
			r.log[len(r.log)-1] += fmt.Sprintf(" -> %s (%s)", r.rec.State, d.Reason)
			if err := r.check(d, refused); err != nil {
				return err
			}
		default:
			if err := r.update(o); err != nil {
				return err
			}
		}
	}
	// Reading an unchanged ticket again changes nothing and says nothing.
	if r.e2e != nil {
		return r.e2e.checkQuietAndOnce(r)
	}
	if d, err := r.sync(); err != nil || d != rules.None {
		return fmt.Errorf("a second sync of an unchanged ticket decided %+v (%v)", d, err)
	}
	return nil
}

// ruleHarness is a simulated account and the bot's rules configured for it; runs
// share it, each with a ticket and users of its own.
type ruleHarness struct {
	sim          *zendesksim.Server
	reader       rules.Reader
	bot, service zendesksim.User
	org          int64
}

func newRuleHarness(t *testing.T) *ruleHarness {
	sim, err := zendesksim.New(zendesksim.Config{})
	if err != nil {
		panic(err) // the zero Config is valid
	}
	t.Cleanup(sim.Close)
	h := &ruleHarness{sim: sim}
	h.bot = h.sim.CreateUser("clonebot", "clonebot@example.com", "agent")
	h.service = h.sim.CreateUser("billing sync", "sync@example.com", "admin")
	h.org = h.sim.CreateOrganization("Acme Fiber")
	st := ruleSettings(h.bot.ID, h.service.ID, h.org, "postgres://db/acme_prod", "postgres://db/acme_sandbox", "postgres://db/acme_uat")
	h.reader = rules.Reader{Tags: st.Tags, Deciders: st.Deciders, Parser: st.Parser}
	return h
}

// newRuleRun files a ticket as the filing says.
func (h *ruleHarness) newRuleRun(f filing) (*ruleRun, error) {
	r := &ruleRun{reader: h.reader, sim: h.sim, roles: map[int64]parser.Role{}, m: newModel(f), decoded: map[int64]parser.Audit{}}
	r.users[bot], r.users[service] = h.bot, h.service
	for w, name := range map[who]string{customer: "Dana", agent: "Sam", promotee: "Lee"} {
		r.users[w] = h.sim.CreateUser(name, strings.ToLower(name)+"@example.com", r.m.roles[w])
	}
	if err := h.sim.AddMembership(r.users[customer].ID, h.org); err != nil {
		return nil, err
	}
	r.ticket = h.sim.CreateTicket(r.users[customer].ID, zendesksim.TicketSpec{
		Subject: "Sandbox refresh", Description: "Please clone production into the sandbox.", OrganizationID: h.org, Tags: f.tags,
		CustomFields: map[int64]any{
			ruleFieldProduction: "acme-prod", ruleFieldSandbox: sandboxAnswers[f.sandbox].text,
			ruleFieldUsers: usersAnswers[f.users].text, ruleFieldWipe: f.wipeOK == 1,
		},
	}).ID
	return r, nil
}

// randomRun draws a filing and between one and twelve steps.
func randomRun(r *rand.Rand) (filing, []op) {
	f := randomFiling(r)
	ops := make([]op, 1+r.IntN(12))
	for i := range ops {
		ops[i] = randomOp(r)
	}
	return f, ops
}

// ruleRuns is how many interleavings TestApprovalRulesProperty tries.
const ruleRuns = 10000

// TestApprovalRulesProperty drives random interleavings of agents' and end users'
// tags, field edits, comments, tag removals, the bot's own updates, triggers,
// service accounts and promotions (all in the same second: the simulator stamps
// audits to the second and the test clock does not move) through the simulator
// and the bot's rules, and checks every sync against the model.
func TestApprovalRulesProperty(t *testing.T) {
	t.Parallel()
	workers := 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	began := time.Now()
	for w := range workers {
		wg.Go(func() {
			var h *ruleHarness
			for n, i := 0, w; i < ruleRuns; n, i = n+1, i+workers {
				if n%500 == 0 { // a fresh account now and then keeps the heap small
					h = newRuleHarness(t)
				}
				rnd := rand.New(rand.NewPCG(20261128, uint64(i)))
				f, ops := randomRun(rnd)
				run, err := h.newRuleRun(f)
				if err == nil {
					err = run.run(ops)
				}
				if err != nil {
					errs <- fmt.Errorf("run %d: %w\nfiled with %v, sandbox %q, users %q, wipe ticked %v\n  %s",
						i, err, f.tags, sandboxAnswers[f.sandbox].text, usersAnswers[f.users].text, f.wipeOK == 1, strings.Join(run.log, "\n  "))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d interleavings checked in %s", ruleRuns, time.Since(began).Round(time.Millisecond))
}
