package decoder_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// allocs returns the bytes allocated while running the tracker over segs.
func allocs(segs []decoder.Segment) (*run, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := track(decoder.Config{}, segs)
	runtime.ReadMemStats(&after)
	return r, after.TotalAlloc - before.TotalAlloc
}

// TestHugeLength rewrites the length field of real frames to 4 GiB - 1
// (request and response), and to lengths that are possible but far beyond
// the stream (200 MiB): the frame is reported (desync, or a partial frame
// cut where the peer's next frame shows it ended), nothing allocates for
// the claimed size, and the exchanges that follow decode exactly.
func TestHugeLength(t *testing.T) {
	c := clean(t)
	segs := session(t)
	conn1 := c.tr.conns[0]
	big := biggest(conn1, decoder.ToServer)
	bigResp := biggest(conn1, decoder.ToClient)
	_, cleanAlloc := allocs(segs)

	type outcome uint8
	const (
		reqDesync  outcome = iota // the request is skipped as desync; its response is unmatched
		respDesync                // the response is skipped as desync; its request's response is lost
		reqCut                    // the request is delivered partial, paired with its own response
		respCut                   // the response is delivered partial, paired with its own request
	)
	cases := []struct {
		name   string
		dir    decoder.Direction
		frame  int
		length uint32 // the length field as on the wire
		want   outcome
	}{
		{"request 4 GiB", decoder.ToServer, 0, 0xFFFFFFFF, reqDesync},
		{"big request 4 GiB", decoder.ToServer, big, 0xFFFFFFFF, reqDesync},
		{"request 1 GiB", decoder.ToServer, 3, 1 << 30, reqDesync},
		{"request 200 MiB", decoder.ToServer, 0, 200 << 20, reqCut},
		{"big request 200 MiB", decoder.ToServer, big, 200 << 20, reqCut},
		{"response 4 GiB", decoder.ToClient, 0, 0xFFFFFFFF, respDesync},
		{"response with payload 4 GiB", decoder.ToClient, 6, 0xFFFFFFFF, respDesync},
		{"error response 1 GiB", decoder.ToClient, 8, 1 << 30, respDesync},
		{"response with payload 1 GiB", decoder.ToClient, 7, 1 << 30, respDesync},
		{"big response 4 GiB", decoder.ToClient, bigResp, 0xFFFFFFFF, respDesync},
		{"response 200 MiB", decoder.ToClient, 6, 200 << 20, respCut},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := conn1.frames[tc.dir][tc.frame]
			var in []decoder.Segment
			if tc.dir == decoder.ToServer {
				in = withHeader(t, segs, conn1, tc.dir, tc.frame, tc.length, f.code)
			} else {
				in = withHeader(t, segs, conn1, tc.dir, tc.frame, f.code, tc.length)
			}
			got, alloc := allocs(in)
			if alloc > cleanAlloc+8<<20 {
				t.Errorf("allocated %d MiB, the clean run %d MiB", alloc>>20, cleanAlloc>>20)
			}
			checkConsistent(t, got.events)
			want := c.pairOf(1, tc.frame)
			exact := checkNoMispairing(t, c, got, keyOf(want))
			var desync []*decoder.Event
			var other []*decoder.Event
			for _, ev := range got.conn(1) {
				switch {
				case ev.Kind == decoder.EventDesync:
					desync = append(desync, ev)
				case ev.Kind == decoder.EventPair && ev.Flags&^(decoder.FlagAfterGap|decoder.FlagUnknownCommand) == 0:
				default:
					other = append(other, ev)
				}
			}
			show := func() string { return fmt.Sprint("\n", got.dump()) }
			switch tc.want {
			case reqDesync, respDesync:
				// One desync of the frame's bytes; or, where the search for
				// sync stopped at bytes inside the frame that read as frames,
				// several that add up to them.
				var n uint64
				for _, ev := range desync {
					n += ev.Bytes
					if ev.Dir != tc.dir {
						t.Errorf("desync in the wrong direction: %s", describe(ev))
					}
				}
				if n != f.end-f.start || len(desync) == 0 || desync[0].Reason != "impossible frame length" {
					t.Errorf("desync events of %d bytes, want %d, first for the impossible length%s", n, f.end-f.start, show())
				}
				if exact != len(c.byKey)-1 {
					t.Errorf("%d exchanges exact, want all but one", exact)
				}
				lone := decoder.EventResponse
				if tc.want == respDesync {
					lone = decoder.EventRequest
				}
				if len(other) != 1 || other[0].Kind != lone ||
					lone == decoder.EventResponse && (other[0].Status != want.Status || other[0].RespTime != want.RespTime) ||
					lone == decoder.EventRequest && keyOf(other[0]) != keyOf(want) {
					t.Errorf("want only a lone %s for the exchange, got %d events%s", lone, len(other), show())
				}
			case reqCut, respCut:
				flag := decoder.FlagRequestPartial
				if tc.want == respCut {
					flag = decoder.FlagResponsePartial
				}
				if len(desync) != 0 || len(other) != 1 || other[0].Kind != decoder.EventPair ||
					other[0].Flags&^decoder.FlagAfterGap != want.Flags|flag ||
					keyOf(other[0]) != keyOf(want) || other[0].Status != want.Status {
					t.Errorf("want the request cut short and paired, got %v%s", other, show())
				}
				if exact != len(c.byKey)-1 {
					t.Errorf("%d exchanges exact, want all but one", exact)
				}
			}
		})
	}
}
