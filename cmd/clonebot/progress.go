package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/gaiia/clonebot/cloner"
)

// progress renders a clone's progress on the console: every finished phase as one
// line with its duration and what it did; on a terminal, also a live line for the
// running phase (for the copy: total, percent, throughput, elapsed time and ETA).
type progress struct {
	mu    sync.Mutex
	con   *console
	now   func() time.Time
	start time.Time // of the clone

	phase      string
	phaseStart time.Time
	last       cloner.Progress // the latest report of the running phase

	rows         int64 // copied, finished tables
	streamedDone int64 // bytes streamed by finished tables
	plannedDone  int64 // their on-disk size in the plan
	tablesDone   int
}

func newProgress(con *console, now func() time.Time) *progress {
	return &progress{con: con, now: now, start: now()}
}

// update is the clone's Progress callback.
func (p *progress) update(u cloner.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if u.Phase != p.phase {
		p.finishPhase(now)
		p.phase, p.phaseStart = u.Phase, now
	}
	if u.TableDone {
		p.rows += u.Rows
		p.streamedDone = u.TotalBytes
		p.plannedDone += u.TablePlannedBytes
		p.tablesDone++
	}
	p.last = u
	if p.phase != "done" {
		p.con.setStatus(p.statusLine(now))
	}
}

// stop ends the display after a failed or interrupted clone: the running phase is
// reported as not finished.
func (p *progress) stop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.phase != "" && p.phase != "done" {
		p.con.println(fmt.Sprintf("%-9s %7s  stopped: %s", p.phase, duration(p.now().Sub(p.phaseStart)), p.statusDetail(p.now())))
		p.phase = ""
	}
}

func (p *progress) finishPhase(now time.Time) {
	if p.phase == "" || p.phase == "done" {
		return
	}
	line := fmt.Sprintf("%-9s %7s", p.phase, duration(now.Sub(p.phaseStart)))
	if s := p.summary(now); s != "" {
		line += "  " + s
	}
	p.con.println(line)
}

// summary says what a finished phase did.
func (p *progress) summary(now time.Time) string {
	u := p.last
	switch p.phase {
	case "copy":
		return fmt.Sprintf("%s, %s, %s at %s", plural(int64(p.tablesDone), "table", "tables"), plural(p.rows, "row", "rows"),
			cloner.HumanBytes(u.TotalBytes), rate(u.TotalBytes, now.Sub(p.phaseStart)))
	case "rebuild":
		return plural(int64(u.Steps), "index or constraint", "indexes and constraints") + " rebuilt"
	case "verify", "switch":
		if u.Steps > 0 {
			return plural(int64(u.Steps), "table", "tables") + " checked against production"
		}
	}
	return ""
}

func (p *progress) statusLine(now time.Time) string {
	return fmt.Sprintf("%-9s %7s  %s", p.phase, duration(now.Sub(p.start)), p.statusDetail(now))
}

// statusDetail says how far the running phase is.
func (p *progress) statusDetail(now time.Time) string {
	u := p.last
	switch {
	case p.phase == "copy":
		return p.copyDetail(now)
	case u.Steps > 0:
		return fmt.Sprintf("%d/%d", u.Done, u.Steps)
	}
	return "..."
}

// copyDetail is the copy's line: "42%  112.4 MiB of ~267.0 MiB  37.5 MB/s  ETA 0:04
// [7/18] public.plans". The plan's sizes are on-disk sizes, not what COPY streams,
// so the expected total is corrected by the ratio seen on the finished tables.
func (p *progress) copyDetail(now time.Time) string {
	u := p.last
	elapsed := now.Sub(p.phaseStart)
	expected := p.expectedBytes()
	table := fmt.Sprintf("[%d/%d] %s", u.TableIndex, u.Tables, u.Table)
	if expected <= 0 {
		return fmt.Sprintf("%s streamed  %s  %s", cloner.HumanBytes(u.TotalBytes), rate(u.TotalBytes, elapsed), table)
	}
	pct := min(99, int(100*u.TotalBytes/expected))
	eta := "ETA -:--"
	if u.TotalBytes > 0 && elapsed > 0 {
		left := time.Duration(float64(expected-u.TotalBytes) / float64(u.TotalBytes) * float64(elapsed))
		eta = "ETA " + duration(left)
	}
	return fmt.Sprintf("%2d%%  %s of ~%s  %s  %s  %s", pct, cloner.HumanBytes(u.TotalBytes), cloner.HumanBytes(expected),
		rate(u.TotalBytes, elapsed), eta, table)
}

// expectedBytes estimates what the whole copy will stream.
func (p *progress) expectedBytes() int64 {
	u := p.last
	if u.PlannedBytes <= 0 {
		return 0
	}
	ratio := 1.0
	if p.plannedDone > 0 && p.streamedDone > 0 {
		ratio = float64(p.streamedDone) / float64(p.plannedDone)
	}
	left := max(u.PlannedBytes-p.plannedDone, 0)
	return max(p.streamedDone+int64(float64(left)*ratio), u.TotalBytes+1)
}

// rate writes a throughput in decimal megabytes per second.
func rate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.1f MB/s", float64(bytes)/1e6/d.Seconds())
}

// duration writes 0.3s below ten seconds, then m:ss, then h:mm:ss.
func duration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		s := int(d.Round(time.Second).Seconds())
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	default:
		s := int(d.Round(time.Second).Seconds())
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
}
