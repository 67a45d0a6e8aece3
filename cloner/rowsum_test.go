package cloner

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
)

// choppingWriter hands w the stream in pieces of 1 to 23 bytes, so that every
// field count, length and hash is cut somewhere.
type choppingWriter struct {
	w   io.Writer
	rnd *rand.Rand
}

func (c *choppingWriter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(1+c.rnd.IntN(23), len(rest))
		if _, err := c.w.Write(rest[:n]); err != nil {
			return 0, err
		}
		rest = rest[n:]
	}
	return len(p), nil
}

// TestSummingWriter streams real COPY output through the writer in both formats,
// a row per write as the server sends it, cut into small pieces, and whole: what passes through is byte for byte the copy without
// the hash, and the sums are what the SQL checksum of the table gives.
func TestSummingWriter(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	big := strings.Repeat("wide value ", 30000) // TOASTed, longer than any piece
	if _, err := conn.Exec(ctx, `
		CREATE TYPE mood AS ENUM ('calm', 'busy');
		CREATE TABLE t (id bigint, body text, doc jsonb, raw bytea, at point, m mood);
		CREATE TABLE empty (id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO t VALUES
			(-9223372036854775808, E'tab\there\nnewline \\ backslash', '{"a": [1, 2.50, null]}', '\x00ff', '(1,2)', 'calm'),
			(9223372036854775807, '', '{}', '', NULL, NULL),
			(0, NULL, NULL, NULL, NULL, 'busy'),
			(42, $1, '"é"', '\xdeadbeef', '(-0.5,3)', 'calm')`, big); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO t SELECT g, md5(g::text), jsonb_build_object('g', g), NULL, point(g, g), 'busy' FROM generate_series(1, 2000) g`); err != nil {
		t.Fatal(err)
	}
	cat, err := readCatalog(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	tt := cat.tables[tableName{"public", "t"}]
	for _, text := range []bool{false, true} {
		s := &copySpec{table: tt}
		for _, c := range tt.columns {
			s.add(c, false)
		}
		if !s.text || s.hash[0] != "hashint8extended" || s.hash[2] != "jsonb_hash_extended" || s.hash[3] != hashInArray || s.hash[4] != "" || s.hash[5] != "" {
			t.Fatalf("columns as the catalog reads them: user-defined %v, hash functions %q", s.text, s.hash)
		}
		s.text = text // the enum's binary form names no OID: both formats work here
		var plain bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &plain, "COPY (SELECT "+strings.Join(s.source, ", ")+" FROM t) TO STDOUT ("+s.format()+")"); err != nil {
			t.Fatal(err)
		}
		want, err := checksum(ctx, conn, s, false)
		if err != nil {
			t.Fatal(err)
		}
		// The stream as the server's messages come (a row each), cut in pieces, and
		// in one write.
		for _, feed := range []string{"messages", "pieces", "whole"} {
			var out bytes.Buffer
			sw := newSummingWriter(&out, !text)
			var w io.Writer = sw
			var whole bytes.Buffer
			switch feed {
			case "pieces":
				w = &choppingWriter{w: sw, rnd: rand.New(rand.NewPCG(1, uint64(len(s.format()))))}
			case "whole":
				w = &whole
			}
			if _, err := conn.PgConn().CopyTo(ctx, w, s.sourceSQL()); err != nil {
				t.Fatalf("%s, %s: %v", s.format(), feed, err)
			}
			if feed == "whole" {
				if _, err := sw.Write(whole.Bytes()); err != nil {
					t.Fatalf("%s, %s: %v", s.format(), feed, err)
				}
			}
			got, err := sw.checksum()
			if err != nil {
				t.Fatalf("%s, %s: %v", s.format(), feed, err)
			}
			if !bytes.Equal(out.Bytes(), plain.Bytes()) {
				t.Errorf("%s, %s: the stream without its hashes differs from the plain copy (%d bytes against %d)", s.format(), feed, out.Len(), plain.Len())
			}
			if !got.equal(want) || got.Rows != 2004 {
				t.Errorf("%s, %s: stream checksum %+v, SQL checksum %+v", s.format(), feed, got, want)
			}
		}
	}

	// A table without rows, and a copy without the hash, and one cut short.
	s := &copySpec{table: cat.tables[tableName{"public", "empty"}]}
	s.add(cat.tables[tableName{"public", "empty"}].columns[0], false)
	sw := newSummingWriter(io.Discard, true)
	if _, err := conn.PgConn().CopyTo(ctx, sw, s.sourceSQL()); err != nil {
		t.Fatal(err)
	}
	if got, err := sw.checksum(); err != nil || got.Rows != 0 {
		t.Errorf("empty table: %+v, %v", got, err)
	}
	for _, format := range []string{"binary", "text"} {
		var stream bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &stream, "COPY (SELECT body, id FROM t) TO STDOUT (FORMAT "+format+")"); err != nil {
			t.Fatal(err)
		}
		sw := newSummingWriter(io.Discard, format == "binary")
		_, err := sw.Write(stream.Bytes())
		if err == nil {
			_, err = sw.checksum()
		}
		if err == nil {
			t.Errorf("%s: a copy without the hash in front was accepted", format)
		}
	}
	var whole bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &whole, "COPY (SELECT 1::int8, 2::int4) TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{5, 19, 21, 27, whole.Len() - 2} {
		sw := newSummingWriter(io.Discard, true)
		if _, err := sw.Write(whole.Bytes()[:cut]); err != nil {
			continue
		}
		if _, err := sw.checksum(); err == nil {
			t.Errorf("a binary stream cut at byte %d of %d was taken as complete", cut, whole.Len())
		}
	}
}
