package framing

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// hdr encodes a raw header: first and second u32 as on the wire.
func hdr(first, second uint32) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, first), second)
}

// splits returns ops that feed the pieces of b, one Data call each.
func splits(b ...[]byte) []op {
	var ops []op
	for _, p := range b {
		ops = append(ops, data(p))
	}
	return ops
}

// feedOnly feeds ops to f without flushing.
func feedOnly(f *Framer, r *recorder, ops []op) {
	for _, o := range ops {
		switch o.kind {
		case 'd':
			f.Data(o.data, o.t, r)
		case 's':
			f.Skip(uint32(o.n), o.t, r)
		case 'g':
			f.Gap(o.n, o.t, r)
		}
	}
}

type resyncCase struct {
	name   string
	kind   Kind
	unsync bool
	ops    []op
	want   []got
	desync []desyncEvent
	lost   int
	// before is how many frames must be delivered before Flush (-1: not checked)
	before int
}

func runResyncCases(t *testing.T, tests []resyncCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := run(t, tt.kind, Config{}, tt.unsync, tt.ops...)
			compareFrames(t, r.frames, tt.want)
			if !reflect.DeepEqual(r.desync, tt.desync) || r.lost != tt.lost {
				t.Errorf("desync %v lost %d, want %v %d", r.desync, r.lost, tt.desync, tt.lost)
			}
			if tt.before >= 0 {
				f := New(tt.kind, Config{}, testValidator{tt.kind})
				if tt.unsync {
					f.Unsync()
				}
				r := &recorder{t: t}
				feedOnly(f, r, tt.ops)
				if len(r.frames) != tt.before {
					t.Errorf("%d frames before Flush, want %d", len(r.frames), tt.before)
				}
			}
		})
	}
}

// Bug 1: in sync, a response header with an error status and a payload is
// impossible (iggy-wire.md §2.1: no error has a payload); it loses sync
// like an impossible length instead of being framed and followed.
func TestImpossibleResponseHeaderInSync(t *testing.T) {
	junk := bytes.Repeat([]byte{0xEE}, 100)
	b := responses().add(0, 20).raw(hdr(5, 100)).raw(junk).add(0, 3).add(3, 0)
	// b.frame(0) runs up to frame 1: it holds the bad header and the junk.
	split := splits(b.stream[:28], b.stream[28:b.starts[1]], b.frame(1), b.frame(2))
	var bytewise []op
	for i := range b.stream {
		bytewise = append(bytewise, data(b.stream[i:i+1]))
	}
	// An unknown status without payload is the protocol layer's finding:
	// in sync it is framed.
	u := responses().add(0, 4).add(7, 0).add(0, 0)
	runResyncCases(t, []resyncCase{
		{"one call", Responses, false, []op{data(b.stream)},
			[]got{b.want[0], resynced(b.want[1]), b.want[2]},
			[]desyncEvent{{108, ReasonHeader}}, 1, 3},
		{"one call per segment", Responses, false, split,
			[]got{b.want[0], resynced(b.want[1]), b.want[2]},
			[]desyncEvent{{108, ReasonHeader}}, 1, 3},
		{"byte by byte", Responses, false, bytewise,
			[]got{b.want[0], resynced(b.want[1]), b.want[2]},
			[]desyncEvent{{108, ReasonHeader}}, 1, 3},
		{"header alone, stream ends", Responses, false, []op{data(hdr(5, 100))},
			nil, []desyncEvent{{8, ReasonHeader}}, 1, 0},
		{"unknown status without payload", Responses, false, []op{data(u.stream)},
			u.want, nil, 0, 3},
		{"too long and an error: length reason", Responses, false,
			splits(hdr(5, 0xFFFFFFFF), hdr(0, 0)),
			[]got{resynced(got{Pos: 8})}, []desyncEvent{{8, ReasonLength}}, 1, 1},
	})
}

// pollTail is the end of a PollMessages payload: message bytes, then the
// next message's header (checksum u64, id u128 = 1000, offset u64 = 4,
// timestamp u64). testValidator knows statuses 1000 and 4, so the id reads
// as an error response with no payload followed by an empty OK, and so on.
func pollTail() []byte {
	var b []byte
	b = append(b, "abcdefghijklmnopqrstuvwxyzabcdefgh"...)
	b = binary.LittleEndian.AppendUint64(b, 0x5e5e5e5e5e5e5e5e)
	b = binary.LittleEndian.AppendUint64(b, 1000)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 4)
	b = binary.LittleEndian.AppendUint64(b, 1795316686457467)
	return b
}

