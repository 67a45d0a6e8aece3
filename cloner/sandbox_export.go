package cloner

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// SandboxExport is what the clone saves of the sandbox before replacing it: the
// drift of every cloned table, and the archives holding each sandbox row the
// clone deletes (only in the sandbox) or overwrites (changed).
type SandboxExport struct {
	// Round counts the exports of one clone: 1, or more when a swap found the
	// sandbox changed after the previous export and exported it again.
	Round    int       `json:"round"`
	Drift    []Drift   `json:"drift"`
	Archives []Archive `json:"archives"`
	// Workflows names the workflows only the sandbox has (by the manifest's
	// natural key), in natural order; their rows are in the archives.
	Workflows []string `json:"workflows"`

	tables []exportedTable // what the sandbox held, for the switch to check
}

// exportedTable is a cloned table as the export saw it: its rows, and the sums
// of rowVersionSQL's hash of each row version (where it is and which transaction
// wrote it), for the switch to tell whether any row changed since.
type exportedTable struct {
	name, from string
	rows       int64
	hi, lo     int64
}

// Rows is the number of rows exported.
func (e *SandboxExport) Rows() int64 {
	var n int64
	for _, a := range e.Archives {
		n += a.Rows
	}
	return n
}

// exportSandboxWork compares every table between the production snapshot prod
// and the sandbox sbx and writes the sandbox rows the clone would delete or
// overwrite into cfg.Dir, one archive per category, cfg.FirstCategory first. The
// drift is in the order of tables.
//
// The sandbox transaction must keep its snapshot (REPEATABLE READ), or the
// tables must be locked against writes: rows are found by the comparison and
// read afterwards by where they are, and a row that moved in between stops the
// export. A failed export removes its files.
func exportSandboxWork(ctx context.Context, prod, sbx pgx.Tx, tables []DriftTable, cfg ArchiveConfig, lookupKeys int64) (*SandboxExport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := uniqueTables(tables); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := driftSettings(ctx, prod, sbx); err != nil {
		return nil, err
	}
	w := newArchiveWriter(cfg)
	out := &SandboxExport{}
	drift := map[string]Drift{}
	for _, t := range exportOrder(tables, cfg.FirstCategory) {
		d, rows, err := exportTable(ctx, prod, sbx, t, w, lookupKeys)
		if err != nil {
			w.abort()
			return nil, err
		}
		drift[d.Table] = d
		et := exportedTable{name: t.qualified(), from: t.from()}
		if err := sbx.QueryRow(ctx, rowVersionSQL(et.from)).Scan(&et.rows, &et.hi, &et.lo); err != nil {
			w.abort()
			return nil, fmt.Errorf("export table %s: its row versions: %w", t.qualified(), err)
		}
		if et.rows != rows {
			w.abort()
			return nil, fmt.Errorf("export table %s: %d rows compared, %d counted in the same snapshot", t.qualified(), rows, et.rows)
		}
		out.tables = append(out.tables, et)
	}
	for i := range tables { // the drift in the tables' order, as a plan has it
		out.Drift = append(out.Drift, drift[tables[i].qualified()])
	}
	archives, err := w.close()
	if err != nil {
		w.abort()
		return nil, err
	}
	out.Archives = archives
	return out, nil
}

// exportOrder groups tables by category, in the order categories first appear,
// with first's tables first.
func exportOrder(tables []DriftTable, first string) []*DriftTable {
	var cats []string
	for i := range tables {
		if !slices.Contains(cats, tables[i].Category) {
			cats = append(cats, tables[i].Category)
		}
	}
	if i := slices.Index(cats, first); i > 0 {
		cats = append([]string{first}, slices.Delete(cats, i, i+1)...)
	}
	var out []*DriftTable
	for _, c := range cats {
		for i := range tables {
			if tables[i].Category == c {
				out = append(out, &tables[i])
			}
		}
	}
	return out
}

// exportTable compares t, noting where each row to save is in a spool file, then
// reads those rows from the sandbox in batches and writes them out. It returns
// the drift and the number of sandbox rows.
func exportTable(ctx context.Context, prod, sbx pgx.Tx, t *DriftTable, w *archiveWriter, lookupKeys int64) (Drift, int64, error) {
	sp, err := newSpool()
	if err != nil {
		return Drift{}, 0, fmt.Errorf("export table %s: %w", t.qualified(), err)
	}
	defer sp.remove()
	d, rows, err := compareTable(ctx, prod.Conn().PgConn(), sbx.Conn().PgConn(), t, sp.add, lookupKeys)
	if err != nil || d.OnlyInSandbox+d.Changed == 0 {
		return d, rows, err
	}
	if err := w.begin(t); err != nil {
		return d, rows, err
	}
	if err := sp.rewind(); err != nil {
		return d, rows, fmt.Errorf("export table %s: %w", t.qualified(), err)
	}
	q := fetchSQL(t)
	head := []byte(`{"table":` + jsonString(t.qualified()) + `,"change":"`)
	for {
		batch, err := sp.next(fetchBatch)
		if err != nil {
			return d, rows, fmt.Errorf("export table %s: %w", t.qualified(), err)
		}
		if len(batch) == 0 {
			return d, rows, nil
		}
		if err := fetchRows(ctx, sbx, q, t, batch, head, w); err != nil {
			return d, rows, err
		}
	}
}

