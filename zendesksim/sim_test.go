package zendesksim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/zendesksim"
	"github.com/nukosuke/go-zendesk/zendesk"
)

const (
	email = "clonebot@example.com"
	token = "sekret-token"
)

type fixture struct {
	sim      *zendesksim.Server
	url      string
	customer zendesksim.User
	agent    zendesksim.User
	bot      zendesksim.User
	ticket   zendesksim.Ticket
}

func setup(t *testing.T, cfg zendesksim.Config) fixture {
	t.Helper()
	cfg.Email, cfg.APIToken = email, token
	sim := zendesksim.NewTest(t, cfg)
	f := fixture{sim: sim, url: sim.URL()}
	f.customer = sim.CreateUser("Cara Customer", "cara@acme.example", "end-user")
	f.agent = sim.CreateUser("Ada Agent", "ada@support.example", "agent")
	f.bot = sim.CreateUser("Clonebot", email, "admin")
	org := sim.CreateOrganization("Acme")
	f.ticket = sim.CreateTicket(f.customer.ID, zendesksim.TicketSpec{
		Subject: "Sandbox refresh", Description: "Please clone prod to sandbox", OrganizationID: org,
		Tags: []string{"sandbox_clone"}, CustomFields: map[int64]any{360042000001: "acme-prod", 360042000002: 42},
	})
	return f
}

