package cloner

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
)

// ddl is one index or constraint of the sandbox, captured so that it can be dropped
// before the load and rebuilt in bulk after it.
type ddl struct {
	schema, table, name, def string
}

func (d ddl) tableIdent() string { return pgx.Identifier{d.schema, d.table}.Sanitize() }

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

// rebuild holds the cloned tables' indexes and constraints: foreign keys from or to
// them, their key constraints (primary, unique, exclusion) and plain indexes.
type rebuild struct {
	foreignKeys, keys, indexes []ddl
}

const captureForeignKeysSQL = `SELECT n.nspname::text, c.relname::text, co.conname::text, pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype = 'f' AND co.conparentid = 0 AND (co.conrelid = ANY($1::oid[]) OR co.confrelid = ANY($1::oid[]))
ORDER BY 1, 2, 3`

const captureKeysSQL = `SELECT n.nspname::text, c.relname::text, co.conname::text, pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE co.contype IN ('p', 'u', 'x') AND co.conparentid = 0 AND co.conrelid = ANY($1::oid[])
ORDER BY 1, 2, 3`

const captureIndexesSQL = `SELECT n.nspname::text, c.relname::text, ic.relname::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE i.indrelid = ANY($1::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x'))
ORDER BY 1, 2, 3`

// captureRebuild reads the definitions before anything is dropped. Partitioned
// tables keep their indexes: their partitions' indexes are attached, not rebuilt.
func captureRebuild(ctx context.Context, tx pgx.Tx, specs []copySpec) (*rebuild, error) {
	var oids []uint32
	for _, s := range specs {
		if s.table.kind == "r" {
			oids = append(oids, s.table.oid)
		}
	}
	r := &rebuild{}
	var err error
	if r.foreignKeys, err = captureDDL(ctx, tx, captureForeignKeysSQL, oids); err != nil {
		return nil, fmt.Errorf("capture foreign keys: %w", err)
	}
	if r.keys, err = captureDDL(ctx, tx, captureKeysSQL, oids); err != nil {
		return nil, fmt.Errorf("capture key constraints: %w", err)
	}
	if r.indexes, err = captureDDL(ctx, tx, captureIndexesSQL, oids); err != nil {
		return nil, fmt.Errorf("capture indexes: %w", err)
	}
	return r, nil
}

func captureDDL(ctx context.Context, tx pgx.Tx, sql string, oids []uint32) ([]ddl, error) {
	rows, err := tx.Query(ctx, sql, oids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ddl, error) {
		var d ddl
		err := row.Scan(&d.schema, &d.table, &d.name, &d.def)
		return d, err
	})
}

// drop removes foreign keys first (they depend on the keys), then keys and indexes.
func (r *rebuild) drop(ctx context.Context, tx pgx.Tx) error {
	for _, step := range []struct {
		list    []ddl
		isIndex bool
	}{{r.foreignKeys, false}, {r.keys, false}, {r.indexes, true}} {
		for _, d := range step.list {
			if _, err := tx.Exec(ctx, d.drop(step.isIndex)); err != nil {
				return fmt.Errorf("drop %s on table %s.%s: %w", d.name, d.schema, d.table, err)
			}
		}
	}
	return nil
}

// create rebuilds keys and indexes, then foreign keys. Adding a foreign key
// validates every row, so a dangling reference fails the clone here.
func (r *rebuild) create(ctx context.Context, tx pgx.Tx, log *logrus.Entry) error {
	for _, step := range []struct {
		list    []ddl
		isIndex bool
	}{{r.keys, false}, {r.indexes, true}, {r.foreignKeys, false}} {
		for _, d := range step.list {
			start := time.Now()
			if _, err := tx.Exec(ctx, d.create(step.isIndex)); err != nil {
				return fmt.Errorf("rebuild %s on table %s.%s: %w", d.name, d.schema, d.table, err)
			}
			log.WithFields(logrus.Fields{"table": d.schema + "." + d.table, "name": d.name, "seconds": time.Since(start).Seconds()}).Debug("rebuilt")
		}
	}
	return nil
}
