package cloner

import "slices"

// setDrift puts the drift of every cloned table on the plan, with its sum per
// category.
func (p *Plan) setDrift(d []Drift) {
	p.Drift, p.DriftByCategory = d, DriftByCategory(d)
}

// driftTables describes the plan's cloned tables for the drift: the copy's
// columns, NULLed and scrubbed ones, the primary key when production's is the
// sandbox's (the copy reads production by the sandbox's columns), and the row
// count of a plan that counted exactly, on the snapshot the drift reads.
func (p *Plan) driftTables() []DriftTable {
	counted := map[string]int64{}
	if !p.Estimated {
		for _, cp := range p.Categories {
			for _, tp := range cp.Tables {
				if cp.Cloned {
					counted[tp.Table] = tp.Rows
				}
			}
		}
	}
	out := make([]DriftTable, 0, len(p.copies))
	for i := range p.copies {
		s := &p.copies[i]
		var srcPK []string
		if p.srcCat != nil {
			if t := p.srcCat.tables[s.table.name]; t != nil {
				srcPK = t.pk
			}
		}
		t := driftTableOf(s, srcPK)
		t.productionRows, t.counted = counted[s.table.name.String()]
		out = append(out, t)
	}
	return out
}

func driftTableOf(s *copySpec, srcPK []string) DriftTable {
	t := DriftTable{Schema: s.table.name.schema, Name: s.table.name.name, Category: s.category, Partitioned: s.table.kind == "p", Scrubbed: s.scrubbed}
	for i, name := range s.columns {
		c, _ := s.table.column(name)
		t.Columns = append(t.Columns, DriftColumn{Name: name, Type: c.typ, Nulled: slices.Contains(s.nulled, name), Hash: s.hash[i]})
	}
	if slices.Equal(s.table.pk, srcPK) {
		t.Key = s.table.pk
	}
	return t
}
