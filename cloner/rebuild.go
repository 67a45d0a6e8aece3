package cloner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
)

// ddl is one index or constraint of the sandbox, captured so that it can be dropped
// before the load and rebuilt in bulk after it.
type ddl struct {
	schema, table, name, def string
	tableOID                 uint32   // the table altered (an index's table)
	method                   string   // the access method of an index, or of a key's index
	after                    []string // what goes with it: its comment, CLUSTER and replica identity marks
}

func (d ddl) tableIdent() string { return pgx.Identifier{d.schema, d.table}.Sanitize() }

// names and idents name the table for a WaitError.
func (d ddl) names() []string  { return []string{tableName{d.schema, d.table}.String()} }
func (d ddl) idents() []string { return []string{d.tableIdent()} }

func (d ddl) drop(isIndex bool) string {
	if isIndex {
		return "DROP INDEX " + pgx.Identifier{d.schema, d.name}.Sanitize()
	}
	return "ALTER TABLE " + d.tableIdent() + " DROP CONSTRAINT " + col(d.name)
}

func (d ddl) create(isIndex bool) string {
	if isIndex {
		return d.def
	}
	return "ALTER TABLE " + d.tableIdent() + " ADD CONSTRAINT " + col(d.name) + " " + d.def
}

// constraintCommentSQL restores the comment of a constraint (alias co, on table c
// in schema n).
const constraintCommentSQL = `'COMMENT ON CONSTRAINT ' || quote_ident(co.conname) || ' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' IS ' || quote_literal(obj_description(co.oid, 'pg_constraint'))`

// marksSQL builds, for an index (alias i, its class ic, its table c in schema n),
// the statements that restore its CLUSTER and replica identity marks.
const marksSQL = `CASE WHEN i.indisclustered THEN 'ALTER TABLE ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' CLUSTER ON ' || quote_ident(ic.relname) END,
  CASE WHEN i.indisreplident THEN 'ALTER TABLE ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' REPLICA IDENTITY USING INDEX ' || quote_ident(ic.relname) END`

// rebuild holds the cloned tables' indexes and constraints: foreign keys from or to
// them, their key constraints (primary, unique, exclusion) and plain indexes.
//
// A foreign key from a cloned table to an excluded one whose columns the copy sets
// to NULL is kept in place instead: every row satisfies it by construction, the
// verification checks that the columns are NULL in every row, and re-adding it would
// cost a scan of the table that can find nothing.
type rebuild struct {
	foreignKeys, keys, indexes []ddl
	kept                       []ddl    // foreign keys left in place, all their columns NULLed
	referenced                 []uint32 // the tables the rebuilt foreign keys reference
}

const captureForeignKeysSQL = `SELECT n.nspname::text, c.relname::text, co.conname::text, pg_get_constraintdef(co.oid),
       co.conrelid, array_remove(ARRAY[` + constraintCommentSQL + `], NULL),
       co.confrelid, co.confrelid = ANY($1::oid[]), ARRAY(SELECT a.attname::text FROM unnest(co.conkey) k JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k)
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype = 'f' AND co.conparentid = 0 AND (co.conrelid = ANY($1::oid[]) OR co.confrelid = ANY($1::oid[]))
ORDER BY 1, 2, 3`

const captureKeysSQL = `SELECT n.nspname::text, c.relname::text, co.conname::text, pg_get_constraintdef(co.oid), c.oid,
       array_remove(ARRAY[` + constraintCommentSQL + `, ` + marksSQL + `], NULL), coalesce(am.amname::text, '')
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = co.conindid LEFT JOIN pg_class ic ON ic.oid = co.conindid LEFT JOIN pg_am am ON am.oid = ic.relam
WHERE co.contype IN ('p', 'u', 'x') AND co.conparentid = 0 AND co.conrelid = ANY($1::oid[])
ORDER BY 1, 2, 3`

const captureIndexesSQL = `SELECT n.nspname::text, c.relname::text, ic.relname::text, pg_get_indexdef(i.indexrelid), c.oid,
       array_remove(ARRAY['COMMENT ON INDEX ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ' IS ' || quote_literal(obj_description(ic.oid, 'pg_class')),
         ` + marksSQL + `], NULL), am.amname::text
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE i.indrelid = ANY($1::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x'))
ORDER BY 1, 2, 3`

