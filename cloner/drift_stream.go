package cloner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// keyKind is how a key column travels and compares. The merge compares keys as
// bytes, so each kind is sent and ordered in a form whose byte order is the
// order the server sorted by, whatever its collation.
type keyKind byte

const (
	keyInt  keyKind = iota // smallint, integer, bigint: sent as int8
	keyUUID                // uuid order is the order of its 16 bytes
	keyText                // any other type: ordered and sent as its text, byte by byte (COLLATE "C")
)

// size is the length of the kind's field, 0 when it varies.
func (k keyKind) size() int {
	switch k {
	case keyInt:
		return 8
	case keyUUID:
		return 16
	}
	return 0
}

func keyKindOf(typ string) keyKind {
	switch typ {
	case "smallint", "integer", "bigint":
		return keyInt
	case "uuid":
		return keyUUID
	}
	return keyText
}

// rowFormat is the shape of one stream's rows: the key fields (none for a table
// compared by whole-row hashes, whose hash is its key), the hash, and for the
// sandbox of an export the row's place. A key led by its hash has that hash as a
// first field.
type rowFormat struct {
	keyHash bool
	keys    []keyKind
	locate  bool
}

func newRowFormat(t *DriftTable, locate bool) rowFormat {
	f := rowFormat{locate: locate}
	if t.keyed() {
		for _, k := range t.Key {
			c, _ := t.column(k)
			f.keys = append(f.keys, keyKindOf(c.Type))
		}
		f.keyHash = !t.integerKey()
	}
	return f
}

func (f rowFormat) fields() int {
	n := len(f.keys) + 1
	if f.keyHash {
		n++
	}
	if f.locate {
		n += 2
	}
	return n
}

// integerKey reports whether every key column is an integer: such a key is read in
// the order of the primary key's index, which usually follows the heap (ids grow
// as rows are added), so the server neither sorts nor jumps around the table.
func (t *DriftTable) integerKey() bool {
	for _, k := range t.Key {
		if c, _ := t.column(k); keyKindOf(c.Type) != keyInt {
			return false
		}
	}
	return true
}

// driftSQL reads one side of t sorted by key (the rows where where holds, when set): each key column, then a hash of the
// other compared columns computed by the server (on production with the copy's
// expressions: NULL for a NULLed column), then where the row is when locate is set.
//
// An integer key is read in primary-key order. Any other key (text, uuid,
// composite) is read in the order of its hash, then of its columns: its index is
// ordered by a collation Go cannot reproduce, and often far from the heap order
// (random uuids), so the server sorts anyway, and sorting on one 64-bit integer
// costs a fraction of comparing texts column by column. A table without a usable
// key is sorted by the hash of its whole row.
func driftSQL(t *DriftTable, production, locate bool, where string) string {
	var sel, order []string
	hashed := t.Columns
	if t.keyed() {
		hashed = nil
		var keyCols []DriftColumn
		for _, c := range t.Columns {
			if slices.Contains(t.Key, c.Name) {
				continue
			}
			hashed = append(hashed, c)
		}
		for _, k := range t.Key {
			c, _ := t.column(k)
			keyCols = append(keyCols, c)
		}
		if !t.integerKey() {
			sel, order = append(sel, rowHash(keyCols, false)), append(order, "1")
		}
		for _, c := range keyCols {
			ref := "r." + col(c.Name)
			switch keyKindOf(c.Type) {
			case keyInt:
				sel, order = append(sel, ref+"::int8"), append(order, ref)
			case keyUUID:
				sel, order = append(sel, ref), append(order, ref)
			default:
				sel, order = append(sel, "("+ref+")::text"), append(order, "("+ref+`)::text COLLATE "C"`)
			}
		}
	}
	sel = append(sel, rowHash(hashed, production))
	if !t.keyed() {
		order = []string{fmt.Sprint(len(sel))}
	}
	if locate {
		sel = append(sel, "r.tableoid", "r.ctid")
	}
	if where != "" {
		where = " WHERE " + where
	}
	return "COPY (SELECT " + strings.Join(sel, ", ") + " FROM " + t.from() + " r" + where + " ORDER BY " + strings.Join(order, ", ") + ") TO STDOUT (FORMAT binary)"
}

