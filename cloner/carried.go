package cloner

import (
	"slices"
	"strings"
)

// carryForeignKeys decides which foreign keys between staged tables a swap keeps
// valid without checking the loaded rows. A key is carried when production holds
// the same key (same columns, collations and match type), validated, and both its
// tables are plain tables copied whole, the key's columns on either side unchanged
// by the copy: the staged rows are then production's rows of one snapshot, which
// the verification proves, and production's key held in that snapshot. A carried
// key is added to the empty staged table, the referenced table's unique index built
// before its load, and the load runs with the key's triggers silenced, as every
// load does (see SWITCH.md, "Foreign keys carried from production").
//
// A key is carried only where that pays: the validation it spares reads the
// referencing table and hashes the referenced one, while carrying it makes the
// referenced table's load maintain its key and load without FREEZE. Where the
// referencing table is at least carryRatio times the size of the referenced one in
// production (sizes by table name), it paid here: on 1136 MB of ports against
// 483 MB of devices, 9.5 s of validation against about 4 s; where it was smaller,
// as for the platform's plan_addons (15 MB) against plans (92 MB), the clone took
// longer.
func (s *stagedSet) carryForeignKeys(copies []copySpec, prod *catalog, sizes map[string]int64) {
	specs := make(map[uint32]*copySpec, len(copies))
	for i := range copies {
		specs[copies[i].table.oid] = &copies[i]
	}
	for _, r := range s.rels {
		for i := range r.foreignKeys {
			fk := &r.foreignKeys[i]
			target := s.byOID[fk.target]
			if target == nil || target == r || !carriable(r, target, fk, specs, prod) {
				continue
			}
			if sizes[r.qualifiedName().String()] < carryRatio*sizes[target.qualifiedName().String()] {
				continue
			}
			if !target.markEarly(fk.keyIndex) {
				continue
			}
			fk.carried, target.carriedIn = true, true
		}
	}
}

// carried counts the carried foreign keys.
func (s *stagedSet) carried() int {
	n := 0
	for _, r := range s.rels {
		for _, fk := range r.foreignKeys {
			if fk.carried {
				n++
			}
		}
	}
	return n
}

// carryRatio is how many times the referenced table's size the referencing table
// must be for its key to be carried.
const carryRatio = 2

func carriable(r, target *relation, fk *foreignKeyDef, specs map[uint32]*copySpec, prod *catalog) bool {
	if fk.attached || strings.HasSuffix(fk.def, " NOT VALID") {
		return false
	}
	for _, rel := range []*relation{r, target} {
		if rel.kind != "r" || rel.parent != 0 {
			return false
		}
	}
	if !specs[r.oid].copiesUnchanged(fk.columns) || !specs[target.oid].copiesUnchanged(fk.refColumns) {
		return false
	}
	from, to := r.qualifiedName(), target.qualifiedName()
	return slices.ContainsFunc(prod.fks, func(p foreignKey) bool {
		return p.validated && p.table == from && p.refTable == to && p.same(fk.keyColumns)
	})
}

// copiesUnchanged tells whether the copy takes every one of columns from
// production as it is: not NULLed, scrubbed, nor generated anew.
func (s *copySpec) copiesUnchanged(columns []string) bool {
	if s == nil || s.where != "" || len(columns) == 0 {
		return false
	}
	for _, c := range columns {
		i := slices.Index(s.columns, c)
		if i < 0 || s.source[i] != col(c) {
			return false
		}
	}
	return true
}

// markEarly marks the unique key or index named name to be built on the empty
// staged table; false when r has none of that name.
func (r *relation) markEarly(name string) bool {
	for i := range r.keys {
		if k := &r.keys[i]; k.name == name && !k.attached {
			k.early = true
			return true
		}
	}
	for i := range r.indexes {
		if ix := &r.indexes[i]; ix.name == name && !ix.attached {
			ix.early = true
			return true
		}
	}
	return false
}
