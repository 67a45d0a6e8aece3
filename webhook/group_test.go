package webhook

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many concurrent deliveries all get their own result, in groups of bounded size, with
// never more than maxLeaders groups in flight.
func TestGroupDeliversEveryEventOnce(t *testing.T) {
	t.Parallel()
	var inFlight, maxInFlight, calls, seen atomic.Int64
	g := group{run: func(_ context.Context, evs []Event) []reply {
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		defer inFlight.Add(-1)
		calls.Add(1)
		seen.Add(int64(len(evs)))
		if len(evs) > maxGroup {
			t.Errorf("group of %d", len(evs))
		}
		time.Sleep(2 * time.Millisecond)
		out := make([]reply, len(evs))
		for i, ev := range evs {
			out[i] = reply{outcome: Outcome(ev.TicketID%2) + 1}
		}
		return out
	}}
	const n = 500
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := g.deliver(context.Background(), Event{TicketID: int64(i)})
			if err != nil || out != Outcome(i%2)+1 {
				t.Errorf("event %d: %v %v", i, out, err)
			}
		})
	}
	wg.Wait()
	if seen.Load() != n {
		t.Errorf("delivered %d events, want %d", seen.Load(), n)
	}
	if maxInFlight.Load() > maxLeaders {
		t.Errorf("%d groups in flight, want at most %d", maxInFlight.Load(), maxLeaders)
	}
	if calls.Load() >= n {
		t.Errorf("%d transactions for %d events: nothing was grouped", calls.Load(), n)
	}
	if g.leaders != 0 || len(g.queue) != 0 {
		t.Errorf("left %d leaders, %d queued", g.leaders, len(g.queue))
	}
}

// A request whose context ends while queued leaves the queue, and the rest go on.
func TestGroupAbandonWhileQueued(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	releaseAll := sync.OnceFunc(func() { close(release) })
	defer releaseAll() // also when the test stops early
	var started, seen atomic.Int64
	g := group{run: func(_ context.Context, evs []Event) []reply {
		started.Add(int64(len(evs)))
		<-release
		seen.Add(int64(len(evs)))
		return make([]reply, len(evs))
	}}
	var wg sync.WaitGroup
	// Occupy every leader, one delivery at a time: each waits until the previous one
	// is inside its transaction, so that it leads a group of its own (two arriving
	// together may share one group, leaving a leader free).
	deadline := time.Now().Add(10 * time.Second)
	for i := range maxLeaders {
		wg.Go(func() { _, _ = g.deliver(context.Background(), Event{}) })
		for started.Load() != int64(i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("delivery %d never started", i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	g.mu.Lock()
	leaders, queued := g.leaders, len(g.queue)
	g.mu.Unlock()
	if leaders != maxLeaders || queued != 0 {
		t.Fatalf("%d leaders, %d queued; want every leader busy and none queued", leaders, queued)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.deliver(ctx, Event{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued delivery: %v, want deadline exceeded", err)
	}
	wg.Go(func() { _, _ = g.deliver(context.Background(), Event{}) })
	releaseAll()
	wg.Wait()
	if seen.Load() != maxLeaders+1 {
		t.Errorf("delivered %d, want %d (the abandoned one dropped)", seen.Load(), maxLeaders+1)
	}
	if g.leaders != 0 || len(g.queue) != 0 {
		t.Errorf("left %d leaders, %d queued", g.leaders, len(g.queue))
	}
}
