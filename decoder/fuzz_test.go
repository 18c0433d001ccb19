package decoder_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
)

var (
	fuzzStrict   = flag.Bool("fuzz-strict", false, "FuzzTracker also checks that no response is paired with the wrong request")
	updateCorpus = flag.Bool("update-corpus", false, "write the named seeds of FuzzTracker to testdata/fuzz/FuzzTracker")
)

// mutate builds a capture from the real session and a fuzz script.
//
// script[0:2] picks the first segment, script[2] the number of segments
// (0: to the end); each following byte is an operation on the next segment
// of that window, its low 3 bits the kind and the high 5 bits an argument:
//
//	0, 1  keep arg+1 segments
//	2     drop the segment
//	3     keep only the first arg/32 of its captured bytes (a snaplen: the
//	      rest is skipped, not lost)
//	4     cut it to arg/32 of its length (the rest is lost)
//	5     keep it, and repeat it arg segments later (a retransmission)
//	6     swap it with the next one
//	7     flip bytes: the next byte is an offset, the following arg+1
//	      bytes are XORed in; with arg 31, the next 64 bytes are instead
//	      sent as raw garbage on a connection of their own
//
// Segments left when the script ends are kept.
//
// Without corrupt, the byte flips of operation 7 are not made (the segment
// is kept as is): the capture then only loses, repeats and reorders bytes,
// so every pair must be one of the clean run's.
func mutate(segs []decoder.Segment, script []byte, corrupt bool) []decoder.Segment {
	if len(script) < 3 {
		return slices.Clone(segs)
	}
	from := int(binary.LittleEndian.Uint16(script)) % len(segs)
	n := len(segs) - from
	if script[2] != 0 {
		n = min(n, 2*int(script[2]))
	}
	window := segs[from : from+n]
	script = script[3:]
	next := func() byte {
		if len(script) == 0 {
			return 0
		}
		b := script[0]
		script = script[1:]
		return b
	}

	out := make([]decoder.Segment, 0, len(window)+8)
	type later struct {
		seg decoder.Segment
		at  int // emit once this many window segments have been consumed
	}
	var again []later
	var junk int
	junkSeq := [2]uint32{}
	i := 0
	emitLater := func() {
		for j := 0; j < len(again); {
			if again[j].at <= i {
				out = append(out, again[j].seg)
				again = slices.Delete(again, j, j+1)
				continue
			}
			j++
		}
	}
	for i < len(window) {
		emitLater()
		if len(script) == 0 {
			out = append(out, window[i])
			i++
			continue
		}
		op := next()
		kind, arg := op&7, int(op>>3)
		s := window[i]
		switch kind {
		case 0, 1:
			for k := 0; k <= arg && i < len(window); k++ {
				out = append(out, window[i])
				i++
			}
			continue
		case 2:
		case 3:
			s.Data = s.Data[:len(s.Data)*arg/32]
			out = append(out, s)
		case 4:
			k := int(s.Len) * arg / 32
			s.Data = s.Data[:min(k, len(s.Data))]
			s.Len = uint32(k)
			out = append(out, s)
		case 5:
			out = append(out, s)
			again = append(again, later{s, i + arg})
		case 6:
			if i+1 < len(window) {
				out = append(out, window[i+1], s)
				i++
			} else {
				out = append(out, s)
			}
		case 7:
			if arg == 31 {
				// Raw garbage on a connection of its own.
				n := min(64, len(script))
				dir := decoder.Direction(junk % 2)
				key := decoder.ConnKey{
					Client: netip.MustParseAddrPort("192.0.2.1:50000"),
					Server: netip.MustParseAddrPort("192.0.2.2:8090"),
				}
				out = append(out, decoder.Segment{Time: s.Time, Key: key, Dir: dir, Seq: junkSeq[dir],
					Len: uint32(n), Data: slices.Clone(script[:n])})
				junkSeq[dir] += uint32(n)
				script = script[n:]
				junk++
				continue // the window segment is still to come
			}
			data := slices.Clone(s.Data)
			off := int(next())
			for k := 0; k <= arg; k++ {
				b := next()
				if len(data) > 0 && corrupt {
					data[(off+k)%len(data)] ^= b
				}
			}
			s.Data = data
			out = append(out, s)
		}
		i++
	}
	i = len(window) + 1<<30
	emitLater()
	return out
}

