package pcapfile

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic, must
// end (every call consumes input or fails), must keep Data within Len, and
// must not let a length field make it allocate beyond a small multiple of
// the input.
func FuzzReader(f *testing.F) {
	ng, _ := validPcapng()
	f.Add(ng)
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		var recs []record
		for _, s := range conversation() {
			recs = append(recs, record{data: eth(s.ip(), 0x8100)})
		}
		f.Add(pcapFile(order, order == binary.BigEndian, 1, 0, recs...))
		n := (&ngBuilder{order: order}).shb().idb(276, 100, 0x80|30, 5).idb(0, 0, -1, 0)
		for i, s := range conversation() {
			n.epb(uint32(i%2), uint64(i), sll2(s.ip()), len(s.ip())+20)
			n.spb(sll2(s.ip()), len(s.ip())+20)
			n.opb(1, 7, null(order, 24, s.ip()))
		}
		n.block(5, make([]byte, 24))
		f.Add(n.b)
	}
	f.Add(benchFile(f, true, 3, 2000)[:500])
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xf0, 0x4d, 0x3c, 0x2b, 0x1a})

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), Config{ServerPorts: []uint16{8090, 40000}})
		if err != nil {
			return
		}
		var seg decoder.Segment
		for range len(data) + 1 {
			if err := r.Next(&seg); err != nil {
				break
			}
			if uint32(len(seg.Data)) > seg.Len {
				t.Fatalf("Data has %d bytes, Len says %d", len(seg.Data), seg.Len)
			}
		}
		if limit := 2*len(data) + defaultBufSize; len(r.src.buf) > limit {
			t.Fatalf("buffer grew to %d bytes for a %d-byte input", len(r.src.buf), len(data))
		}
		if st := r.Stats(); st.Bytes > int64(len(data)) {
			t.Fatalf("consumed %d bytes of %d", st.Bytes, len(data))
		}
	})
}
