package cloner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gaiia/clonebot/natsort"
)

// count fills the categories with production rows and bytes and sandbox rows.
func (c *Cloner) count(ctx context.Context, src, dst querier, p *Plan, srcCat, dstCat *catalog, exact bool) error {
	groups := []struct {
		cats   Categories
		cloned bool
	}{{c.manifest.Cloned, true}, {c.manifest.Excluded, false}}
	for _, g := range groups {
		for _, cat := range g.cats {
			cp := CategoryPlan{Name: cat.Name, Cloned: g.cloned}
			for _, name := range cat.Tables {
				tp, err := countTable(ctx, src, dst, srcCat, dstCat, c.tables.table(name), g.cloned, exact)
				if err != nil {
					return err
				}
				cp.Rows, cp.Bytes, cp.SandboxRows = cp.Rows+tp.Rows, cp.Bytes+tp.Bytes, cp.SandboxRows+tp.SandboxRows
				cp.Tables = append(cp.Tables, tp)
			}
			p.Categories = append(p.Categories, cp)
		}
	}
	return nil
}

func countTable(ctx context.Context, src, dst querier, srcCat, dstCat *catalog, name tableName, cloned, exact bool) (TablePlan, error) {
	tp := TablePlan{Table: name.String()}
	if t := srcCat.tables[name]; cloned && t != nil {
		rows, err := rowCount(ctx, src, t, exact)
		if err != nil {
			return tp, fmt.Errorf("count production table %s: %w", name, waited(err, sideProduction, []string{name.String()}, []string{t.ident()}))
		}
		tp.Rows = rows
		if err := src.QueryRow(ctx, "SELECT pg_table_size($1::oid)", t.oid).Scan(&tp.Bytes); err != nil {
			return tp, fmt.Errorf("size production table %s: %w", name, waited(err, sideProduction, []string{name.String()}, []string{t.ident()}))
		}
	}
	if t := dstCat.tables[name]; t != nil {
		rows, err := rowCount(ctx, dst, t, true) // sandboxes are small; the wipe deserves exact figures
		if err != nil {
			return tp, fmt.Errorf("count sandbox table %s: %w", name, waited(err, sideSandbox, []string{name.String()}, []string{t.ident()}))
		}
		tp.SandboxRows = rows
	}
	return tp, nil
}

func rowCount(ctx context.Context, q querier, t *table, exact bool) (int64, error) {
	var n int64
	if !exact {
		err := q.QueryRow(ctx, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::oid", t.oid).Scan(&n)
		return n, err
	}
	err := q.QueryRow(ctx, "SELECT count(*) FROM "+t.ident()).Scan(&n)
	return n, err
}

// warnCustomerRows warns when the sandbox holds more rows of customer data than a
// sandbox should: that is what a production database looks like.
func (c *Cloner) warnCustomerRows(p *Plan) {
	var rows int64
	var names []string
	for _, cp := range p.Categories {
		if !cp.Cloned && (len(c.manifest.CustomerCategories) == 0 || slices.Contains(c.manifest.CustomerCategories, cp.Name)) {
			rows += cp.SandboxRows
			names = append(names, cp.Name)
		}
	}
	if rows > c.customerMax {
		p.Warnings = append(p.Warnings, fmt.Sprintf("sandbox %s holds %d rows of customer data (%s), more than %d: that is what a production database looks like. Check that its database_url reaches the sandbox before anyone approves the clone",
			p.To, rows, strings.Join(names, ", "), c.customerMax))
	}
}

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

// needColumns returns cat's table when it has the named columns, else nil
// (checkManifestColumns reports why).
func needColumns(cat *catalog, table tableName, cols ...string) *table {
	t := cat.tables[table]
	if t == nil || missingColumn(t, cols) != "" {
		return nil
	}
	return t
}

func missingColumn(t *table, cols []string) string {
	for _, name := range cols {
		if _, ok := t.column(name); name != "" && !ok {
			return name
		}
	}
	return ""
}

// checkManifestColumns reports integrations and workflows columns the manifest
// names but a database lacks.
func (c *Cloner) checkManifestColumns(p *Plan, cat *catalog, where string) {
	check := func(section, table string, cols ...string) {
		if t := cat.tables[c.tables.table(table)]; t != nil {
			if name := missingColumn(t, cols); name != "" {
				p.Problems = append(p.Problems, fmt.Sprintf("manifest %s: column %s does not exist in %s", section, columnRef{t.name, name}, where))
			}
		}
	}
	if in := c.manifest.Integrations; in != nil {
		check("integrations", in.Table, in.Label, in.Kind)
	}
	if w := c.manifest.Workflows; w != nil {
		check("workflows", w.Table, append([]string{w.Name}, w.Key...)...)
		for _, s := range w.Steps {
			check("workflows.steps", s.Table, s.Workflow, s.Integration)
		}
	}
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

// keyExpr is the text of a workflow's natural key, comparable across instances
// whose schemas match.
func keyExpr(alias string, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = alias + "." + col(k)
	}
	return "ROW(" + strings.Join(parts, ", ") + ")::text"
}

func (c *Cloner) listSandboxOnly(ctx context.Context, src, dst querier, p *Plan, srcCat, dstCat *catalog) error {
	w := c.manifest.Workflows
	if w == nil {
		return nil
	}
	cols := append([]string{w.Name}, w.Key...)
	st, dt := needColumns(srcCat, c.tables.table(w.Table), cols...), needColumns(dstCat, c.tables.table(w.Table), cols...)
	if st == nil || dt == nil {
		return nil
	}
	rows, err := dst.Query(ctx, "SELECT "+keyExpr("w", w.Key)+", w."+col(w.Name)+"::text FROM "+dt.ident()+" w")
	if err != nil {
		return fmt.Errorf("list sandbox workflows in %s: %w", dt.name, err)
	}
	var keys, names []string
	for rows.Next() {
		var k, n string
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return fmt.Errorf("list sandbox workflows in %s: %w", dt.name, err)
		}
		keys, names = append(keys, k), append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list sandbox workflows in %s: %w", dt.name, err)
	}
	var inProd []string
	err = src.QueryRow(ctx, "SELECT coalesce(array_agg(k), '{}') FROM (SELECT "+keyExpr("w", w.Key)+" AS k FROM "+st.ident()+" w) s WHERE k = ANY($1::text[])", keys).Scan(&inProd)
	if err != nil {
		return fmt.Errorf("match sandbox workflows in production %s: %w", st.name, err)
	}
	known := map[string]bool{}
	for _, k := range inProd {
		known[k] = true
	}
	for i, k := range keys {
		if !known[k] {
			p.SandboxOnlyWorkflows = append(p.SandboxOnlyWorkflows, names[i])
		}
	}
	natsort.Strings(p.SandboxOnlyWorkflows)
	return nil
}