// Bug 2: searching for sync, a response candidate inside a Data call is
// accepted only when it and at least one more validated frame end exactly
// where a Data call ends (within maxChain frames); at a Data call's start
// the usual rules apply.
func TestResponseResyncInsideSegment(t *testing.T) {
	tail := pollTail()
	n := len(tail)
	ok0 := hdr(0, 0)
	junk := bytes.Repeat([]byte{0xEE}, 5)

	// A chain of two frames ending at the end of the call: accepted.
	c := responses().raw(junk).add(0, 3).add(3, 0)
	// A lone frame ending at the end of the call: not enough.
	l := responses().raw(junk).add(0, 3).add(0, 0)
	// A chain ending where a later Data call begins: accepted.
	m := responses().raw(junk).add(1000, 0).add(0, 2).add(0, 0)
	// Ten empty OK responses after junk in one call: the chain from each of
	// the first two is longer than maxChain, the third's ends at the end.
	z := responses().raw(junk)
	for range 10 {
		z.add(0, 0)
	}
	var zw []got
	for i := 2; i < 10; i++ {
		zw = append(zw, z.want[i])
	}
	zw[0] = resynced(zw[0])

	runResyncCases(t, []resyncCase{
		{"poll payload, then a response in its own segment", Responses, true,
			splits(tail, ok0),
			[]got{resynced(got{Pos: uint64(n)})}, []desyncEvent{{uint64(n), ReasonStart}}, 0, 1},
		{"poll payload after a loss in sync", Responses, false,
			splits(append(hdr(0, 0xFFFFFFFF), tail...), ok0),
			[]got{resynced(got{Pos: uint64(8 + n)})}, []desyncEvent{{uint64(8 + n), ReasonLength}}, 1, 1},
		{"poll payload, stream ends", Responses, true, splits(tail),
			nil, []desyncEvent{{uint64(n), ReasonStart}}, 0, 0},
		{"two frames ending at the call's end", Responses, true, splits(c.stream),
			[]got{resynced(c.want[0]), c.want[1]}, []desyncEvent{{5, ReasonStart}}, 0, 2},
		{"one frame ending at the call's end", Responses, true,
			splits(l.stream[:l.starts[1]], l.frame(1)),
			[]got{resynced(l.want[1])}, []desyncEvent{{5 + 11, ReasonStart}}, 0, 1},
		{"two frames ending at a later call's start", Responses, true,
			splits(m.stream[:m.starts[2]], m.frame(2)),
			[]got{resynced(m.want[0]), m.want[1], m.want[2]}, []desyncEvent{{5, ReasonStart}}, 0, 3},
		{"chain longer than maxChain", Responses, true, splits(z.stream),
			zw, []desyncEvent{{5 + 16, ReasonStart}}, 0, 8},
		{"requests keep the old rule", Requests, true,
			splits(requests().raw(junk).add(10, 3).stream),
			[]got{resynced(got{Pos: 5, Code: 10, Length: 3, Payload: payloadFor(10, 3)})},
			[]desyncEvent{{5, ReasonStart}}, 0, 1},
	})
}

// Bug 3: a candidate waiting for more bytes does not hold back a later
// candidate at a Data call's start that validates now.
func TestWaitingCandidateDoesNotStall(t *testing.T) {
	ok0 := hdr(0, 0)
	lead := append([]byte{1, 2, 3}, hdr(0, 4096)...) // garbage whose tail reads as a 4 KiB OK
	ten := [][]byte{lead}
	var want []got
	for i := range 10 {
		ten = append(ten, ok0)
		want = append(want, got{Pos: uint64(len(lead) + 8*i)})
	}
	want[0] = resynced(want[0])

	// The waiting lookahead candidate: a header split across two calls.
	split := splits(lead, ok0[:4], ok0[4:], ok0)
	splitWant := []got{resynced(got{Pos: uint64(len(lead))}), {Pos: uint64(len(lead) + 8)}}

	// Requests: junk whose tail reads as a long request, then requests.
	rb := requests().raw([]byte{1, 2, 3}).raw(hdr(4100, 10)).add(11, 3).add(12, 0)
	// A real long frame split across segments is still accepted: its
	// middle segments do not validate.
	long := responses().add(0, 3000).add(0, 0)
	lf := long.frame(0)
	longOps := splits([]byte{9, 9}, lf[:1000], lf[1000:2000], lf[2000:], long.frame(1))
	longWant := []got{moved(resynced(long.want[0]), 2), moved(long.want[1], 2)}

	runResyncCases(t, []resyncCase{
		{"ten empty OK responses", Responses, true, splits(ten...),
			want, []desyncEvent{{uint64(len(lead)), ReasonStart}}, 0, 10},
		{"lookahead candidate split across calls", Responses, true, split,
			splitWant, []desyncEvent{{uint64(len(lead)), ReasonStart}}, 0, 2},
		{"requests", Requests, true, splits(rb.stream[:11], rb.frame(0), rb.frame(1)),
			[]got{moved(resynced(rb.want[0]), 0), rb.want[1]}, []desyncEvent{{11, ReasonStart}}, 0, 2},
		{"a real long frame", Responses, true, longOps,
			longWant, []desyncEvent{{2, ReasonStart}}, 0, 2},
	})
}

// TestZeroAllocsResync: the response search, the chain and the lookahead
// allocate nothing once warm.
func TestZeroAllocsResync(t *testing.T) {
	tail := pollTail()
	lead := append([]byte{1, 2, 3}, hdr(0, 4096)...)
	c := responses().raw([]byte{0xEE}).add(0, 3).add(3, 0).add(0, 100)
	bad, ok0 := hdr(5, 100), hdr(0, 0)
	f := New(Responses, Config{}, testValidator{Responses})
	h := handlerFunc(func(*Frame) {})
	feed := func() {
		f.Data(bad, 1, h) // impossible in sync
		f.Data(tail, 1, h)
		f.Data(lead, 1, h)
		for range 5 {
			f.Data(ok0[:4], 1, h)
			f.Data(ok0[4:], 1, h)
		}
		f.Skip(3, 1, h)
		f.Data(c.stream, 1, h)
	}
	feed()
	feed()
	if n := testing.AllocsPerRun(20, feed); n != 0 {
		t.Errorf("%v allocations per round", n)
	}
}
