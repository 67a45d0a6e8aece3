package lifecycle

import (
	"fmt"
	"time"

	"github.com/gaiia/clonebot/config"
)

// Window is a daily low-activity window in a tenant's time zone.
type Window struct {
	Start, End time.Duration // since local midnight; End <= Start wraps midnight
	Loc        *time.Location
}

// NewWindow reads the configured window for a tenant's zone.
func NewWindow(w config.Window, loc *time.Location) (Window, error) {
	start, err := config.ParseClock(w.Start)
	if err != nil {
		return Window{}, fmt.Errorf("window start: %w", err)
	}
	end, err := config.ParseClock(w.End)
	if err != nil {
		return Window{}, fmt.Errorf("window end: %w", err)
	}
	return Window{Start: start, End: end, Loc: loc}, nil
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
	f := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return f(w.Start) + "-" + f(w.End) + " " + w.Loc.String()
}
