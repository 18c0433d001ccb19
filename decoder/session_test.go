package decoder_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// TestCleanSession decodes the real capture as it is: every request frame
// is paired with its own response, with the command and status the frames
// carry, and nothing is reported lost, skipped or undecodable.
func TestCleanSession(t *testing.T) {
	c := clean(t)
	tr := c.tr
	if len(tr.conns) != 3 {
		t.Fatalf("%d connections in the capture, want 3", len(tr.conns))
	}
	nreq := tr.requests()
	if nreq != 123 {
		t.Errorf("%d request frames in the capture; the workload makes 123", nreq)
	}
	s := c.stats
	if int(s.Pairs) != nreq || s.Unanswered != 0 || s.Unmatched != 0 || s.Gaps != 0 || s.GapBytes != 0 ||
		s.DesyncBytes != 0 || s.SkippedBytes != 0 || s.Retransmitted != 0 || s.DecodeErrors != 0 || s.Evicted != 0 ||
		s.Conns != 3 || s.OpenConns != 0 {
		t.Errorf("stats %+v: want %d pairs and nothing lost", s, nreq)
	}
	kinds := map[decoder.EventKind]int{}
	for _, ev := range c.events {
		kinds[ev.Kind]++
	}
	if kinds[decoder.EventPair] != nreq || kinds[decoder.EventOpen] != 3 || kinds[decoder.EventClose] != 3 || len(c.events) != nreq+6 {
		t.Errorf("events by kind: %v", kinds)
	}
	checkConsistent(t, c.events)

	for _, tc := range tr.conns {
		pairs := c.byConn[tc.id]
		reqs, resps := tc.frames[decoder.ToServer], tc.frames[decoder.ToClient]
		if len(pairs) != len(reqs) {
			t.Errorf("conn %d: %d pairs, %d request frames", tc.id, len(pairs), len(reqs))
			continue
		}
		for i, ev := range pairs {
			if uint32(ev.Code) != reqs[i].code || ev.Status != resps[i].code ||
				ev.ReqBytes != 8+reqs[i].plen || ev.RespBytes != 8+resps[i].plen {
				t.Errorf("conn %d exchange %d: %s; frames: request code %d (%d bytes), response status %d (%d bytes)",
					tc.id, i, describe(ev), reqs[i].code, 8+reqs[i].plen, resps[i].code, 8+resps[i].plen)
			}
			want := decoder.Flags(0)
			if ev.Code == 999 {
				want = decoder.FlagUnknownCommand
			}
			if ev.Flags != want || ev.Error != "" {
				t.Errorf("conn %d exchange %d: flags %v error %q", tc.id, i, ev.Flags.Names(), ev.Error)
			}
			if ev.Latency <= 0 || ev.RespTime < ev.ReqTime {
				t.Errorf("conn %d exchange %d: latency %d", tc.id, i, ev.Latency)
			}
		}
		cl := c.close(tc.id)
		if cl == nil {
			t.Errorf("conn %d never closed", tc.id)
			continue
		}
		n := uint64(len(reqs))
		want := decoder.ConnStats{Requests: n, Responses: n, Pairs: n,
			BytesIn: uint64(len(tc.stream[0])), BytesOut: uint64(len(tc.stream[1]))}
		if *cl.Stats != want {
			t.Errorf("conn %d close stats %+v, want %+v", tc.id, *cl.Stats, want)
		}
	}
	// Exchange keys are unique: the fault tests rely on it.
	if len(c.byKey) != nreq {
		t.Errorf("%d distinct exchange keys for %d pairs", len(c.byKey), nreq)
	}

	// The same input gives the same events.
	again := track(decoder.Config{}, session(t))
	if len(again.events) != len(c.events) {
		t.Fatalf("second run: %d events, first %d", len(again.events), len(c.events))
	}
	for i := range again.events {
		if sig(again.events[i]) != sig(c.events[i]) || again.events[i].Flags != c.events[i].Flags {
			t.Errorf("event %d differs between two runs:\n%s\n%s", i, describe(again.events[i]), describe(c.events[i]))
		}
	}
}

