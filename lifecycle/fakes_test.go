package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// fakeZendesk is a hand-written Zendesk for the workers' tests: tickets, audits
// and users are what the test sets; every announcement is recorded; a call it was
// not given an answer for fails the test.
type fakeZendesk struct {
	t  *testing.T
	mu sync.Mutex
	// audit ids are real-sized and increase, as Zendesk's do
	nextAudit int64
	tickets   map[int64]*parser.Ticket
	audits    map[int64][]parser.Audit
	deleted   map[int64]bool
	users     map[int64]notifier.User
	orgs      map[int64][]int64
	posts     []post
	// fail, when set, answers an announcement instead of posting it.
	fail func(ticketID int64, a notifier.Announcement) error
	// ticketErr, when set, answers the next reads of a ticket.
	ticketErr error
}

// post is an announcement as the fake received it.
type post struct {
	Ticket int64
	notifier.Announcement
}

func newFakeZendesk(t *testing.T) *fakeZendesk {
	return &fakeZendesk{t: t, nextAudit: 31415926535901, tickets: map[int64]*parser.Ticket{}, audits: map[int64][]parser.Audit{},
		deleted: map[int64]bool{}, users: map[int64]notifier.User{}, orgs: map[int64][]int64{}}
}

// user adds a user.
func (z *fakeZendesk) user(id int64, role parser.Role, orgs ...int64) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.users[id] = notifier.User{ID: id, Role: role, Active: true}
	z.orgs[id] = orgs
}

// file creates a ticket as requester did, in one audit.
func (z *fakeZendesk) file(id, requester, org int64, fields map[int64]any, tags ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	t := &parser.Ticket{ID: id, RequesterID: requester, SubmitterID: requester, OrganizationID: org, Status: "new",
		Tags: slices.Clone(tags), CustomFields: map[int64]any{}}
	created := parser.Audit{ID: z.auditID(), AuthorID: requester, Changes: []parser.Change{{Field: "tags", Value: slices.Clone(tags)}}}
	for f, v := range fields {
		t.CustomFields[f] = v
		created.Changes = append(created.Changes, parser.Change{Field: fmt.Sprint(f), Value: v})
	}
	z.tickets[id] = t
	z.audits[id] = []parser.Audit{created}
}

// change updates a ticket as author did, in one audit: tags added and removed,
// custom fields set.
func (z *fakeZendesk) change(id, author int64, add, remove []string, fields map[int64]any) {
	z.mu.Lock()
	defer z.mu.Unlock()
	t := z.tickets[id]
	a := parser.Audit{ID: z.auditID(), AuthorID: author}
	if len(add)+len(remove) > 0 {
		before := slices.Clone(t.Tags)
		t.Tags = slices.DeleteFunc(append(t.Tags, add...), func(tag string) bool { return slices.Contains(remove, tag) })
		a.Changes = append(a.Changes, parser.Change{Field: "tags", Value: slices.Clone(t.Tags), Previous: before})
	}
	for f, v := range fields {
		a.Changes = append(a.Changes, parser.Change{Field: fmt.Sprint(f), Value: v, Previous: t.CustomFields[f]})
		t.CustomFields[f] = v
	}
	z.audits[id] = append(z.audits[id], a)
}

func (z *fakeZendesk) auditID() int64 { z.nextAudit += 6; return z.nextAudit }

func (z *fakeZendesk) Ticket(_ context.Context, id int64) (parser.Ticket, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ticketErr != nil {
		return parser.Ticket{}, z.ticketErr
	}
	if z.deleted[id] {
		return parser.Ticket{}, fmt.Errorf("get ticket %d: %w", id, notifier.ErrNotFound)
	}
	t, ok := z.tickets[id]
	if !ok {
		z.t.Errorf("zendesk: ticket %d was read, but the test never filed it", id)
		return parser.Ticket{}, notifier.ErrNotFound
	}
	c := *t
	c.Tags, c.CustomFields = slices.Clone(t.Tags), map[int64]any{}
	for k, v := range t.CustomFields {
		c.CustomFields[k] = v
	}
	return c, nil
}

func (z *fakeZendesk) Audits(_ context.Context, id int64) ([]parser.Audit, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.deleted[id] {
		return nil, fmt.Errorf("list audits of ticket %d: %w", id, notifier.ErrNotFound)
	}
	a, ok := z.audits[id]
	if !ok {
		z.t.Errorf("zendesk: the audits of ticket %d were read, but the test never filed it", id)
	}
	return slices.Clone(a), nil
}

func (z *fakeZendesk) User(_ context.Context, id int64) (notifier.User, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	u, ok := z.users[id]
	if !ok {
		z.t.Errorf("zendesk: user %d was read, but the test never created it", id)
		return notifier.User{}, notifier.ErrNotFound
	}
	return u, nil
}

func (z *fakeZendesk) Organizations(_ context.Context, userID int64) ([]int64, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	orgs, ok := z.orgs[userID]
	if !ok {
		z.t.Errorf("zendesk: the organizations of user %d were read, but the test never created it", userID)
	}
	return orgs, nil
}

