package cloner

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	err := q.QueryRow(ctx, "SELECT count(*) FROM "+t.from()).Scan(&n)
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
