package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gaiia/clonebot/cloner"
)

// writePlan writes p for a person: whether the clone is allowed, what it copies and
// wipes, and what to prepare.
func writePlan(w io.Writer, p *cloner.Plan) error {
	ew := &errWriter{w: w}
	verdict := "ALLOWED"
	if !p.OK() {
		verdict = "REFUSED"
	}
	ew.printf("Clone plan %s -> %s (tenant %s): %s\n", p.From, p.To, p.Tenant, verdict)
	for _, prob := range p.Problems {
		ew.printf("  problem: %s\n", prob)
	}
	writeEvidence(ew, p)
	if len(p.Categories) > 0 {
		rows := "rows"
		if p.Estimated {
			rows = "rows (est.)"
		}
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "category\taction\t%s\tsize\tsandbox rows wiped\t\n", rows)
		for _, c := range p.Categories {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", c.Name, action(c.Cloned), count(c.Rows), cloner.HumanBytes(c.Bytes), count(c.SandboxRows))
		}
		tw.Flush()
	}
	writeMethod(ew, p.Method, p.MethodReasons)
	if p.Method != "" {
		ew.printf("The sandbox as it is now is kept for rollback (%s in the sandbox database) until it expires.\n", cloner.HumanBytes(p.RollbackBytes))
	}
	writeDrift(ew, p.Drift, false)
	writeWork(ew, p.NulledReferences, p.Scrubbed, p.Integrations, p.DependentWorkflows, p.DependentWorkflowCount)
	list(ew, "Sandbox-only workflows (exported before the wipe)", p.SandboxOnlyWorkflows, len(p.SandboxOnlyWorkflows))
	return ew.err
}

