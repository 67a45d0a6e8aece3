package cloner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The drift says how far a sandbox has moved from production, table by table: the
// rows a clone would add (only in production), delete (only in the sandbox) and
// overwrite (changed). Both sides are read once, sorted by primary key (integer
// keys in index order, other keys by their hash first: see driftSQL), as the key
// and a 64-bit hash of the rest of the row computed by each server; Go merges the
// two streams holding a few batches of keys, so memory stays flat whatever the
// size.
//
// "Changed" compares the sandbox row as it is with the row as the clone would
// write it:
//   - A column the clone sets to NULL (a reference to an excluded table) is NULL on
//     the production side and the sandbox's own value on the sandbox side: a
//     sandbox row that points at a sandbox account is changed, because the clone
//     overwrites that reference, and the export must keep it. A freshly cloned
//     sandbox has NULL there and so no drift.
//   - A scrubbed column is compared on neither side: production's value never
//     leaves production, not even as a hash, and the sandbox's value is its own
//     secret, which the clone replaces by the column's default whatever it was.
//   - Generated columns are left out like the copy leaves them out: they follow
//     from the others.
// The same expressions make the verification's checksums, so a sandbox right after
// a clone has no drift at all.

// DriftTable describes one cloned table for the drift and the sandbox export: what
// the copy knows about it, in the terms the comparison needs.
type DriftTable struct {
	Schema, Name string
	Category     string
	// Partitioned tables are read with their partitions; other tables without
	// their inheritance children (classified, and compared, on their own).
	Partitioned bool
	// Columns are the compared columns, in table order: every copied column, not
	// the scrubbed or generated ones.
	Columns []DriftColumn
	// Key is the primary key, when both sides have the same one and every column of
	// it is copied unchanged; empty, the table is compared by whole-row hashes.
	Key []string
	// Scrubbed names the columns left out of the comparison and the export.
	Scrubbed []string

	// productionRows is production's row count on the comparison's snapshot, when
	// the plan counted it (counted): a lookup need not count again.
	productionRows int64
	counted        bool
}

// DriftColumn is one compared column.
type DriftColumn struct {
	Name string
	Type string // as format_type() writes it: bigint, text, "character varying(40)", ...
	// Nulled columns are written as NULL by the clone: production's value is never
	// read.
	Nulled bool
	// Hash is the built-in extended hash function of the type's default hash
	// operator class; a type without one ("") is hashed through its text.
	Hash string
}

// Drift is one table's difference between production and the sandbox.
type Drift struct {
	Table    string `json:"table"`
	Category string `json:"category"`
	// ComparedBy is "primary_key", or "whole_row" for a table without a usable
	// primary key: its rows are matched by their hashes, so an edited row counts
	// once only in production and once only in the sandbox, never as changed.
	ComparedBy       string `json:"compared_by"`
	OnlyInProduction int64  `json:"only_in_production"`
	OnlyInSandbox    int64  `json:"only_in_sandbox"`
	Changed          int64  `json:"changed"`
}

// Ways of comparing a table.
const (
	ByPrimaryKey = "primary_key"
	ByWholeRow   = "whole_row"
)

// Rows is the number of rows the clone adds, deletes or overwrites.
func (d Drift) Rows() int64 { return d.OnlyInProduction + d.OnlyInSandbox + d.Changed }

// CategoryDrift adds up the drift of a category's tables.
type CategoryDrift struct {
	Category         string `json:"category"`
	Tables           int    `json:"tables"`
	OnlyInProduction int64  `json:"only_in_production"`
	OnlyInSandbox    int64  `json:"only_in_sandbox"`
	Changed          int64  `json:"changed"`
}

// Rows is the number of rows the clone adds, deletes or overwrites.
func (d CategoryDrift) Rows() int64 { return d.OnlyInProduction + d.OnlyInSandbox + d.Changed }

// DriftByCategory adds up drift per category, in the order categories first appear.
func DriftByCategory(tables []Drift) []CategoryDrift {
	var out []CategoryDrift
	at := map[string]int{}
	for _, d := range tables {
		i, ok := at[d.Category]
		if !ok {
			i = len(out)
			at[d.Category] = i
			out = append(out, CategoryDrift{Category: d.Category})
		}
		c := &out[i]
		c.Tables++
		c.OnlyInProduction += d.OnlyInProduction
		c.OnlyInSandbox += d.OnlyInSandbox
		c.Changed += d.Changed
	}
	return out
}

