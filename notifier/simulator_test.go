package notifier_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/zendesksim"
)

type simFixture struct {
	sim      *zendesksim.Server
	client   *notifier.Client
	customer zendesksim.User
	agent    zendesksim.User
	bot      zendesksim.User
	ticket   zendesksim.Ticket
}

func simSetup(t *testing.T, cfg zendesksim.Config, mod func(*notifier.Config)) simFixture {
	t.Helper()
	cfg.Email, cfg.APIToken = "clonebot@example.com", "tok"
	sim := zendesksim.NewTest(t, cfg)
	f := simFixture{sim: sim}
	f.customer = sim.CreateUser("Cara", "cara@acme.example", "end-user")
	f.agent = sim.CreateUser("Ada", "ada@support.example", "agent")
	f.bot = sim.CreateUser("Clonebot", "clonebot@example.com", "admin")
	f.ticket = sim.CreateTicket(f.customer.ID, zendesksim.TicketSpec{
		Subject: "Sandbox refresh", Description: "please", Tags: []string{"sandbox_clone", "vip"},
		CustomFields: map[int64]any{360042000001: "acme-prod", 360042000004: 17},
	})
	ncfg := notifier.Config{
		URL: sim.URL(), Email: "clonebot@example.com", APIToken: "tok", BotUserID: f.bot.ID,
		Sleep: func(context.Context, time.Duration) error { return nil },
	}
	if mod != nil {
		mod(&ncfg)
	}
	c, err := notifier.New(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

func TestAgainstSimulatorAnnounce(t *testing.T) {
	t.Parallel()
	f := simSetup(t, zendesksim.Config{PageSize: 2}, nil)
	ctx := context.Background()
	for i := range 3 { // push the first comments to later pages
		if _, err := f.sim.UpdateTicket(f.ticket.ID, f.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "ping", Public: true}}); err != nil {
			t.Fatal(i, err)
		}
	}
	a := notifier.Announcement{
		Key: "t/received", Public: true, Body: "We received your request.", StatusTag: "clone_status_received",
		Attachments: []notifier.File{{Name: "plan.txt", ContentType: "text/plain", Data: []byte("plan")}, {Name: "none.txt"}},
	}
	if err := f.client.Announce(ctx, f.ticket.ID, a); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // more comments so the bot's is no longer on the first page
		if _, err := f.sim.UpdateTicket(f.ticket.ID, f.customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "pong", Public: true}}); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := f.client.Announce(ctx, f.ticket.ID, a); err != nil {
		t.Fatal(err)
	}
	var mine []zendesksim.Comment
	for _, c := range f.sim.Comments(f.ticket.ID) {
		if c.AuthorID == f.bot.ID {
			mine = append(mine, c)
		}
	}
	if len(mine) != 1 || !mine[0].Public || !strings.HasSuffix(mine[0].Body, "\n\nRef: clonebot/t/received") ||
		len(mine[0].Attachments) != 1 || string(mine[0].Attachments[0].Data) != "plan" || mine[0].Attachments[0].ContentType != "text/plain" {
		t.Fatalf("bot comments = %+v", mine)
	}
	if err := f.client.Announce(ctx, f.ticket.ID, notifier.Announcement{Key: "t/ready", Body: "Ready.", StatusTag: "clone_status_ready"}); err != nil {
		t.Fatal(err)
	}
	tags := f.sim.Ticket(f.ticket.ID).Tags
	if !slices.Equal(tags, []string{"sandbox_clone", "vip", "clone_status_ready"}) {
		t.Fatalf("tags = %v", tags)
	}
}

