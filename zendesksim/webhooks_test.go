package zendesksim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/zendesksim"
)

type received struct {
	header http.Header
	body   []byte
}

// receiver records webhooks and answers the given statuses in turn, then 200.
func receiver(t *testing.T, statuses ...int) (string, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		status := 200
		if len(statuses) > 0 {
			status, statuses = statuses[0], statuses[1:]
		}
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func waitHooks(t *testing.T, sim *zendesksim.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTriggerWebhookIsSignedAndStringly(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	f := setup(t, zendesksim.Config{WebhookURL: url, WebhookSecret: "shh", TriggerTag: "sandbox_clone"})
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	waitHooks(t, f.sim)
	hooks := got()
	if len(hooks) != 2 { // creation and the tag change
		t.Fatalf("got %d webhooks", len(hooks))
	}
	h := hooks[1]
	stamp := h.header.Get("X-Zendesk-Webhook-Signature-Timestamp")
	if _, err := time.Parse(time.RFC3339, stamp); err != nil {
		t.Fatalf("timestamp %q: %v", stamp, err)
	}
	if h.header.Get("X-Zendesk-Webhook-Signature") != zendesksim.Sign("shh", stamp, h.body) {
		t.Fatal("bad signature")
	}
	for _, k := range []string{"X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id", "X-Zendesk-Account-Id"} {
		if h.header.Get(k) == "" {
			t.Errorf("missing %s", k)
		}
	}
	var body map[string]string
	if err := json.Unmarshal(h.body, &body); err != nil {
		t.Fatalf("body is not all strings: %v", err)
	}
	if body["ticket_id"] != itoa(f.ticket.ID) || body["actor_id"] != itoa(f.agent.ID) || body["tags"] != "sandbox_clone clone_approved" || body["actor_role"] != "Agent" {
		t.Fatalf("body = %v", body)
	}
}

func TestEventWebhookRetriesAndDuplicates(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	f := setup(t, zendesksim.Config{WebhookURL: url, WebhookSecret: "shh", WebhookStyle: zendesksim.EventStyle, WebhookRetryDelay: time.Millisecond})
	waitHooks(t, f.sim)
	before := len(got())
	url2, got2 := receiver(t, 500, 503)
	_ = url2
	f.sim.SetWebhookDuplicates(1)
	if _, err := f.sim.UpdateTicket(f.ticket.ID, f.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	waitHooks(t, f.sim)
	hooks := got()[before:]
	if len(hooks) != 2 {
		t.Fatalf("got %d webhooks, want the event and its duplicate", len(hooks))
	}
	if hooks[0].header.Get("X-Zendesk-Webhook-Invocation-Id") == hooks[1].header.Get("X-Zendesk-Webhook-Invocation-Id") {
		t.Error("duplicates share an invocation id")
	}
	var ev struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		Detail struct {
			ActorID string `json:"actor_id"`
			ID      string `json:"id"`
			Status  string `json:"status"`
		} `json:"detail"`
		Event struct {
			TagsAdded []string `json:"tags_added"`
		} `json:"event"`
	}
	if err := json.Unmarshal(hooks[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "zen:event-type:ticket.tags_changed" || ev.Detail.ActorID != itoa(f.agent.ID) || ev.Detail.Status != "NEW" || ev.Event.TagsAdded[0] != "clone_approved" || ev.ID == "" {
		t.Fatalf("event = %+v", ev)
	}

	// A receiver that fails twice gets the same invocation three times.
	sim2 := zendesksim.NewTest(t, zendesksim.Config{WebhookURL: url2, WebhookStyle: zendesksim.EventStyle, WebhookRetryDelay: time.Millisecond})
	u := sim2.CreateUser("C", "c@example.com", "end-user")
	sim2.CreateTicket(u.ID, zendesksim.TicketSpec{Subject: "s"})
	waitHooks(t, sim2)
	tries := got2()
	if len(tries) != 3 || tries[0].header.Get("X-Zendesk-Webhook-Invocation-Id") != tries[2].header.Get("X-Zendesk-Webhook-Invocation-Id") {
		t.Fatalf("got %d attempts", len(tries))
	}
	if d := sim2.Webhooks(); len(d) != 1 || d[0].Attempts != 3 || d[0].Status != 200 {
		t.Fatalf("deliveries = %+v", d)
	}
}
