package decoder_test

import (
	"fmt"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// frameFate is what a hole in one direction does to a frame.
type frameFate uint8

const (
	intact  frameFate = iota
	partial           // payload bytes lost, header intact: delivered with Missing
	lost              // a header byte lost: the frame cannot be found
)

// fates returns the fate of every frame of one direction given holes
// (stream offset ranges [from, to)), and the bytes of lost frames that lie
// after a hole (what the framer must skip as desync to resync).
func fates(frames []rawFrame, holes [][2]uint64, resyncable func(rawFrame) bool) (out []frameFate, desync uint64) {
	out = make([]frameFate, len(frames))
	for i, f := range frames {
		for _, h := range holes {
			if h[1] <= f.start || h[0] >= f.end {
				continue
			}
			if h[0] < f.start+8 {
				out[i] = lost
				if h[1] < f.end {
					desync += f.end - h[1]
				}
			} else if out[i] == intact {
				out[i] = partial
			}
		}
	}
	// After a lost header the framer searches for a frame it can validate:
	// a request of an unknown command cannot be, so it is skipped too.
	for i := 1; i < len(frames); i++ {
		if out[i-1] == lost && out[i] == intact && !resyncable(frames[i]) {
			out[i] = lost
			desync += frames[i].end - frames[i].start
		}
	}
	return out, desync
}

// requestResync and responseResync say whether the framer can resync on a
// frame of the capture.
func requestResync(f rawFrame) bool {
	_, ok := protocol.Lookup(protocol.Code(f.code))
	return ok
}

func responseResync(rawFrame) bool { return true }

// checkHoles checks a run of the capture whose connection tc lost the
// given byte ranges of each direction (and nothing else): gap events of the
// exact sizes, partial and lost frames reported as such, no wrong pairing,
// everything else exactly as in the clean run.
func checkHoles(t *testing.T, c *cleanRun, got *run, tc *truthConn, holes [2][][2]uint64) {
	t.Helper()
	checkConsistent(t, got.events)
	checkNoMispairing(t, c, got)
	reqFate, reqDesync := fates(tc.frames[0], holes[0], requestResync)
	respFate, respDesync := fates(tc.frames[1], holes[1], responseResync)

	var gaps [2][]uint64
	var desync [2]uint64
	seen := map[int]bool{}
	for _, ev := range got.conn(tc.id) {
		i := indexOf(c, tc.id, ev)
		switch ev.Kind {
		case decoder.EventGap:
			gaps[ev.Dir] = append(gaps[ev.Dir], ev.Bytes)
		case decoder.EventDesync:
			desync[ev.Dir] += ev.Bytes
		case decoder.EventPair:
			seen[i] = true
			want := c.pairOf(tc.id, i).Flags
			if reqFate[i] == partial {
				want |= decoder.FlagRequestPartial
			}
			if respFate[i] == partial {
				want |= decoder.FlagResponsePartial
			}
			if reqFate[i] == lost || respFate[i] == lost {
				t.Errorf("exchange %d paired though a frame was lost: %s", i, describe(ev))
			}
			if ev.Flags&^decoder.FlagAfterGap != want {
				t.Errorf("exchange %d flags %v, want %v", i, ev.Flags.Names(), want.Names())
			}
			if reqFate[i] == partial {
				checkPartialRequest(t, ev, c.pairOf(tc.id, i))
			}
		case decoder.EventRequest:
			seen[i] = true
			if i < 0 || reqFate[i] == lost || respFate[i] != lost {
				t.Errorf("lone request, but its response was not lost: %s", describe(ev))
				continue
			}
			want := decoder.FlagResponseLost
			if reqFate[i] == partial {
				want |= decoder.FlagRequestPartial
			}
			if ev.Flags&^(decoder.FlagResponseLost|decoder.FlagNoResponse) != want&^decoder.FlagResponseLost ||
				ev.Flags&(decoder.FlagResponseLost|decoder.FlagNoResponse) == 0 {
				t.Errorf("exchange %d: lone request flags %v", i, ev.Flags.Names())
			}
		case decoder.EventResponse:
			j := -1
			for k, p := range c.byConn[tc.id] {
				if p.RespTime == ev.RespTime || (respFate[k] == partial && p.Status == ev.Status && p.RespBytes == ev.RespBytes) {
					j = k
				}
			}
			seen[j] = true
			if j < 0 || reqFate[j] != lost || respFate[j] == lost {
				t.Errorf("lone response, but its request was not lost: %s", describe(ev))
			} else if ev.Flags&^decoder.FlagResponsePartial != decoder.FlagNoRequest || ev.Status != c.pairOf(tc.id, j).Status {
				t.Errorf("exchange %d: lone response %s", j, describe(ev))
			}
		default:
			t.Errorf("unexpected event %s", describe(ev))
		}
	}
	for i := range tc.frames[0] {
		if !seen[i] && (reqFate[i] != lost || respFate[i] != lost) {
			t.Errorf("exchange %d (request %v, response %v) not reported: clean %s", i, reqFate[i], respFate[i], describe(c.pairOf(tc.id, i)))
		}
		if reqFate[i] == intact && respFate[i] == intact {
			expectExact(t, c, got, tc.id, i)
		}
	}
	for dir := range 2 {
		var want []uint64
		for _, h := range holes[dir] {
			want = append(want, h[1]-h[0])
		}
		if fmt.Sprint(gaps[dir]) != fmt.Sprint(want) {
			t.Errorf("%s gaps %v, want %v", decoder.Direction(dir), gaps[dir], want)
		}
	}
	if desync[0] != reqDesync || desync[1] != respDesync {
		t.Errorf("desync bytes %v, want [%d %d] (the rest of the frames whose header was lost)", desync, reqDesync, respDesync)
	}
	cl := got.close(tc.id)
	if cl == nil {
		t.Fatal("connection not closed")
	}
	var gapBytes uint64
	for dir := range 2 {
		for _, h := range holes[dir] {
			gapBytes += h[1] - h[0]
		}
	}
	if cl.Stats.GapBytes != gapBytes || cl.Stats.DesyncBytes != reqDesync+respDesync {
		t.Errorf("close stats %+v, want %d gap bytes", *cl.Stats, gapBytes)
	}
	// Other connections are untouched.
	for _, other := range c.tr.conns {
		if other != tc {
			expectExact(t, c, got, other.id, seq(len(c.byConn[other.id]))...)
		}
	}
	if t.Failed() {
		t.Log(got.dump())
	}
}

// TestDroppedSegment drops one segment at a time, in each direction: a
// whole small request or response (headers lost), a segment inside the
// 1.6 MB SendMessages or PollMessages payload (only payload lost), the
// segment carrying a big frame's header, and segments of the other
// connections.
func TestDroppedSegment(t *testing.T) {
	c := clean(t)
	segs := session(t)
	var picks []int
	for _, k := range []int{3, 5, 9, 10, 12, 14, 18, 63, 64, 65, 69, 70, 72, 99, 100, 117, 118, 120, 121, 122,
		127, 129, 139, 140, 154, 160, 187, 188, 190, 191, 192, 195} {
		picks = append(picks, k)
	}
	// A few segments of connections 2 and 3, and every data segment of
	// connection 3 in turn.
	for k := 252; k < len(segs); k++ {
		if segs[k].Len > 0 && (segs[k].Key == c.tr.conns[2].key || k%5 == 0) {
			picks = append(picks, k)
		}
	}
	for i, k := range picks {
		if testing.Short() && i%4 != 0 {
			continue
		}
		s := &segs[k]
		if s.Len == 0 {
			t.Fatalf("segment %d carries no data", k)
		}
		tc := c.tr.byKey[s.Key]
		off := tc.offset(s)
		if off+uint64(s.Len) == uint64(len(tc.stream[s.Dir])) {
			continue // the last bytes of a direction: no later byte reveals the hole
		}
		t.Run(fmt.Sprintf("segment %d conn %d %s %d+%d", k, tc.id, s.Dir, off, s.Len), func(t *testing.T) {
			var holes [2][][2]uint64
			holes[s.Dir] = [][2]uint64{{off, off + uint64(s.Len)}}
			checkHoles(t, c, track(decoder.Config{}, without(segs, k)), tc, holes)
		})
	}
}