// writePlanJSON writes p as the document docs/plan-json.md describes.
func writePlanJSON(w io.Writer, p *cloner.Plan) error {
	doc, err := cloner.NewPlanDocument(p)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "->" in nulled_references stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// writeDrift writes how far the sandbox has drifted: a table per category, its
// tables in manifest order, a star on those compared by whole-row hashes. done
// says it of a clone that ran rather than of a plan.
func writeDrift(ew *errWriter, drift []cloner.Drift, done bool) {
	if len(drift) == 0 {
		return
	}
	var total cloner.CategoryDrift
	for _, c := range cloner.DriftByCategory(drift) {
		total.OnlyInProduction += c.OnlyInProduction
		total.OnlyInSandbox += c.OnlyInSandbox
		total.Changed += c.Changed
	}
	format := "\nDrift: %s between production and the sandbox: the clone adds %s, deletes %s and overwrites %s (those %s sandbox rows are exported first)\n"
	differ := plural(total.Rows(), "row differs", "rows differ")
	if done {
		format = "\nDrift: %s between production and the sandbox: the clone added %s, deleted %s and overwrote %s (those %s sandbox rows were exported first)\n"
		differ = plural(total.Rows(), "row differed", "rows differed")
	}
	ew.printf(format, differ, count(total.OnlyInProduction), count(total.OnlyInSandbox), count(total.Changed), count(total.OnlyInSandbox+total.Changed))
	starred := false
	for _, c := range cloner.DriftByCategory(drift) {
		diff := "no difference"
		switch {
		case c.Rows() > 0 && done:
			diff = plural(c.Rows(), "row differed", "rows differed")
		case c.Rows() > 0:
			diff = plural(c.Rows(), "row differs", "rows differ")
		}
		ew.printf("\n%s: %s\n", c.Category, diff)
		rows := [][]string{{"table", "only in production", "only in sandbox", "changed"}}
		for _, d := range drift {
			if d.Category != c.Category {
				continue
			}
			name := d.Table
			if d.ComparedBy == cloner.ByWholeRow {
				name, starred = name+" *", true
			}
			rows = append(rows, []string{name, count(d.OnlyInProduction), count(d.OnlyInSandbox), count(d.Changed)})
		}
		if c.Tables > 1 {
			rows = append(rows, []string{"total", count(c.OnlyInProduction), count(c.OnlyInSandbox), count(c.Changed)})
		}
		writeTable(ew, "  ", 1, rows)
	}
	if starred {
		ew.printf("\n* compared by whole-row hashes: no primary key both sides share, so an edited row counts once in each \"only in\" column, never as changed\n")
	}
}

// writeMethod says how a clone runs, and why not by the faster swap.
func writeMethod(ew *errWriter, method string, reasons []string) {
	switch method {
	case cloner.MethodSwap:
		ew.printf("\nMethod: swap (tables loaded in parallel beside the live ones, switched in one transaction)\n")
	case cloner.MethodInPlace:
		ew.printf("\nMethod: in place (the live tables reloaded in one transaction), because:\n")
		for _, r := range reasons {
			ew.printf("  - %s\n", r)
		}
	}
}

// writeReport writes r for a person.
func writeReport(w io.Writer, r *cloner.Report) error {
	ew := &errWriter{w: w}
	status := "verified and committed"
	if !r.Verification.OK {
		status = "NOT committed"
	}
	ew.printf("Clone %s -> %s (tenant %s): %s\n", r.From, r.To, r.Tenant, status)
	ew.printf("Production snapshot at %s; %s, %s streamed in %.2fs\n", r.SnapshotAt.UTC().Format("2006-01-02 15:04:05 MST"),
		plural(r.Rows, "row", "rows"), cloner.HumanBytes(r.Bytes), r.Seconds)
	phases := make([]string, len(r.Phases))
	for i, ph := range r.Phases {
		phases[i] = fmt.Sprintf("%s %.2fs", ph.Name, ph.Seconds)
		if ph.During != "" {
			phases[i] += " (during " + ph.During + ")"
		}
	}
	ew.printf("Phases: %s\n\n", strings.Join(phases, ", "))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "category\taction\ttables\trows\tstreamed\tsandbox rows wiped\t\n")
	for _, c := range r.Categories {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t\n", c.Name, action(c.Cloned), c.Tables, count(c.Rows), cloner.HumanBytes(c.Bytes), count(c.WipedRows))
	}
	tw.Flush()
	v := r.Verification
	ew.printf("\nVerification: %s production (rows and checksum), %s, %s validated (%s by their columns being NULL in every row)%s, %s advanced\n",
		plural(int64(countMatches(r.Tables)), "table matches", "tables match"), plural(int64(v.ExcludedChecked), "excluded table empty", "excluded tables empty"),
		plural(int64(v.ForeignKeysValidated+v.ForeignKeysNull), "foreign key", "foreign keys"), count(int64(v.ForeignKeysNull)), carriedKeys(v.ForeignKeysCarried),
		plural(int64(len(v.Sequences)), "sequence", "sequences"))
	for _, f := range v.Failures {
		ew.printf("  failure: %s\n", f)
	}
	writeMethod(ew, r.Method, r.MethodReasons)
	if len(r.Refreshed) > 0 {
		ew.printf("Materialized views refreshed: %s\n", strings.Join(r.Refreshed, ", "))
	}
	if rc := r.Rollback; rc != nil {
		ew.printf("The previous sandbox is kept for rollback until %s (clonebot rollback --to %s --yes).\n", rc.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"), r.To)
	}
	writeDrift(ew, r.Drift, true)
	writeExport(ew, r.Export)
	writeWork(ew, r.NulledReferences, r.Scrubbed, r.Integrations, r.DependentWorkflows, r.DependentWorkflowCount)
	list(ew, "Workflows only the sandbox had (in the export)", r.Export.Workflows, len(r.Export.Workflows))
	return ew.err
}

// writeExport says what the clone saved of the sandbox before replacing it, and
// where.
func writeExport(ew *errWriter, x cloner.ExportSummary) {
	if x.Rows == 0 {
		ew.printf("\nSandbox export: nothing to save (no sandbox row was deleted or overwritten)\n")
		return
	}
	where := ""
	if x.Dir != "" {
		where = " in " + x.Dir
	}
	ew.printf("\nSandbox export: %s deleted or overwritten, saved before the wipe%s:\n", plural(x.Rows, "row", "rows"), where)
	if x.Rounds > 1 {
		ew.printf("  (the sandbox changed during the load and was exported %d times; these are the last archives)\n", x.Rounds)
	}
	rows := [][]string{{"category", "file", "rows", "only in sandbox", "changed", "size"}}
	for _, a := range x.Archives {
		var only, changed int64
		for _, t := range a.Tables {
			only, changed = only+t.OnlyInSandbox, changed+t.Changed
		}
		for i, f := range a.Files {
			if i == 0 {
				rows = append(rows, []string{a.Category, f.Name, count(a.Rows), count(only), count(changed), cloner.HumanBytes(f.Bytes)})
				continue
			}
			rows = append(rows, []string{"", f.Name, "", "", "", cloner.HumanBytes(f.Bytes)})
		}
	}
	writeTable(ew, "  ", 2, rows)
}

// writeTable writes rows as aligned columns, each line after indent: the first
// left columns (names) aligned left, the others (numbers) right.
func writeTable(ew *errWriter, indent string, left int, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			switch {
			case i == 0:
				b.WriteString(cell + pad)
			case i < left:
				b.WriteString("  " + cell + pad)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		ew.printf("%s%s\n", indent, b.String())
	}
}

func action(cloned bool) string {
	if cloned {
		return "cloned"
	}
	return "excluded"
}

func countMatches(ts []cloner.TableReport) int {
	n := 0
	for _, t := range ts {
		if t.Match {
			n++
		}
	}
	return n
}

func writeWork(ew *errWriter, nulled, scrubbed []string, ins []cloner.Integration, deps []cloner.DependentWorkflow, depCount int) {
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

// plural writes "1 row", "1,520 rows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}

// count writes 1234567 as 1,234,567.
func count(n int64) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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

// carriedKeys names the foreign keys kept valid from production, if any.
func carriedKeys(n int) string {
	if n == 0 {
		return ""
	}
	return ", " + count(int64(n)) + " carried valid from production (tables copied whole)"
}
