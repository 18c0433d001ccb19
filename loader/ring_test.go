package loader

import (
	"bytes"
	"net/netip"
	"sync/atomic"
	"testing"
)

// TestRingWraps writes records of every size from 1 to 700 payload bytes
// through a one-page ring, reading after each packet, so that records
// start at every alignment and many of them wrap around the end of the
// data area: each must come out whole and in order, in place (the reader
// hands out slices of the kernel's double mapping).
func TestRingWraps(t *testing.T) {
	pinCPU(t)
	const ring = 4096
	h := newHarness(t, Config{Mode: Full, RingSize: ring})
	c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	h.in(c.toServer(0, thSYN, nil))
	h.drain()
	seq := uint32(1)
	wrapped := 0
	for size := 1; size <= 700; size++ {
		payload := pattern(size, byte(size))
		before := atomic.LoadUint64(h.tr.rd.consPos())
		h.in(c.toServer(seq, thPSH, payload))
		recs := h.drain()
		if len(recs) != 1 {
			t.Fatalf("size %d: %d records, want 1", size, len(recs))
		}
		r := recs[0]
		if r.seq != seq || !bytes.Equal(r.data, payload) {
			t.Fatalf("size %d: record at seq %d with %d bytes, want seq %d and the payload", size, r.seq, len(r.data), seq)
		}
		after := atomic.LoadUint64(h.tr.rd.consPos())
		if after&^(ring-1) != before&^(ring-1) && after&(ring-1) != 0 {
			wrapped++
		}
		seq += uint32(size)
	}
	if st := h.tr.Stats(); st.DroppedRecords != 0 || st.RecordsMissing != 0 {
		t.Errorf("drops in a ring read after every packet: %+v", st)
	}
	if wrapped < 50 {
		t.Errorf("only %d records wrapped around the end of the ring", wrapped)
	}
}