// qualified is the name as plans and manifests write it.
func (t *DriftTable) qualified() string { return tableName{t.Schema, t.Name}.String() }

func (t *DriftTable) ident() string { return tableName{t.Schema, t.Name}.ident() }

// from is the table in a FROM clause, as the copy reads it.
func (t *DriftTable) from() string {
	if t.Partitioned {
		return t.ident()
	}
	return "ONLY " + t.ident()
}

func (t *DriftTable) column(name string) (DriftColumn, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return DriftColumn{}, false
}

// keyed reports whether rows are matched by primary key: the table has one and
// each of its columns is compared as it is (a NULLed key column would never
// match production's).
func (t *DriftTable) keyed() bool {
	if len(t.Key) == 0 {
		return false
	}
	for _, k := range t.Key {
		if c, ok := t.column(k); !ok || c.Nulled {
			return false
		}
	}
	return true
}

func (t *DriftTable) comparedBy() string {
	if t.keyed() {
		return ByPrimaryKey
	}
	return ByWholeRow
}

func (t *DriftTable) validate() error {
	if t.Schema == "" || t.Name == "" {
		return errors.New("drift table without a schema or a name")
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("drift table %s: no column to compare", t.qualified())
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if c.Name == "" || c.Type == "" {
			return fmt.Errorf("drift table %s: a column without a name or a type", t.qualified())
		}
		if seen[c.Name] {
			return fmt.Errorf("drift table %s: column %s listed twice", t.qualified(), c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// changeKind is what the clone does to a sandbox row.
type changeKind byte

const (
	onlyInSandbox changeKind = 'd' // deleted by the clone
	changedRow    changeKind = 'c' // overwritten by the clone
)

func (k changeKind) String() string {
	if k == changedRow {
		return "changed"
	}
	return "only_in_sandbox"
}

// sandboxRowFunc receives each sandbox row the clone deletes or overwrites, where
// it is in the sandbox, in key order.
type sandboxRowFunc func(kind changeKind, at rowLoc) error

// driftTables compares every table between the production snapshot prod and the
// sandbox sbx. The sandbox transaction should be REPEATABLE READ, so that every
// table is compared at the same instant.
func driftTables(ctx context.Context, prod, sbx pgx.Tx, tables []DriftTable, lookupKeys int64) ([]Drift, error) {
	if err := uniqueTables(tables); err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	if err := driftSettings(ctx, prod, sbx); err != nil {
		return nil, err
	}
	out := make([]Drift, 0, len(tables))
	for i := range tables {
		d, _, err := compareTable(ctx, prod.Conn().PgConn(), sbx.Conn().PgConn(), &tables[i], nil, lookupKeys)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// driftSettings make key and row text identical on both servers.
func driftSettings(ctx context.Context, prod, sbx pgx.Tx) error {
	if err := applySettings(ctx, prod, textSettings); err != nil {
		return fmt.Errorf("production settings: %w", err)
	}
	if err := applySettings(ctx, sbx, textSettings); err != nil {
		return fmt.Errorf("sandbox settings: %w", err)
	}
	return nil
}

// compareTable streams t from both sides and merges them; visit, when set, gets
// the sandbox rows the clone deletes or overwrites, located for a later read. It
// also returns how many rows the sandbox side had. Production is read at the
// sandbox's keys only when the sandbox holds few rows (at most lookupKeys; see
// planLookup).
func compareTable(ctx context.Context, prod, sbx *pgconn.PgConn, t *DriftTable, visit sandboxRowFunc, lookupKeys int64) (Drift, int64, error) {
	d := Drift{Table: t.qualified(), Category: t.Category, ComparedBy: t.comparedBy()}
	if err := t.validate(); err != nil {
		return d, 0, err
	}
	l, err := planLookup(ctx, prod, sbx, t, lookupKeys)
	if err != nil {
		return d, 0, err
	}
	where := ""
	if l != nil {
		where = l.filter(t)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps := startStream(ctx, prod, "production", driftSQL(t, true, false, where), newRowFormat(t, false))
	ss := startStream(ctx, sbx, "sandbox", driftSQL(t, false, visit != nil, ""), newRowFormat(t, visit != nil))
	pc, sc := newCursor(ps, t.keyed()), newCursor(ss, t.keyed())
	if err := merge(&d, pc, sc, visit); err != nil {
		cancel() // stops the streams; their errors would only say they were stopped
		ps.wait()
		ss.wait()
		return d, 0, fmt.Errorf("drift of table %s: %w", d.Table, err)
	}
	if err := ps.wait(); err != nil {
		return d, 0, fmt.Errorf("drift of table %s: read production: %w", d.Table, err)
	}
	if err := ss.wait(); err != nil {
		return d, 0, fmt.Errorf("drift of table %s: read sandbox: %w", d.Table, err)
	}
	if l != nil { // production rows not at a sandbox key were not read
		d.OnlyInProduction = l.production - (pc.rows - d.OnlyInProduction)
	}
	return d, sc.rows, nil
}

// merge walks both sorted streams. Keys are compared as bytes: the streams encode
// them so that byte order is the servers' order.
func merge(d *Drift, p, s *cursor, visit sandboxRowFunc) error {
	pok, sok := p.next(), s.next()
	for pok && sok {
		c := bytes.Compare(p.key(), s.key())
		switch {
		case c < 0:
			d.OnlyInProduction++
			pok = p.next()
		case c > 0:
			d.OnlyInSandbox++
			if err := visitRow(visit, onlyInSandbox, s); err != nil {
				return err
			}
			sok = s.next()
		default:
			if p.row().hash != s.row().hash {
				d.Changed++
				if err := visitRow(visit, changedRow, s); err != nil {
					return err
				}
			}
			pok, sok = p.next(), s.next()
		}
	}
	if err := errors.Join(p.err, s.err); err != nil {
		return err
	}
	for ; pok; pok = p.next() {
		d.OnlyInProduction++
	}
	for ; sok; sok = s.next() {
		d.OnlyInSandbox++
		if err := visitRow(visit, onlyInSandbox, s); err != nil {
			return err
		}
	}
	return errors.Join(p.err, s.err)
}

func visitRow(visit sandboxRowFunc, kind changeKind, s *cursor) error {
	if visit == nil {
		return nil
	}
	return visit(kind, s.row().loc)
}

// cursor reads one side's batches row by row and checks that keys ascend: an
// unsorted or duplicated key (the sides disagree on the primary key, or on the
// order of text) would make the merge count wrong, so it stops it instead.
type cursor struct {
	s      *stream
	b      *rowBatch
	i      int
	unique bool   // keys must be strictly ascending (primary key), else only ascending (hashes)
	prev   []byte // the previous key, copied: its batch is reused
	seen   bool
	rows   int64 // rows read
	err    error
}

func newCursor(s *stream, unique bool) *cursor { return &cursor{s: s, unique: unique, i: -1} }

func (c *cursor) next() bool {
	if c.b != nil {
		c.i++
		if c.i < len(c.b.rows) {
			return c.check()
		}
		c.s.free <- c.b
		c.b = nil
	}
	b, ok := <-c.s.batches
	if !ok {
		return false
	}
	c.b, c.i = b, 0
	return c.check()
}

func (c *cursor) check() bool {
	k := c.key()
	if c.seen {
		if o := bytes.Compare(c.prev, k); o > 0 || (o == 0 && c.unique) {
			c.err = fmt.Errorf("%s rows are not in strictly ascending key order (is the primary key the same on both sides?)", c.s.side)
			return false
		}
	}
	c.prev, c.seen = append(c.prev[:0], k...), true
	c.rows++
	return true
}

func (c *cursor) row() *driftRow { return &c.b.rows[c.i] }

func (c *cursor) key() []byte {
	r := c.row()
	return c.b.keys[r.start:r.end]
}

// uniqueTables refuses a table listed twice: its rows would be counted, or
// exported, twice.
func uniqueTables(tables []DriftTable) error {
	names := make([]string, len(tables))
	for i := range tables {
		names[i] = tables[i].qualified()
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return fmt.Errorf("table %s is listed twice", names[i])
		}
	}
	return nil
}
