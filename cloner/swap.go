package cloner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// Methods of a clone (see SWITCH.md).
const (
	// MethodSwap loads staged tables beside the live ones in parallel and switches
	// them in one short transaction; the old tables become the rollback copy.
	MethodSwap = "swap"
	// MethodInPlace wipes and reloads the live tables in one transaction, after
	// copying their rows aside for rollback: for schemas a swap cannot re-point.
	MethodInPlace = "in place"
)

// captureSwap reads, in the sandbox transaction tx, everything a swap of the
// tables oids must rebuild, and why it cannot be done, if it cannot.
func captureSwap(ctx context.Context, tx querier, oids []uint32) (*stagedSet, error) {
	var path string
	if err := tx.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path); err != nil {
		return nil, fmt.Errorf("read search_path: %w", err)
	}
	rels, err := captureRelations(ctx, tx, oids) // sets an empty search_path
	if err != nil {
		return nil, err
	}
	all := make([]uint32, len(rels))
	for i, r := range rels {
		all[i] = r.oid
	}
	deps, err := captureDependents(ctx, tx, all)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", path); err != nil {
		return nil, fmt.Errorf("restore search_path: %w", err)
	}
	return newStagedSet(rels, deps), nil
}

// partitionLayoutSQL lists the members of partition trees by name, with their parent
// and bounds, for comparing production's with the sandbox's.
const partitionLayoutSQL = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), coalesce(pn.nspname || '.' || p.relname, ''),
       pg_get_expr(c.relpartbound, c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relispartition AND c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass($1)))
ORDER BY 1`

// checkPartitions compares production's partitions of every partitioned table in the
// set with the sandbox's: a swap copies partition to partition, so they must match.
func (s *stagedSet) checkPartitions(ctx context.Context, prod querier) error {
	for _, r := range s.rels {
		if r.kind != "p" || r.parent != 0 {
			continue
		}
		want, err := layout(ctx, prod, r.quoted)
		if err != nil {
			return err
		}
		var got []string
		for _, p := range s.rels {
			if p.parent != 0 && s.root(p) == r {
				parent := s.byOID[p.parent]
				got = append(got, p.quoted+"|"+parent.schema+"."+parent.name+"|"+p.bound)
			}
		}
		slices.Sort(got)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			s.deps.blockers = append(s.deps.blockers, fmt.Sprintf("the partitions of %s differ between production and the sandbox", r.quoted))
		}
	}
	return nil
}

func layout(ctx context.Context, q querier, table string) ([]string, error) {
	rows, err := q.Query(ctx, partitionLayoutSQL, table)
	if err != nil {
		return nil, fmt.Errorf("list production partitions of %s: %w", table, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var name, parent, bound string
		err := row.Scan(&name, &parent, &bound)
		return name + "|" + parent + "|" + bound, err
	})
	if err != nil {
		return nil, fmt.Errorf("list production partitions of %s: %w", table, err)
	}
	slices.Sort(out)
	return out, nil
}

// root is the top of r's partition tree.
func (s *stagedSet) root(r *relation) *relation {
	for r.parent != 0 && s.byOID[r.parent] != nil {
		r = s.byOID[r.parent]
	}
	return r
}

// swapRightsSQL finds what the role may not do that a swap does (and an in-place
// clone does not): move the tables and re-create what depends on them, which takes
// membership in their owners, and create schemas.
const swapRightsSQL = `SELECT c.oid::regclass::text || ' (owned by ' || pg_get_userbyid(c.relowner) || ')'
FROM pg_class c WHERE c.oid = ANY($1::oid[]) AND NOT pg_has_role(c.relowner, 'MEMBER') ORDER BY 1`

// chooseMethod decides how a clone runs: a swap when everything built on the
// manifest tables can be re-pointed and the role may do what a swap does; in place
// otherwise, for the reasons listed. It also sizes the copy kept for rollback.
func (c *Cloner) chooseMethod(ctx context.Context, src, dst querier, p *Plan, srcCat *catalog) error {
	set, err := captureSwap(ctx, dst, tableOIDs(p.wipe))
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", p.To, err)
	}
	if err := set.checkPartitions(ctx, src); err != nil {
		return err
	}
	owned := make([]uint32, 0, len(set.rels)+len(set.deps.views)+len(set.deps.matviews))
	for _, r := range set.rels {
		owned = append(owned, r.oid)
	}
	for _, v := range set.deps.views {
		owned = append(owned, v.oid)
	}
	for _, m := range set.deps.matviews {
		owned = append(owned, m.oid)
	}
	rows, err := dst.Query(ctx, swapRightsSQL, owned)
	if err != nil {
		return fmt.Errorf("sandbox %s: check the role owns the tables: %w", p.To, err)
	}
	notOwned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("sandbox %s: check the role owns the tables: %w", p.To, err)
	}
	if len(notOwned) > 0 {
		natsort.Strings(notOwned)
		set.deps.blockers = append(set.deps.blockers, "the role is not a member of the owners of "+strings.Join(notOwned, ", ")+" (a swap moves them)")
	}
	size := "pg_total_relation_size"
	if len(set.deps.blockers) > 0 {
		size = "pg_table_size" // rows only: an in-place clone copies no index
	}
	if err := dst.QueryRow(ctx, "SELECT coalesce(sum("+size+"(x)), 0)::bigint FROM unnest($1::oid[]) x", owned[:len(set.rels)]).Scan(&p.RollbackBytes); err != nil {
		return fmt.Errorf("sandbox %s: size the rollback copy: %w", p.To, err)
	}
	if len(set.deps.blockers) > 0 {
		p.Method, p.MethodReasons = MethodInPlace, set.deps.blockers
		natsort.Strings(p.MethodReasons)
		return nil
	}
	sizes, _ := p.clonedBytes()
	set.carryForeignKeys(p.copies, srcCat, sizes)
	p.Method, p.swap = MethodSwap, set
	return nil
}
