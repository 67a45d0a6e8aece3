package cloner

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// relation is one live sandbox table (or partition) as a swap rebuilds it: everything
// attached to it that a staged replacement must carry, captured from the catalog with
// an empty search_path, so that every name in a definition is schema-qualified.
type relation struct {
	oid          uint32
	schema       string
	name         string
	quoted       string // schema.name as PostgreSQL's own definitions quote it
	kind         string // r or p
	unlogged     bool
	owner        string
	accessMethod string // empty for heap
	tablespace   string
	partitionBy  string // pg_get_partkeydef, partitioned tables only
	bound        string // FOR VALUES ... or DEFAULT, partitions only
	parent       uint32 // the partitioned table of a partition
	options      []string
	toastOpts    []string
	replIdent    string // d, n, f or i
	rls, forced  bool
	comment      *string
	defaultACL   bool     // relacl is NULL: the owner's default privileges
	grants       []grant  // table and column privileges, when not the default
	columnOpts   []string // ALTER COLUMN ... SET STATISTICS / SET (...) clauses
	indexes      []indexDef
	keys         []constraintDef // primary, unique and exclusion keys
	foreignKeys  []foreignKeyDef // from this table
	carriedIn    bool            // another table's carried foreign key references it
	triggers     []triggerDef
	policies     []string // CREATE POLICY statements
	rules        []string // CREATE RULE statements
	serials      []ownedSequence
	statistics   []statisticsDef
	// identityTypes are the identity columns whose sequence is not a bigint one:
	// LIKE gives the copy's identity a bigint sequence whatever the original's.
	identityTypes []identityType
}

// identityType is an identity column (its name as it is) and its sequence's type.
type identityType struct{ column, typ string }

// statisticsDef is an extended statistics object on the table.
type statisticsDef struct {
	quoted, def string
	target      int16 // -1: the default
}

// grant is one privilege of the table, or of one of its columns.
type grant struct {
	privilege string // SELECT, INSERT, ...
	column    string // quoted; empty for the table
	grantee   string // quoted role, or PUBLIC
	grantable bool
}

// indexDef is a plain index: its definition names the live table, which a staged
// build replaces with the staged one.
type indexDef struct {
	name, def string
	method    string // access method: btree, gin, ...
	comment   *string
	clustered bool
	replIdent bool // the table's replica identity
	attached  bool // a partition's index attached to its parent's: the parent's index recreates it
	early     bool // built on the empty staged table: a carried foreign key needs it
}

type constraintDef struct {
	name, def string
	comment   *string
	attached  bool // a partition's key attached to its parent's
	clustered bool // its index is the table's CLUSTER index
	replIdent bool // its index is the table's replica identity
	early     bool // built on the empty staged table: a carried foreign key needs it
}

type foreignKeyDef struct {
	constraintDef
	target uint32 // the referenced table
	keyColumns
	keyIndex string // the referenced table's unique index the key relies on
	// carried: valid in production and kept valid without a check (see
	// SWITCH.md, "Foreign keys carried from production").
	carried bool
}

type triggerDef struct {
	name, def string
	enabled   string // pg_trigger.tgenabled: O, D, R or A
	comment   *string
}

// ownedSequence is a sequence a column owns (serial): the swap detaches it from the
// live column and gives it to the staged one, so it stays where it is.
type ownedSequence struct {
	sequence string // qualified, quoted
	column   string
}

// qualifiedName is the relation's schema and name.
func (r *relation) qualifiedName() tableName { return tableName{r.schema, r.name} }

func (r *relation) ident() string { return r.qualifiedName().ident() }

