package framing

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzFraming feeds a byte stream to a Framer as a script of Data, Skip and
// Gap calls and checks that it never panics, stays within its caps, frames
// only what the stream holds (each frame's header and payload bytes are the
// stream's bytes at its position), never overlaps frames, and accounts for
// every position.
//
// mode: bit 0 picks responses, bit 1 starts unsynced, bit 2 uses tiny caps.
// Each 2-byte script record is an operation (low 2 bits of the first byte:
// data, data, skip, gap; the other bits scale the size) and a size; what is
// left of the stream after the script is fed as one Data call.
func FuzzFraming(f *testing.F) {
	b := requests().add(10, 20).add(1, 0).add(11, 300).add(100, 5)
	f.Add(uint8(0), []byte{}, b.stream)
	f.Add(uint8(2), []byte{0, 3, 2, 40, 0, 9}, b.stream)
	f.Add(uint8(4), []byte{0, 27, 8, 4, 0, 255}, b.stream)
	f.Add(uint8(0), []byte{0, 10, 3, 25, 0, 100}, append([]byte{0xFF, 0xFF, 0xFF, 0xFF, 10, 0, 0, 0}, b.stream...))
	r := responses().add(0, 20).add(40, 0).add(0, 0).add(0, 100)
	f.Add(uint8(1), []byte{}, r.stream)
	f.Add(uint8(3), []byte{0, 5, 2, 30}, append([]byte{0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}, r.stream...))
	f.Fuzz(fuzzFraming)
}

func fuzzFraming(t *testing.T, mode uint8, script, stream []byte) {
	kind := Kind(mode & 1)
	cfg := Config{}
	if mode&4 != 0 {
		cfg = Config{MaxLength: 1000, MaxBuffer: 16, MaxScan: 64}
	}
	fr := New(kind, cfg, testValidator{kind})
	if mode&2 != 0 {
		fr.Unsync()
	}
	h := &fuzzHandler{t: t, stream: stream, kind: kind}
	var pos uint64 // stream offset of the next position fed
	take := func(n uint64) []byte {
		if pos >= uint64(len(stream)) {
			return nil
		}
		return stream[pos:min(pos+n, uint64(len(stream)))]
	}
	for i := 0; i+1 < len(script); i += 2 {
		op, size := script[i], uint64(script[i+1])
		size <<= (op >> 2) & 7 // up to 32 KiB per call
		tm := int64(i)
		switch op & 3 {
		case 0, 1:
			p := take(size + 1)
			if len(p) == 0 {
				continue
			}
			fr.Data(p, tm, h)
			pos += uint64(len(p))
		case 2:
			fr.Skip(uint32(size), tm, h)
			pos += size
		case 3:
			if op&0x80 != 0 {
				size <<= 24 // up to ~4 TiB: a huge gap
			}
			fr.Gap(size, tm, h)
			pos += size
		}
		checkBounds(t, fr)
	}
	if p := take(uint64(len(stream))); len(p) > 0 {
		fr.Data(p, 0, h)
		pos += uint64(len(p))
	}
	fr.Flush(h)
	checkAccounting(t, fr, pos)
	s := fr.Stats()
	if h.desync != s.DesyncBytes || h.frames != s.Frames || h.lost != s.SyncLosses {
		t.Fatalf("events (%d frames, %d desync bytes, %d lost) disagree with %+v", h.frames, h.desync, h.lost, s)
	}
}

// fuzzHandler checks each frame against the stream it came from.
type fuzzHandler struct {
	t      *testing.T
	stream []byte
	kind   Kind
	end    uint64
	frames uint64
	desync uint64
	lost   uint64
}

func (h *fuzzHandler) Frame(f *Frame) {
	if h.frames > 0 && f.Pos < h.end {
		h.t.Fatalf("frame at %d overlaps the previous one, ending at %d", f.Pos, h.end)
	}
	h.frames++
	h.end = f.Pos + HeaderSize + uint64(f.Length)
	if f.Pos+HeaderSize > uint64(len(h.stream)) {
		h.t.Fatalf("frame at %d: header past the stream", f.Pos)
	}
	var hdr [HeaderSize]byte
	if h.kind == Requests {
		binary.LittleEndian.PutUint32(hdr[:], f.Length+4)
		binary.LittleEndian.PutUint32(hdr[4:], f.Code)
	} else {
		binary.LittleEndian.PutUint32(hdr[:], f.Code)
		binary.LittleEndian.PutUint32(hdr[4:], f.Length)
	}
	if !bytes.Equal(hdr[:], h.stream[f.Pos:f.Pos+HeaderSize]) {
		h.t.Fatalf("frame at %d: header %x, stream %x", f.Pos, hdr, h.stream[f.Pos:f.Pos+HeaderSize])
	}
	at := f.Pos + HeaderSize
	if at+uint64(len(f.Payload)) > uint64(len(h.stream)) || !bytes.Equal(f.Payload, h.stream[at:at+uint64(len(f.Payload))]) {
		h.t.Fatalf("frame at %d: payload differs from the stream", f.Pos)
	}
	if f.Missing != f.Length-uint32(len(f.Payload)) {
		h.t.Fatalf("frame at %d: missing %d, length %d, payload %d", f.Pos, f.Missing, f.Length, len(f.Payload))
	}
}

func (h *fuzzHandler) Desync(n uint64, _ string) {
	if n == 0 {
		h.t.Fatal("empty desync")
	}
	h.desync += n
}

func (h *fuzzHandler) Lost() { h.lost++ }
