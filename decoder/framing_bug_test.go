package decoder_test

import (
	"encoding/binary"
	"testing"

	"github.com/iggytrace/iggytrace/decoder/framing"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// Minimal inputs for the weaknesses of framing.Framer's response search
// that the tracker works around (conn.trusted, conn.restart, the impossible
// header check in onResponse). Framing now handles all three (see its
// TestImpossibleResponseHeaderInSync, TestResponseResyncInsideSegment and
// TestWaitingCandidateDoesNotStall); these stay as regression tests.

// respValidator is the tracker's response validator (decoder.responseValidator).
type respValidator struct{}

func (respValidator) ValidHeader(status, length uint32) bool {
	return status == 0 || length == 0 && protocol.StatusName(status) != ""
}
func (respValidator) ValidFrame(uint32, []byte) bool { return true }

type frames struct{ got []framing.Frame }

func (f *frames) Frame(fr *framing.Frame) { c := *fr; c.Payload = nil; f.got = append(f.got, c) }
func (*frames) Desync(uint64, string)     {}
func (*frames) Lost()                     {}

func hdr(first, second uint32) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, first), second)
}

// In sync, a response header whose status is an error and whose length is
// not 0 is impossible (iggy-wire.md §2.1: no error has a payload), like a
// length above MaxLength; the framer delivers it as a frame, and follows
// its length: one such header, met after a wrong resync, swallows the
// connection's later responses.
func TestFramingKnownBugImpossibleResponseHeaderInSync(t *testing.T) {
	h := &frames{}
	fr := framing.New(framing.Responses, framing.Config{}, respValidator{})
	fr.Data(append(hdr(5, 100), make([]byte, 100)...), 1, h) // status 5 with 100 bytes
	for _, f := range h.got {
		if f.Code != 0 && f.Length != 0 {
			t.Errorf("framed an impossible response: status %d with %d bytes", f.Code, f.Length)
		}
	}
}

// Searching for sync, the framer accepts a candidate anywhere in a Data
// call. Inside a PollMessages payload, a message id 1000+i (u128) followed
// by zeros reads as status 1000+i, length 0, followed by the valid header
// (0, 0): two frames are delivered from the middle of a message.
func TestFramingKnownBugResyncInsidePayload(t *testing.T) {
	// The tail of a message: payload bytes, then the next message's
	// header: checksum u64, id u128 = 1006, offset u64 = 6, timestamps.
	var tail []byte
	tail = append(tail, "abcdefghijklmnopqrstuvwxyzabcdefgh"...)
	tail = binary.LittleEndian.AppendUint64(tail, 0x5e5e5e5e5e5e5e5e) // checksum
	tail = binary.LittleEndian.AppendUint64(tail, 1006)               // id, low
	tail = binary.LittleEndian.AppendUint64(tail, 0)                  // id, high
	tail = binary.LittleEndian.AppendUint64(tail, 6)                  // offset
	tail = binary.LittleEndian.AppendUint64(tail, 1795316686457467)   // timestamp (µs)
	h := &frames{}
	fr := framing.New(framing.Responses, framing.Config{}, respValidator{})
	fr.Unsync()
	fr.Data(tail, 1, h)
	fr.Data(hdr(0, 0), 2, h) // the next real response, an empty OK, in its own segment
	fr.Flush(h)
	for _, f := range h.got {
		if f.Pos != uint64(len(tail)) {
			t.Errorf("framed status %d length %d at offset %d, inside the first Data call", f.Code, f.Length, f.Pos)
		}
	}
}

// Searching for sync, a candidate whose frame is not complete yet makes the
// framer wait, and it judges no later candidate meanwhile: the real frames
// that follow are delivered only once the window (MaxScan, 64 KiB) fills or
// the stream ends. On a quiet live connection that is indefinitely.
func TestFramingKnownBugWaitingCandidateStalls(t *testing.T) {
	h := &frames{}
	fr := framing.New(framing.Responses, framing.Config{}, respValidator{})
	fr.Unsync()
	fr.Data(append([]byte{1, 2, 3}, hdr(0, 4096)...), 1, h) // garbage whose tail reads as a 4 KiB OK
	for i := range 10 {
		fr.Data(hdr(0, 0), int64(2+i), h) // ten empty OK responses, one per segment
	}
	if len(h.got) == 0 {
		t.Error("ten complete responses, each at a segment start, are held back by a candidate that waits for 4 KiB")
	}
}
