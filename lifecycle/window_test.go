package lifecycle

import (
	"testing"
	"time"

	"github.com/gaiia/clonebot/config"
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
		window    config.Window
		now, want string
	}{
		{config.Window{Start: "02:00", End: "05:00"}, "2026-11-28 01:59", "2026-11-28 02:00"},
		{config.Window{Start: "02:00", End: "05:00"}, "2026-11-28 02:00", "2026-11-28 02:00"},
		{config.Window{Start: "02:00", End: "05:00"}, "2026-11-28 04:59", "2026-11-28 04:59"},
		{config.Window{Start: "02:00", End: "05:00"}, "2026-11-28 05:00", "2026-11-29 02:00"},
		{config.Window{Start: "02:00", End: "05:00"}, "2026-11-28 23:30", "2026-11-29 02:00"},
		{config.Window{Start: "22:00", End: "04:00"}, "2026-11-28 23:30", "2026-11-28 23:30"},
		{config.Window{Start: "22:00", End: "04:00"}, "2026-11-29 03:00", "2026-11-29 03:00"},
		{config.Window{Start: "22:00", End: "04:00"}, "2026-11-29 12:00", "2026-11-29 22:00"},
		// The spring-forward night: 02:00 does not exist, the window opens at 03:00.
		{config.Window{Start: "02:00", End: "05:00"}, "2027-03-14 01:30", "2027-03-14 03:00"},
	}
	for _, tc := range cases {
		w, err := NewWindow(tc.window, toronto)
		if err != nil {
			t.Fatal(err)
		}
		got := w.Next(at(tc.now))
		if !got.Equal(at(tc.want)) {
			t.Errorf("%v Next(%s) = %s, want %s", w, tc.now, got.In(toronto).Format("2006-01-02 15:04"), tc.want)
		}
	}
}
