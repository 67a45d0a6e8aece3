package cloner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The production side of a table's checksum comes from the copy itself: the copy
// query puts each row's hash (checksumSQL's expression) in front of the row, and a
// summingWriter takes it off before the sandbox sees the row, summing it as
// checksumSQL sums the sandbox's rows. Production so reads and decodes every value
// once, for the copy and the checksum alike, instead of scanning the table a second
// time; and the checksum is of exactly the rows that were sent.

// summingWriter passes a COPY stream through to w without its first column, an
// int8 hash, and sums the hashes. It handles the stream however it is cut into
// writes, and keeps no more than a few bytes of it.
type summingWriter struct {
	w      io.Writer
	binary bool

	rows, hi, lo int64

	state     sumState
	need      int      // bytes still wanted for scratch
	scratch   [19]byte // a header, a field count, a length or a hash being gathered
	have      int
	fields    int     // fields left in the current tuple, the hash not counted
	remaining int64   // bytes left of the current field's value
	count     [2]byte // a tuple's field count, the hash taken off
	digits    []byte
	err       error
}

type sumState int

const (
	sumHeader      sumState = iota // binary: signature, flags, extension length
	sumExtension                   // binary: header extension, passed through
	sumTuple                       // binary: a tuple's field count, or the trailer
	sumHashLength                  // binary: the hash's length word
	sumHash                        // binary: the hash
	sumFieldLength                 // binary: a value's length word
	sumField                       // binary: a value
	sumEnd                         // binary: after the trailer
	sumTextHash                    // text: the hash at the start of a line
	sumTextRow                     // text: the rest of the line
)

func newSummingWriter(w io.Writer, binary bool) *summingWriter {
	s := &summingWriter{w: w, binary: binary, state: sumTextHash}
	if binary {
		s.state, s.need = sumHeader, 19
	}
	return s
}

// checksum is what the stream summed, once it is complete.
func (s *summingWriter) checksum() (Checksum, error) {
	if s.err != nil {
		return Checksum{}, s.err
	}
	if (s.binary && s.state != sumEnd) || (!s.binary && (s.state != sumTextHash || len(s.digits) > 0)) {
		return Checksum{}, errors.New("the copy stream ended inside a row")
	}
	c := Checksum{Rows: s.rows, hi: s.hi, lo: s.lo}
	c.seal()
	return c, nil
}

func (s *summingWriter) add(h int64) {
	s.hi += h >> 32
	s.lo += h & 0x7fffffff
}

// Write consumes p; what passes through goes to w in as few writes as the hashes
// allow.
func (s *summingWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.consume(p); err != nil {
		s.err = err
		return 0, err
	}
	return len(p), nil
}

func (s *summingWriter) consume(p []byte) error {
	if !s.binary {
		return s.consumeText(p)
	}
	out := 0 // start of the bytes of p not yet passed through
	flush := func(end int) error {
		if end > out {
			if _, err := s.w.Write(p[out:end]); err != nil {
				return err
			}
		}
		out = end
		return nil
	}
	for i := 0; i < len(p); {
		// The usual case: whole tuples, one per message, taken without the states
		// below.
		if s.state == sumTuple && s.have == 0 {
			if n, h, fields, ok := wholeTuple(p[i:]); ok {
				if err := flush(i); err != nil {
					return err
				}
				if err := s.writeCount(fields); err != nil {
					return err
				}
				s.add(h)
				s.rows++
				out, i = i+14, i+n
				continue
			}
		}
		switch s.state {
		case sumField, sumExtension: // passed through
			n := int(min(s.remaining, int64(len(p)-i)))
			i += n
			if s.remaining -= int64(n); s.remaining > 0 {
				continue
			}
			if s.state == sumField {
				s.fieldDone()
			} else {
				s.state, s.need = sumTuple, 2
			}
			continue
		case sumEnd:
			return errors.New("the copy stream goes on after its trailer")
		}
		// The other states gather a few bytes first. A field count is replaced and
		// the hash dropped: the bytes before them go out first.
		drop := s.state == sumTuple || s.state == sumHashLength || s.state == sumHash
		if drop {
			if err := flush(i); err != nil {
				return err
			}
		}
		n := min(s.need-s.have, len(p)-i)
		copy(s.scratch[s.have:], p[i:i+n])
		s.have += n
		i += n
		if drop {
			out = i
		}
		if s.have < s.need {
			continue
		}
		got := s.scratch[:s.need]
		s.have = 0
		if err := s.gathered(got); err != nil {
			return err
		}
	}
	return flush(len(p))
}

