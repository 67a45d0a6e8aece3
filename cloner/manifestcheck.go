package cloner

import "fmt"

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
