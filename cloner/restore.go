package cloner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// keptPair is one live table and its kept copy, with the columns they share.
type keptPair struct {
	live copySpec // the live table and the columns restored
	kept copySpec // the kept table, same columns
}

// keptColumnsSQL reads the non-generated columns of two tables, for comparing them.
const keptColumnsSQL = `SELECT c.oid, c.relkind::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       ` + columnHashSQL + `
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
WHERE c.oid = to_regclass($1)
ORDER BY a.attnum`

// keptPairs matches every kept table with its live table. The live schema must not
// have changed since the clone: a restore puts back exactly what was kept.
func keptPairs(ctx context.Context, tx pgx.Tx, rc *RollbackCopy) ([]keptPair, error) {
	pairs := make([]keptPair, 0, len(rc.Tables))
	var problems []string
	for _, k := range rc.Tables {
		live, err := restoreSpec(ctx, tx, k.Schema, k.Table)
		if err != nil {
			return nil, err
		}
		kept, err := restoreSpec(ctx, tx, k.KeptSchema, k.Table)
		if err != nil {
			return nil, err
		}
		name := tableName{k.Schema, k.Table}.String()
		switch {
		case live == nil:
			problems = append(problems, fmt.Sprintf("table %s no longer exists", name))
		case kept == nil:
			problems = append(problems, fmt.Sprintf("the kept copy of %s is missing", name))
		case !slices.Equal(live.columns, kept.columns) || !slices.Equal(live.types, kept.types):
			problems = append(problems, fmt.Sprintf("the columns of %s changed since the clone: now (%s), kept (%s)", name,
				live.columnTypes(), kept.columnTypes()))
		default:
			pairs = append(pairs, keptPair{live: live.copySpec, kept: kept.copySpec})
		}
	}
	if len(problems) > 0 {
		return nil, rollbackRefusal(problems...)
	}
	return pairs, nil
}

// columnedSpec is a copy spec with the column types, for comparing two tables.
type columnedSpec struct {
	copySpec
	types []string
}

// columnTypes lists the columns with their types: "id bigint, name text".
func (s *columnedSpec) columnTypes() string {
	parts := make([]string, len(s.columns))
	for i, c := range s.columns {
		parts[i] = c + " " + s.types[i]
	}
	return strings.Join(parts, ", ")
}

func restoreSpec(ctx context.Context, tx pgx.Tx, schema, name string) (*columnedSpec, error) {
	ident := quoteIdent(schema) + "." + quoteIdent(name)
	rows, err := tx.Query(ctx, keptColumnsSQL, ident)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", ident, err)
	}
	defer rows.Close()
	var s *columnedSpec
	for rows.Next() {
		var (
			oid            uint32
			kind, col, typ string
			hash           string
		)
		if err := rows.Scan(&oid, &kind, &col, &typ, &hash); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", ident, err)
		}
		if s == nil {
			s = &columnedSpec{copySpec: copySpec{table: &table{oid: oid, name: tableName{schema, name}, kind: kind}}}
		}
		s.columns, s.types, s.hash = append(s.columns, col), append(s.types, typ), append(s.hash, hash)
		s.source = append(s.source, quoteIdent(col))
	}
	return s, rows.Err()
}

// copyBack inserts the kept rows into the live table. Identity values are kept as
// they were (OVERRIDING SYSTEM VALUE); a partitioned table routes them to its
// partitions.
func (p keptPair) copyBack(ctx context.Context, tx pgx.Tx) error {
	cols := p.live.columnList()
	q := "INSERT INTO " + p.live.table.ident() + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM " + p.kept.from()
	if _, err := tx.Exec(ctx, q); err != nil {
		return fmt.Errorf("restore table %s: %w", p.live.table.ident(), err)
	}
	return nil
}

// verify compares the restored table with its kept copy.
func (p keptPair) verify(ctx context.Context, tx pgx.Tx) (RestoredTable, error) {
	t := RestoredTable{Table: p.live.table.name.String()}
	var err error
	if t.Restored, err = checksum(ctx, tx, &p.live, true); err != nil {
		return t, fmt.Errorf("restored: %w", err)
	}
	if t.Kept, err = checksum(ctx, tx, &p.kept, true); err != nil {
		return t, fmt.Errorf("kept copy: %w", err)
	}
	t.Rows, t.Match = t.Restored.Rows, t.Restored.Rows == t.Kept.Rows && t.Restored.Sum == t.Kept.Sum
	return t, nil
}

func truncateSpecs(ctx context.Context, tx pgx.Tx, specs []copySpec) error {
	idents := make([]string, len(specs))
	for i := range specs {
		idents[i] = specs[i].table.ident()
	}
	if len(idents) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(idents, ", ")); err != nil {
		return fmt.Errorf("empty the live tables: %w", err)
	}
	return nil
}

// refreshOverSQL finds the materialized views built on the relations given, directly
// or through views, those nearest the relations first (a materialized view over
// another is refreshed after it).
const refreshOverSQL = `WITH RECURSIVE up AS (
    SELECT unnest($1::oid[]) AS oid, 0 AS depth
    UNION ALL
    SELECT rw.ev_class, up.depth + 1 FROM up JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = up.oid
      JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid AND rw.rulename = '_RETURN'
      JOIN pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm') AND v.oid <> up.oid)
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM up JOIN pg_class c ON c.oid = up.oid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' AND up.depth > 0
GROUP BY n.nspname, c.relname ORDER BY max(up.depth), 1`

// refreshOver refreshes the materialized views over the tables oids, whose rows
// changed under them, and names them.
func refreshOver(ctx context.Context, tx pgx.Tx, oids []uint32) ([]string, error) {
	rows, err := tx.Query(ctx, refreshOverSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("find materialized views over the tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find materialized views over the tables: %w", err)
	}
	for _, m := range names { // views built on others after them
		if _, err := tx.Exec(ctx, "REFRESH MATERIALIZED VIEW "+m); err != nil {
			return nil, fmt.Errorf("refresh %s: %w", m, err)
		}
	}
	shown := slices.Clone(names)
	natsort.Strings(shown)
	return shown, nil
}