func (z *fakeZendesk) TicketsChanged(context.Context, string, time.Time) (notifier.ExportPage, error) {
	z.t.Error("zendesk: the incremental export was read; no worker under test reads it")
	return notifier.ExportPage{End: true}, nil
}

func (z *fakeZendesk) Announce(_ context.Context, ticketID int64, a notifier.Announcement) error {
	z.mu.Lock()
	fail := z.fail
	z.mu.Unlock()
	if fail != nil {
		if err := fail(ticketID, a); err != nil {
			return err
		}
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.posts = append(z.posts, post{ticketID, a})
	return nil
}

// posted lists the keys posted on a ticket, in order, without the ticket id.
func (z *fakeZendesk) posted(ticketID int64) []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var keys []string
	for _, p := range z.posts {
		if p.Ticket == ticketID {
			keys = append(keys, p.Key[len(fmt.Sprint(ticketID))+1:])
		}
	}
	return keys
}

// announcement is the announcement posted under key (as posted returns it).
func (z *fakeZendesk) announcement(key string) notifier.Announcement {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, p := range z.posts {
		if strings.HasSuffix(p.Key, "/"+key) {
			return p.Announcement
		}
	}
	return notifier.Announcement{}
}

// fakeCloner is a hand-written Cloner: it answers each pair of instances with the
// plan the test gives, runs the clone the test gives, and fails the test on a
// call it was not given an answer for. Hooks let a test act in the middle of a
// call, as another worker would.
type fakeCloner struct {
	t     *testing.T
	mu    sync.Mutex
	plans map[string]*cloner.Plan // by "from->to"
	clone func(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error)
	// kept answers CheckRollback; restore runs a rollback.
	kept    func(sandbox, cloneID string) (*cloner.RollbackCopy, error)
	restore func(ctx context.Context, sandbox string, opts cloner.RollbackOptions) (*cloner.RollbackReport, error)
	// during, when set, is called in the middle of each check and plan.
	during func(call string)
	calls  []string
}

func newFakeCloner(t *testing.T) *fakeCloner {
	return &fakeCloner{t: t, plans: map[string]*cloner.Plan{}}
}

// allow answers checks and plans of from -> to with a plan that passes.
func (c *fakeCloner) allow(from, to string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plans[from+"->"+to] = &cloner.Plan{From: from, To: to, Tenant: "acme", Method: cloner.MethodSwap,
		Categories: []cloner.CategoryPlan{{Name: "catalog", Cloned: true, Rows: 1520, Bytes: 2 << 20}}}
}

func (c *fakeCloner) answer(call, from, to string) (*cloner.Plan, error) {
	c.mu.Lock()
	c.calls = append(c.calls, call+" "+from+"->"+to)
	p, ok := c.plans[from+"->"+to]
	during := c.during
	c.mu.Unlock()
	if !ok {
		c.t.Errorf("cloner: %s %s -> %s, which the test never allowed", call, from, to)
		return nil, fmt.Errorf("no plan for %s -> %s", from, to)
	}
	if during != nil {
		during(call)
	}
	return p, nil
}

func (c *fakeCloner) Check(_ context.Context, from, to string) (*cloner.Plan, error) {
	return c.answer("check", from, to)
}

func (c *fakeCloner) Plan(_ context.Context, from, to string) (*cloner.Plan, error) {
	return c.answer("plan", from, to)
}

func (c *fakeCloner) Clone(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error) {
	c.mu.Lock()
	c.calls = append(c.calls, "clone "+from+"->"+to)
	run := c.clone
	c.mu.Unlock()
	if run == nil {
		c.t.Errorf("cloner: clone %s -> %s, which the test never expected", from, to)
		return nil, fmt.Errorf("no clone expected")
	}
	return run(ctx, from, to, opts)
}

func (c *fakeCloner) CheckRollback(_ context.Context, sandbox, cloneID string) (*cloner.RollbackCopy, error) {
	c.mu.Lock()
	c.calls = append(c.calls, "check rollback "+sandbox+" "+cloneID)
	kept := c.kept
	c.mu.Unlock()
	if kept == nil {
		c.t.Errorf("cloner: check rollback of %s, which the test never expected", sandbox)
		return nil, fmt.Errorf("no rollback check expected")
	}
	return kept(sandbox, cloneID)
}

func (c *fakeCloner) Rollback(ctx context.Context, sandbox string, opts cloner.RollbackOptions) (*cloner.RollbackReport, error) {
	c.mu.Lock()
	c.calls = append(c.calls, "rollback "+sandbox+" "+opts.CloneID)
	restore := c.restore
	c.mu.Unlock()
	if restore == nil {
		c.t.Errorf("cloner: rollback of %s, which the test never expected", sandbox)
		return nil, fmt.Errorf("no rollback expected")
	}
	return restore(ctx, sandbox, opts)
}

// called lists the calls made, as "check a->b", "plan a->b", "clone a->b",
// "check rollback s id", "rollback s id".
func (c *fakeCloner) called() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}