// captureRelations reads the relations oids and, for partitioned tables, their whole
// partition trees, parents first.
func captureRelations(ctx context.Context, tx querier, oids []uint32) ([]*relation, error) {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = ''"); err != nil {
		return nil, fmt.Errorf("qualify captured definitions: %w", err)
	}
	rels, err := readRelations(ctx, tx, oids)
	if err != nil {
		return nil, err
	}
	byOID := make(map[uint32]*relation, len(rels))
	all := make([]uint32, len(rels))
	for i, r := range rels {
		byOID[r.oid], all[i] = r, r.oid
	}
	for _, step := range []func(context.Context, querier, []uint32, map[uint32]*relation) error{
		readColumnDetails, readGrants, readIndexDefs, readConstraintDefs, readTriggerDefs, readPolicyDefs, readRuleDefs, readSerials, readStatistics,
		readIdentityTypes,
	} {
		if err := step(ctx, tx, all, byOID); err != nil {
			return nil, err
		}
	}
	return rels, nil
}

// relationsSQL lists the tables and every member of their partition trees, parents
// before their partitions.
const relationsSQL = `WITH RECURSIVE tree AS (
    SELECT c.oid, 0 AS level FROM pg_class c WHERE c.oid = ANY($1::oid[])
    UNION ALL
    SELECT i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.oid
      JOIN pg_class p ON p.oid = t.oid WHERE p.relkind = 'p')
SELECT c.oid, n.nspname::text, c.relname::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       c.relkind::text, c.relpersistence = 'u', pg_get_userbyid(c.relowner)::text,
       coalesce(NULLIF(am.amname::text, 'heap'), ''), coalesce(ts.spcname::text, ''),
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) ELSE '' END,
       coalesce((SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition), 0),
       coalesce(c.reloptions, '{}'), coalesce(tc.reloptions, '{}'), c.relreplident::text,
       c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class'), c.relacl IS NULL
FROM (SELECT oid, min(level) AS level FROM tree GROUP BY oid) t
JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
ORDER BY t.level, n.nspname, c.relname`

func readRelations(ctx context.Context, tx querier, oids []uint32) ([]*relation, error) {
	rows, err := tx.Query(ctx, relationsSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("capture tables: %w", err)
	}
	rels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*relation, error) {
		r := &relation{}
		err := row.Scan(&r.oid, &r.schema, &r.name, &r.quoted, &r.kind, &r.unlogged, &r.owner, &r.accessMethod, &r.tablespace,
			&r.partitionBy, &r.bound, &r.parent, &r.options, &r.toastOpts, &r.replIdent, &r.rls, &r.forced, &r.comment, &r.defaultACL)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("capture tables: %w", err)
	}
	return rels, nil
}

// columnDetailsSQL reads what LIKE does not copy: per-column statistics targets and
// options.
const columnDetailsSQL = `SELECT a.attrelid, quote_ident(a.attname), a.attstattarget, coalesce(a.attoptions, '{}')
FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
  AND (a.attstattarget >= 0 OR a.attoptions IS NOT NULL)
ORDER BY a.attrelid, a.attnum`

func readColumnDetails(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, columnDetailsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture column settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid     uint32
			name    string
			target  int16
			options []string
		)
		if err := rows.Scan(&oid, &name, &target, &options); err != nil {
			return fmt.Errorf("capture column settings: %w", err)
		}
		r := byOID[oid]
		if target >= 0 {
			r.columnOpts = append(r.columnOpts, fmt.Sprintf("ALTER COLUMN %s SET STATISTICS %d", name, target))
		}
		if len(options) > 0 {
			r.columnOpts = append(r.columnOpts, fmt.Sprintf("ALTER COLUMN %s SET (%s)", name, strings.Join(options, ", ")))
		}
	}
	return rows.Err()
}

// grantsSQL explodes table and column privileges.
const grantsSQL = `SELECT c.oid, '', a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = ANY($1::oid[])
UNION ALL
SELECT at.attrelid, quote_ident(at.attname), a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.is_grantable
FROM pg_attribute at, aclexplode(at.attacl) a WHERE at.attrelid = ANY($1::oid[]) AND at.attnum > 0 AND NOT at.attisdropped
ORDER BY 1, 2, 3, 4`