// fetchBatch is how many rows one read asks for: enough to amortise the round
// trip, few enough that one batch of large rows stays small.
const fetchBatch = 500

// fetchSQL reads rows by where they are, in the order asked: a TID scan per row.
// The key and the row are JSON built by the sandbox, from the compared columns
// only (scrubbed and generated columns stay out).
func fetchSQL(t *DriftTable) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = "s." + col(c.Name)
	}
	key := "NULL::text"
	if t.keyed() {
		parts := make([]string, len(t.Key))
		for i, k := range t.Key {
			parts[i] = fmt.Sprintf("$%d::text, r.%s", i+3, col(k))
		}
		key = "json_build_object(" + strings.Join(parts, ", ") + ")::text"
	}
	return "SELECT u.n, " + key + ", row_to_json(r)::text FROM unnest($1::oid[], $2::tid[]) WITH ORDINALITY u(toid, tid, n) " +
		"JOIN LATERAL (SELECT " + strings.Join(cols, ", ") + " FROM " + t.from() + " s WHERE s.ctid = u.tid AND s.tableoid = u.toid) r ON true ORDER BY u.n"
}

func fetchRows(ctx context.Context, sbx pgx.Tx, q string, t *DriftTable, batch []spooled, head []byte, w *archiveWriter) error {
	oids, tids := make([]uint32, len(batch)), make([]pgtype.TID, len(batch))
	for i, s := range batch {
		oids[i] = s.loc.table
		tids[i] = pgtype.TID{BlockNumber: s.loc.block, OffsetNumber: s.loc.offset, Valid: true}
	}
	args := []any{oids, tids}
	if t.keyed() {
		for _, k := range t.Key {
			args = append(args, k)
		}
	}
	rows, err := sbx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read sandbox rows of %s: %w", t.qualified(), err)
	}
	defer rows.Close()
	var line []byte
	want := int64(1)
	for rows.Next() {
		var n int64
		var key *string
		var row string
		if err := rows.Scan(&n, &key, &row); err != nil {
			return fmt.Errorf("read sandbox rows of %s: %w", t.qualified(), err)
		}
		if n != want {
			break
		}
		keyJSON := "null"
		if key != nil {
			keyJSON = *key
		}
		kind := batch[n-1].kind
		line = append(append(append(append(append(append(line[:0], head...), kind.String()...), `","key":`...), keyJSON...), `,"row":`...), row...)
		line = append(line, "}\n"...)
		if err := w.row(kind, line); err != nil {
			return err
		}
		want++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sandbox rows of %s: %w", t.qualified(), err)
	}
	if want != int64(len(batch))+1 {
		return fmt.Errorf("export table %s: a sandbox row changed while it was being exported; run the clone again", t.qualified())
	}
	return nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// spool keeps where the rows to export are, in a temporary file, so that memory
// stays flat however many rows the sandbox has to save.
type spool struct {
	f *os.File
	w *bufio.Writer
	r *bufio.Reader
}

type spooled struct {
	kind changeKind
	loc  rowLoc
}

const spoolRecord = 11 // kind, table oid, block, offset

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "clonebot-export-*")
	if err != nil {
		return nil, err
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (s *spool) add(kind changeKind, at rowLoc) error {
	var b [spoolRecord]byte
	b[0] = byte(kind)
	binary.BigEndian.PutUint32(b[1:], at.table)
	binary.BigEndian.PutUint32(b[5:], at.block)
	binary.BigEndian.PutUint16(b[9:], at.offset)
	_, err := s.w.Write(b[:])
	return err
}

func (s *spool) rewind() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.r = bufio.NewReaderSize(s.f, 64<<10)
	return nil
}

// next returns up to n spooled rows, none at the end.
func (s *spool) next(n int) ([]spooled, error) {
	var out []spooled
	var b [spoolRecord]byte
	for len(out) < n {
		if _, err := io.ReadFull(s.r, b[:]); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read spool: %w", err)
		}
		out = append(out, spooled{kind: changeKind(b[0]), loc: rowLoc{
			table: binary.BigEndian.Uint32(b[1:]), block: binary.BigEndian.Uint32(b[5:]), offset: binary.BigEndian.Uint16(b[9:])}})
	}
	return out, nil
}

func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}
