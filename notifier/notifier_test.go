package notifier_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/gaiia/clonebot/notifier"
)

const zd = "https://acme.zendesk.com"

type fixture struct {
	client *notifier.Client
	mock   *httpmock.MockTransport
	mu     sync.Mutex
	sleeps []time.Duration
	calls  []string // "METHOD route status retry"
	now    time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

func (f *fixture) advance(d time.Duration) { f.mu.Lock(); defer f.mu.Unlock(); f.now = f.now.Add(d) }

func (f *fixture) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func setup(t *testing.T, mod func(*notifier.Config)) *fixture {
	t.Helper()
	f := &fixture{mock: httpmock.NewMockTransport(), now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	cfg := notifier.Config{
		URL: zd, Email: "clonebot@example.com", APIToken: "tok", BotUserID: 361100000001,
		HTTPClient: &http.Client{Transport: f.mock}, Now: f.clock,
		BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 30 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sleeps = append(f.sleeps, d)
			return nil
		},
		Observer: func(method, route string, status int, retry bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls = append(f.calls, fmt.Sprintf("%s %s %d %v", method, route, status, retry))
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := notifier.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

func seq(rs ...*http.Response) httpmock.Responder { return httpmock.ResponderFromMultipleResponses(rs) }

func withRetryAfter(r *http.Response, v string) *http.Response {
	r.Header.Set("Retry-After", v)
	return r
}

const ticketURL = zd + "/api/v2/tickets/4821348213.json"

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []notifier.Config{
		{URL: "acme", Email: "e", APIToken: "t", BotUserID: 361100000001},
		{URL: zd, BotUserID: 361100000001},
		{URL: zd, Email: "e", APIToken: "t"},
		{URL: zd, OAuth: &notifier.OAuthConfig{ClientID: "x"}, BotUserID: 361100000001},
	} {
		if _, err := notifier.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mod  func(*notifier.Config)
		want string
	}{
		"api token": {nil, "Basic " + base64.StdEncoding.EncodeToString([]byte("clonebot@example.com/token:tok"))},
		"bearer":    {func(c *notifier.Config) { c.BearerToken = "static" }, "Bearer static"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tc.mod)
			var got string
			f.mock.RegisterResponder("GET", ticketURL, func(r *http.Request) (*http.Response, error) {
				got = r.Header.Get("Authorization")
				return httpmock.NewStringResponse(200, `{"ticket":{"id":4821348213}}`), nil
			})
			if _, err := f.client.Ticket(context.Background(), 4821348213); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Authorization = %q, want %q", got, tc.want)
			}
		})
	}
}