// gathered acts on the bytes a state gathered.
func (s *summingWriter) gathered(got []byte) error {
	switch s.state {
	case sumHeader:
		if !bytes.Equal(got[:11], copySignature) {
			return errors.New("the copy stream does not start with the binary signature")
		}
		s.remaining = int64(binary.BigEndian.Uint32(got[15:19]))
		if s.state = sumExtension; s.remaining == 0 {
			s.state, s.need = sumTuple, 2
		}
	case sumTuple:
		count := int16(binary.BigEndian.Uint16(got))
		if count == -1 { // the trailer
			s.state = sumEnd
			_, err := s.w.Write(got)
			return err
		}
		if count < 1 {
			return fmt.Errorf("a copied row has %d columns, not its hash and its values", count)
		}
		if err := s.writeCount(int(count) - 1); err != nil {
			return err
		}
		s.fields = int(count) - 1
		s.state, s.need = sumHashLength, 4
	case sumHashLength:
		if l := int32(binary.BigEndian.Uint32(got)); l != 8 {
			return fmt.Errorf("a copied row's hash is %d bytes long, not 8", l)
		}
		s.state, s.need = sumHash, 8
	case sumHash:
		s.add(int64(binary.BigEndian.Uint64(got)))
		s.fieldDone()
	case sumFieldLength:
		if l := int32(binary.BigEndian.Uint32(got)); l > 0 {
			s.remaining, s.state = int64(l), sumField
		} else {
			s.fieldDone() // NULL or empty
		}
	}
	return nil
}

// writeCount passes on a tuple's field count, the hash taken off.
func (s *summingWriter) writeCount(fields int) error {
	binary.BigEndian.PutUint16(s.count[:], uint16(fields))
	_, err := s.w.Write(s.count[:])
	return err
}

// wholeTuple reads the binary tuple at the start of p when p holds all of it: its
// length, its hash and its number of fields after the hash. false when p holds less,
// or something the states below must judge (the trailer, a malformed tuple).
func wholeTuple(p []byte) (n int, hash int64, fields int, ok bool) {
	if len(p) < 14 {
		return 0, 0, 0, false
	}
	count := int16(binary.BigEndian.Uint16(p))
	if count < 1 || int32(binary.BigEndian.Uint32(p[2:])) != 8 {
		return 0, 0, 0, false
	}
	hash = int64(binary.BigEndian.Uint64(p[6:]))
	n = 14
	for range int(count) - 1 {
		if len(p)-n < 4 {
			return 0, 0, 0, false
		}
		l := int32(binary.BigEndian.Uint32(p[n:]))
		n += 4
		if l > 0 {
			if int64(len(p)-n) < int64(l) {
				return 0, 0, 0, false
			}
			n += int(l)
		}
	}
	return n, hash, int(count) - 1, true
}

// fieldDone moves past a value (or the hash) to the next one, or to the next tuple.
func (s *summingWriter) fieldDone() {
	if s.state != sumHash {
		s.fields--
	}
	if s.fields == 0 {
		s.rows++
		s.state, s.need = sumTuple, 2
		return
	}
	s.state, s.need = sumFieldLength, 4
}

// consumeText handles the text format: the hash is the line's first field, ended by
// a tab (or, for a row without columns, by the newline).
func (s *summingWriter) consumeText(p []byte) error {
	for len(p) > 0 {
		if s.state == sumTextRow {
			end := bytes.IndexByte(p, '\n')
			if end < 0 {
				_, err := s.w.Write(p)
				return err
			}
			if _, err := s.w.Write(p[:end+1]); err != nil {
				return err
			}
			p = p[end+1:]
			s.state = sumTextHash
			continue
		}
		end := bytes.IndexAny(p, "\t\n")
		if end < 0 {
			if len(s.digits)+len(p) > 20 {
				return errors.New("a copied row does not start with its hash")
			}
			s.digits = append(s.digits, p...)
			return nil
		}
		s.digits = append(s.digits, p[:end]...)
		h, err := strconv.ParseInt(string(s.digits), 10, 64)
		if err != nil {
			return fmt.Errorf("a copied row does not start with its hash: %w", err)
		}
		s.add(h)
		s.rows++
		s.digits = s.digits[:0]
		if p[end] == '\n' {
			if _, err := s.w.Write(p[end : end+1]); err != nil {
				return err
			}
			p = p[end+1:]
			continue
		}
		p = p[end+1:]
		s.state = sumTextRow
	}
	return nil
}
