package cloner

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Checksum summarises a table's copied columns: the row count and two sums of the
// 32-bit halves of a 64-bit hash of each row (hash_record_extended over the copied
// columns; a column whose type has no hash function is hashed through its text).
// Order-independent, computed in SQL on both sides with the same expressions,
// nothing streamed.
type Checksum struct {
	Rows   int64  `json:"rows"`
	Sum    string `json:"sum"`
	hi, lo int64  // the two sums Sum shows
	filled int64  // sandbox rows with a value in a column the copy set to NULL
}

// plus adds the rows of o (another part of the same table): the sums are additive.
func (c *Checksum) plus(o Checksum) {
	c.Rows, c.hi, c.lo, c.filled = c.Rows+o.Rows, c.hi+o.hi, c.lo+o.lo, c.filled+o.filled
	c.seal()
}

// seal writes the sums as Sum.
func (c *Checksum) seal() { c.Sum = fmt.Sprintf("%016x%016x", uint64(c.hi), uint64(c.lo)) }

// textSettings make row text identical on both servers whatever their defaults.
var textSettings = []string{
	"SET LOCAL TimeZone = 'UTC'",
	"SET LOCAL DateStyle = 'ISO, YMD'",
	"SET LOCAL IntervalStyle = 'postgres'",
	"SET LOCAL extra_float_digits = 3",
	"SET LOCAL bytea_output = 'hex'",
}

func applySettings(ctx context.Context, tx pgx.Tx, settings []string) error {
	for _, s := range settings {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// checksumSQL sums the rows of exprs. On the sandbox (nonNull set) it also counts
// the rows where a column the copy set to NULL holds a value, in the same scan.
func checksumSQL(s *copySpec, exprs []string, nonNull []string) string {
	hashed := make([]string, len(exprs))
	for i, e := range exprs {
		hashed[i] = e
		if !s.hashable[i] {
			hashed[i] = "(" + e + ")::text"
		}
	}
	filled := "0"
	if len(nonNull) > 0 {
		conds := make([]string, len(nonNull))
		for i, c := range nonNull {
			conds[i] = col(c) + " IS NOT NULL"
		}
		filled = "count(*) FILTER (WHERE " + strings.Join(conds, " OR ") + ")"
	}
	return "SELECT count(*), coalesce(sum((h >> 32)::int4), 0), coalesce(sum((h & 2147483647)::int4), 0), " + filled +
		" FROM (SELECT hash_record_extended(ROW(" + strings.Join(hashed, ", ") + "), 0) AS h" + nulledColumns(nonNull) + " FROM " + s.from() + s.whereClause() + ") s"
}

// nulledColumns carries the checked columns out of the hashing subquery.
func nulledColumns(cols []string) string {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(", " + col(c))
	}
	return b.String()
}

// checksum sums a cloned table: on production with the copy's source expressions;
// on the sandbox with its columns, counting in filled the rows where a column that
// the copy set to NULL holds a value.
func checksum(ctx context.Context, q querier, s *copySpec, production bool) (Checksum, error) {
	exprs, nonNull := s.source, []string(nil)
	if !production {
		exprs, nonNull = make([]string, len(s.columns)), s.nulled
		for i, c := range s.columns {
			exprs[i] = col(c)
		}
	}
	var sum Checksum
	var hi, lo int64
	if err := q.QueryRow(ctx, checksumSQL(s, exprs, nonNull)).Scan(&sum.Rows, &hi, &lo, &sum.filled); err != nil {
		side := sideSandbox
		if production {
			side = sideProduction
		}
		return sum, fmt.Errorf("checksum table %s: %w", s.table.name, waited(err, side, s.names(), s.idents()))
	}
	sum.hi, sum.lo = hi, lo
	sum.seal()
	return sum, nil
}

// productionChecksums computes every cloned table's checksum on the snapshot,
// on its own connection so that it overlaps the load.
func productionChecksums(ctx context.Context, q querier, specs []copySpec) (map[tableName]Checksum, error) {
	out := make(map[tableName]Checksum, len(specs))
	for i := range specs {
		sum, err := checksum(ctx, q, &specs[i], true)
		if err != nil {
			return nil, fmt.Errorf("production: %w", err)
		}
		out[specs[i].table.name] = sum
	}
	return out, nil
}

// excludedEmpty checks that no excluded table holds a row after the load.
func excludedEmpty(ctx context.Context, tx pgx.Tx, tables []*table) (nonEmpty []string, err error) {
	for _, t := range tables {
		var any bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.ident()+")").Scan(&any); err != nil {
			return nil, fmt.Errorf("check excluded table %s is empty: %w", t.name, err)
		}
		if any {
			nonEmpty = append(nonEmpty, t.name.String())
		}
	}
	return nonEmpty, nil
}