// A ticket comes decoded, numeric custom field values included; a body that is no
// ticket is ErrMalformed, which no retry can fix.
func TestTicketIsDecoded(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	body := `{"ticket":{"id":4821348213,"status":"Open","custom_fields":[{"id":360042000001,"value":17},{"id":360042000002,"value":"acme"}]}}`
	f.mock.RegisterResponder("GET", ticketURL, httpmock.NewStringResponder(200, body))
	got, err := f.client.Ticket(context.Background(), 4821348213)
	if err != nil || got.ID != 4821348213 || got.Status != "open" || got.CustomFields[360042000001] != "17" || got.CustomFields[360042000002] != "acme" {
		t.Fatalf("Ticket = %+v, %v", got, err)
	}
	f.mock.RegisterResponder("GET", ticketURL, httpmock.NewStringResponder(200, `{"ticket":{"id":"x"}}`))
	if _, err := f.client.Ticket(context.Background(), 4821348213); !errors.Is(err, notifier.ErrMalformed) {
		t.Fatalf("a ticket without a valid id: %v, want ErrMalformed", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := func() *http.Response { return httpmock.NewStringResponse(200, `{"ticket":{"id":4821348213}}`) }
	for name, tc := range map[string]struct {
		responder httpmock.Responder
		calls     int
		sleeps    []time.Duration // exact; nil with backoff set means check ranges
		backoff   int             // number of backoff sleeps expected
		check     func(t *testing.T, err error)
	}{
		"429 honours Retry-After": {
			responder: seq(withRetryAfter(httpmock.NewStringResponse(429, ""), "3"), ok()),
			calls:     2, sleeps: []time.Duration{3 * time.Second},
		},
		"503 honours Retry-After": {
			responder: seq(withRetryAfter(httpmock.NewStringResponse(503, ""), "2"), ok()),
			calls:     2, sleeps: []time.Duration{2 * time.Second},
		},
		"500 backs off": {
			responder: seq(httpmock.NewStringResponse(500, ""), httpmock.NewStringResponse(502, ""), ok()),
			calls:     3, backoff: 2,
		},
		"transport error backs off": {
			responder: httpmock.NewErrorResponder(errors.New("connection reset")).Once().Then(httpmock.ResponderFromResponse(ok())),
			calls:     2, backoff: 1,
		},
		"gives up after max attempts": {
			responder: httpmock.NewStringResponder(500, `{"error":"boom"}`),
			calls:     4, backoff: 3,
			check: func(t *testing.T, err error) {
				var se *notifier.StatusError
				if !errors.As(err, &se) || se.Status != 500 {
					t.Fatalf("err = %v, want a 500 StatusError", err)
				}
			},
		},
		"long Retry-After is returned to snooze": {
			responder: withRetryAfter429("120"),
			calls:     1,
			check: func(t *testing.T, err error) {
				var rl *notifier.RateLimitError
				if !errors.As(err, &rl) || rl.RetryAfter != 120*time.Second {
					t.Fatalf("err = %v, want RateLimitError{120s}", err)
				}
			},
		},
		"repeated 429 ends in a rate limit error": {
			responder: withRetryAfter429("1"),
			calls:     4, sleeps: []time.Duration{time.Second, time.Second, time.Second},
			check: func(t *testing.T, err error) {
				var rl *notifier.RateLimitError
				if !errors.As(err, &rl) || rl.Status != 429 {
					t.Fatalf("err = %v, want RateLimitError", err)
				}
			},
		},
		"404 is not retried": {
			responder: httpmock.NewStringResponder(404, `{"error":"RecordNotFound"}`),
			calls:     1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, notifier.ErrNotFound) || !strings.Contains(err.Error(), "get ticket 4821348213") {
					t.Fatalf("err = %v, want wrapped ErrNotFound", err)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			f.mock.RegisterResponder("GET", ticketURL, tc.responder)
			_, err := f.client.Ticket(context.Background(), 4821348213)
			if tc.check != nil {
				tc.check(t, err)
			} else if err != nil {
				t.Fatal(err)
			}
			if n := f.mock.GetTotalCallCount(); n != tc.calls {
				t.Fatalf("%d calls, want %d", n, tc.calls)
			}
			slept := f.slept()
			if tc.sleeps != nil && fmt.Sprint(slept) != fmt.Sprint(tc.sleeps) {
				t.Fatalf("slept %v, want %v", slept, tc.sleeps)
			}
			if tc.backoff > 0 {
				if len(slept) != tc.backoff {
					t.Fatalf("slept %v, want %d backoffs", slept, tc.backoff)
				}
				for i, d := range slept {
					hi := min(100*time.Millisecond<<i, time.Second)
					if d < hi/2 || d > hi {
						t.Errorf("backoff %d = %s, want within [%s, %s]", i, d, hi/2, hi)
					}
				}
			}
		})
	}
}

func withRetryAfter429(v string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		return withRetryAfter(httpmock.NewStringResponse(429, ""), v), nil
	}
}

