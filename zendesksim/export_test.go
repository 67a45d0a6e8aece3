package zendesksim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gaiia/clonebot/zendesksim"
)

// clock is a settable time for the simulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

type exportPage struct {
	Tickets []struct {
		ID                 int64    `json:"id"`
		GeneratedTimestamp int64    `json:"generated_timestamp"`
		Tags               []string `json:"tags"`
	} `json:"tickets"`
	AfterCursor string `json:"after_cursor"`
	EndOfStream bool   `json:"end_of_stream"`
}

func (f fixture) export(t *testing.T, q url.Values) (int, http.Header, exportPage) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.url+"/api/v2/incremental/tickets/cursor.json?"+q.Encode(), nil)
	req.SetBasicAuth(email+"/token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p exportPage
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, resp.Header, p
}

func ids(p exportPage) []int64 {
	var out []int64
	for _, t := range p.Tickets {
		out = append(out, t.ID)
	}
	return out
}

func TestIncrementalTicketExport(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	start := c.Now()
	f := setup(t, zendesksim.Config{Now: c.Now})
	c.Add(time.Second)
	second := f.sim.CreateTicket(f.customer.ID, zendesksim.TicketSpec{Subject: "two"})
	third := f.sim.CreateTicket(f.customer.ID, zendesksim.TicketSpec{Subject: "three"}) // same second
	since := url.Values{"start_time": {itoa(start.Unix())}}

	// Changes of the last minute are left out.
	c.Add(30 * time.Second)
	if status, _, p := f.export(t, since); status != 200 || len(p.Tickets) != 0 || !p.EndOfStream {
		t.Fatalf("within the quiet minute: %d %v end %v, want nothing", status, ids(p), p.EndOfStream)
	}
	c.Add(time.Minute)
	status, _, p := f.export(t, url.Values{"start_time": {itoa(start.Unix())}, "per_page": {"2"}})
	if status != 200 || len(p.Tickets) != 2 || p.EndOfStream || p.Tickets[0].ID != f.ticket.ID || p.Tickets[1].ID != second.ID {
		t.Fatalf("first page: %d %v end %v", status, ids(p), p.EndOfStream)
	}
	if p.Tickets[0].ID <= 1<<32 || p.Tickets[0].GeneratedTimestamp != start.Unix() {
		t.Errorf("ticket %d generated_timestamp %d: want an id past 2^32 and the second of its change", p.Tickets[0].ID, p.Tickets[0].GeneratedTimestamp)
	}
	_, _, p = f.export(t, url.Values{"cursor": {p.AfterCursor}, "per_page": {"2"}})
	if len(p.Tickets) != 1 || p.Tickets[0].ID != third.ID || !p.EndOfStream {
		t.Fatalf("second page: %v end %v, want the third ticket and the end", ids(p), p.EndOfStream)
	}

	// The cursor resumes where the stream ended: a later change only.
	cursor := p.AfterCursor
	if _, err := f.sim.UpdateTicket(second.ID, f.agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}}); err != nil {
		t.Fatal(err)
	}
	c.Add(61 * time.Second)
	_, _, p = f.export(t, url.Values{"cursor": {cursor}})
	if len(p.Tickets) != 1 || p.Tickets[0].ID != second.ID || !p.EndOfStream {
		t.Fatalf("after a change: %v, want the changed ticket only", ids(p))
	}

	if status, _, _ := f.export(t, url.Values{}); status != 400 {
		t.Errorf("no start_time nor cursor: status %d, want 400", status)
	}
	// Ten requests a minute.
	for range 10 {
		f.export(t, url.Values{"cursor": {cursor}})
	}
	status, h, _ := f.export(t, url.Values{"cursor": {cursor}})
	if status != 429 || h.Get("Retry-After") == "" {
		t.Errorf("over the rate limit: status %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
}