// FuzzTracker feeds the tracker the real session cut, thinned, reordered,
// repeated, corrupted and mixed with garbage as a fuzz script says (see
// mutate), and checks what must hold whatever the input: no panic; every
// event consistent (command names match codes, status names match
// statuses, flags match kinds); the counters add up; every connection
// opened is closed once; and the tracker's allocations stay proportional to
// the input, never to a length field; every event writes as valid JSON and
// one text line, and no secret field keeps a byte.
//
// With -fuzz-strict the byte flips are off and it also checks the key
// property: no response paired with another request than in the clean run.
// The tracker holds it for any single fault and the double faults the
// other tests cover; the fuzzer still finds mispairings where three or more
// faults meet in consecutive exchanges with nothing observable between
// them (e.g. a capture begun mid-connection, a response lost before the
// first response byte seen, and a request recorded after its response):
// without TCP acknowledgment numbers in Segment those are ambiguous.
func FuzzTracker(f *testing.F) {
	segs := session(f)
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	c := clean(f)
	f.Fuzz(func(t *testing.T, script []byte) {
		in := mutate(segs, script, !*fuzzStrict)
		var size uint64
		for i := range in {
			size += uint64(len(in[i].Data))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := track(decoder.Config{}, in)
		runtime.ReadMemStats(&after)
		// The clean session (3.3 MB) allocates about 11 MB; a frame's
		// payload is buffered whole up to 16 MiB (framing.DefaultMaxBuffer).
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20+8*size {
			t.Errorf("allocated %d MiB for %d KiB of input", grew>>20, size>>10)
		}
		checkConsistent(t, got.events)
		checkCounters(t, got)
		checkOutput(t, got.events)
		if *fuzzStrict {
			checkPairing(t, c, got)
		}
	})
}

// checkOutput writes every event as JSON and as text: the JSON must be
// valid, and a secret field never carries a byte or a length.
func checkOutput(t *testing.T, evs []*decoder.Event) {
	t.Helper()
	var b []byte
	for _, ev := range evs {
		b = stdout.AppendJSON(b[:0], ev)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON for %s:\n%s", describe(ev), b)
		}
		b = stdout.AppendText(b[:0], ev)
		if bytes.IndexByte(b, '\n') >= 0 {
			t.Fatalf("text line with a newline for %s: %q", describe(ev), b)
		}
		for _, vs := range [][]protocol.Value{ev.Request, ev.Response} {
			for _, v := range vs {
				if v.Kind == protocol.KindRedacted && (v.Str != "" || v.Num != 0 || v.Hi != 0) {
					t.Fatalf("redacted field %q keeps %q/%d: %s", v.Name, v.Str, v.Num, describe(ev))
				}
			}
		}
	}
}

// checkCounters checks that events and counters agree.
func checkCounters(t *testing.T, r *run) {
	t.Helper()
	open := map[uint64]bool{}
	closed := map[uint64]bool{}
	var pairs, unanswered, unmatched, gaps, gapBytes, desync uint64
	perConn := map[uint64]*decoder.ConnStats{}
	for _, ev := range r.events {
		cs := perConn[ev.ConnID]
		if cs == nil {
			cs = &decoder.ConnStats{}
			perConn[ev.ConnID] = cs
		}
		switch ev.Kind {
		case decoder.EventOpen:
			if open[ev.ConnID] {
				t.Errorf("connection %d opened twice", ev.ConnID)
			}
			open[ev.ConnID] = true
		case decoder.EventClose:
			if !open[ev.ConnID] || closed[ev.ConnID] {
				t.Errorf("connection %d closed without being open", ev.ConnID)
			}
			closed[ev.ConnID] = true
			st := ev.Stats
			if st.Pairs != cs.Pairs || st.Unanswered != cs.Unanswered || st.Unmatched != cs.Unmatched ||
				st.GapBytes != cs.GapBytes || st.DesyncBytes != cs.DesyncBytes {
				t.Errorf("connection %d close stats %+v, its events say %+v", ev.ConnID, *st, *cs)
			}
			if st.Requests != st.Pairs+st.Unanswered || st.Responses != st.Pairs+st.Unmatched {
				t.Errorf("connection %d: requests and responses do not add up: %+v", ev.ConnID, *st)
			}
		default:
			if !open[ev.ConnID] || closed[ev.ConnID] {
				t.Errorf("event outside its connection's life: %s", describe(ev))
			}
		}
		switch ev.Kind {
		case decoder.EventPair:
			pairs++
			cs.Pairs++
		case decoder.EventRequest:
			unanswered++
			cs.Unanswered++
		case decoder.EventResponse:
			unmatched++
			cs.Unmatched++
		case decoder.EventGap:
			gaps++
			gapBytes += ev.Bytes
			cs.GapBytes += ev.Bytes
		case decoder.EventDesync:
			desync += ev.Bytes
			cs.DesyncBytes += ev.Bytes
		}
	}
	if len(open) != len(closed) || uint64(len(open)) != r.stats.Conns || r.stats.OpenConns != 0 {
		t.Errorf("%d opened, %d closed, stats %+v", len(open), len(closed), r.stats)
	}
	st := r.stats
	if st.Pairs != pairs || st.Unanswered != unanswered || st.Unmatched != unmatched || st.Gaps != gaps ||
		st.GapBytes != gapBytes || st.DesyncBytes != desync || st.Events != uint64(len(r.events)) {
		t.Errorf("tracker stats %+v disagree with its events", st)
	}
}