func TestObserverSeesRoutesWithoutIDs(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.mock.RegisterResponder("GET", ticketURL, seq(httpmock.NewStringResponse(503, ""), httpmock.NewStringResponse(200, `{"ticket":{"id":4821348213}}`)))
	if _, err := f.client.Ticket(context.Background(), 4821348213); err != nil {
		t.Fatal(err)
	}
	want := "[GET /api/v2/tickets/:id 503 true GET /api/v2/tickets/:id 200 false]"
	if got := fmt.Sprint(f.calls); got != want {
		t.Fatalf("observed %s, want %s", got, want)
	}
	for in, want := range map[string]string{
		"/api/v2/tickets/123/tags.json":                  "/api/v2/tickets/:id/tags",
		"/api/v2/uploads/6bk3gql82em5nmfq0aa1b2c3d.json": "/api/v2/uploads/:id",
		"/oauth/tokens": "/oauth/tokens",
	} {
		if got := notifier.Route(in); got != want {
			t.Errorf("Route(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestOAuthTokenCachedAndRefreshed(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *notifier.Config) {
		c.APIToken = ""
		c.OAuth = &notifier.OAuthConfig{ClientID: "clonebot", ClientSecret: "s3cret"}
	})
	var mu sync.Mutex
	issued := 0
	f.mock.RegisterResponder("POST", zd+"/oauth/tokens", func(r *http.Request) (*http.Response, error) {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != "clonebot" || r.PostForm.Get("client_secret") != "s3cret" {
			return httpmock.NewStringResponse(401, `{"error":"invalid_client"}`), nil
		}
		if got := r.PostForm.Get("scope"); got != "read write" {
			return httpmock.NewStringResponse(400, `{"error":"invalid_scope","error_description":"scope `+got+`"}`), nil
		}
		mu.Lock()
		defer mu.Unlock()
		issued++
		return httpmock.NewJsonResponse(200, map[string]any{"access_token": fmt.Sprintf("t%d", issued), "token_type": "bearer", "expires_in": 600})
	})
	var auths []string
	f.mock.RegisterResponder("GET", ticketURL, func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		auths = append(auths, r.Header.Get("Authorization"))
		if len(auths) == 4 {
			return httpmock.NewStringResponse(401, ""), nil // revoked early
		}
		return httpmock.NewStringResponse(200, `{"ticket":{"id":4821348213}}`), nil
	})
	ctx := context.Background()
	get := func() {
		t.Helper()
		if _, err := f.client.Ticket(ctx, 4821348213); err != nil {
			t.Fatal(err)
		}
	}
	get()
	get()
	f.advance(9*time.Minute + 30*time.Second) // within a minute of expiry: refresh
	get()
	get() // t2 is refused with 401: fetch t3 and retry once
	if want := "[Bearer t1 Bearer t1 Bearer t2 Bearer t2 Bearer t3]"; fmt.Sprint(auths) != want {
		t.Fatalf("auth headers %v, want %s", auths, want)
	}
}