func readGrants(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, grantsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture privileges: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var g grant
		if err := rows.Scan(&oid, &g.column, &g.privilege, &g.grantee, &g.grantable); err != nil {
			return fmt.Errorf("capture privileges: %w", err)
		}
		byOID[oid].grants = append(byOID[oid].grants, g)
	}
	return rows.Err()
}

// indexDefsSQL lists the indexes that back no constraint. attached: a partition's
// index that belongs to an index of its parent.
const indexDefsSQL = `SELECT i.indrelid, ic.relname::text, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'),
       i.indisclustered, i.indisreplident, EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid), am.amname::text
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY($1::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, ic.relname`

func readIndexDefs(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, indexDefsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var d indexDef
		if err := rows.Scan(&oid, &d.name, &d.def, &d.comment, &d.clustered, &d.replIdent, &d.attached, &d.method); err != nil {
			return fmt.Errorf("capture indexes: %w", err)
		}
		byOID[oid].indexes = append(byOID[oid].indexes, d)
	}
	return rows.Err()
}

// constraintDefsSQL lists keys and foreign keys (CHECK and NOT NULL constraints come
// with LIKE). Inherited ones (a partition's, from its parent) are marked.
const constraintDefsSQL = `SELECT co.conrelid, co.contype::text, co.conname::text, pg_get_constraintdef(co.oid),
       obj_description(co.oid, 'pg_constraint'), co.confrelid, co.conparentid <> 0,
       co.contype <> 'f' AND coalesce(i.indisclustered, false), co.contype <> 'f' AND coalesce(i.indisreplident, false),
       ` + foreignKeyColumnsSQL + `, co.confmatchtype::text, coalesce((SELECT ic.relname::text FROM pg_class ic WHERE ic.oid = co.conindid), '')
FROM pg_constraint co LEFT JOIN pg_index i ON i.indexrelid = co.conindid
WHERE co.conrelid = ANY($1::oid[]) AND co.contype IN ('p', 'u', 'x', 'f')
ORDER BY co.conrelid, co.conname`

func readConstraintDefs(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, constraintDefsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture constraints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid, target uint32
			kind        string
			d           constraintDef
		)
		var fk foreignKeyDef
		if err := rows.Scan(&oid, &kind, &d.name, &d.def, &d.comment, &target, &d.attached, &d.clustered, &d.replIdent,
			&fk.columns, &fk.refColumns, &fk.collations, &fk.match, &fk.keyIndex); err != nil {
			return fmt.Errorf("capture constraints: %w", err)
		}
		r := byOID[oid]
		switch kind {
		case "f":
			fk.constraintDef, fk.target = d, target
			r.foreignKeys = append(r.foreignKeys, fk)
		default:
			r.keys = append(r.keys, d)
		}
	}
	return rows.Err()
}

// triggerDefsSQL lists user triggers (not those behind foreign keys, nor a
// partition's clones of its parent's triggers).
const triggerDefsSQL = `SELECT t.tgrelid, t.tgname::text, pg_get_triggerdef(t.oid), t.tgenabled::text, obj_description(t.oid, 'pg_trigger')
FROM pg_trigger t WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal AND t.tgparentid = 0
ORDER BY t.tgrelid, t.tgname`

func readTriggerDefs(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, triggerDefsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture triggers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var d triggerDef
		if err := rows.Scan(&oid, &d.name, &d.def, &d.enabled, &d.comment); err != nil {
			return fmt.Errorf("capture triggers: %w", err)
		}
		byOID[oid].triggers = append(byOID[oid].triggers, d)
	}
	return rows.Err()
}

// policyDefsSQL rebuilds CREATE POLICY statements from pg_policy.
const policyDefsSQL = `SELECT p.polrelid, 'CREATE POLICY ' || quote_ident(p.polname) || ' ON ' ||
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) ||
         CASE WHEN p.polpermissive THEN ' AS PERMISSIVE' ELSE ' AS RESTRICTIVE' END ||
         ' FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END ||
         ' TO ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ') FROM unnest(p.polroles) r) ||
         coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '') ||
         coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.polrelid = ANY($1::oid[]) ORDER BY p.polrelid, p.polname`

