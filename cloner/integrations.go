package cloner

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gaiia/clonebot/natsort"
)

// describeIntegrations lists the production integrations to prepare and the
// workflows that depend on them. A clone runs it on the snapshot while the sandbox
// rebuilds its indexes: it scans every workflow step.
func (c *Cloner) describeIntegrations(ctx context.Context, src querier, p *Plan) error {
	if p.srcCat == nil {
		return nil
	}
	if err := c.listIntegrations(ctx, src, p, p.srcCat); err != nil {
		return err
	}
	return c.listDependentWorkflows(ctx, src, p, p.srcCat)
}

func (c *Cloner) listIntegrations(ctx context.Context, src querier, p *Plan, cat *catalog) error {
	spec := c.manifest.Integrations
	if spec == nil {
		return nil
	}
	t := needColumns(cat, c.tables.table(spec.Table), spec.Label, spec.Kind)
	if t == nil {
		return nil
	}
	kind := "''"
	if spec.Kind != "" {
		kind = col(spec.Kind) + "::text"
	}
	label := col(spec.Label) + "::text"
	rows, err := src.Query(ctx, "SELECT "+label+", "+kind+" FROM "+t.ident()+" ORDER BY "+label+` COLLATE "C"`)
	if err != nil {
		return fmt.Errorf("list integrations in %s: %w", t.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var in Integration
		if err := rows.Scan(&in.Label, &in.Kind); err != nil {
			return fmt.Errorf("list integrations in %s: %w", t.name, err)
		}
		p.Integrations = append(p.Integrations, in)
	}
	natsort.By(p.Integrations, func(in Integration) string { return in.Label })
	return rows.Err()
}

// MaxListedWorkflows bounds the dependent workflows a plan or report names, so
// that memory and the stored report stay small whatever production holds; the
// count is always complete.
const MaxListedWorkflows = 200

// listDependentWorkflows finds, in one query over every step table, the workflows
// with a step that calls an integration: their count, and the first ones by name
// with the integrations they call.
func (c *Cloner) listDependentWorkflows(ctx context.Context, src querier, p *Plan, cat *catalog) error {
	w, in := c.manifest.Workflows, c.manifest.Integrations
	if w == nil || in == nil {
		return nil
	}
	wt := needColumns(cat, c.tables.table(w.Table), w.Name)
	it := needColumns(cat, c.tables.table(in.Table), in.Label)
	if wt == nil || it == nil || len(wt.pk) != 1 || len(it.pk) != 1 {
		return nil
	}
	// Steps are reduced to (workflow, integration) pairs before anything is joined
	// by name; the integrations, a handful of rows, are read once into an array
	// (a join there leads the planner into an index scan of every step).
	var parts []string
	for _, s := range w.Steps {
		st := needColumns(cat, c.tables.table(s.Table), s.Workflow, s.Integration)
		if st == nil || s.Integration == "" {
			continue
		}
		parts = append(parts, fmt.Sprintf(`SELECT s.%s AS wid, s.%s AS iid FROM %s s WHERE s.%s = ANY(ARRAY(SELECT i.%s FROM %s i))`,
			col(s.Workflow), col(s.Integration), st.ident(), col(s.Integration), col(it.pk[0]), it.ident()))
	}
	if len(parts) == 0 {
		return nil
	}
	labels, err := integrationLabels(ctx, src, it, in.Label)
	if err != nil {
		return err
	}
	// Every dependent workflow streams past once: the count is of all of them, and
	// only the first MaxListedWorkflows in natural order are kept. Ordering them
	// here spares production a natural-order key for each (a regular expression per
	// name: 0.8 of 1.2 s for 96k workflows).
	q := fmt.Sprintf(`SELECT g.wid::text, coalesce(w.%s::text, '(no name)'), g.iids::text[]
FROM (SELECT d.wid, array_agg(DISTINCT d.iid) AS iids FROM (%s) d GROUP BY d.wid) g JOIN %s w ON w.%s = g.wid`,
		col(w.Name), strings.Join(parts, " UNION ALL "), wt.ident(), col(wt.pk[0]))
	rows, err := src.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("find workflows that call integrations: %w", err)
	}
	defer rows.Close()
	first := &firstWorkflows{max: MaxListedWorkflows}
	for rows.Next() {
		var d dependent
		if err := rows.Scan(&d.id, &d.name, &d.integrations); err != nil {
			return fmt.Errorf("find workflows that call integrations: %w", err)
		}
		first.offer(d)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find workflows that call integrations: %w", err)
	}
	p.DependentWorkflowCount = first.seen
	for _, d := range first.sorted() {
		names := make([]string, len(d.integrations))
		for i, id := range d.integrations {
			names[i] = labels[id]
		}
		natsort.Strings(names)
		p.DependentWorkflows = append(p.DependentWorkflows, DependentWorkflow{Workflow: d.name, Integrations: names})
	}
	return nil
}

// integrationLabels maps each integration's key, as text, to its label.
func integrationLabels(ctx context.Context, src querier, it *table, label string) (map[string]string, error) {
	rows, err := src.Query(ctx, fmt.Sprintf(`SELECT %s::text, coalesce(%s::text, '(no label)') FROM %s`, col(it.pk[0]), col(label), it.ident()))
	if err != nil {
		return nil, fmt.Errorf("read integration labels: %w", err)
	}
	defer rows.Close()
	labels := map[string]string{}
	for rows.Next() {
		var id, l string
		if err := rows.Scan(&id, &l); err != nil {
			return nil, fmt.Errorf("read integration labels: %w", err)
		}
		labels[id] = l
	}
	return labels, rows.Err()
}

// dependent is a workflow that calls integrations: its key and the integrations'
// keys, as text.
type dependent struct {
	id, name     string
	integrations []string
}

// compare orders workflows by name, naturally, then by key.
func (d dependent) compare(e dependent) int {
	if c := natsort.Compare(d.name, e.name); c != 0 {
		return c
	}
	return strings.Compare(d.id, e.id)
}

// firstWorkflows keeps the first max workflows offered, in a heap whose top is
// the last of them, and counts every one offered.
type firstWorkflows struct {
	max  int
	seen int
	heap lastOnTop
}

func (f *firstWorkflows) offer(d dependent) {
	f.seen++
	switch {
	case len(f.heap) < f.max:
		heap.Push(&f.heap, d)
	case f.max > 0 && d.compare(f.heap[0]) < 0:
		f.heap[0] = d
		heap.Fix(&f.heap, 0)
	}
}

// sorted is the workflows kept, first to last.
func (f *firstWorkflows) sorted() []dependent {
	out := slices.Clone(f.heap)
	slices.SortFunc(out, dependent.compare)
	return out
}

// lastOnTop is a heap.Interface whose top is the workflow that sorts last.
type lastOnTop []dependent

func (h lastOnTop) Len() int           { return len(h) }
func (h lastOnTop) Less(i, j int) bool { return h[i].compare(h[j]) > 0 }
func (h lastOnTop) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *lastOnTop) Push(x any)        { *h = append(*h, x.(dependent)) }
func (h *lastOnTop) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
