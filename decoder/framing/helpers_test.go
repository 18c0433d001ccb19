package framing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// testValidator is a stand-in for the protocol layer's validators (the real
// ones live in decoder and decoder/protocol). It models what matters to the
// framer: a small set of known request codes, request payloads that "decode
// exactly" only when their first byte repeats the code (or they are empty),
// and responses whose status is OK or a known error with no payload.
type testValidator struct{ kind Kind }

var _ Validator = testValidator{}

// knownCode reports whether testValidator accepts a request code.
func knownCode(code uint32) bool {
	switch code {
	case 1, 10, 11, 12, 100, 101, 200, 301:
		return true
	}
	return false
}

// knownStatus reports whether testValidator accepts an error status.
func knownStatus(status uint32) bool {
	switch status {
	case 1, 2, 3, 4, 8, 40, 1000:
		return true
	}
	return false
}

func (v testValidator) ValidHeader(code, length uint32) bool {
	if v.kind == Requests {
		return knownCode(code) && length >= 4
	}
	return code == 0 || (knownStatus(code) && length == 0)
}

func (v testValidator) ValidFrame(code uint32, payload []byte) bool {
	if v.kind == Requests {
		return len(payload) == 0 || payload[0] == byte(code)
	}
	return true
}

// payloadFor returns n payload bytes that testValidator accepts for code,
// filled with a pattern that does not look like headers.
func payloadFor(code uint32, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(0xA0 + (i*7)%31)
	}
	if n > 0 {
		p[0] = byte(code)
	}
	return p
}

// frameBytes encodes a frame of the given kind.
func frameBytes(kind Kind, code uint32, payload []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	if kind == Requests {
		binary.LittleEndian.PutUint32(b, uint32(len(payload))+4)
		binary.LittleEndian.PutUint32(b[4:], code)
	} else {
		binary.LittleEndian.PutUint32(b, code)
		binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	}
	return append(b, payload...)
}

// got is a delivered frame, with its payload copied.
type got struct {
	Pos      uint64
	Time     int64
	EndTime  int64
	Code     uint32
	Length   uint32
	Payload  []byte
	Missing  uint32
	Lost     bool
	Resynced bool
}

func (g got) String() string {
	return fmt.Sprintf("{pos %d t %d-%d code %d len %d payload %d missing %d lost %v resynced %v}",
		g.Pos, g.Time, g.EndTime, g.Code, g.Length, len(g.Payload), g.Missing, g.Lost, g.Resynced)
}

type desyncEvent struct {
	Bytes  uint64
	Reason string
}

// recorder is a Handler that keeps everything and checks the per-frame
// invariants as frames arrive.
type recorder struct {
	t      testing.TB
	frames []got
	desync []desyncEvent
	lost   int
	log    []string // event order: "F", "D", "L"
	end    uint64   // end of the last frame
}

func (r *recorder) Frame(f *Frame) {
	if len(f.Payload) > int(f.Length) || f.Missing != f.Length-uint32(len(f.Payload)) {
		r.t.Errorf("frame %v: payload %d, missing %d", f.Pos, len(f.Payload), f.Missing)
	}
	if len(r.frames) > 0 && f.Pos < r.end {
		r.t.Errorf("frame at %d overlaps the previous one, which ends at %d", f.Pos, r.end)
	}
	r.end = f.Pos + HeaderSize + uint64(f.Length)
	r.frames = append(r.frames, got{f.Pos, f.Time, f.EndTime, f.Code, f.Length,
		bytes.Clone(f.Payload), f.Missing, f.Lost, f.Resynced})
	r.log = append(r.log, "F")
}

func (r *recorder) Desync(n uint64, reason string) {
	r.desync = append(r.desync, desyncEvent{n, reason})
	r.log = append(r.log, "D")
}

func (r *recorder) Lost() {
	r.lost++
	r.log = append(r.log, "L")
}

// builder assembles a stream and the frames it should yield.
type builder struct {
	kind   Kind
	stream []byte
	want   []got
	starts []int // offset of each frame
}

