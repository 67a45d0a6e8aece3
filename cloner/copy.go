package cloner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// copySpec says how one cloned table travels.
type copySpec struct {
	table    *table // the sandbox's
	category string
	columns  []string // target columns, in order
	source   []string // production expressions for them: the column or a typed NULL
	hash     []string // per column: its type's hash function, or "" to hash its text
	text     bool     // some column has a user-defined type: copy in text format
	nulled   []string // columns set to NULL: references to excluded rows
	scrubbed []string // columns never read from production
	into     string   // a staged load's target, instead of the table itself
	root     uint32   // a staged load's manifest table (a partition's root)
	thaw     bool     // load without FREEZE: the target was not emptied in this transaction
	where    string   // a part of a table split between workers: its range of pages
}

func (s *copySpec) add(c column, null bool) {
	s.columns = append(s.columns, c.name)
	s.hash = append(s.hash, c.hash)
	s.text = s.text || !c.builtin
	if null {
		s.source = append(s.source, "NULL::"+c.typ)
		s.nulled = append(s.nulled, c.name)
		return
	}
	s.source = append(s.source, col(c.name))
}

// from is the table in a FROM clause, as the copy reads it.
func (s *copySpec) from() string { return s.table.from() }

// names and idents name the table for a WaitError.
func (s *copySpec) names() []string  { return []string{s.table.name.String()} }
func (s *copySpec) idents() []string { return []string{s.table.ident()} }

func (s *copySpec) columnList() string {
	q := make([]string, len(s.columns))
	for i, c := range s.columns {
		q[i] = col(c)
	}
	return strings.Join(q, ", ")
}

// format is binary, the cheapest to produce and parse, unless a column's type is
// user-defined: binary arrays and records carry type OIDs, which differ between
// databases.
func (s *copySpec) format() string {
	if s.text {
		return "FORMAT text"
	}
	return "FORMAT binary"
}

// sourceSQL reads the production rows with the transformations applied, each
// preceded by its hash: production's side of the checksum, which a summingWriter
// takes off the stream.
func (s *copySpec) sourceSQL() string {
	return "COPY (SELECT " + s.rowHash(s.source) + ", " + strings.Join(s.source, ", ") + " FROM " + s.from() + s.whereClause() + ") TO STDOUT (" + s.format() + ")"
}

func (s *copySpec) whereClause() string {
	if s.where == "" {
		return ""
	}
	return " WHERE " + s.where
}

// targetSQL loads the sandbox table. FREEZE is allowed because the table was
// truncated in this transaction; it writes rows already frozen, sparing the sandbox
// a later anti-wraparound rewrite.
func (s *copySpec) targetSQL() string {
	target := s.table.ident()
	if s.into != "" {
		target = s.into
	}
	opts := s.format()
	if s.table.kind != "p" && !s.thaw {
		opts += ", FREEZE"
	}
	return "COPY " + target + " (" + s.columnList() + ") FROM STDIN (" + opts + ")"
}

// Progress is reported while a clone runs.
type Progress struct {
	Phase      string `json:"phase"`       // preflight, export, wipe, copy, rebuild, sequences, verify, commit, done
	Table      string `json:"table"`       // during copy: the table being copied
	TableIndex int    `json:"table_index"` // 1-based, during copy
	Tables     int    `json:"tables"`      // cloned tables in all
	TableBytes int64  `json:"table_bytes"` // bytes of this table streamed so far
	TotalBytes int64  `json:"total_bytes"` // bytes streamed so far, all tables
	TableDone  bool   `json:"table_done"`
	Rows       int64  `json:"rows"` // rows of this table, once done
	// PlannedBytes is the on-disk size of every cloned table in production, from
	// the plan, and TablePlannedBytes that of this table: what the copy will stream
	// is about that much (the wire format is not the disk format).
	PlannedBytes      int64 `json:"planned_bytes"`
	TablePlannedBytes int64 `json:"table_planned_bytes"`
	// Done of Steps counts the phase's steps where it has several: indexes and
	// constraints rebuilt, tables verified.
	Done  int `json:"done"`
	Steps int `json:"steps"`
}

// copyChunk is the size of the messages sent to the sandbox, and with the pipe the
// only buffer a table's rows pass through.
const copyChunk = 64 << 10

// countingWriter counts the bytes passing to the pipe.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// streamTable pipes one table from the production snapshot into the sandbox, and
// returns production's checksum of the rows it sent: the bytes pass through an
// io.Pipe without being decoded beyond the hash in front of each row, so memory
// stays flat.
func streamTable(ctx context.Context, src, dst *pgconn.PgConn, s *copySpec, tick func(bytes int64)) (sum Checksum, bytes int64, err error) {
	pr, pw := io.Pipe()
	// The server sends one message per row; the buffer turns them into 64 KiB
	// writes, so the sandbox gets 64 KiB messages instead of a syscall per row.
	buf := bufio.NewWriterSize(pw, copyChunk)
	cw := &countingWriter{w: buf}
	sw := newSummingWriter(cw, !s.text)
	srcDone := make(chan error, 1)
	var srcRows int64
	go func() {
		tag, err := src.CopyTo(ctx, sw, s.sourceSQL())
		if err == nil {
			sum, err = sw.checksum()
		}
		if err == nil {
			err = buf.Flush()
		}
		srcRows = tag.RowsAffected()
		pw.CloseWithError(err)
		srcDone <- err
	}()
	stop, ticked := make(chan struct{}), make(chan struct{})
	go func() {
		ticker(stop, cw, tick)
		close(ticked)
	}()
	tag, dstErr := dst.CopyFrom(ctx, pr, s.targetSQL())
	close(stop)
	<-ticked
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the reader if the sandbox stopped first
	srcErr := <-srcDone
	switch {
	case ctx.Err() != nil: // the pipe's errors would hide why the copy stopped
		return sum, 0, fmt.Errorf("copy table %s: %w", s.table.name, context.Cause(ctx))
	case srcErr != nil && !(dstErr != nil && errors.Is(srcErr, io.ErrClosedPipe)):
		// Production's side fails with the closed pipe when the sandbox stopped
		// first: the sandbox's error is then the cause.
		return sum, 0, fmt.Errorf("read production table %s: %w", s.table.name, waited(srcErr, sideProduction, s.names(), s.idents()))
	case dstErr != nil:
		return sum, 0, fmt.Errorf("load sandbox table %s: %w", s.table.name, waited(dstErr, sideSandbox, s.names(), s.idents()))
	case tag.RowsAffected() != srcRows || sum.Rows != srcRows:
		return sum, 0, fmt.Errorf("copy table %s: production sent %d rows (%d hashed), the sandbox loaded %d", s.table.name, srcRows, sum.Rows, tag.RowsAffected())
	}
	return sum, cw.n.Load(), nil
}

func ticker(stop <-chan struct{}, cw *countingWriter, tick func(int64)) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			tick(cw.n.Load())
		}
	}
}
