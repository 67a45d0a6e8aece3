package cloner

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what catalog reads need: a transaction of either instance.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type column struct {
	name       string
	typ        string // format_type
	notNull    bool
	hasDefault bool // a default or an identity
	generated  bool
	hash       string // how it is hashed: columnHashSQL
	builtin    bool   // a built-in type (or array of one): its binary COPY form names no local OID
	typeOID    uint32 // this database's OID of the type: typeDefs describe the user-defined ones
	collation  string // schema.name of the column's collation, "" for none or the database default
}

type table struct {
	oid     uint32
	name    tableName
	kind    string // pg_class.relkind: r, or p for a partitioned table
	columns []column
	pk      []string
}

func (t *table) ident() string { return t.name.ident() }

// from is the table in a FROM clause: ONLY, unless partitioned, so inheritance
// children (classified on their own) are neither copied nor counted twice.
func (t *table) from() string {
	if t.kind == "p" {
		return t.ident()
	}
	return "ONLY " + t.ident()
}

func (t *table) column(name string) (column, bool) {
	for _, c := range t.columns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

type foreignKey struct {
	name     string
	table    tableName
	refTable tableName
	keyColumns
	validated bool
}

// keyColumns is what a foreign key compares, as foreignKeyColumnsSQL and
// confmatchtype read it.
type keyColumns struct {
	columns, refColumns []string // referencing and referenced, in key order
	collations          []string // of columns, then of refColumns
	match               string   // pg_constraint.confmatchtype
}

// same tells whether k and o compare the same columns the same way.
func (k keyColumns) same(o keyColumns) bool {
	return k.match == o.match && slices.Equal(k.columns, o.columns) && slices.Equal(k.refColumns, o.refColumns) && slices.Equal(k.collations, o.collations)
}

// catalog is the shape of one database: its user tables (outside clonebot's own
// schema), their columns and keys.
type catalog struct {
	tables map[tableName]*table
	names  []tableName // by schema, then name
	fks    []foreignKey
	types  typeDefs // the user-defined types the columns use
}

const tablesSQL = `SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND NOT starts_with(n.nspname, 'clonebot_stage_') AND NOT starts_with(n.nspname, 'clonebot_rollback_')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2, 3`

const columnsSQL = `SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '',
       ` + columnHashSQL + `,
       a.atttypid < 16384 AND (SELECT ty.typelem < 16384 FROM pg_type ty WHERE ty.oid = a.atttypid), a.atttypid,
       coalesce((SELECT cn.nspname || '.' || cl.collname FROM pg_collation cl JOIN pg_namespace cn ON cn.oid = cl.collnamespace
         WHERE cl.oid = a.attcollation AND cl.collname <> 'default'), '')
FROM pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

const primaryKeysSQL = `SELECT i.indrelid, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY($1::oid[]) GROUP BY i.indrelid`

const foreignKeysSQL = `SELECT co.conname::text, co.conrelid, co.confrelid, ` + foreignKeyColumnsSQL + `,
  co.confmatchtype::text, co.convalidated
FROM pg_constraint co WHERE co.contype = 'f' AND co.conrelid = ANY($1::oid[]) ORDER BY 1`

// foreignKeyColumnsSQL names a constraint's columns and the referenced ones, in key
// order, then the collations of both (empty arrays for a key that is not foreign).
const foreignKeyColumnsSQL = `ARRAY(SELECT a.attname::text FROM unnest(co.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n WHERE co.contype = 'f' ORDER BY k.o),
  ARRAY(SELECT a.attname::text FROM unnest(co.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.o),
  ARRAY(SELECT coalesce(cn.nspname || '.' || cl.collname, '') FROM (
      SELECT co.conrelid, n, o FROM unnest(co.conkey) WITH ORDINALITY k(n, o) WHERE co.contype = 'f'
      UNION ALL SELECT co.confrelid, n, o + 1000 FROM unnest(co.confkey) WITH ORDINALITY k(n, o)) k(rel, n, o)
    JOIN pg_attribute a ON a.attrelid = k.rel AND a.attnum = k.n
    LEFT JOIN pg_collation cl ON cl.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = cl.collnamespace ORDER BY k.o)`

// readCatalog reads the user tables of the database behind q.
func readCatalog(ctx context.Context, q querier) (*catalog, error) {
	cat := &catalog{tables: map[tableName]*table{}}
	byOID := map[uint32]*table{}
	rows, err := q.Query(ctx, tablesSQL, Schema)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for rows.Next() {
		t := &table{}
		if err := rows.Scan(&t.oid, &t.name.schema, &t.name.name, &t.kind); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		cat.tables[t.name], byOID[t.oid] = t, t
		cat.names = append(cat.names, t.name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	oids := make([]uint32, 0, len(byOID))
	for o := range byOID {
		oids = append(oids, o)
	}
	if err := readColumns(ctx, q, oids, byOID); err != nil {
		return nil, err
	}
	if err := readPrimaryKeys(ctx, q, oids, byOID); err != nil {
		return nil, err
	}
	if cat.fks, err = readForeignKeys(ctx, q, oids, byOID); err != nil {
		return nil, err
	}
	if cat.types, err = readTypes(ctx, q, oids); err != nil {
		return nil, err
	}
	return cat, nil
}

func readColumns(ctx context.Context, q querier, oids []uint32, byOID map[uint32]*table) error {
	rows, err := q.Query(ctx, columnsSQL, oids)
	if err != nil {
		return fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var c column
		if err := rows.Scan(&oid, &c.name, &c.typ, &c.notNull, &c.hasDefault, &c.generated, &c.hash, &c.builtin, &c.typeOID, &c.collation); err != nil {
			return fmt.Errorf("list columns: %w", err)
		}
		byOID[oid].columns = append(byOID[oid].columns, c)
	}
	return rows.Err()
}

func readPrimaryKeys(ctx context.Context, q querier, oids []uint32, byOID map[uint32]*table) error {
	rows, err := q.Query(ctx, primaryKeysSQL, oids)
	if err != nil {
		return fmt.Errorf("list primary keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var cols []string
		if err := rows.Scan(&oid, &cols); err != nil {
			return fmt.Errorf("list primary keys: %w", err)
		}
		byOID[oid].pk = cols
	}
	return rows.Err()
}

func readForeignKeys(ctx context.Context, q querier, oids []uint32, byOID map[uint32]*table) ([]foreignKey, error) {
	rows, err := q.Query(ctx, foreignKeysSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	defer rows.Close()
	var fks []foreignKey
	for rows.Next() {
		var fk foreignKey
		var from, to uint32
		if err := rows.Scan(&fk.name, &from, &to, &fk.columns, &fk.refColumns, &fk.collations, &fk.match, &fk.validated); err != nil {
			return nil, fmt.Errorf("list foreign keys: %w", err)
		}
		if byOID[to] == nil {
			continue // a table outside the user schemas, such as an extension's
		}
		fk.table, fk.refTable = byOID[from].name, byOID[to].name
		fks = append(fks, fk)
	}
	return fks, rows.Err()
}

func col(name string) string { return pgx.Identifier{name}.Sanitize() }
