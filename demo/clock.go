package demo

import (
	"sync"
	"time"
)

// Clock is the real time shifted by an offset that the story can move, so the bot
// can be taken into its low-activity window without waiting for the night.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen time.Time // when set, Now returns it
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen
	}
	return time.Now().Add(c.offset)
}

// Set moves the clock so that Now returns t, and lets it run.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.frozen = time.Until(t), time.Time{}
}

// Freeze stops the clock at its present reading: every change falls in the same
// second, as bursts do in Zendesk.
func (c *Clock) Freeze() {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = now.Truncate(time.Second).Add(100 * time.Millisecond)
}
