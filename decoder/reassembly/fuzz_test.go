package reassembly

import (
	"encoding/binary"
	"testing"
)

// FuzzReassembly drives a Stream with a script of segments and checks that
// it never panics, delivers every position once with the right content,
// stays within its caps, and accounts for every byte.
//
// mode: bit 0 calls Start; bits 1-2 pick the caps. Each 8-byte script
// record is a segment: offset (int16, relative to the end of the furthest
// segment so far; with flag bit 0, the top 16 bits of an absolute sequence
// number instead), wire length (uint16; with flag bit 1, shifted left 16),
// captured length (byte, as a share of the wire length), time step (byte),
// flush (0xFF flushes after the segment), flags.
func FuzzReassembly(f *testing.F) {
	f.Add(uint8(1), []byte{0, 0, 100, 0, 255, 1, 0, 0, 100, 0, 100, 0, 255, 1, 0, 0})
	f.Add(uint8(0), []byte{200, 0, 100, 0, 255, 1, 0, 0, 0, 0, 100, 0, 255, 1, 0, 0, 156, 255, 10, 0, 128, 1, 0, 0})
	f.Add(uint8(3), []byte{0, 0, 0, 16, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 96, 0, 0, 0, 1})
	f.Add(uint8(5), []byte{0, 4, 200, 0, 255, 50, 0, 0, 0, 8, 200, 0, 255, 50, 0, 0, 0, 0, 200, 0, 0, 255, 0, 0})
	f.Fuzz(fuzzReassembly)
}

func fuzzReassembly(t *testing.T, mode uint8, script []byte) {
	cfg := Config{}
	switch mode >> 1 & 3 {
	case 1:
		cfg = Config{MaxPendingBytes: 500, MaxPendingSegments: 3, MaxHoleAge: 100}
	case 2:
		cfg = Config{MaxPendingBytes: 1, MaxPendingSegments: 1, MaxHoleAge: -1}
	case 3:
		cfg = Config{MaxPendingSegments: 2, MaxHoleAge: 1}
	}
	st := NewStream(cfg)
	lim := st.cfg
	const base = 0x7FFFFF00 // wraps the signed midpoint; positions wrap at 2^32 anyway
	k := &sink{t: t, quiet: true}
	var wire, hi, startOff uint64
	var now int64
	started := false
	if mode&1 != 0 {
		st.Start(base - 1)
		started = true
	}
	// Bound the work per input: the fuzzer's inputs can be long.
	script = script[:min(len(script), 8*128)]
	for len(script) >= 8 {
		rec := script[:8]
		script = script[8:]
		var seq uint32
		if rec[7]&1 != 0 {
			seq = uint32(binary.LittleEndian.Uint16(rec)) << 16
		} else {
			off := int64(hi) + int64(int16(binary.LittleEndian.Uint16(rec)))
			seq = base + uint32(off)
		}
		n := uint64(binary.LittleEndian.Uint16(rec[2:]))
		if rec[7]&2 != 0 {
			n <<= 16 // up to 4 GiB of wire length
		}
		c := min(n*uint64(rec[4])/255, 1<<9)
		now += int64(rec[5])
		if !started && n > 0 {
			k.off = uint64(seq - base)
			startOff = k.off
			started = true
		}
		st.Push(seq, contentRange(uint64(seq-base), c), uint32(n), now, k)
		wire += uint64(uint32(n))
		hi = max(hi, uint64(seq-base)+n)
		if segs, b := st.Pending(); segs > lim.MaxPendingSegments || b > lim.MaxPendingBytes {
			t.Fatalf("pending %d segments, %d bytes over the caps", segs, b)
		}
		if rec[6] == 0xFF {
			st.Flush(now, k)
		}
	}
	st.Flush(now, k)
	if started {
		checkAccounting(t, st, wire)
		if k.off != startOff+st.Position() {
			t.Fatalf("sink at %d, stream at %d", k.off, st.Position())
		}
	}
}
