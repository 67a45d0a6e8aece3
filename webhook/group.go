package webhook

import (
	"context"
	"slices"
	"sync"
)

// Under load, deliveries arriving together share one transaction: one BEGIN, one
// pipelined round trip of their statements, one job insert and one COMMIT (one WAL
// flush) for the whole group. At low load a group holds one delivery and adds
// nothing. There is no background goroutine: the request goroutines themselves take
// turns at leading, up to maxLeaders groups in flight at once, and a leader hands its
// turn to a waiting request when its group is done.
const (
	maxLeaders = 4
	maxGroup   = 64
)

// group is the queue of deliveries waiting for a transaction.
type group struct {
	run func(context.Context, []Event) []reply // delivers a group; one reply per event

	mu      sync.Mutex
	queue   []*waiter
	leaders int
}

type waiter struct {
	ev Event
	// leadPending (guarded by group.mu) is set while a lead turn sent on done is
	// unread, so that a waiter never holds two.
	leadPending bool
	done        chan reply // buffered for one lead turn and one result
}

type reply struct {
	outcome Outcome
	err     error
	lead    bool // not a result: lead the next group
}

// deliver queues ev and returns its result. The request either leads a group or waits
// for a leader to deliver it. It stops waiting at ctx's end only while still queued:
// once in a transaction, it waits for the outcome so that it never answers 503 for a
// delivery that was in fact committed (which would only cost a duplicate, but still).
func (g *group) deliver(ctx context.Context, ev Event) (Outcome, error) {
	w := &waiter{ev: ev, done: make(chan reply, 2)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := g.leaders < maxLeaders
	if lead {
		g.leaders++
	}
	g.mu.Unlock()
	for {
		if lead {
			lead = false
			g.lead(ctx)
		}
		select {
		case r := <-w.done:
			if r.lead {
				g.mu.Lock()
				w.leadPending = false
				g.mu.Unlock()
				lead = true
				continue
			}
			return r.outcome, r.err
		case <-ctx.Done():
			if g.abandon(w) {
				return 0, ctx.Err()
			}
			ctx = context.WithoutCancel(ctx)
		}
	}
}

// lead delivers one group from the head of the queue, then passes the turn on.
func (g *group) lead(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	g.mu.Unlock()
	if n > 0 {
		evs := make([]Event, n)
		for i, w := range batch {
			evs[i] = w.ev
		}
		for i, r := range g.run(context.WithoutCancel(ctx), evs) {
			batch[i].done <- r
		}
	}
	g.mu.Lock()
	g.passLeadLocked()
	g.mu.Unlock()
}

// passLeadLocked gives the turn to the first queued request without one, or retires it.
func (g *group) passLeadLocked() {
	for _, w := range g.queue {
		if !w.leadPending {
			w.leadPending = true
			w.done <- reply{lead: true}
			return
		}
	}
	g.leaders--
}

// abandon removes w if it is still queued, passing on a turn it was given.
func (g *group) abandon(w *waiter) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.queue, w)
	if i < 0 {
		return false
	}
	g.queue = slices.Delete(g.queue, i, i+1)
	if w.leadPending {
		g.passLeadLocked()
	}
	return true
}
