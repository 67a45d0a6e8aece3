package cloner

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// dependents are the objects outside a set of tables that point at them by OID, and
// so would follow them if they moved: what a swap must re-point, and what stops one.
type dependents struct {
	views     []viewDef // re-created in place with CREATE OR REPLACE VIEW
	matviews  []matviewDef
	refreshed []string // materialized views over those views: refreshed
	blockers  []string // why the tables cannot be swapped: they are loaded in place
}

type viewDef struct {
	oid     uint32
	quoted  string
	def     string
	options []string
}

// matviewDef is a materialized view built on the tables: a swap drops and re-creates
// it over the new tables, with everything attached to it.
type matviewDef struct {
	viewDef
	accessMethod string
	tablespace   string
	owner        string
	comment      *string
	defaultACL   bool
	grants       []grant
	indexes      []string
	hasDependent bool // another view or materialized view is built on it
}

// dependentsSQL lists every object that depends on one of the tables or their row
// types, except the tables' own parts and the tables themselves (partitions). Each
// row names what it is, the relation it belongs to (when it belongs to one) and how
// the swap treats it.
const dependentsSQL = `WITH tables AS (SELECT unnest($1::oid[]) AS oid),
rowtypes AS (SELECT c.reltype AS oid FROM pg_class c JOIN tables t ON t.oid = c.oid),
deps AS (
  SELECT DISTINCT ON (d.classid, d.objid) d.classid, d.objid, d.refclassid = 'pg_type'::regclass AS on_rowtype,
         CASE WHEN d.refclassid = 'pg_type'::regclass THEN (SELECT typrelid FROM pg_type WHERE oid = d.refobjid) ELSE d.refobjid END AS ref
  FROM pg_depend d
  WHERE (d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM tables))
     OR (d.refclassid = 'pg_type'::regclass AND d.refobjid IN (SELECT oid FROM rowtypes))
  ORDER BY d.classid, d.objid, d.refclassid = 'pg_type'::regclass DESC)
SELECT CASE
    WHEN d.classid = 'pg_class'::regclass THEN
      CASE WHEN d.on_rowtype THEN 'column'
           WHEN d.objid IN (SELECT oid FROM tables) OR c.relkind IN ('i', 'I', 'S', 't') THEN 'own'
           ELSE 'relation' END
    WHEN d.classid = 'pg_type'::regclass THEN
      CASE WHEN ty.typrelid IN (SELECT oid FROM tables) OR ty.typelem IN (SELECT oid FROM rowtypes) THEN 'own' ELSE 'rowtype' END
    WHEN d.classid = 'pg_constraint'::regclass THEN
      CASE WHEN co.conrelid IN (SELECT oid FROM tables) THEN 'own' ELSE 'constraint' END
    WHEN d.classid = 'pg_attrdef'::regclass THEN
      CASE WHEN ad.adrelid IN (SELECT oid FROM tables) THEN 'own' ELSE 'default' END
    WHEN d.classid = 'pg_trigger'::regclass THEN
      CASE WHEN tg.tgrelid IN (SELECT oid FROM tables) THEN 'own' ELSE 'trigger' END
    WHEN d.classid = 'pg_policy'::regclass THEN
      CASE WHEN po.polrelid IN (SELECT oid FROM tables) THEN 'own' ELSE 'policy' END
    WHEN d.classid = 'pg_statistic_ext'::regclass THEN
      CASE WHEN st.stxrelid IN (SELECT oid FROM tables) THEN 'own' ELSE 'statistics' END
    WHEN d.classid = 'pg_rewrite'::regclass THEN
      CASE WHEN rw.ev_class IN (SELECT oid FROM tables) THEN 'own'
           WHEN rv.relkind = 'v' AND rw.rulename = '_RETURN' THEN 'view'
           WHEN rv.relkind = 'm' AND rw.rulename = '_RETURN' THEN 'matview'
           ELSE 'rule' END
    WHEN d.classid = 'pg_publication_rel'::regclass THEN 'own'
    WHEN d.on_rowtype THEN 'rowtype'
    ELSE 'other' END,
  coalesce(rw.ev_class, 0),
  coalesce(pg_describe_object(d.classid, d.objid, 0), d.classid::regclass::text || ' ' || d.objid),
  d.ref::regclass::text
FROM deps d
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_type ty ON d.classid = 'pg_type'::regclass AND ty.oid = d.objid
LEFT JOIN pg_constraint co ON d.classid = 'pg_constraint'::regclass AND co.oid = d.objid
LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
LEFT JOIN pg_policy po ON d.classid = 'pg_policy'::regclass AND po.oid = d.objid
LEFT JOIN pg_statistic_ext st ON d.classid = 'pg_statistic_ext'::regclass AND st.oid = d.objid
LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
LEFT JOIN pg_class rv ON rv.oid = rw.ev_class
ORDER BY 1, 3`