// TestCut ends the capture at chosen and random points: in a frame header,
// in the payload of the 1.6 MB SendMessages, in a response. Everything
// complete before the cut decodes as in the clean run; the frame in flight
// is reported with the right flags or as a desync of the header bytes seen.
func TestCut(t *testing.T) {
	c := clean(t)
	segs := session(t)
	conn1 := c.tr.conns[0]
	big := biggest(conn1, decoder.ToServer)
	bigResp := biggest(conn1, decoder.ToClient)

	type cut struct {
		name string
		conn *truthConn
		dir  decoder.Direction
		off  uint64 // stream offset of the first byte not captured
	}
	req4, resp4 := conn1.frames[0][4], conn1.frames[1][4]
	cuts := []cut{
		{"request header byte 3", conn1, decoder.ToServer, req4.start + 3},
		{"request header byte 7", conn1, decoder.ToServer, req4.start + 7},
		{"request payload byte 0", conn1, decoder.ToServer, req4.start + 8},
		{"request last byte", conn1, decoder.ToServer, req4.end - 1},
		{"response header byte 4", conn1, decoder.ToClient, resp4.start + 4},
		{"response payload", conn1, decoder.ToClient, resp4.start + 9},
		{"big request header", conn1, decoder.ToServer, conn1.frames[0][big].start + 5},
		{"big request payload start", conn1, decoder.ToServer, conn1.frames[0][big].start + 100},
		{"big request payload middle", conn1, decoder.ToServer, conn1.frames[0][big].start + 800_000},
		{"big request last byte", conn1, decoder.ToServer, conn1.frames[0][big].end - 1},
		{"big response payload", conn1, decoder.ToClient, conn1.frames[1][bigResp].start + 500_000},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 16 {
		tc := c.tr.conns[rng.IntN(len(c.tr.conns))]
		dir := decoder.Direction(rng.IntN(2))
		off := rng.Uint64N(uint64(len(tc.stream[dir])))
		cuts = append(cuts, cut{fmt.Sprintf("random %d conn %d %s %d", i, tc.id, dir, off), tc, dir, off})
	}
	for _, ct := range cuts {
		t.Run(ct.name, func(t *testing.T) { checkCut(t, c, segs, ct.conn, ct.dir, ct.off) })
	}
}

// biggest returns the index of the largest frame of a direction.
func biggest(tc *truthConn, dir decoder.Direction) int {
	best := 0
	for i, f := range tc.frames[dir] {
		if f.plen > tc.frames[dir][best].plen {
			best = i
		}
	}
	return best
}

// checkCut cuts the capture at stream offset off of connection tc's
// direction dir and checks every connection's events against the truth.
func checkCut(t *testing.T, c *cleanRun, segs []decoder.Segment, tc *truthConn, dir decoder.Direction, off uint64) {
	k := findSeg(segs, tc, dir, off)
	if k < 0 {
		t.Fatalf("no segment carries offset %d", off)
	}
	b := int(off - tc.offset(&segs[k]))
	var cutSegs []decoder.Segment
	if b == 0 {
		cutSegs = slices0(segs[:k])
	} else {
		cutSegs = cutAt(segs, k, b)
	}
	got := track(decoder.Config{}, cutSegs)
	checkConsistent(t, got.events)
	checkNoMispairing(t, c, got)

	// The events emitted before the cut segment are the clean run's.
	before := 0
	if k > 0 {
		before = c.fed[k-1]
	}
	for i := range before {
		if sig(got.events[i]) != sig(c.events[i]) || got.events[i].Flags != c.events[i].Flags {
			t.Fatalf("event %d before the cut differs:\n got: %s\nwant: %s", i, describe(got.events[i]), describe(c.events[i]))
		}
	}

	// Per connection: what each direction holds up to the cut.
	for _, conn := range c.tr.conns {
		var limit [2]uint64 // bytes of each direction captured
		seen := false
		for i := range cutSegs {
			s := &cutSegs[i]
			if s.Key != conn.key {
				continue
			}
			seen = true
			if s.Len > 0 && s.Flags&decoder.SYN == 0 {
				limit[s.Dir] = max(limit[s.Dir], conn.offset(s)+uint64(s.Len))
			}
		}
		if !seen {
			if got.close(conn.id) != nil {
				t.Errorf("conn %d reported though the cut precedes it", conn.id)
			}
			continue
		}
		evs := got.conn(conn.id)
		var want []string // describe() of the expected events, flags included
		reqs, resps := conn.frames[0], conn.frames[1]
		var tail, lone []string
		for i := range reqs {
			rq, rs := reqs[i], resps[i]
			switch {
			case rq.start >= limit[0]:
			case rq.start+8 > limit[0]:
				tail = append(tail, fmt.Sprintf("desync request %d", limit[0]-rq.start))
			case rq.end > limit[0]:
				lone = append(lone, fmt.Sprintf("request %d partial", i))
			case rs.start >= limit[1]:
				lone = append(lone, fmt.Sprintf("request %d", i))
			case rs.start+8 > limit[1]:
				tail = append(tail, fmt.Sprintf("desync response %d", limit[1]-rs.start))
				lone = append(lone, fmt.Sprintf("request %d", i))
			case rs.end > limit[1]:
				want = append(want, fmt.Sprintf("pair %d partial", i))
			default:
				want = append(want, fmt.Sprintf("pair %d", i))
			}
		}
		want = append(append(want, tail...), lone...)
		var have []string
		for _, ev := range evs {
			switch ev.Kind {
			case decoder.EventPair:
				i := indexOf(c, conn.id, ev)
				if ev.Flags&decoder.FlagResponsePartial != 0 {
					have = append(have, fmt.Sprintf("pair %d partial", i))
					if ev.Flags&^decoder.FlagResponsePartial != c.pairOf(conn.id, i).Flags {
						t.Errorf("flags of the cut pair: %v", ev.Flags.Names())
					}
					if ev.Flags&decoder.FlagDecodeError != 0 {
						t.Errorf("cut response did not decode: %s", describe(ev))
					}
				} else {
					have = append(have, fmt.Sprintf("pair %d", i))
				}
			case decoder.EventRequest:
				i := indexOf(c, conn.id, ev)
				wantFlags := decoder.FlagNoResponse | c.pairOf(conn.id, max(i, 0)).Flags
				if ev.Flags&decoder.FlagRequestPartial != 0 {
					have = append(have, fmt.Sprintf("request %d partial", i))
					wantFlags |= decoder.FlagRequestPartial
					checkPartialRequest(t, ev, c.pairOf(conn.id, max(i, 0)))
				} else {
					have = append(have, fmt.Sprintf("request %d", i))
				}
				if ev.Flags != wantFlags {
					t.Errorf("cut request flags %v, want %v", ev.Flags.Names(), wantFlags.Names())
				}
			case decoder.EventDesync:
				have = append(have, fmt.Sprintf("desync %s %d", ev.Dir, ev.Bytes))
			default:
				have = append(have, describe(ev))
			}
		}
		if fmt.Sprint(have) != fmt.Sprint(want) {
			t.Errorf("conn %d (cut at %d/%d bytes): events\n%v\nwant\n%v\n%s", conn.id, limit[0], limit[1], have, want, got.dump())
		}
		cl := got.close(conn.id)
		if cl == nil {
			t.Errorf("conn %d not closed at the end of the capture", conn.id)
		} else if cl.Stats.BytesIn != limit[0] || cl.Stats.BytesOut != limit[1] {
			t.Errorf("conn %d close stats %+v, want %d/%d bytes", conn.id, *cl.Stats, limit[0], limit[1])
		}
	}
}

// slices0 returns a copy of a run of segments.
func slices0(s []decoder.Segment) []decoder.Segment { return append([]decoder.Segment(nil), s...) }

// indexOf returns the index of the clean exchange with ev's request, -1.
func indexOf(c *cleanRun, id uint64, ev *decoder.Event) int {
	for i, p := range c.byConn[id] {
		if p.ReqTime == ev.ReqTime && p.Code == ev.Code {
			return i
		}
	}
	return -1
}

// checkPartialRequest checks a request decoded from a prefix of its
// payload: no decode error, same size and command, and the fields that
// were captured equal to the clean decode.
func checkPartialRequest(t *testing.T, ev, want *decoder.Event) {
	t.Helper()
	if ev.Flags&decoder.FlagDecodeError != 0 {
		t.Errorf("partial request did not decode: %s", describe(ev))
	}
	if ev.Code != want.Code || ev.ReqBytes != want.ReqBytes || ev.ReqTime != want.ReqTime {
		t.Errorf("partial request %s, clean %s", describe(ev), describe(want))
	}
	for i, v := range ev.Request {
		if i >= len(want.Request) || i >= 4 {
			break
		}
		if v.Kind == want.Request[i].Kind && v.Kind < 12 && v != want.Request[i] {
			t.Errorf("partial request field %d = %+v, clean %+v", i, v, want.Request[i])
		}
	}
}