// rowHash is the server-side hash of cols, as verify's checksums compute it.
func rowHash(cols []DriftColumn, production bool) string {
	exprs, fns := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		exprs[i], fns[i] = "r."+col(c.Name), c.Hash
		if production && c.Nulled {
			exprs[i] = "NULL::" + c.Type
		}
	}
	return hashColumns(exprs, fns)
}

// rowLoc is where a sandbox row is: its table (a partition of a partitioned
// table) and its tuple id, valid for the transaction's snapshot.
type rowLoc struct {
	table  uint32
	block  uint32
	offset uint16
}

type driftRow struct {
	start, end int // the key, in the batch's keys
	hash       int64
	loc        rowLoc
}

// rowBatch is a run of rows of one stream; batches circulate between the reader
// and the merge, so their number bounds the memory.
type rowBatch struct {
	rows []driftRow
	keys []byte
}

const (
	batchRows     = 4096
	batchKeyBytes = 256 << 10
	streamDepth   = 4 // batches queued ahead of the merge
)

// stream is one side's sorted rows, read by COPY on its own goroutine.
type stream struct {
	side    string
	batches chan *rowBatch
	free    chan *rowBatch
	done    chan error
	err     error
	waited  bool
}

func startStream(ctx context.Context, conn *pgconn.PgConn, side, sql string, f rowFormat) *stream {
	s := &stream{side: side, batches: make(chan *rowBatch, streamDepth), free: make(chan *rowBatch, streamDepth+2), done: make(chan error, 1)}
	for range streamDepth + 2 {
		s.free <- &rowBatch{}
	}
	go func() {
		p := &copyParser{f: f, s: s, ctx: ctx}
		_, err := conn.CopyTo(ctx, p, sql)
		if err == nil {
			err = p.finish()
		}
		close(s.batches)
		s.done <- err
	}()
	return s
}

// wait returns the stream's error once its goroutine has ended.
func (s *stream) wait() error {
	if !s.waited {
		s.err, s.waited = <-s.done, true
	}
	return s.err
}

// copySignature starts every binary COPY stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// copyParser decodes a binary COPY stream into batches as pgconn hands it over;
// a row split across writes waits in pend for the rest.
type copyParser struct {
	f      rowFormat
	s      *stream
	ctx    context.Context
	pend   []byte
	header bool
	ended  bool
	b      *rowBatch
}

func (p *copyParser) Write(data []byte) (int, error) {
	n := len(data)
	if len(p.pend) > 0 {
		p.pend = append(p.pend, data...)
		data = p.pend
	}
	rest, err := p.parse(data)
	if err != nil {
		return 0, err
	}
	p.pend = append(p.pend[:0], rest...) // copy handles the overlap when rest is in pend
	return n, nil
}

func (p *copyParser) parse(data []byte) ([]byte, error) {
	if !p.header {
		if len(data) < 19 {
			return data, nil
		}
		if !bytes.Equal(data[:11], copySignature) {
			return nil, errors.New("not a binary COPY stream")
		}
		ext := int(binary.BigEndian.Uint32(data[15:19]))
		if len(data) < 19+ext {
			return data, nil
		}
		data, p.header = data[19+ext:], true
	}
	for len(data) >= 2 {
		if p.ended {
			return nil, errors.New("data after the end of the COPY stream")
		}
		n := int16(binary.BigEndian.Uint16(data))
		if n == -1 {
			p.ended, data = true, data[2:]
			continue
		}
		if int(n) != p.f.fields() {
			return nil, fmt.Errorf("a row has %d fields, want %d", n, p.f.fields())
		}
		size, ok := tupleSize(data, int(n))
		if !ok {
			return data, nil
		}
		if err := p.add(data[2:size]); err != nil {
			return nil, err
		}
		data = data[size:]
	}
	return data, nil
}