func readPolicyDefs(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	return collectStatements(ctx, tx, policyDefsSQL, oids, "policies", func(r *relation, s string) { r.policies = append(r.policies, s) }, byOID)
}

// ruleDefsSQL lists rewrite rules of the tables themselves (a table has no _RETURN
// rule; views are handled as dependents).
const ruleDefsSQL = `SELECT r.ev_class, pg_get_ruledef(r.oid) FROM pg_rewrite r
WHERE r.ev_class = ANY($1::oid[]) AND r.rulename <> '_RETURN' ORDER BY r.ev_class, r.rulename`

func readRuleDefs(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	return collectStatements(ctx, tx, ruleDefsSQL, oids, "rules", func(r *relation, s string) { r.rules = append(r.rules, s) }, byOID)
}

// serialsSQL lists the sequences owned by a column (serial, or OWNED BY) but not
// identity sequences, which belong to the table and travel with it.
const serialsSQL = `SELECT d.refobjid, quote_ident(sn.nspname) || '.' || quote_ident(s.relname), quote_ident(a.attname)
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
  AND d.refobjid = ANY($1::oid[]) ORDER BY 1, 2`

func readSerials(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, serialsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture owned sequences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var s ownedSequence
		if err := rows.Scan(&oid, &s.sequence, &s.column); err != nil {
			return fmt.Errorf("capture owned sequences: %w", err)
		}
		byOID[oid].serials = append(byOID[oid].serials, s)
	}
	return rows.Err()
}

// identityTypesSQL lists the identity columns whose sequence is not a bigint.
const identityTypesSQL = `SELECT a.attrelid, a.attname::text, format_type(sq.seqtypid, NULL)
FROM pg_attribute a JOIN pg_depend d ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum
  AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
JOIN pg_sequence sq ON sq.seqrelid = d.objid
WHERE a.attrelid = ANY($1::oid[]) AND a.attidentity <> '' AND sq.seqtypid <> 'pg_catalog.int8'::regtype
ORDER BY 1, 2`

func readIdentityTypes(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	type row struct {
		oid uint32
		identityType
	}
	rows, err := collect(ctx, tx, identityTypesSQL, oids, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.oid, &x.column, &x.typ)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("capture identity sequences: %w", err)
	}
	for _, x := range rows {
		byOID[x.oid].identityTypes = append(byOID[x.oid].identityTypes, x.identityType)
	}
	return nil
}

func collectStatements(ctx context.Context, tx querier, sql string, oids []uint32, what string, add func(*relation, string), byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, sql, oids)
	if err != nil {
		return fmt.Errorf("capture %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var s string
		if err := rows.Scan(&oid, &s); err != nil {
			return fmt.Errorf("capture %s: %w", what, err)
		}
		add(byOID[oid], s)
	}
	return rows.Err()
}

// statisticsSQL lists extended statistics objects: schema objects of their own, which
// do not move with their table.
const statisticsSQL = `SELECT s.stxrelid, quote_ident(n.nspname) || '.' || quote_ident(s.stxname), pg_get_statisticsobjdef(s.oid),
       coalesce(s.stxstattarget, -1)
FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
WHERE s.stxrelid = ANY($1::oid[]) ORDER BY 1, 2`

func readStatistics(ctx context.Context, tx querier, oids []uint32, byOID map[uint32]*relation) error {
	rows, err := tx.Query(ctx, statisticsSQL, oids)
	if err != nil {
		return fmt.Errorf("capture extended statistics: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var s statisticsDef
		if err := rows.Scan(&oid, &s.quoted, &s.def, &s.target); err != nil {
			return fmt.Errorf("capture extended statistics: %w", err)
		}
		byOID[oid].statistics = append(byOID[oid].statistics, s)
	}
	return rows.Err()
}