func (f fixture) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.url+path, rd)
	req.SetBasicAuth(email+"/token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func goZendesk(t *testing.T, url string) *zendesk.Client {
	t.Helper()
	c, err := zendesk.NewClient(&http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetEndpointURL(url + "/api/v2"); err != nil {
		t.Fatal(err)
	}
	c.SetCredential(zendesk.NewAPITokenCredential(email, token))
	return c
}

func TestGoZendeskTalksToSimulator(t *testing.T) {
	t.Parallel()
	f := setup(t, zendesksim.Config{})
	ctx := context.Background()
	zc := goZendesk(t, f.url)

	tk, err := zc.GetTicket(ctx, f.ticket.ID)
	if err != nil {
		t.Fatalf("GetTicket: %v", err)
	}
	if tk.Status != "new" || tk.Subject != "Sandbox refresh" || len(tk.CustomFields) != 2 || tk.CustomFields[1].Value != "42" {
		t.Fatalf("ticket = %+v", tk)
	}
	u, err := zc.GetUser(ctx, f.agent.ID)
	if err != nil || u.Role != "agent" {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	w := zc.UploadAttachment(ctx, "plan.txt", "")
	if _, err := w.Write([]byte("the plan")); err != nil {
		t.Fatal(err)
	}
	up, err := w.Close()
	if err != nil || up.Token == "" || up.Attachment.FileName != "plan.txt" {
		t.Fatalf("upload = %+v, %v", up, err)
	}
	c := zendesk.NewPrivateTicketComment("Preflight plan attached", f.bot.ID)
	c.Uploads = []string{up.Token}
	if _, err := zc.CreateTicketComment(ctx, f.ticket.ID, c); err != nil {
		t.Fatalf("CreateTicketComment: %v", err)
	}
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	audits, _, err := zc.GetTicketAudits(ctx, f.ticket.ID, zendesk.PageOptions{})
	if err != nil || len(audits) != 3 {
		t.Fatalf("GetTicketAudits = %d audits, %v", len(audits), err)
	}
	last := audits[2]
	ev := last.Events[0].(map[string]any)
	if last.AuthorID != f.agent.ID || ev["field_name"] != "tags" || ev["type"] != "Change" {
		t.Fatalf("last audit = %+v", last)
	}
	if prev := ev["previous_value"].([]any); len(prev) != 1 || prev[0] != "sandbox_clone" {
		t.Fatalf("previous_value = %v", prev)
	}
	comments := f.sim.Comments(f.ticket.ID)
	got := comments[len(comments)-1]
	if got.Public || got.AuthorID != f.bot.ID || len(got.Attachments) != 1 || string(got.Attachments[0].Data) != "the plan" {
		t.Fatalf("comment = %+v", got)
	}
}

func TestNumericCustomFieldsBreakGoZendesk(t *testing.T) {
	t.Parallel()
	f := setup(t, zendesksim.Config{NumericCustomFields: true, CustomFieldIDs: []int64{360042000003}})
	_, body := f.do(t, "GET", "/api/v2/tickets/"+itoa(f.ticket.ID)+".json", nil)
	fields := body["ticket"].(map[string]any)["custom_fields"].([]any)
	if len(fields) != 3 || fields[1].(map[string]any)["value"] != float64(42) || fields[2].(map[string]any)["value"] != nil {
		t.Fatalf("custom_fields = %v", fields)
	}
	if _, err := goZendesk(t, f.url).GetTicket(context.Background(), f.ticket.ID); err == nil {
		t.Fatal("go-zendesk decoded a numeric custom field; the simulator should reproduce its failure")
	}
}

func TestTagsSafeUpdateAndClosed(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	f := setup(t, zendesksim.Config{Now: c.Now})
	path := "/api/v2/tickets/" + itoa(f.ticket.ID) + "/tags.json"
	stale := f.ticket.UpdatedAt
	c.Add(time.Second)
	if st, body := f.do(t, "PUT", path, map[string]any{"tags": []string{"clone_status_received"}}); st != 200 || len(body["tags"].([]any)) != 2 {
		t.Fatalf("add = %d %v", st, body)
	}
	if st, _ := f.do(t, "POST", path, map[string]any{"tags": []string{"x"}, "updated_stamp": stale, "safe_update": true}); st != http.StatusConflict {
		t.Fatalf("stale safe update = %d, want 409", st)
	}
	if st, body := f.do(t, "DELETE", path, map[string]any{"tags": []string{"sandbox_clone"}}); st != 200 || len(body["tags"].([]any)) != 1 {
		t.Fatalf("remove = %d %v", st, body)
	}
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{Status: "closed"}); err != nil {
		t.Fatal(err)
	}
	if st, body := f.do(t, "PUT", "/api/v2/tickets/"+itoa(f.ticket.ID)+".json", map[string]any{"ticket": map[string]any{"comment": map[string]any{"body": "hi"}}}); st != 422 || !strings.Contains(toJSON(body), "closed") {
		t.Fatalf("update closed = %d %v", st, body)
	}
	if st, _ := f.do(t, "PUT", path, map[string]any{"tags": []string{"y"}}); st != 422 {
		t.Fatalf("tag closed = %d", st)
	}
}

func TestUpdateTicketResponseHasCommentInAudit(t *testing.T) {
	t.Parallel()
	f := setup(t, zendesksim.Config{})
	st, body := f.do(t, "PUT", "/api/v2/tickets/"+itoa(f.ticket.ID)+".json", map[string]any{"ticket": map[string]any{
		"comment":       map[string]any{"body": "Received", "public": true, "author_id": f.bot.ID},
		"custom_fields": []map[string]any{{"id": 360042000001, "value": "acme-prod2"}},
	}})
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	audit := body["audit"].(map[string]any)
	ev := audit["events"].([]any)[0].(map[string]any)
	if ev["type"] != "Comment" || ev["body"] != "Received" || ev["author_id"] != float64(f.bot.ID) || audit["author_id"] != float64(f.bot.ID) {
		t.Fatalf("audit = %v", audit)
	}
	if got := f.sim.Ticket(f.ticket.ID).CustomFields[360042000001]; got != "acme-prod2" {
		t.Fatalf("field = %v", got)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	f := setup(t, zendesksim.Config{})
	for i := range 4 {
		if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Body: "note " + itoa(int64(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	next := "/api/v2/tickets/" + itoa(f.ticket.ID) + "/comments.json?page[size]=2&sort=-created_at"
	for next != "" {
		_, page := f.do(t, "GET", strings.TrimPrefix(next, f.url), nil)
		for _, c := range page["comments"].([]any) {
			bodies = append(bodies, c.(map[string]any)["body"].(string))
		}
		next = ""
		if page["meta"].(map[string]any)["has_more"] == true {
			next = page["links"].(map[string]any)["next"].(string)
		}
	}
	if strings.Join(bodies, ",") != "note 3,note 2,note 1,note 0,Please clone prod to sandbox" {
		t.Fatalf("comments newest first = %v", bodies)
	}
	_, page := f.do(t, "GET", "/api/v2/tickets/"+itoa(f.ticket.ID)+"/audits.json?per_page=2", nil)
	if page["count"] != float64(5) || page["next_page"] == nil || len(page["audits"].([]any)) != 2 {
		t.Fatalf("offset page = %v", page)
	}
}

func TestAuthAndOAuth(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := setup(t, zendesksim.Config{Now: clock, OAuthClients: map[string]string{"clonebot": "s3"}, TokenTTL: time.Hour})
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", f.url+"/api/v2/users/"+itoa(f.agent.ID)+".json", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(""); st != 401 {
		t.Fatalf("no auth = %d", st)
	}
	resp, err := http.Post(f.url+"/oauth/tokens", "application/json", strings.NewReader(`{"grant_type":"client_credentials","client_id":"clonebot","client_secret":"s3"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.TokenType != "bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token = %+v", tok)
	}
	if st := get("Bearer " + tok.AccessToken); st != 200 {
		t.Fatalf("bearer = %d", st)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if st := get("Bearer " + tok.AccessToken); st != 401 {
		t.Fatalf("expired bearer = %d", st)
	}
	resp, _ = http.Post(f.url+"/oauth/tokens", "application/json", strings.NewReader(`{"grant_type":"client_credentials","client_id":"clonebot","client_secret":"wrong"}`))
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("bad secret = %d", resp.StatusCode)
	}
}

func TestFaultsAndRequestLog(t *testing.T) {
	t.Parallel()
	f := setup(t, zendesksim.Config{})
	f.sim.InjectFault(zendesksim.Fault{Method: "GET", PathPrefix: "/api/v2/tickets/", Status: 429, RetryAfter: 7 * time.Second})
	req, _ := http.NewRequest("GET", f.url+"/api/v2/tickets/"+itoa(f.ticket.ID)+".json", nil)
	req.SetBasicAuth(email+"/token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("fault = %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st, _ := f.do(t, "GET", "/api/v2/tickets/"+itoa(f.ticket.ID)+".json", nil); st != 200 {
		t.Fatalf("after fault = %d", st)
	}
	log := f.sim.Requests()
	if len(log) != 2 || log[0].Status != 429 || log[1].Status != 200 || log[1].Method != "GET" {
		t.Fatalf("log = %+v", log)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