// tupleSize is the length of the tuple of n fields at the start of data, or false
// when data does not hold all of it yet.
func tupleSize(data []byte, n int) (int, bool) {
	off := 2
	for range n {
		if len(data) < off+4 {
			return 0, false
		}
		l := int(int32(binary.BigEndian.Uint32(data[off:])))
		off += 4
		if l > 0 {
			off += l
		}
	}
	return off, len(data) >= off
}

// fieldReader takes the fields of one tuple in order.
type fieldReader []byte

func (r *fieldReader) next(size int) ([]byte, error) {
	l := int(int32(binary.BigEndian.Uint32(*r)))
	if l < 0 {
		return nil, errors.New("a NULL key, hash or row place")
	}
	v := (*r)[4 : 4+l]
	*r = (*r)[4+l:]
	if size > 0 && len(v) != size {
		return nil, fmt.Errorf("a field of %d bytes, want %d", len(v), size)
	}
	return v, nil
}

func (p *copyParser) add(tuple []byte) error {
	b, err := p.batch()
	if err != nil {
		return err
	}
	r, fr := driftRow{start: len(b.keys)}, fieldReader(tuple)
	if p.f.keyHash {
		kh, err := fr.next(8)
		if err != nil {
			return err
		}
		b.keys = append(append(b.keys, kh[0]^0x80), kh[1:]...)
	}
	for _, k := range p.f.keys {
		v, err := fr.next(k.size())
		if err != nil {
			return err
		}
		switch k {
		case keyInt:
			b.keys = append(append(b.keys, v[0]^0x80), v[1:]...) // two's complement to unsigned order
		case keyUUID:
			b.keys = append(b.keys, v...)
		default:
			b.keys = append(append(b.keys, v...), 0) // text holds no NUL: "a" < "ab" survives concatenation
		}
	}
	h, err := fr.next(8)
	if err != nil {
		return err
	}
	r.hash = int64(binary.BigEndian.Uint64(h))
	if len(p.f.keys) == 0 {
		b.keys = append(append(b.keys, h[0]^0x80), h[1:]...)
	}
	if p.f.locate {
		if r.loc, err = readLoc(&fr); err != nil {
			return err
		}
	}
	r.end = len(b.keys)
	b.rows = append(b.rows, r)
	if len(b.rows) >= batchRows || len(b.keys) >= batchKeyBytes {
		return p.send()
	}
	return nil
}

func readLoc(fr *fieldReader) (rowLoc, error) {
	oid, err := fr.next(4)
	if err != nil {
		return rowLoc{}, err
	}
	tid, err := fr.next(6)
	if err != nil {
		return rowLoc{}, err
	}
	return rowLoc{table: binary.BigEndian.Uint32(oid), block: binary.BigEndian.Uint32(tid), offset: binary.BigEndian.Uint16(tid[4:])}, nil
}

// batch returns the batch being filled, taking a free one (and so waiting for the
// merge) when there is none.
func (p *copyParser) batch() (*rowBatch, error) {
	if p.b != nil {
		return p.b, nil
	}
	select {
	case b := <-p.s.free:
		b.rows, b.keys = b.rows[:0], b.keys[:0]
		p.b = b
		return b, nil
	case <-p.ctx.Done():
		return nil, context.Cause(p.ctx)
	}
}

func (p *copyParser) send() error {
	select {
	case p.s.batches <- p.b:
		p.b = nil
		return nil
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
}

// finish hands over the last batch once the stream is complete.
func (p *copyParser) finish() error {
	if !p.ended || len(p.pend) > 0 {
		return errors.New("the COPY stream ended in the middle")
	}
	if p.b != nil && len(p.b.rows) > 0 {
		return p.send()
	}
	return nil
}
