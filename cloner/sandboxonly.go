package cloner

import (
	"context"
	"fmt"
	"strings"

	"github.com/gaiia/clonebot/natsort"
)

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
