package cloner

import (
	"bufio"
	"encoding/binary"
	"io"
	"testing"
)

// BenchmarkSummingWriter passes narrow binary rows (a hash and four values, as the
// 24M rows of the many shape's ports) through a summingWriter, one write per row
// as the server's messages arrive, into a 64 KiB buffer as streamTable does.
func BenchmarkSummingWriter(b *testing.B) {
	row := binary.BigEndian.AppendUint16(nil, 5)
	row = binary.BigEndian.AppendUint32(row, 8)
	row = binary.BigEndian.AppendUint64(row, 0x0123456789abcdef)
	for _, width := range []int{8, 2, 4, 4} {
		row = binary.BigEndian.AppendUint32(row, uint32(width))
		row = append(row, make([]byte, width)...)
	}
	header := append(append([]byte{}, copySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	b.SetBytes(int64(len(row)))
	b.ReportAllocs()
	cw := &countingWriter{w: bufio.NewWriterSize(io.Discard, copyChunk)}
	sw := newSummingWriter(cw, true)
	if _, err := sw.Write(header); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := sw.Write(row); err != nil {
			b.Fatal(err)
		}
	}
}