// TestFuzzTrackerCorpus writes the named seeds of FuzzTracker as corpus
// files with -update-corpus, so that `go test -fuzz` starts from them.
func TestFuzzTrackerCorpus(t *testing.T) {
	// The named seeds are generated from fuzzSeeds: check that the committed
	// files are current, or rewrite them with -update-corpus.
	dir := filepath.Join("testdata", "fuzz", "FuzzTracker")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, seed := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(seed)))
		name := filepath.Join(dir, fmt.Sprintf("seed-%02d-%s", i, fuzzSeedNames[i]))
		if *updateCorpus {
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run with -update-corpus)", err)
		}
		if string(got) != body {
			t.Errorf("%s is stale: run go test ./decoder -run TestFuzzTrackerCorpus -update-corpus", name)
		}
	}
}

var fuzzSeedNames = []string{
	"clean", "request-dropped", "response-dropped", "big-request-segment-dropped",
	"big-response-header-dropped", "exchange-dropped", "response-and-next-request-dropped",
	"reordered-retransmitted", "4gib-length", "garbage-connection", "snaplen",
	"capture-ends-mid-frame", "mid-stream-big-request", "mid-stream-big-response", "mixed-faults",
}

// fuzzSeeds are scripts for the faults the other tests cover one by one.
func fuzzSeeds() [][]byte {
	op := func(kind, arg int) byte { return byte(kind | arg<<3) }
	keep := func(n int) []byte { // keep n segments
		var b []byte
		for ; n > 0; n -= 32 {
			b = append(b, op(0, min(n, 32)-1))
		}
		return b
	}
	script := func(from, count int, ops ...[]byte) []byte {
		b := []byte{byte(from), byte(from >> 8), byte(count)}
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	return [][]byte{
		script(0, 0),                                       // the clean session
		script(0, 0, keep(9), []byte{op(2, 0)}),            // a request dropped
		script(0, 0, keep(10), []byte{op(2, 0)}),           // a response dropped
		script(0, 0, keep(72), []byte{op(2, 0)}),           // inside the big request
		script(0, 0, keep(139), []byte{op(2, 0)}),          // the big response's header
		script(0, 0, keep(9), []byte{op(2, 0), op(2, 0)}),  // an exchange dropped
		script(0, 0, keep(10), []byte{op(2, 0), op(2, 0)}), // a response and the next request
		script(0, 0, keep(69), []byte{op(6, 0), op(5, 4)}), // reordered, retransmitted
		script(0, 0, keep(3), []byte{op(7, 3), 0, 0xFB, 0xFF, 0xFF, 0xFF, op(0, 0), op(7, 3), 4, 0xFF, 0xFF, 0xFF, 0xFF}), // 4 GiB lengths
		script(0, 0, keep(5), []byte{op(7, 31)}, make([]byte, 64)),                                                        // a garbage connection
		script(0, 0, keep(20), []byte{op(3, 4), op(3, 0), op(3, 31), op(3, 16)}),                                          // snaplen
		script(0, 0, keep(69), []byte{op(4, 16)}),                                                                         // the capture ends mid-frame
		script(70, 0),  // mid-stream, in the big request
		script(150, 0), // mid-stream, in the big response
		script(250, 60, []byte{op(2, 0), op(5, 2), op(6, 0), op(2, 0), op(4, 8)}), // conns 2 and 3, mixed faults
	}
}
