package decoder_test

import (
	"fmt"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// startAt returns the capture as if it began with segment n, of which the
// first trim payload bytes were missed: the first connection is then
// already open (no SYN) and may begin mid-frame.
func startAt(segs []decoder.Segment, n, trim int) []decoder.Segment {
	out := slices0(segs[n:])
	if trim > 0 {
		s := &out[0]
		s.Seq += uint32(trim)
		s.Len -= uint32(trim)
		s.Data = s.Data[trim:]
	}
	return out
}

// TestMidStream starts the capture at many points of the first connection,
// at frame boundaries and inside frames (a header, the 1.6 MB SendMessages,
// the 1.6 MB PollMessages response). The connection is flagged mid_stream;
// the partial frame at the start of each direction is reported as desync,
// exactly its remaining bytes; responses whose request was missed are
// no_request; every exchange from the first complete request on decodes
// exactly as in the clean run; the other connections are untouched.
func TestMidStream(t *testing.T) {
	c := clean(t)
	segs := session(t)
	conn1 := c.tr.conns[0]
	type start struct{ n, trim int }
	starts := []start{
		{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {9, 0}, {10, 0},
		{9, 3},     // inside a LoginUser header
		{9, 8},     // a LoginUser payload
		{14, 20},   // a GetClusterMetadata response payload
		{63, 1000}, // a SendMessages payload
		// Inside the 1.6 MB SendMessages.
		{69, 0}, {69, 8}, {70, 0}, {72, 0}, {100, 0}, {113, 0}, {118, 0}, {118, 21000}, {120, 0},
		// Inside a PollMessages response of 10 small messages: the search for
		// sync meets message ids and offsets that read as error responses.
		{121, 0}, {127, 0}, {127, 700},
		// Inside the 1.6 MB PollMessages response.
		{139, 0}, {140, 0}, {142, 10}, {160, 0}, {175, 0}, {188, 0}, {188, 55800},
		{190, 0}, {191, 0},
	}
	for _, st := range starts {
		t.Run(fmt.Sprintf("segment %d+%d", st.n, st.trim), func(t *testing.T) {
			in := startAt(segs, st.n, st.trim)
			got := track(decoder.Config{}, in)
			checkConsistent(t, got.events)
			checkNoMispairing(t, c, got)

			// The first captured offset of each direction of conn 1.
			first := [2]uint64{^uint64(0), ^uint64(0)}
			for i := range in {
				s := &in[i]
				if s.Key == conn1.key && s.Len > 0 && s.Flags&decoder.SYN == 0 && first[s.Dir] == ^uint64(0) {
					first[s.Dir] = conn1.offset(s)
				}
			}
			synSeen := in[0].Flags&decoder.SYN != 0
			open := got.of(decoder.EventOpen)
			if len(open) == 0 || open[0].ConnID != 1 || (open[0].Flags&decoder.FlagMidStream != 0) == synSeen {
				t.Fatalf("first open event: %v", open)
			}

			var wantPairs []int
			wantLone := map[int64]bool{} // RespTime of the clean pairs whose request is missed
			for i := range conn1.frames[0] {
				rq, rs := conn1.frames[0][i], conn1.frames[1][i]
				switch {
				case rq.start >= first[0] && rs.start >= first[1]:
					wantPairs = append(wantPairs, i)
				case rs.start >= first[1]:
					wantLone[c.pairOf(1, i).RespTime] = true
				}
			}
			expectExact(t, c, got, 1, wantPairs...)
			firstPair := true
			var desync [2]uint64
			for _, ev := range got.conn(1) {
				switch ev.Kind {
				case decoder.EventPair:
					want := decoder.Flags(0)
					if firstPair && !synSeen {
						want = decoder.FlagAfterGap
					}
					firstPair = false
					if ev.Flags&^decoder.FlagUnknownCommand != want {
						t.Errorf("pair flags %v, want %v: %s", ev.Flags.Names(), want.Names(), describe(ev))
					}
				case decoder.EventResponse:
					if !wantLone[ev.RespTime] || ev.Flags != decoder.FlagNoRequest|decoder.FlagMidStream {
						t.Errorf("unexpected lone response: %s", describe(ev))
					}
					delete(wantLone, ev.RespTime)
				case decoder.EventDesync:
					// One event, or several where the search for sync found
					// frame-like bytes inside the partial frame.
					desync[ev.Dir] += ev.Bytes
				default:
					t.Errorf("unexpected event: %s", describe(ev))
				}
			}
			if len(wantLone) > 0 {
				t.Errorf("%d responses without request not reported", len(wantLone))
			}
			for dir := range 2 {
				var want uint64
				if first[dir] != ^uint64(0) {
					if i := conn1.frameAt(decoder.Direction(dir), first[dir]); i >= 0 && conn1.frames[dir][i].start < first[dir] {
						want = conn1.frames[dir][i].end - first[dir]
					}
				}
				if desync[dir] != want {
					t.Errorf("%s desync of %d bytes, want %d (the rest of the frame the capture began in)", decoder.Direction(dir), desync[dir], want)
				}
			}
			// The other connections are as in the clean run.
			for _, id := range []uint64{2, 3} {
				expectExact(t, c, got, id, seq(len(c.byConn[id]))...)
			}
			if t.Failed() {
				t.Log(got.dump())
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