// An upload that adds a file to a token, failing after Zendesk may have stored it
// (its answer lost), is not sent into the same token again, where the file would
// be twice: the files go again under a new token, and the comment carries each
// once. An upload that failed before anything was stored is retried as it is.
func TestAgainstSimulatorUploadsEachFileOnce(t *testing.T) {
	t.Parallel()
	f := simSetup(t, zendesksim.Config{}, nil)
	ctx := context.Background()
	files := []notifier.File{
		{Name: "workflows.zip", ContentType: "application/zip", Data: []byte("PK-workflows")},
		{Name: "settings.zip", ContentType: "application/zip", Data: []byte("PK-settings")},
		{Name: "catalog.zip", ContentType: "application/zip", Data: []byte("PK-catalog")},
	}
	f.sim.InjectFault(zendesksim.Fault{Method: "POST", PathPrefix: "/api/v2/uploads", Query: "token=", Status: 502, AfterApply: true})
	f.sim.InjectFault(zendesksim.Fault{Method: "POST", PathPrefix: "/api/v2/uploads", Query: "catalog", Status: 429, RetryAfter: time.Second})
	if err := f.client.Announce(ctx, f.ticket.ID, notifier.Announcement{Key: "t/export", Public: true, Body: "Sandbox export attached.", Attachments: files}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range f.sim.Comments(f.ticket.ID) {
		if c.AuthorID == f.bot.ID {
			for _, a := range c.Attachments {
				names = append(names, a.FileName)
			}
		}
	}
	if !slices.Equal(names, []string{"workflows.zip", "settings.zip", "catalog.zip"}) {
		t.Fatalf("the comment carries %v, want each file once, in order", names)
	}
}

func TestAgainstSimulatorReads(t *testing.T) {
	t.Parallel()
	f := simSetup(t, zendesksim.Config{NumericCustomFields: true, PageSize: 1}, nil)
	ctx := context.Background()
	tk, err := f.client.Ticket(ctx, f.ticket.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A numeric custom field value reads as its decimal text.
	if len(tk.CustomFields) == 0 || !slices.Contains(mapValues(tk.CustomFields), any("17")) || tk.ID != f.ticket.ID {
		t.Fatalf("ticket = %+v", tk)
	}
	if _, err := f.client.Ticket(ctx, 999999); !errors.Is(err, notifier.ErrNotFound) {
		t.Fatalf("missing ticket: %v", err)
	}
	if u, err := f.client.User(ctx, f.agent.ID); err != nil || u.Role != "agent" || !u.Active || u.ID != f.agent.ID {
		t.Fatalf("user = %+v, %v", u, err)
	}
	suspended := true
	if _, err := f.sim.UpdateUser(f.agent.ID, zendesksim.UserChange{Suspended: &suspended, Deleted: true}); err != nil {
		t.Fatal(err)
	}
	if u, err := f.client.User(ctx, f.agent.ID); err != nil || !u.Suspended || u.Active {
		t.Fatalf("suspended and deleted user = %+v, %v", u, err)
	}
	org, other := f.sim.CreateOrganization("Acme"), f.sim.CreateOrganization("Beta")
	for _, o := range []int64{org, other} {
		if err := f.sim.AddMembership(f.customer.ID, o); err != nil {
			t.Fatal(err)
		}
	}
	if orgs, err := f.client.Organizations(ctx, f.customer.ID); err != nil || !slices.Equal(orgs, []int64{org, other}) {
		t.Fatalf("organizations = %v, %v; want %d %d", orgs, err, org, other)
	}
	steps := []zendesksim.TicketChange{
		{AddTags: []string{"clone_approved"}},
		{RemoveTags: []string{"clone_approved"}},
		{AddTags: []string{"clone_approved"}, ViaTrigger: true},
	}
	for _, ch := range steps {
		if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, ch); err != nil {
			t.Fatal(err)
		}
	}
	audits, err := f.client.Audits(ctx, f.ticket.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, a := range audits {
		ids = append(ids, a.ID)
	}
	if !audits[len(audits)-1].ViaRule || audits[len(audits)-2].ViaRule {
		t.Errorf("only the last change was made by a trigger: %+v", audits)
	}
	// Page size 1: the creation and three changes, one page each, oldest first.
	if len(ids) != 4 || !slices.IsSorted(ids) || ids[0] <= 1<<32 {
		t.Fatalf("audit ids = %v, want 4 increasing ids past 2^32", ids)
	}
}

func TestAgainstSimulatorFaultsAndOAuth(t *testing.T) {
	t.Parallel()
	f := simSetup(t, zendesksim.Config{OAuthClients: map[string]string{"clonebot": "s3"}}, func(c *notifier.Config) {
		c.APIToken, c.OAuth = "", &notifier.OAuthConfig{ClientID: "clonebot", ClientSecret: "s3"}
	})
	ctx := context.Background()
	f.sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: "/api/v2/users/", Status: 429, RetryAfter: 2 * time.Second, Times: 2})
	if u, err := f.client.User(ctx, f.customer.ID); err != nil || u.Role != "end-user" {
		t.Fatalf("user = %+v, %v", u, err)
	}
	f.sim.InjectFault(zendesksim.Fault{PathPrefix: "/api/v2/users/", Status: 429, RetryAfter: 5 * time.Minute})
	var rl *notifier.RateLimitError
	if _, err := f.client.User(ctx, f.customer.ID); !errors.As(err, &rl) || rl.RetryAfter != 5*time.Minute {
		t.Fatalf("err = %v, want RateLimitError", err)
	}
	var users, bearer int
	for _, r := range f.sim.Requests() {
		if strings.HasPrefix(r.Path, "/api/v2/users/") {
			users++
			if r.Auth == "bearer" {
				bearer++
			}
		}
	}
	if users != 4 || bearer != 4 {
		t.Fatalf("%d user requests, %d with a bearer token", users, bearer)
	}
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{Status: "closed"}); err != nil {
		t.Fatal(err)
	}
	err := f.client.Announce(ctx, f.ticket.ID, notifier.Announcement{Key: "k", Body: "late", StatusTag: "clone_status_ready"})
	if !errors.Is(err, notifier.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestAgainstSimulatorTicketsChanged(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	start := clock()
	f := simSetup(t, zendesksim.Config{Now: clock}, nil)
	ctx := context.Background()
	advance(61 * time.Second)
	p, err := f.client.TicketsChanged(ctx, "", start)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tickets) != 1 || p.Tickets[0].ID != f.ticket.ID || !slices.Contains(p.Tickets[0].Tags, "sandbox_clone") || !p.End || p.Cursor == "" {
		t.Fatalf("first page = %+v", p)
	}
	cursor := p.Cursor
	if p, err = f.client.TicketsChanged(ctx, cursor, time.Time{}); err != nil || len(p.Tickets) != 0 || p.Cursor != cursor {
		t.Fatalf("nothing changed: %+v, %v; want no ticket and the same cursor", p, err)
	}
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{RemoveTags: []string{"sandbox_clone"}}); err != nil {
		t.Fatal(err)
	}
	advance(61 * time.Second)
	if p, err = f.client.TicketsChanged(ctx, cursor, time.Time{}); err != nil || len(p.Tickets) != 1 || slices.Contains(p.Tickets[0].Tags, "sandbox_clone") {
		t.Fatalf("after a withdrawal: %+v, %v; want the ticket without its tag", p, err)
	}
}

func mapValues(m map[int64]any) []any {
	var out []any
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
