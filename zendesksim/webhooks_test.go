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

// answer is how a receiver answers one attempt: a status with an optional
// Retry-After, or (hangUp) a connection closed without an answer.
type answer struct {
	status     int
	retryAfter string
	hangUp     bool
}

// receiver records webhooks and answers the given statuses in turn, then 200.
func receiver(t *testing.T, statuses ...int) (string, func() []received) {
	t.Helper()
	answers := make([]answer, len(statuses))
	for i, s := range statuses {
		answers[i] = answer{status: s}
	}
	return answering(t, answers...)
}

// answering records webhooks and gives the answers in turn, then 200.
func answering(t *testing.T, answers ...answer) (string, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		a := answer{status: 200}
		if len(answers) > 0 {
			a, answers = answers[0], answers[1:]
		}
		mu.Unlock()
		if a.hangUp {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
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

func TestEventWebhookDuplicates(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	f := setup(t, zendesksim.Config{WebhookURL: url, WebhookSecret: "shh", WebhookStyle: zendesksim.EventStyle, WebhookRetryDelay: time.Millisecond})
	waitHooks(t, f.sim)
	before := len(got())
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

}

// The simulator retries a delivery exactly as Zendesk documents it, so that a test
// passing here would pass against Zendesk: bare 503s and other 5xx are final.
func TestWebhookRetriesAsZendeskDocuments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		answers  []answer
		attempts int
		status   int
	}{
		{"500 is final", []answer{{status: 500}}, 1, 500},
		{"502 is final", []answer{{status: 502}}, 1, 502},
		{"bare 503 is final", []answer{{status: 503}}, 1, 503},
		{"503 with Retry-After 1 is retried", []answer{{status: 503, retryAfter: "1"}}, 2, 200},
		{"429 with Retry-After 1 is retried", []answer{{status: 429, retryAfter: "1"}}, 2, 200},
		{"503 with Retry-After 60 is final", []answer{{status: 503, retryAfter: "60"}}, 1, 503},
		{"409 is retried", []answer{{status: 409}, {status: 409}}, 3, 200},
		{"409 is retried three times only", []answer{{status: 409}, {status: 409}, {status: 409}, {status: 409}, {status: 409}}, 4, 409},
		{"a dropped connection is retried", []answer{{hangUp: true}}, 2, 200},
		{"400 is final", []answer{{status: 400}}, 1, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, got := answering(t, tc.answers...)
			sim := zendesksim.NewTest(t, zendesksim.Config{WebhookURL: url, WebhookStyle: zendesksim.EventStyle, WebhookAttempts: 10, WebhookRetryDelay: time.Millisecond})
			u := sim.CreateUser("C", "c@example.com", "end-user")
			sim.CreateTicket(u.ID, zendesksim.TicketSpec{Subject: "s"})
			waitHooks(t, sim)
			tries := got()
			if len(tries) != tc.attempts {
				t.Fatalf("the receiver saw %d attempts, want %d", len(tries), tc.attempts)
			}
			if inv := tries[0].header.Get("X-Zendesk-Webhook-Invocation-Id"); inv != tries[len(tries)-1].header.Get("X-Zendesk-Webhook-Invocation-Id") {
				t.Error("the retries of one invocation carry different invocation ids")
			}
			if d := sim.Webhooks(); len(d) != 1 || d[0].Attempts != tc.attempts || d[0].Status != tc.status {
				t.Fatalf("deliveries = %+v, want one of %d attempts ending %d", d, tc.attempts, tc.status)
			}
		})
	}
}
