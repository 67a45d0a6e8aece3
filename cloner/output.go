package cloner

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
)

// WritePlan writes p for a person: whether the clone is allowed, what it copies and
// wipes, and what to prepare.
func WritePlan(w io.Writer, p *Plan) error {
	ew := &errWriter{w: w}
	verdict := "ALLOWED"
	if !p.OK() {
		verdict = "REFUSED"
	}
	ew.printf("Clone plan %s -> %s (tenant %s): %s\n", p.From, p.To, p.Tenant, verdict)
	for _, prob := range p.Problems {
		ew.printf("  problem: %s\n", prob)
	}
	if len(p.Categories) > 0 {
		rows := "rows"
		if p.Estimated {
			rows = "rows (est.)"
		}
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "category\taction\t%s\tsize\tsandbox rows wiped\t\n", rows)
		for _, c := range p.Categories {
			action := "excluded"
			if c.Cloned {
				action = "cloned"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t\n", c.Name, action, c.Rows, HumanBytes(c.Bytes), c.SandboxRows)
		}
		tw.Flush()
	}
	writeWork(ew, p.NulledReferences, p.Scrubbed, p.Integrations, p.DependentWorkflows, p.DependentWorkflowCount)
	list(ew, "Sandbox-only workflows (exported before the wipe)", p.SandboxOnlyWorkflows, len(p.SandboxOnlyWorkflows))
	return ew.err
}

// WriteReport writes r for a person.
func WriteReport(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	status := "verified and committed"
	if !r.Verification.OK {
		status = "NOT committed"
	}
	ew.printf("Clone %s -> %s (tenant %s): %s\n", r.From, r.To, r.Tenant, status)
	ew.printf("Production snapshot at %s; %d rows, %s streamed in %.2fs\n", r.SnapshotAt.UTC().Format("2006-01-02 15:04:05 MST"), r.Rows, HumanBytes(r.Bytes), r.Seconds)
	phases := make([]string, len(r.Phases))
	for i, ph := range r.Phases {
		phases[i] = fmt.Sprintf("%s %.2fs", ph.Name, ph.Seconds)
	}
	ew.printf("Phases: %s\n\n", strings.Join(phases, ", "))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "category\taction\ttables\trows\tstreamed\tsandbox rows wiped\t\n")
	for _, c := range r.Categories {
		action := "excluded"
		if c.Cloned {
			action = "cloned"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t\n", c.Name, action, c.Tables, c.Rows, HumanBytes(c.Bytes), c.WipedRows)
	}
	tw.Flush()
	v := r.Verification
	ew.printf("\nVerification: %d tables match production (rows and checksum), %d excluded tables empty, %d foreign keys validated (%d of them by their columns being NULL in every row), %d sequences advanced\n",
		countMatches(r.Tables), v.ExcludedChecked, v.ForeignKeysValidated+v.ForeignKeysNull, v.ForeignKeysNull, len(v.Sequences))
	for _, f := range v.Failures {
		ew.printf("  failure: %s\n", f)
	}
	writeWork(ew, r.NulledReferences, r.Scrubbed, r.Integrations, r.DependentWorkflows, r.DependentWorkflowCount)
	list(ew, fmt.Sprintf("Exported sandbox-only workflows (%d bytes of JSON)", r.Export.JSONBytes), r.Export.Workflows, len(r.Export.Workflows))
	return ew.err
}

func countMatches(ts []TableReport) int {
	n := 0
	for _, t := range ts {
		if t.Match {
			n++
		}
	}
	return n
}

func writeWork(ew *errWriter, nulled, scrubbed []string, ins []Integration, deps []DependentWorkflow, depCount int) {
	list(ew, "References to excluded rows set to NULL", nulled, len(nulled))
	list(ew, "Scrubbed columns (never read from production)", scrubbed, len(scrubbed))
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = in.Label
		if in.Kind != "" {
			names[i] += " (" + in.Kind + ")"
		}
	}
	list(ew, "Integrations to reinstall in the sandbox", names, len(names))
	wf := make([]string, len(deps))
	for i, d := range deps {
		wf[i] = d.Workflow + ": needs " + strings.Join(d.Integrations, ", ")
	}
	list(ew, "Workflows that will fail until their integrations are reinstalled", wf, depCount)
}

// listLimit keeps long lists readable; the JSON report has more.
const listLimit = 25

// list prints the first items of a list of total.
func list(ew *errWriter, title string, items []string, total int) {
	ew.printf("\n%s: %d\n", title, total)
	for i, it := range items {
		if i == listLimit {
			break
		}
		ew.printf("  - %s\n", it)
	}
	if shown := min(len(items), listLimit); total > shown {
		ew.printf("  ... and %d more\n", total-shown)
	}
}

// HumanBytes writes a size as people read it: 2.0 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// errWriter keeps the first write error so that printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// IsTerminal reports whether f is a character device, such as an interactive
// terminal, so that a progress display may redraw its line.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ProgressPrinter returns an Options.Progress callback that renders a clone's
// progress on w. On a terminal it redraws one line per table; elsewhere it prints a
// line per finished table and phase, so logs stay readable.
func ProgressPrinter(w io.Writer, terminal bool) func(Progress) {
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case p.Phase != "copy":
			if terminal {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "%s...\n", p.Phase)
		case p.TableDone:
			if terminal {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "[%d/%d] %s: %d rows, %s (total %s)\n", p.TableIndex, p.Tables, p.Table, p.Rows, HumanBytes(p.TableBytes), HumanBytes(p.TotalBytes))
		case terminal:
			fmt.Fprintf(w, "\r\033[K[%d/%d] %s: %s (total %s)", p.TableIndex, p.Tables, p.Table, HumanBytes(p.TableBytes), HumanBytes(p.TotalBytes))
		}
	}
}
