package cloner

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Checksum summarises a table's copied columns: the row count and two sums of the
// 32-bit halves of a 64-bit hash of each row (hashColumns over the copied
// columns).
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
	filled := "0"
	if len(nonNull) > 0 {
		conds := make([]string, len(nonNull))
		for i, c := range nonNull {
			conds[i] = col(c) + " IS NOT NULL"
		}
		filled = "count(*) FILTER (WHERE " + strings.Join(conds, " OR ") + ")"
	}
	return "SELECT count(*), coalesce(sum((h >> 32)::int4), 0), coalesce(sum((h & 2147483647)::int4), 0), " + filled +
		" FROM (SELECT " + s.rowHash(exprs) + " AS h" + nulledColumns(nonNull) + " FROM " + s.from() + s.whereClause() + ") s"
}

// rowHash is the hash of one row of exprs, the values of s's columns.
func (s *copySpec) rowHash(exprs []string) string { return hashColumns(exprs, s.hash) }

// columnHashSQL says how a column a of type a.atttypid is hashed: by the built-in
// extended hash function of its type's default hash operator class, when that takes
// the type itself; inside a one-element array (hashInArray), when the class's
// function takes another type (boolean, date, timestamptz, bytea); through its text
// ("") when the type has no hash class of its own.
const columnHashSQL = `(SELECT CASE WHEN count(oc.oid) = 0 THEN '' ELSE coalesce(max(pr.proname::text)
          FILTER (WHERE pr.pronamespace = 'pg_catalog'::regnamespace AND pr.proargtypes[0] = oc.opcintype), '` + hashInArray + `') END
        FROM pg_type ty JOIN pg_opclass oc ON oc.opcintype = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END AND oc.opcdefault
        JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
        LEFT JOIN pg_amproc ap ON ap.amprocfamily = oc.opcfamily AND ap.amprocnum = 2 AND ap.amproclefttype = oc.opcintype AND ap.amprocrighttype = oc.opcintype
        LEFT JOIN pg_proc pr ON pr.oid = ap.amproc
        WHERE ty.oid = a.atttypid)`

// hashInArray marks a column hashed as a one-element array: hash_array_extended
// finds the element type's hash function itself.
const hashInArray = "[]"

// hashColumns hashes a row: each value as fns[i] says (columnHashSQL), seeded with its column's
// position so that values trading places change the hash, the hashes combined by
// XOR; a NULL counts as 0. On narrow rows this costs the server less than half of
// hash_record_extended over a ROW, which builds a record for every row.
func hashColumns(exprs, fns []string) string {
	if len(exprs) == 0 {
		return "0::int8"
	}
	terms := make([]string, len(exprs))
	for i, e := range exprs {
		switch fn := fns[i]; fn {
		case "":
			terms[i] = fmt.Sprintf("coalesce(pg_catalog.hashtextextended((%s)::text, %d), 0)", e, i+1)
		case hashInArray:
			terms[i] = fmt.Sprintf("pg_catalog.hash_array_extended(ARRAY[%s], %d)", e, i+1)
		default:
			terms[i] = fmt.Sprintf("coalesce(pg_catalog.%s(%s, %d), 0)", quoteIdent(fn), e, i+1)
		}
	}
	return strings.Join(terms, " # ")
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

// evidence is what the verification reads, inside the transaction that puts the
// new sandbox in place: each cloned table's checksums on both sides, the excluded
// tables, the sequences, and the method.
type evidence struct {
	tx       pgx.Tx
	tables   []tableEvidence
	excluded []*table
	swapped  bool // the old tables are in the rollback schemas
}

// tableEvidence is one cloned table's checksums (a partitioned table's add up its
// partitions').
type tableEvidence struct {
	name                tableName
	nulled              []string
	sandbox, production Checksum
}

// A verification check proves one thing about the new sandbox before it commits.
// Each returns its failures, in words; an error means it could not check.
type verificationCheck struct {
	name  string
	check func(ctx context.Context, e *evidence, v *Verification) ([]string, error)
}

// verificationChecks run in this order on every clone.
var verificationChecks = []verificationCheck{
	{"rows and checksums equal production's", checkChecksums},
	{"references to excluded rows are NULL in every row", checkNulled},
	{"excluded tables are empty", checkExcludedEmpty},
	{"sequences are past the copied ids", checkSequences},
	{"nothing outside the bot's schemas depends on the rollback copy", checkStrayDependents},
}

// verify runs every check; on any failure the transaction must roll back.
func verify(ctx context.Context, e *evidence, v *Verification) error {
	var failures []string
	for _, c := range verificationChecks {
		f, err := c.check(ctx, e, v)
		if err != nil {
			return fmt.Errorf("verify that %s: %w", c.name, err)
		}
		failures = append(failures, f...)
		v.Checks = append(v.Checks, c.name)
	}
	v.Failures, v.OK = failures, len(failures) == 0
	if !v.OK {
		return fmt.Errorf("verification failed, sandbox rolled back: %s", strings.Join(failures, "; "))
	}
	return nil
}

func checkChecksums(_ context.Context, e *evidence, v *Verification) ([]string, error) {
	var failures []string
	for _, t := range e.tables {
		v.TablesChecked++
		if !t.sandbox.equal(t.production) {
			failures = append(failures, fmt.Sprintf("table %s: sandbox %d rows sum %s, production %d rows sum %s",
				t.name, t.sandbox.Rows, t.sandbox.Sum, t.production.Rows, t.production.Sum))
		}
	}
	return failures, nil
}

func checkNulled(_ context.Context, e *evidence, v *Verification) ([]string, error) {
	var failures []string
	for _, t := range e.tables {
		if t.sandbox.filled > 0 {
			failures = append(failures, fmt.Sprintf("table %s: %d rows hold a value in %s, which the clone sets to NULL",
				t.name, t.sandbox.filled, strings.Join(t.nulled, ", ")))
		}
		v.NulledColumnsChecked += len(t.nulled)
	}
	return failures, nil
}

func checkExcludedEmpty(ctx context.Context, e *evidence, v *Verification) ([]string, error) {
	var failures []string
	for _, t := range e.excluded {
		var any bool
		if err := e.tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.ident()+")").Scan(&any); err != nil {
			return nil, fmt.Errorf("excluded table %s: %w", t.name, err)
		}
		v.ExcludedChecked++
		if any {
			failures = append(failures, fmt.Sprintf("excluded table %s is not empty after the load", t.name))
		}
	}
	return failures, nil
}

func checkSequences(_ context.Context, _ *evidence, v *Verification) ([]string, error) {
	var failures []string
	for _, s := range v.Sequences {
		if !s.OK {
			failures = append(failures, fmt.Sprintf("sequence %s is at %d, below the copied id %d", s.Sequence, s.Value, s.MaxID))
		}
	}
	return failures, nil
}

func checkStrayDependents(ctx context.Context, e *evidence, _ *Verification) ([]string, error) {
	if !e.swapped {
		return nil, nil // the live tables stayed where they were
	}
	rows, err := e.tx.Query(ctx, strayDependentsSQL)
	if err != nil {
		return nil, err
	}
	stray, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	failures := make([]string, len(stray))
	for i, s := range stray {
		failures[i] = s + " still depends on the pre-clone tables"
	}
	return failures, nil
}

// equal reports whether two checksums count the same rows with the same sums.
func (c Checksum) equal(o Checksum) bool { return c.Rows == o.Rows && c.Sum == o.Sum }
