package schedule

import (
	"testing"
	"time"
)

func TestWindowNext(t *testing.T) {
	toronto, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, toronto)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		start, end string
		now, want  string
	}{
		{"02:00", "05:00", "2026-11-28 01:59", "2026-11-28 02:00"},
		{"02:00", "05:00", "2026-11-28 02:00", "2026-11-28 02:00"},
		{"02:00", "05:00", "2026-11-28 04:59", "2026-11-28 04:59"},
		{"02:00", "05:00", "2026-11-28 05:00", "2026-11-29 02:00"},
		{"02:00", "05:00", "2026-11-28 23:30", "2026-11-29 02:00"},
		{"22:00", "04:00", "2026-11-28 23:30", "2026-11-28 23:30"},
		{"22:00", "04:00", "2026-11-29 03:00", "2026-11-29 03:00"},
		{"22:00", "04:00", "2026-11-29 12:00", "2026-11-29 22:00"},
		// The spring-forward night: 02:00 does not exist, the window opens at 03:00.
		{"02:00", "05:00", "2027-03-14 01:30", "2027-03-14 03:00"},
	}
	for _, tc := range cases {
		w := Windows{Start: hhmm(t, tc.start), End: hhmm(t, tc.end), Zones: map[string]*time.Location{"acme": toronto}}.For("acme")
		got := w.Next(at(tc.now))
		if !got.Equal(at(tc.want)) {
			t.Errorf("%v Next(%s) = %s, want %s", w, tc.now, got.In(toronto).Format("2006-01-02 15:04"), tc.want)
		}
	}
}

func hhmm(t *testing.T, s string) time.Duration {
	t.Helper()
	v, err := time.Parse("15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(v.Hour())*time.Hour + time.Duration(v.Minute())*time.Minute
}

// A tenant whose zone is not known is in UTC; a window that is empty or not within
// a day is refused.
func TestWindowsForAndValidate(t *testing.T) {
	w := Windows{Start: 2 * time.Hour, End: 5 * time.Hour}
	if got := w.For("globex").String(); got != "02:00-05:00 UTC" {
		t.Errorf("For(globex) = %s, want 02:00-05:00 UTC", got)
	}
	if err := w.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Windows{{Start: time.Hour, End: time.Hour}, {Start: 25 * time.Hour, End: time.Hour}, {Start: time.Hour, End: -time.Minute}} {
		if bad.Validate() == nil {
			t.Errorf("%v-%v accepted", bad.Start, bad.End)
		}
	}
}
