package cloner

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// A sandbox usually holds a small fraction of production's rows. Streaming the
// whole of production to find the few rows the sandbox has in common with it
// would read and hash every production row; instead, when the sandbox holds few
// rows of a keyed table, production is read at the sandbox's keys only, and
// counted: the rows only in production are its count less the rows found at the
// sandbox's keys. Both reads are on the production snapshot, so the drift is the
// same whichever way it is found (the tests compare the two).
const (
	// lookupMaxKeys and lookupMaxBytes bound the keys one lookup sends (they
	// travel in the query).
	lookupMaxKeys  = 10_000
	lookupMaxBytes = 1 << 20
	// lookupRatio is how many times more rows production must hold (by its
	// statistics) than the sandbox for a lookup to pay.
	lookupRatio = 8
)

// lookup is production read at the sandbox's keys.
type lookup struct {
	keys       [][]string // the sandbox's keys, as text, one slice per key column
	production int64      // production's rows, counted on its snapshot
}

// planLookup decides how production is read for t: at the sandbox's keys (a
// lookup) or whole (nil). maxKeys caps the sandbox's keys; 0 always streams.
func planLookup(ctx context.Context, prod, sbx *pgconn.PgConn, t *DriftTable, maxKeys int64) (*lookup, error) {
	if maxKeys <= 0 || !t.keyed() {
		return nil, nil
	}
	// A table that is not partitioned has no partition tree: it is its own.
	est, err := readInt(ctx, prod, `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::int8 FROM pg_class c
WHERE c.relkind = 'r' AND c.oid IN (SELECT `+escapeLiteral(t.ident())+`::regclass UNION SELECT relid FROM pg_partition_tree(`+escapeLiteral(t.ident())+`::regclass))`)
	if err != nil {
		return nil, fmt.Errorf("drift of table %s: production statistics: %w", t.qualified(), err)
	}
	limit := min(maxKeys, est/lookupRatio)
	if limit <= 0 {
		return nil, nil
	}
	sel := make([]string, len(t.Key))
	for i, k := range t.Key {
		sel[i] = "(r." + col(k) + ")::text"
	}
	res := sbx.ExecParams(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+t.from()+" r LIMIT "+strconv.FormatInt(limit+1, 10), nil, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("drift of table %s: read sandbox keys: %w", t.qualified(), res.Err)
	}
	if int64(len(res.Rows)) > limit {
		return nil, nil
	}
	l := &lookup{keys: make([][]string, len(t.Key))}
	size := 0
	for _, row := range res.Rows {
		for i, v := range row {
			l.keys[i] = append(l.keys[i], string(v))
			size += len(v)
		}
	}
	if size > lookupMaxBytes {
		return nil, nil
	}
	if t.counted {
		l.production = t.productionRows
	} else if l.production, err = readInt(ctx, prod, "SELECT count(*) FROM "+t.from()+" r"); err != nil {
		return nil, fmt.Errorf("drift of table %s: count production: %w", t.qualified(), err)
	}
	return l, nil
}

// filter is the condition that reads production at the sandbox's keys: each key
// travels as text and is cast to its column's type, so that production's index
// on the key finds it.
func (l *lookup) filter(t *DriftTable) string {
	if len(l.keys[0]) == 0 {
		return "false"
	}
	refs, casts, arrays, names := make([]string, len(t.Key)), make([]string, len(t.Key)), make([]string, len(t.Key)), make([]string, len(t.Key))
	for i, k := range t.Key {
		c, _ := t.column(k)
		names[i] = "k" + strconv.Itoa(i)
		refs[i] = "r." + col(k)
		casts[i] = "u." + names[i] + "::" + c.Type
		lits := make([]string, len(l.keys[i]))
		for j, v := range l.keys[i] {
			lits[j] = escapeLiteral(v)
		}
		arrays[i] = "ARRAY[" + strings.Join(lits, ", ") + "]::text[]"
	}
	return "(" + strings.Join(refs, ", ") + ") IN (SELECT " + strings.Join(casts, ", ") +
		" FROM unnest(" + strings.Join(arrays, ", ") + ") u(" + strings.Join(names, ", ") + "))"
}

// escapeLiteral quotes s as a string constant that means s whatever the
// server's standard_conforming_strings.
func escapeLiteral(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

func readInt(ctx context.Context, conn *pgconn.PgConn, sql string) (int64, error) {
	res := conn.ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return 0, res.Err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, fmt.Errorf("%s: want one value, got %d rows", sql, len(res.Rows))
	}
	return strconv.ParseInt(string(res.Rows[0][0]), 10, 64)
}
