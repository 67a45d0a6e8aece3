package cloner

import (
	"context"
	"fmt"
)

// Two columns of the same type name may hold values differently: a composite type
// whose attributes trade places, a domain over another precision, an enum with
// other labels. The copy carries such values as text, so a composite's fields
// would land in each other's places, and the checksums, which hash by position,
// would agree. The plan so compares each column's type by what it is, through
// everything it is built on, and refuses a difference by name.

// userTypesSQL describes the user-defined types the columns of tables $1 use,
// directly or through domains, arrays, composites and ranges: each type's own
// definition, one level deep, and the user-defined types it is built on.
const userTypesSQL = `WITH RECURSIVE edges(src, dst) AS (
  SELECT oid, typbasetype FROM pg_type WHERE typtype = 'd'
  UNION ALL SELECT oid, typelem FROM pg_type WHERE typcategory = 'A' AND typelem <> 0
  UNION ALL SELECT t.oid, a.atttypid FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped WHERE t.typtype = 'c'
  UNION ALL SELECT rngtypid, rngsubtype FROM pg_range
), reach(oid) AS (
  SELECT atttypid FROM pg_attribute WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped
  UNION SELECT e.dst FROM reach JOIN edges e ON e.src = reach.oid
)
SELECT t.oid, format_type(t.oid, NULL), CASE t.typtype
    WHEN 'd' THEN 'a domain over ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END ||
      coalesce((SELECT ' ' || string_agg(d, ' ' ORDER BY d) FROM (SELECT pg_get_constraintdef(co.oid) d FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c') c), '')
    WHEN 'c' THEN 'a composite type (' || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
      FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
    WHEN 'e' THEN 'an enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
    WHEN 'r' THEN 'a range of ' || (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
    ELSE '' END,
  ARRAY(SELECT e.dst FROM edges e WHERE e.src = t.oid AND e.dst >= 16384 ORDER BY format_type(e.dst, NULL))
FROM (SELECT DISTINCT oid FROM reach) r JOIN pg_type t ON t.oid = r.oid WHERE t.oid >= 16384`

// typeDef is a user-defined type: its name, its own definition ("" for a base
// type, which its name says, or an array, which its element says) and the
// user-defined types it is built on.
type typeDef struct {
	name, def string
	on        []uint32
}

// typeDefs are the user-defined types of one database, by OID.
type typeDefs map[uint32]typeDef

func readTypes(ctx context.Context, q querier, oids []uint32) (typeDefs, error) {
	rows, err := q.Query(ctx, userTypesSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("list column types: %w", err)
	}
	defer rows.Close()
	types := typeDefs{}
	for rows.Next() {
		var oid uint32
		var t typeDef
		if err := rows.Scan(&oid, &t.name, &t.def, &t.on); err != nil {
			return nil, fmt.Errorf("list column types: %w", err)
		}
		types[oid] = t
	}
	return types, rows.Err()
}

// typeDifference compares the type s of production (types st) with the type d of
// the sandbox (dt), whose names are the same, through everything they are built
// on: "" when they are the same, else the first difference, in words.
func typeDifference(st typeDefs, s uint32, dt typeDefs, d uint32) string {
	return typeDiff(st, s, dt, d, 0)
}

// maxTypeDepth bounds the walk: PostgreSQL forbids a type built on itself, so
// only a catalog changing under the read could go deeper.
const maxTypeDepth = 32

func typeDiff(st typeDefs, s uint32, dt typeDefs, d uint32, depth int) string {
	a, aok := st[s]
	b, bok := dt[d]
	switch {
	case !aok && !bok:
		return "" // built-in on both sides: its name says what it is
	case !aok || !bok || a.name != b.name:
		return fmt.Sprintf("is built on %s in production, %s in the sandbox", typeName(st, s), typeName(dt, d))
	case a.def != b.def:
		return fmt.Sprintf("type %s is %s in production, %s in the sandbox", a.name, orBase(a.def), orBase(b.def))
	case len(a.on) != len(b.on):
		return fmt.Sprintf("type %s is built on %d types in production, %d in the sandbox", a.name, len(a.on), len(b.on))
	case depth >= maxTypeDepth:
		return fmt.Sprintf("type %s is nested more than %d deep", a.name, maxTypeDepth)
	}
	for i := range a.on {
		if diff := typeDiff(st, a.on[i], dt, b.on[i], depth+1); diff != "" {
			return diff
		}
	}
	return ""
}

func typeName(types typeDefs, oid uint32) string {
	if t, ok := types[oid]; ok {
		return t.name
	}
	return "a built-in type"
}

func orBase(def string) string {
	if def == "" {
		return "a base type"
	}
	return def
}