// captureDependents classifies what depends on the tables oids (all the manifest's
// tables and their partitions). Run it with an empty search_path, so that captured
// definitions are schema-qualified.
func captureDependents(ctx context.Context, tx querier, oids []uint32) (*dependents, error) {
	rows, err := tx.Query(ctx, dependentsSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("list objects that depend on the tables: %w", err)
	}
	type dep struct {
		kind, what, table string
		rel               uint32
	}
	deps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dep, error) {
		var d dep
		err := row.Scan(&d.kind, &d.rel, &d.what, &d.table)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list objects that depend on the tables: %w", err)
	}
	out := &dependents{}
	var views, matviews []uint32
	for _, d := range deps {
		switch d.kind {
		case "own":
		case "view":
			views = appendOnce(views, d.rel)
		case "matview":
			matviews = appendOnce(matviews, d.rel)
		default:
			out.blockers = append(out.blockers, blockerText(d.kind, d.what, d.table))
		}
	}
	if err := out.readViews(ctx, tx, views); err != nil {
		return nil, err
	}
	if err := out.readMatviews(ctx, tx, matviews); err != nil {
		return nil, err
	}
	if err := out.readBlockers(ctx, tx, oids); err != nil {
		return nil, err
	}
	return out, nil
}

func appendOnce(list []uint32, v uint32) []uint32 {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func blockerText(kind, what, table string) string {
	switch kind {
	case "rowtype", "column":
		return what + " uses the row type of table " + table
	case "rule":
		return what + " reads or writes table " + table
	}
	return what + " depends on table " + table
}

const viewsSQL = `SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_viewdef(c.oid), coalesce(c.reloptions, '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) ORDER BY c.oid`

func (d *dependents) readViews(ctx context.Context, tx querier, oids []uint32) error {
	if len(oids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, viewsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture views: %w", err)
	}
	d.views, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (viewDef, error) {
		var v viewDef
		err := row.Scan(&v.oid, &v.quoted, &v.def, &v.options)
		return v, err
	})
	if err != nil {
		return fmt.Errorf("capture views: %w", err)
	}
	return d.readRefreshed(ctx, tx, oids)
}

func (d *dependents) readRefreshed(ctx context.Context, tx querier, views []uint32) error {
	rows, err := tx.Query(ctx, refreshOverSQL, views)
	if err != nil {
		return fmt.Errorf("find materialized views over views: %w", err)
	}
	if d.refreshed, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("find materialized views over views: %w", err)
	}
	return nil
}

const matviewsSQL = `SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_viewdef(c.oid), coalesce(c.reloptions, '{}'),
       coalesce(NULLIF(am.amname::text, 'heap'), ''), coalesce(ts.spcname::text, ''), pg_get_userbyid(c.relowner)::text,
       obj_description(c.oid, 'pg_class'), c.relacl IS NULL,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = c.oid ORDER BY i.indexrelid),
       EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
               WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND rw.ev_class <> c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
WHERE c.oid = ANY($1::oid[]) ORDER BY c.oid`

func (d *dependents) readMatviews(ctx context.Context, tx querier, oids []uint32) error {
	if len(oids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, matviewsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture materialized views: %w", err)
	}
	d.matviews, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (matviewDef, error) {
		var m matviewDef
		err := row.Scan(&m.oid, &m.quoted, &m.def, &m.options, &m.accessMethod, &m.tablespace, &m.owner, &m.comment,
			&m.defaultACL, &m.indexes, &m.hasDependent)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("capture materialized views: %w", err)
	}
	byOID := map[uint32]*relation{}
	for i := range d.matviews {
		m := &d.matviews[i]
		if m.hasDependent {
			d.blockers = append(d.blockers, "materialized view "+m.quoted+" has views or materialized views built on it")
		}
		byOID[m.oid] = &relation{}
	}
	if err := readGrants(ctx, tx, oids, byOID); err != nil {
		return err
	}
	for i := range d.matviews {
		d.matviews[i].grants = byOID[d.matviews[i].oid].grants
	}
	return nil
}

// swapBlockersSQL finds what pg_depend does not record: inheritance that is not
// partitioning, typed tables, publications and security labels.
const swapBlockersSQL = `SELECT 'table ' || c.oid::regclass::text || ' inherits from ' || i.inhparent::regclass::text
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE NOT c.relispartition
  AND (i.inhrelid = ANY($1::oid[]) OR i.inhparent = ANY($1::oid[]))
UNION ALL
SELECT 'table ' || c.oid::regclass::text || ' is a typed table' FROM pg_class c WHERE c.oid = ANY($1::oid[]) AND c.reloftype <> 0
UNION ALL
SELECT 'table ' || pr.prrelid::regclass::text || ' is in publication ' || p.pubname FROM pg_publication_rel pr
JOIN pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = ANY($1::oid[])
UNION ALL
SELECT 'table ' || s.objoid::regclass::text || ' has a security label' FROM pg_seclabel s
WHERE s.classoid = 'pg_class'::regclass AND s.objoid = ANY($1::oid[])
ORDER BY 1`

func (d *dependents) readBlockers(ctx context.Context, tx querier, oids []uint32) error {
	rows, err := tx.Query(ctx, swapBlockersSQL, oids)
	if err != nil {
		return fmt.Errorf("check the tables can be swapped: %w", err)
	}
	more, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check the tables can be swapped: %w", err)
	}
	d.blockers = append(d.blockers, more...)
	return nil
}