func (b *builder) add(code uint32, n int) *builder {
	p := payloadFor(code, n)
	if b.kind == Responses && code != 0 {
		p = nil
	}
	b.starts = append(b.starts, len(b.stream))
	b.want = append(b.want, got{Pos: uint64(len(b.stream)), Code: code, Length: uint32(len(p)), Payload: p})
	b.stream = append(b.stream, frameBytes(b.kind, code, p)...)
	return b
}

func (b *builder) raw(p []byte) *builder {
	b.stream = append(b.stream, p...)
	return b
}

// frame returns the encoded bytes of frame i.
func (b *builder) frame(i int) []byte {
	end := len(b.stream)
	if i+1 < len(b.starts) {
		end = b.starts[i+1]
	}
	return b.stream[b.starts[i]:end]
}

// compareFrames checks frames against want, ignoring times (TestTimes
// checks those). Payloads compare as bytes.
func compareFrames(t testing.TB, gotFrames, want []got) {
	t.Helper()
	if len(gotFrames) != len(want) {
		t.Errorf("got %d frames, want %d", len(gotFrames), len(want))
	}
	for i := range min(len(gotFrames), len(want)) {
		g, w := gotFrames[i], want[i]
		g.Time, g.EndTime = w.Time, w.EndTime
		if g.Pos != w.Pos || g.Code != w.Code || g.Length != w.Length || g.Missing != w.Missing ||
			g.Lost != w.Lost || g.Resynced != w.Resynced || !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("frame %d:\n got %v\nwant %v", i, g, w)
		}
	}
	if t.Failed() {
		for i, g := range gotFrames {
			t.Logf("got[%d] = %v", i, g)
		}
	}
}

// op is one call to a Framer.
type op struct {
	kind byte // 'd' data, 's' skip, 'g' gap
	data []byte
	n    uint64
	t    int64
}

func data(p []byte) op    { return op{kind: 'd', data: p} }
func skip(n int) op       { return op{kind: 's', n: uint64(n)} }
func gap(n uint64) op     { return op{kind: 'g', n: n} }
func at(o op, t int64) op { o.t = t; return o }

// run feeds ops to a new Framer, flushes it, and checks the stream
// accounting invariant.
func run(t testing.TB, kind Kind, cfg Config, unsync bool, ops ...op) (*recorder, *Framer) {
	t.Helper()
	f := New(kind, cfg, testValidator{kind})
	if unsync {
		f.Unsync()
	}
	r := &recorder{t: t}
	var total uint64
	for _, o := range ops {
		switch o.kind {
		case 'd':
			f.Data(o.data, o.t, r)
			total += uint64(len(o.data))
		case 's':
			f.Skip(uint32(o.n), o.t, r)
			total += o.n
		case 'g':
			f.Gap(o.n, o.t, r)
			total += o.n
		}
		checkBounds(t, f)
	}
	f.Flush(r)
	checkAccounting(t, f, total)
	return r, f
}

// checkBounds checks the memory caps.
func checkBounds(t testing.TB, f *Framer) {
	t.Helper()
	if len(f.scan) > f.cfg.MaxScan || cap(f.scan) > f.cfg.MaxScan {
		t.Fatalf("scan buffer %d (cap %d) over MaxScan %d", len(f.scan), cap(f.scan), f.cfg.MaxScan)
	}
	if len(f.pieces) > maxPieces {
		t.Fatalf("%d pieces over %d", len(f.pieces), maxPieces)
	}
	if cap(f.buf) > f.cfg.MaxBuffer {
		t.Fatalf("payload buffer %d (cap %d) over MaxBuffer %d", len(f.buf), cap(f.buf), f.cfg.MaxBuffer)
	}
	if f.synced && len(f.scan) >= HeaderSize {
		t.Fatalf("in sync with %d bytes held", len(f.scan))
	}
}

// checkAccounting checks, after Flush, that every position fed is framed,
// discarded or unframed, exactly once.
func checkAccounting(t testing.TB, f *Framer, total uint64) {
	t.Helper()
	s := f.Stats()
	if s.FramedBytes+s.DesyncBytes+s.UnframedBytes != total || f.pos != total {
		t.Fatalf("accounting: framed %d + desync %d + unframed %d != %d fed (pos %d)",
			s.FramedBytes, s.DesyncBytes, s.UnframedBytes, total, f.pos)
	}
}