func TestActivateNonDefaultAfterNew(t *testing.T) {
	hc := &http.Client{}
	c, err := notifier.New(notifier.Config{URL: zd, Email: "e@example.com", APIToken: "t", BotUserID: 361100000001, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	httpmock.ActivateNonDefault(hc)
	defer httpmock.DeactivateNonDefault(hc)
	httpmock.RegisterResponder("GET", zd+"/api/v2/users/361112345678.json", httpmock.NewStringResponder(200, `{"user":{"id":361112345678,"role":"agent"}}`))
	u, err := c.User(context.Background(), 361112345678)
	if err != nil || u.Role != "agent" {
		t.Fatalf("User = %+v, %v", u, err)
	}
}

// A page of the incremental export holds up to 1,000 whole tickets: with long
// descriptions it passes 16 MiB, and must still be read, or the sweep stops at it.
func TestExportReadsALargePage(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	var b strings.Builder
	b.WriteString(`{"tickets":[`)
	description := strings.Repeat("A long email thread, quoted again and again. ", 400) // about 18 KB
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"status":"open","tags":["sandbox_clone"],"description":%q}`, 4294967296+int64(i), description)
	}
	b.WriteString(`],"after_cursor":"c2","end_of_stream":true}`)
	if b.Len() <= 16<<20 {
		t.Fatalf("the page is %d bytes, not past 16 MiB", b.Len())
	}
	f.mock.RegisterResponder("GET", zd+"/api/v2/incremental/tickets/cursor.json", httpmock.NewStringResponder(200, b.String()))
	page, err := f.client.TicketsChanged(context.Background(), "c1", time.Time{})
	if err != nil || len(page.Tickets) != 1000 || page.Cursor != "c2" || page.Tickets[999].ID != 4294967296+999 {
		t.Fatalf("TicketsChanged: %d tickets, cursor %q, %v", len(page.Tickets), page.Cursor, err)
	}
}

func TestAuditsReadsAllPages(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	audits := zd + "/api/v2/tickets/4821348213/audits.json"
	page1 := `{"audits":[{"id":31415926535898,"author_id":361123456789},{"id":31415926535900,"author_id":361112345678}],"meta":{"has_more":true,"after_cursor":"c1"}}`
	page2 := `{"audits":[{"id":31415926535902,"author_id":361112345678,"via":{"channel":"rule"}}],"meta":{"has_more":false,"after_cursor":"c2"}}`
	f.mock.RegisterResponderWithQuery("GET", audits, "page%5Bsize%5D=100", httpmock.NewStringResponder(200, page1))
	f.mock.RegisterResponderWithQuery("GET", audits, "page%5Bafter%5D=c1&page%5Bsize%5D=100", httpmock.NewStringResponder(200, page2))
	got, err := f.client.Audits(context.Background(), 4821348213)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, a := range got {
		parts = append(parts, fmt.Sprintf("%d by %d rule=%v", a.ID, a.AuthorID, a.ViaRule))
	}
	want := "[31415926535898 by 361123456789 rule=false 31415926535900 by 361112345678 rule=false 31415926535902 by 361112345678 rule=true]"
	if fmt.Sprint(parts) != want {
		t.Fatalf("Audits = %v, want %s", parts, want)
	}
	f.mock.RegisterResponderWithQuery("GET", audits, "page%5Bafter%5D=c1&page%5Bsize%5D=100", httpmock.NewStringResponder(200, `{"audits":[{"id":"soon"}]}`))
	if _, err := f.client.Audits(context.Background(), 4821348213); !errors.Is(err, notifier.ErrMalformed) {
		t.Fatalf("an audit without a valid id: %v, want ErrMalformed", err)
	}
}

func TestUserAndOrganizations(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.mock.RegisterResponder("GET", zd+"/api/v2/users/361123456789.json", httpmock.NewStringResponder(200,
		`{"user":{"id":361123456789,"role":"end-user","active":true,"suspended":false,"organization_id":360099887766}}`))
	f.mock.RegisterResponder("GET", zd+"/api/v2/users/361112345678.json", httpmock.NewStringResponder(200,
		`{"user":{"id":361112345678,"role":"agent","active":false,"suspended":true,"organization_id":null}}`))
	members := zd + "/api/v2/users/361123456789/organization_memberships.json"
	f.mock.RegisterResponderWithQuery("GET", members, "page%5Bsize%5D=100", httpmock.NewStringResponder(200,
		`{"organization_memberships":[{"organization_id":360099887766},{"organization_id":360011112222}],"meta":{"has_more":true,"after_cursor":"m1"}}`))
	f.mock.RegisterResponderWithQuery("GET", members, "page%5Bafter%5D=m1&page%5Bsize%5D=100", httpmock.NewStringResponder(200,
		`{"organization_memberships":[{"organization_id":360011113333}],"meta":{"has_more":false}}`))
	ctx := context.Background()
	u, err := f.client.User(ctx, 361112345678)
	if err != nil || u != (notifier.User{ID: 361112345678, Role: "agent", Active: false, Suspended: true}) {
		t.Fatalf("User = %+v, %v", u, err)
	}
	orgs, err := f.client.Organizations(ctx, 361123456789)
	if err != nil || fmt.Sprint(orgs) != "[360099887766 360011112222 360011113333]" {
		t.Fatalf("Organizations = %v, %v", orgs, err)
	}
}

// announceMocks registers a ticket with the given comment bodies and tags and
// records what the client sends.
type sent struct {
	mu      sync.Mutex
	comment map[string]any
	added   []string
	removed []string
	uploads []string // "name?token=... content-type"
}

func announceMocks(f *fixture, comments []string, tags []string) *sent {
	s := &sent{}
	list := map[string]any{"meta": map[string]any{"has_more": false}}
	var cs []map[string]any
	for _, b := range comments {
		cs = append(cs, map[string]any{"body": b})
	}
	list["comments"] = cs
	f.mock.RegisterResponder("GET", zd+"/api/v2/tickets/4821348213/comments.json", httpmock.NewJsonResponderOrPanic(200, list))
	f.mock.RegisterResponder("GET", zd+"/api/v2/tickets/4821348213/tags.json", httpmock.NewJsonResponderOrPanic(200, map[string]any{"tags": tags}))
	f.mock.RegisterResponder("PUT", zd+"/api/v2/tickets/4821348213/tags.json", func(r *http.Request) (*http.Response, error) {
		var body struct{ Tags []string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.added = append(s.added, body.Tags...)
		s.mu.Unlock()
		return httpmock.NewStringResponse(200, `{"tags":[]}`), nil
	})
	f.mock.RegisterResponder("DELETE", zd+"/api/v2/tickets/4821348213/tags.json", func(r *http.Request) (*http.Response, error) {
		var body struct{ Tags []string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.removed = append(s.removed, body.Tags...)
		s.mu.Unlock()
		return httpmock.NewStringResponse(200, `{"tags":[]}`), nil
	})
	f.mock.RegisterResponder("PUT", ticketURL, func(r *http.Request) (*http.Response, error) {
		var body struct {
			Ticket struct{ Comment map[string]any }
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.comment = body.Ticket.Comment
		s.mu.Unlock()
		return httpmock.NewStringResponse(200, `{"ticket":{"id":4821348213},"audit":{"events":[]}}`), nil
	})
	f.mock.RegisterResponder("POST", zd+"/api/v2/uploads.json", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.uploads = append(s.uploads, fmt.Sprintf("%s?token=%s %s %s", r.URL.Query().Get("filename"), r.URL.Query().Get("token"), r.Header.Get("Content-Type"), b))
		s.mu.Unlock()
		return httpmock.NewStringResponse(201, `{"upload":{"token":"tok1"}}`), nil
	})
	return s
}

func TestAnnouncePostsOnceWithStatusTag(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	s := announceMocks(f, []string{"hello"}, []string{"sandbox_clone", "clone_status_received", "vip", "clone_status_needs_info"})
	err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{
		Key: "4821348213/ready", Public: false, Body: "Plan attached.", StatusTag: "clone_status_ready",
		Attachments: []notifier.File{
			{Name: "plan.csv", ContentType: "text/csv", Data: []byte("a,b")},
			{Name: "empty.txt", Data: nil},
			{Name: "drafts.json", ContentType: "application/json", Data: []byte("{}")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := s.comment
	if c["public"] != false || c["author_id"] != float64(361100000001) || c["body"] != "Plan attached.\n\nRef: clonebot/4821348213/ready" || fmt.Sprint(c["uploads"]) != "[tok1]" {
		t.Fatalf("comment = %v", c)
	}
	if want := "[plan.csv?token= text/csv a,b drafts.json?token=tok1 application/json {}]"; fmt.Sprint(s.uploads) != want {
		t.Fatalf("uploads = %v, want %s", s.uploads, want)
	}
	if fmt.Sprint(s.added) != "[clone_status_ready]" || fmt.Sprint(s.removed) != "[clone_status_received clone_status_needs_info]" {
		t.Fatalf("added %v removed %v", s.added, s.removed)
	}
}

func TestAnnounceSkipsPostedComment(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	s := announceMocks(f, []string{"Your sandbox is ready.\n\nRef: clonebot/4821348213/ready", "older"}, []string{"clone_status_running"})
	err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{Key: "4821348213/ready", Public: true, Body: "Your sandbox is ready.", StatusTag: "clone_status_ready"})
	if err != nil {
		t.Fatal(err)
	}
	if s.comment != nil {
		t.Fatalf("posted again: %v", s.comment)
	}
	if fmt.Sprint(s.added) != "[clone_status_ready]" || fmt.Sprint(s.removed) != "[clone_status_running]" {
		t.Fatalf("status tag not finished: added %v removed %v", s.added, s.removed)
	}
	// A key that is a prefix of the posted one is a different announcement.
	if err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{Key: "4821348213/read", Body: "x"}); err != nil || s.comment == nil {
		t.Fatalf("prefix key not posted: %v", err)
	}
}

func TestAnnounceDoesNotReplayCommentAfter500(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	announceMocks(f, nil, nil)
	f.mock.RegisterResponder("PUT", ticketURL, httpmock.NewStringResponder(500, ""))
	err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{Key: "k", Body: "x"})
	if err == nil || f.mock.GetCallCountInfo()["PUT "+ticketURL] != 1 {
		t.Fatalf("err = %v, PUT calls = %d; a comment must not be re-sent blindly", err, f.mock.GetCallCountInfo()["PUT "+ticketURL])
	}
}

func TestAnnounceClosedTicket(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	announceMocks(f, nil, nil)
	f.mock.RegisterResponder("PUT", ticketURL, httpmock.NewStringResponder(422, `{"error":"RecordInvalid","details":{"status":[{"description":"Status: closed prevents ticket update"}]}}`))
	err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{Key: "k", Body: "x"})
	if !errors.Is(err, notifier.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	if got := notifier.Reference("4821348213/ready"); got != "Ref: clonebot/4821348213/ready" {
		t.Errorf("Reference = %q", got)
	}
	a, b := notifier.Reference("a b"), notifier.Reference("a-b")
	if a == b || !strings.HasPrefix(a, "Ref: clonebot/a-b-") {
		t.Errorf("distinct keys collide: %q %q", a, b)
	}
}

func TestOAuthScopesAndRefusedClient(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *notifier.Config) {
		c.APIToken = ""
		c.OAuth = &notifier.OAuthConfig{ClientID: "clonebot", ClientSecret: "wrong", Scopes: []string{"tickets:read", "tickets:write", "users:read"}}
	})
	var scopes []string
	f.mock.RegisterResponder("POST", zd+"/oauth/tokens", func(r *http.Request) (*http.Response, error) {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		scopes = append(scopes, r.PostForm.Get("scope"))
		if r.PostForm.Get("client_secret") != "s3cret" {
			return httpmock.NewStringResponse(401, `{"error":"invalid_client","error_description":"Client authentication failed"}`), nil
		}
		return httpmock.NewJsonResponse(200, map[string]any{"access_token": "t1", "token_type": "bearer", "expires_in": 600})
	})
	f.mock.RegisterResponder("GET", ticketURL, httpmock.NewStringResponder(200, "{}"))
	// The refusal is retried like any token failure, then reported.
	_, err := f.client.Ticket(context.Background(), 42)
	var se *notifier.StatusError
	if !errors.As(err, &se) || se.Status != 401 || !strings.Contains(se.Body, "invalid_client") {
		t.Fatalf("refused client: err = %v, want a 401 StatusError naming invalid_client", err)
	}
	if want := "tickets:read tickets:write users:read"; len(scopes) == 0 || scopes[0] != want {
		t.Errorf("scopes asked %q, want %q", scopes, want)
	}
	if !slices.Contains(f.calls, "POST /oauth/tokens 401 false") {
		t.Errorf("token requests not observed: %v", f.calls)
	}
}

func TestRetryLogNamesTicketAttemptAndCause(t *testing.T) {
	t.Parallel()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	f := setup(t, func(c *notifier.Config) { c.Logger = logrus.NewEntry(logger) })
	f.mock.RegisterResponder("GET", zd+"/api/v2/users/361112345678.json", seq(httpmock.NewStringResponse(502, ""), httpmock.NewStringResponse(200, `{"user":{"id":361112345678,"role":"agent"}}`)))
	ctx := notifier.WithTicket(context.Background(), 4200000001) // the user is looked up for this ticket
	if _, err := f.client.User(ctx, 361112345678); err != nil {
		t.Fatal(err)
	}
	var retry *logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Message == "zendesk: retrying" {
			retry = e
		}
	}
	if retry == nil {
		t.Fatal("no retry was logged")
	}
	want := logrus.Fields{"ticket": int64(4200000001), "attempt": 1, "cause": "HTTP 502", "route": "/api/v2/users/:id", "method": "GET"}
	for k, v := range want {
		if retry.Data[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, retry.Data[k], retry.Data[k], v)
		}
	}
}

// A file given by its path is streamed with its length announced, and sent whole
// again when the upload is retried.
func TestAnnounceUploadsFilesFromDisk(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	s := announceMocks(f, nil, nil)
	path := filepath.Join(t.TempDir(), "export.zip")
	content := strings.Repeat("zip bytes ", 100_000)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var lengths []int64
	attempts := 0
	f.mock.RegisterResponder("POST", zd+"/api/v2/uploads.json", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		attempts++
		lengths = append(lengths, r.ContentLength)
		if attempts == 1 {
			return httpmock.NewStringResponse(503, ""), nil
		}
		s.uploads = append(s.uploads, fmt.Sprintf("%s %s %t", r.URL.Query().Get("filename"), r.Header.Get("Content-Type"), string(b) == content))
		return httpmock.NewStringResponse(201, `{"upload":{"token":"tok1"}}`), nil
	})
	err := f.client.Announce(context.Background(), 4821348213, notifier.Announcement{
		Key: "4821348213/export/1/1", Public: true, Body: "Saved.",
		Attachments: []notifier.File{{Name: "export.zip", ContentType: "application/zip", Path: path}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.uploads) != "[export.zip application/zip true]" || fmt.Sprint(lengths) != fmt.Sprintf("[%d %d]", len(content), len(content)) {
		t.Fatalf("uploads %v, lengths %v", s.uploads, lengths)
	}
	if fmt.Sprint(s.comment["uploads"]) != "[tok1]" {
		t.Fatalf("comment = %v", s.comment)
	}
	// A file that is not there fails the announcement before anything is posted.
	err = f.client.Announce(context.Background(), 4821348213, notifier.Announcement{
		Key: "4821348213/export/1/2", Public: true, Body: "Saved.",
		Attachments: []notifier.File{{Name: "gone.zip", Path: filepath.Join(t.TempDir(), "gone.zip")}},
	})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("announce of a missing file: %v", err)
	}
}
