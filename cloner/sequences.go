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

// sequencesSQL finds the sequences that number the cloned tables' integer columns:
// serial and identity ones (owned by a column), and any a column's default calls
// with nextval, such as one sequence shared by several tables.
const sequencesSQL = `SELECT DISTINCT sn.nspname::text, s.relname::text, n.nspname::text, c.relname::text, a.attname::text, s.oid
FROM (SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS att FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        AND d.refobjid = ANY($1::oid[])
      UNION
      SELECT d.refobjid, ad.adrelid, ad.adnum FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
      WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND ad.adrelid = ANY($1::oid[])) x
JOIN pg_class s ON s.oid = x.seq AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class c ON c.oid = x.rel JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = x.rel AND a.attnum = x.att
WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)
ORDER BY 1, 2, 3, 4, 5`

// sequenceUse is a column that a sequence numbers.
type sequenceUse struct {
	seqSchema, seq, schema, table, column string
	seqOID                                uint32
}

// ident is the sequence, quoted; name its name as reports show it.
func (u sequenceUse) ident() string { return pgx.Identifier{u.seqSchema, u.seq}.Sanitize() }
func (u sequenceUse) name() string  { return tableName{u.seqSchema, u.seq}.String() }

// numbered is the column the sequence numbers.
func (u sequenceUse) numbered() columnRef { return columnRef{tableName{u.schema, u.table}, u.column} }

// listSequences returns the sequences that number the tables oids, sorted by
// sequence.
func listSequences(ctx context.Context, q querier, oids []uint32) ([]sequenceUse, error) {
	rows, err := q.Query(ctx, sequencesSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	uses, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sequenceUse, error) {
		var u sequenceUse
		err := row.Scan(&u.seqSchema, &u.seq, &u.schema, &u.table, &u.column, &u.seqOID)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	return uses, nil
}

// advanceSequences sets every sequence that numbers a cloned table to the largest
// id copied into any column it numbers, so the sandbox's next insert does not
// collide.
func advanceSequences(ctx context.Context, tx pgx.Tx, oids []uint32) ([]SequenceReport, error) {
	uses, err := listSequences(ctx, tx, oids)
	if err != nil {
		return nil, err
	}
	var out []SequenceReport
	for len(uses) > 0 { // grouped by sequence: the rows are sorted
		n := 1
		for n < len(uses) && uses[n].seqSchema == uses[0].seqSchema && uses[n].seq == uses[0].seq {
			n++
		}
		group := uses[:n]
		uses = uses[n:]
		seq, name := group[0].ident(), group[0].name()
		var top *int64
		start := len(out)
		for _, u := range group {
			var m *int64
			ref := u.numbered()
			q := fmt.Sprintf("SELECT max(%s)::bigint FROM %s", col(u.column), ref.table.ident())
			if err := tx.QueryRow(ctx, q).Scan(&m); err != nil {
				return nil, fmt.Errorf("largest id of %s: %w", ref, err)
			}
			r := SequenceReport{Sequence: name, Column: ref.String()}
			if m != nil {
				r.MaxID = *m
				if top == nil || *m > *top {
					top = m
				}
			}
			out = append(out, r)
		}
		var value int64
		q := "SELECT setval($1::regclass, greatest($2, (SELECT seqmin FROM pg_sequence WHERE seqrelid = $1::regclass)))"
		args := []any{seq, top}
		if top == nil {
			q, args = "SELECT last_value FROM "+seq, nil
		}
		if err := tx.QueryRow(ctx, q, args...).Scan(&value); err != nil {
			return nil, fmt.Errorf("advance sequence %s: %w", name, err)
		}
		for i := start; i < len(out); i++ {
			out[i].Value, out[i].OK = value, value >= out[i].MaxID
		}
	}
	return out, nil
}

// specOIDs are the tables of specs.
func specOIDs(specs []copySpec) []uint32 {
	oids := make([]uint32, len(specs))
	for i, s := range specs {
		oids[i] = s.table.oid
	}
	return oids
}

// sequenceStates reads the sequences numbering the tables oids as they stand, by
// the column they number, for a rollback to put them back.
func sequenceStates(ctx context.Context, q querier, oids []uint32) ([]KeptSequence, error) {
	uses, err := listSequences(ctx, q, oids)
	if err != nil {
		return nil, err
	}
	out := make([]KeptSequence, 0, len(uses))
	for _, u := range uses {
		k := KeptSequence{Column: u.numbered().String()}
		if err := q.QueryRow(ctx, "SELECT last_value, is_called FROM "+u.ident()).Scan(&k.LastValue, &k.IsCalled); err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", u.ident(), err)
		}
		out = append(out, k)
	}
	return out, nil
}

// restoreSequences puts the sequences numbering the restored tables oids back
// where the clone found them (kept), wherever that is not below where
// advanceSequences moved them: a rollback leaves them at least past the restored
// ids. A sequence numbering several columns is set once. reports, advanceSequences'
// own, get the values set.
func restoreSequences(ctx context.Context, tx pgx.Tx, oids []uint32, kept []KeptSequence, reports []SequenceReport) error {
	if len(kept) == 0 {
		return nil
	}
	byColumn := make(map[string]KeptSequence, len(kept))
	for _, k := range kept {
		byColumn[k.Column] = k
	}
	uses, err := listSequences(ctx, tx, oids)
	if err != nil {
		return err
	}
	done := map[uint32]bool{}
	for _, u := range uses {
		k, ok := byColumn[u.numbered().String()]
		if !ok || done[u.seqOID] {
			continue
		}
		done[u.seqOID] = true
		var value int64
		q := "SELECT CASE WHEN $1::int8 > last_value OR ($1::int8 = last_value AND $2::bool >= is_called) THEN setval(" +
			quoteLiteral(u.ident()) + "::regclass, $1::int8, $2::bool) ELSE last_value END FROM " + u.ident()
		if err := tx.QueryRow(ctx, q, k.LastValue, k.IsCalled).Scan(&value); err != nil {
			return fmt.Errorf("restore sequence %s: %w", u.ident(), err)
		}
		for i := range reports {
			if reports[i].Sequence == u.name() {
				reports[i].Value = value
			}
		}
	}
	return nil
}
