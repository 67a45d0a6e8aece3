package cloner

import (
	"context"
	"fmt"
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
	// The first workflows in natural order ("Flow 2" before "Flow 10"): the server
	// picks them by naturalOrder, Go settles the ties as natsort does.
	name := fmt.Sprintf("coalesce(w.%s::text, '(no name)')", col(w.Name))
	q := fmt.Sprintf(`SELECT %s,
  ARRAY(SELECT coalesce(i.%s::text, '(no label)') FROM %s i WHERE i.%s = ANY(g.iids)),
  count(*) OVER ()
FROM (SELECT d.wid, array_agg(DISTINCT d.iid) AS iids FROM (%s) d GROUP BY d.wid) g JOIN %s w ON w.%s = g.wid
ORDER BY %s, g.wid LIMIT %d`,
		name, col(in.Label), it.ident(), col(it.pk[0]), strings.Join(parts, " UNION ALL "), wt.ident(), col(wt.pk[0]),
		naturalOrder(name)+", "+name+` COLLATE "C"`, MaxListedWorkflows)
	rows, err := src.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("find workflows that call integrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DependentWorkflow
		var total int64
		if err := rows.Scan(&d.Workflow, &d.Integrations, &total); err != nil {
			return fmt.Errorf("find workflows that call integrations: %w", err)
		}
		natsort.Strings(d.Integrations)
		p.DependentWorkflows = append(p.DependentWorkflows, d)
		p.DependentWorkflowCount = int(total)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find workflows that call integrations: %w", err)
	}
	natsort.By(p.DependentWorkflows, func(d DependentWorkflow) string { return d.Workflow })
	return nil
}

// naturalOrder is an ORDER BY key for the text expr that sorts as natsort.Compare
// does, short of its tie-breaks (leading zeros, case), which Go applies after: the
// text is cut into runs of other characters, lower-cased and compared byte by byte,
// each followed by its run of digits compared by value. A run followed by digits
// ends in "0", so that against a longer run it compares as its first digit would
// ("a b" before "a1" before "ab"): no character but a digit lies between "0" and "9".
func naturalOrder(expr string) string {
	return `ARRAY(SELECT ROW(convert_to(lower(x.m[1]) || CASE WHEN x.m[2] <> '' THEN '0' ELSE '' END, 'UTF8'), coalesce(nullif(x.m[2], '')::numeric, -1))
  FROM regexp_matches(` + expr + `, '([^0-9]*)([0-9]*)', 'g') WITH ORDINALITY x(m, n) ORDER BY x.n)`
}
