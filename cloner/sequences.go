package cloner

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SequenceReport is one sequence moved past the copied ids.
type SequenceReport struct {
	Sequence string `json:"sequence"`
	Column   string `json:"column"` // schema.table.column
	MaxID    int64  `json:"max_id"`
	Value    int64  `json:"value"` // last_value after the clone
	OK       bool   `json:"ok"`
}

const ownedSequencesSQL = `SELECT sn.nspname::text, s.relname::text, n.nspname::text, c.relname::text, a.attname::text
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  AND d.refobjid = ANY($1::oid[])
ORDER BY 1, 2`

// advanceSequences sets every serial and identity sequence of the cloned tables to
// the largest copied id, so the sandbox's next insert does not collide.
func advanceSequences(ctx context.Context, tx pgx.Tx, specs []copySpec) ([]SequenceReport, error) {
	oids := make([]uint32, len(specs))
	for i, s := range specs {
		oids[i] = s.table.oid
	}
	rows, err := tx.Query(ctx, ownedSequencesSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	type owned struct{ seqSchema, seq, schema, table, column string }
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (owned, error) {
		var o owned
		err := row.Scan(&o.seqSchema, &o.seq, &o.schema, &o.table, &o.column)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	var out []SequenceReport
	for _, o := range list {
		seq := pgx.Identifier{o.seqSchema, o.seq}.Sanitize()
		r := SequenceReport{Sequence: o.seqSchema + "." + o.seq, Column: o.schema + "." + o.table + "." + o.column}
		q := fmt.Sprintf(`SELECT coalesce(m, 0), CASE WHEN m IS NULL THEN (SELECT last_value FROM %[1]s) ELSE setval($1::regclass, m) END
FROM (SELECT max(%[2]s)::bigint AS m FROM %[3]s) s`, seq, col(o.column), pgx.Identifier{o.schema, o.table}.Sanitize())
		if err := tx.QueryRow(ctx, q, seq).Scan(&r.MaxID, &r.Value); err != nil {
			return nil, fmt.Errorf("advance sequence %s of table %s.%s: %w", r.Sequence, o.schema, o.table, err)
		}
		r.OK = r.Value >= r.MaxID
		out = append(out, r)
	}
	return out, nil
}