// captureRebuild reads the definitions before anything is dropped. Partitioned
// tables keep their indexes: their partitions' indexes are attached, not rebuilt.
func captureRebuild(ctx context.Context, tx querier, specs []copySpec) (*rebuild, error) {
	var oids []uint32
	nulled := map[uint32][]string{}
	for _, s := range specs {
		if s.table.kind == "r" {
			oids = append(oids, s.table.oid)
			nulled[s.table.oid] = s.nulled
		}
	}
	r := &rebuild{}
	rows, err := tx.Query(ctx, captureForeignKeysSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("capture foreign keys: %w", err)
	}
	fks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (foreignKeyDDL, error) {
		var f foreignKeyDDL
		err := row.Scan(&f.schema, &f.table, &f.name, &f.def, &f.tableOID, &f.after, &f.refOID, &f.toCloned, &f.columns)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("capture foreign keys: %w", err)
	}
	for _, f := range fks {
		if !f.toCloned && allIn(f.columns, nulled[f.tableOID]) {
			r.kept = append(r.kept, f.ddl)
		} else {
			r.foreignKeys = append(r.foreignKeys, f.ddl)
			r.referenced = append(r.referenced, f.refOID)
		}
	}
	if r.keys, err = captureDDL(ctx, tx, captureKeysSQL, oids); err != nil {
		return nil, fmt.Errorf("capture key constraints: %w", err)
	}
	if r.indexes, err = captureDDL(ctx, tx, captureIndexesSQL, oids); err != nil {
		return nil, fmt.Errorf("capture indexes: %w", err)
	}
	return r, nil
}

// foreignKeyDDL is a captured foreign key with what decides whether it is kept.
type foreignKeyDDL struct {
	ddl
	refOID   uint32   // the referenced table
	toCloned bool     // the referenced table is a cloned one: its keys are rebuilt
	columns  []string // the referencing columns
}

// allIn reports whether every one of cols is in set (and there is at least one).
func allIn(cols, set []string) bool {
	if len(cols) == 0 {
		return false
	}
	for _, c := range cols {
		if !slices.Contains(set, c) {
			return false
		}
	}
	return true
}

func captureDDL(ctx context.Context, tx querier, sql string, oids []uint32) ([]ddl, error) {
	rows, err := tx.Query(ctx, sql, oids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ddl, error) {
		var d ddl
		err := row.Scan(&d.schema, &d.table, &d.name, &d.def, &d.tableOID, &d.after, &d.method)
		return d, err
	})
}

// altered lists the tables whose indexes and constraints the clone drops and
// re-creates: the role must own them.
func (r *rebuild) altered() []uint32 {
	var oids []uint32
	for _, list := range [][]ddl{r.foreignKeys, r.keys, r.indexes} {
		for _, d := range list {
			oids = append(oids, d.tableOID)
		}
	}
	return oids
}

// indexed lists the tables whose indexes the clone re-creates (keys build one):
// the role must be allowed to create in their schemas.
func (r *rebuild) indexed() []uint32 {
	var oids []uint32
	for _, d := range slices.Concat(r.keys, r.indexes) {
		oids = append(oids, d.tableOID)
	}
	return oids
}

// drop removes foreign keys first (they depend on the keys), then keys and indexes.
func (r *rebuild) drop(ctx context.Context, tx pgx.Tx) error {
	for _, step := range []struct {
		list    []ddl
		isIndex bool
	}{{r.foreignKeys, false}, {r.keys, false}, {r.indexes, true}} {
		for _, d := range step.list {
			if _, err := tx.Exec(ctx, d.drop(step.isIndex)); err != nil {
				return fmt.Errorf("drop %s on table %s.%s: %w", d.name, d.schema, d.table, waited(err, sideSandbox, d.names(), d.idents()))
			}
		}
	}
	return nil
}

// create rebuilds keys and indexes, then foreign keys. Adding a foreign key
// validates every row, so a dangling reference fails the clone here.
func (r *rebuild) create(ctx context.Context, tx pgx.Tx, log *logrus.Entry, step func(done, steps int)) error {
	done, steps := 0, len(r.keys)+len(r.indexes)+len(r.foreignKeys)
	for _, kind := range []struct {
		list    []ddl
		isIndex bool
	}{{r.keys, false}, {r.indexes, true}, {r.foreignKeys, false}} {
		for _, d := range kind.list {
			start := time.Now()
			for _, stmt := range indexBuild(d.create(kind.isIndex), d.method) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("rebuild %s on table %s.%s: %w", d.name, d.schema, d.table, waited(err, sideSandbox, d.names(), d.idents()))
				}
			}
			for _, a := range d.after {
				if _, err := tx.Exec(ctx, a); err != nil {
					return fmt.Errorf("rebuild %s on table %s.%s: %s: %w", d.name, d.schema, d.table, a, err)
				}
			}
			log.WithFields(logrus.Fields{"table": d.schema + "." + d.table, "name": d.name, "seconds": time.Since(start).Seconds()}).Debug("rebuilt")
			done++
			step(done, steps)
		}
	}
	return nil
}
