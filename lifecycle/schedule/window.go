// Package schedule says when a clone may run: each tenant's daily low-activity
// window, in the tenant's time zone, across midnight and daylight-saving changes.
package schedule

import (
	"errors"
	"fmt"
	"time"
)

// Window is a daily low-activity window in a tenant's time zone.
type Window struct {
	Start, End time.Duration // since local midnight; End <= Start wraps midnight
	Loc        *time.Location
}

// Windows are the tenants' windows: the same hours of the day, each tenant in its
// own time zone.
type Windows struct {
	Start, End time.Duration // since local midnight; End before Start wraps midnight
	// Zones are the tenants' time zones by tenant name; a tenant not listed is in
	// UTC.
	Zones map[string]*time.Location
}

// Validate refuses an empty window, or hours outside a day.
func (w Windows) Validate() error {
	day := 24 * time.Hour
	if w.Start < 0 || w.Start >= day || w.End < 0 || w.End >= day {
		return fmt.Errorf("schedule: the window %s-%s is not within a day", clock(w.Start), clock(w.End))
	}
	if w.Start == w.End {
		return errors.New("schedule: the window is empty (its end is its start)")
	}
	return nil
}

// For returns the tenant's window.
func (w Windows) For(tenant string) Window {
	loc := w.Zones[tenant]
	if loc == nil {
		loc = time.UTC
	}
	return Window{Start: w.Start, End: w.End, Loc: loc}
}

// Next returns now when now is inside the window, else the window's next start.
func (w Window) Next(now time.Time) time.Time {
	local := now.In(w.Loc)
	for d := -1; d <= 1; d++ {
		s, e := w.bounds(local, d)
		if !now.Before(s) && now.Before(e) {
			return now
		}
	}
	for d := 0; d <= 2; d++ {
		if s, _ := w.bounds(local, d); s.After(now) {
			return s
		}
	}
	panic("unreachable: a daily window starts within two days")
}

// bounds returns the window opening on the day d days from local's day.
func (w Window) bounds(local time.Time, d int) (time.Time, time.Time) {
	y, m, day := local.Date()
	at := func(offset int, since time.Duration) time.Time {
		h, min := int(since/time.Hour), int(since%time.Hour/time.Minute)
		t := time.Date(y, m, day+offset, h, min, 0, 0, w.Loc)
		if t.Hour() != h || t.Minute() != min {
			// The clock skipped this time (a spring-forward gap): Go answers with the
			// time an hour earlier, and the window opens when the gap ends.
			t = t.Add(time.Hour)
		}
		return t
	}
	start := at(d, w.Start)
	if w.End > w.Start {
		return start, at(d, w.End)
	}
	return start, at(d+1, w.End)
}

// String is how the window reads in messages, e.g. "02:00-05:00 America/Toronto".
func (w Window) String() string {
	return clock(w.Start) + "-" + clock(w.End) + " " + w.Loc.String()
}

// clock writes a time of day as HH:MM.
func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
