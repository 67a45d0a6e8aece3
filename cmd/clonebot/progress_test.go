package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/cloner"
)

// fakeClock advances by a step at each reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

// cloneEvents is what a clone of two tables reports, from preflight to done.
func cloneEvents() []cloner.Progress {
	const planned = 4 << 20
	ev := []cloner.Progress{{Phase: "preflight"}, {Phase: "export"}, {Phase: "wipe"}}
	copyEv := func(idx int, table string, tableBytes, total int64, done bool, rows int64) cloner.Progress {
		return cloner.Progress{Phase: "copy", Table: table, TableIndex: idx, Tables: 2, TableBytes: tableBytes, TotalBytes: total,
			TableDone: done, Rows: rows, PlannedBytes: planned, TablePlannedBytes: planned / 2}
	}
	ev = append(ev,
		copyEv(1, "public.plans", 0, 0, false, 0),
		copyEv(1, "public.plans", 1<<20, 1<<20, false, 0),
		copyEv(1, "public.plans", 2<<20, 2<<20, true, 1),
		copyEv(2, "public.taxes", 0, 2<<20, false, 0),
		copyEv(2, "public.taxes", 1<<20, 3<<20, false, 0),
		copyEv(2, "public.taxes", 2<<20, 4<<20, true, 10),
		cloner.Progress{Phase: "rebuild", Done: 1, Steps: 3}, cloner.Progress{Phase: "rebuild", Done: 3, Steps: 3},
		cloner.Progress{Phase: "sequences"},
		cloner.Progress{Phase: "verify", Done: 2, Steps: 2},
		cloner.Progress{Phase: "commit"}, cloner.Progress{Phase: "done"},
	)
	return ev
}

func render(terminal bool) string {
	var b bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), step: 250 * time.Millisecond}
	p := newProgress(&console{w: &b, terminal: terminal}, clock.now)
	for _, ev := range cloneEvents() {
		p.update(ev)
	}
	p.stop(nil)
	return b.String()
}

func TestProgressOffATerminalIsOneLinePerPhase(t *testing.T) {
	out := render(false)
	if strings.Contains(out, "\r") {
		t.Errorf("redraws off a terminal: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	phases := []string{"preflight", "export", "wipe", "copy", "rebuild", "sequences", "verify", "commit"}
	if len(lines) != len(phases) {
		t.Fatalf("%d lines, want one per phase:\n%s", len(lines), out)
	}
	for i, ph := range phases {
		if !strings.HasPrefix(lines[i], ph+" ") {
			t.Errorf("line %d %q, want phase %s", i, lines[i], ph)
		}
	}
	for _, want := range []string{"2 tables, 11 rows, 4.0 MiB at ", "MB/s", "3 indexes and constraints rebuilt", "2 tables checked against production"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestProgressOnATerminalShowsTotalPercentRateAndETA(t *testing.T) {
	out := render(true)
	// The status line halfway through the first table: 1 MiB of ~4 MiB.
	want := "25%  1.0 MiB of ~4.0 MiB"
	if !strings.Contains(out, want) {
		t.Fatalf("no status line with %q:\n%q", want, out)
	}
	for _, part := range []string{"MB/s", "ETA ", "[1/2] public.plans", "[2/2] public.taxes", "rebuild", "1/3"} {
		if !strings.Contains(out, part) {
			t.Errorf("terminal output lacks %q:\n%q", part, out)
		}
	}
	// Finished phases are whole lines, each after the status line is cleared.
	if !strings.Contains(out, "\r\033[Kcopy ") || !strings.HasSuffix(out, "\n") {
		t.Errorf("phase lines do not replace the status line:\n%q", out)
	}
}

func TestProgressCopyEstimateFollowsTheStreamedRatio(t *testing.T) {
	clock := &fakeClock{t: time.Now(), step: time.Second}
	p := newProgress(&console{w: io.Discard}, clock.now)
	// The first table (1 MiB on disk) streamed 2 MiB: the rest will stream twice its size.
	p.update(cloner.Progress{Phase: "copy", TableDone: true, TotalBytes: 2 << 20, TablePlannedBytes: 1 << 20, PlannedBytes: 3 << 20})
	if got, want := p.expectedBytes(), int64(6<<20); got != want {
		t.Errorf("expected %d bytes, want %d", got, want)
	}
}

func TestProgressStoppedPhase(t *testing.T) {
	var b bytes.Buffer
	clock := &fakeClock{t: time.Now(), step: time.Second}
	p := newProgress(&console{w: &b}, clock.now)
	p.update(cloner.Progress{Phase: "wipe"})
	p.stop(errors.New("lock timeout"))
	if !strings.Contains(b.String(), "wipe") || !strings.Contains(b.String(), "stopped") {
		t.Errorf("a failed phase is not reported: %q", b.String())
	}
}
