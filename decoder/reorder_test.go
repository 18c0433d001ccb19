package decoder_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// swap returns segs with the segments at i and j exchanged (each keeps its
// capture time: the capture saw them in the other order).
func swap(segs []decoder.Segment, i, j int) []decoder.Segment {
	out := slices.Clone(segs)
	out[i], out[j] = out[j], out[i]
	return out
}

// dup returns segs with a copy of segment k inserted before index at.
func dup(segs []decoder.Segment, k, at int) []decoder.Segment {
	return slices.Insert(slices.Clone(segs), at, segs[k])
}

// overlap returns segs with a retransmission inserted before index at that
// re-segments the data: the last tail bytes of segment k and the first head
// bytes of segment k2 (the next segment of the same direction).
func overlap(segs []decoder.Segment, k, k2, tail, head, at int) []decoder.Segment {
	a, b := segs[k], segs[k2]
	data := append(slices.Clone(a.Data[len(a.Data)-tail:]), b.Data[:head]...)
	s := decoder.Segment{Time: segs[at].Time, Key: a.Key, Dir: a.Dir, Seq: a.Seq + a.Len - uint32(tail),
		Len: uint32(len(data)), Data: data}
	return slices.Insert(slices.Clone(segs), at, s)
}

// sameAsClean checks that a run of in reports exactly the clean run's
// events, apart from the retransmitted bytes in the close stats (the byte
// counts there count every segment's payload, retransmissions included).
func sameAsClean(t *testing.T, c *cleanRun, in []decoder.Segment, got *run, retrans map[uint64]uint64) {
	t.Helper()
	wire := map[uint64]*[2]uint64{}
	for i := range in {
		s := &in[i]
		tc := c.tr.byKey[s.Key]
		if wire[tc.id] == nil {
			wire[tc.id] = new([2]uint64)
		}
		if s.Flags&decoder.SYN == 0 {
			wire[tc.id][s.Dir] += uint64(s.Len)
		}
	}
	if len(got.events) != len(c.events) {
		t.Fatalf("%d events, clean %d\n%s", len(got.events), len(c.events), got.dump())
	}
	for i, ev := range got.events {
		want := c.events[i]
		if ev.Kind == decoder.EventClose {
			st := *want.Stats
			st.Retransmitted = retrans[ev.ConnID]
			st.BytesIn, st.BytesOut = wire[ev.ConnID][0], wire[ev.ConnID][1]
			if ev.ConnID != want.ConnID || *ev.Stats != st {
				t.Errorf("close stats %+v, want %+v", *ev.Stats, st)
			}
			continue
		}
		if sig(ev) != sig(want) || ev.Flags != want.Flags {
			t.Errorf("event %d: %s\nwant %s", i, describe(ev), describe(want))
		}
	}
	var total uint64
	for _, n := range retrans {
		total += n
	}
	if got.stats.Retransmitted != total {
		t.Errorf("tracker counted %d retransmitted bytes, want %d", got.stats.Retransmitted, total)
	}
}

// TestReorderAndRetransmit reorders segments of one direction and repeats
// segments, whole or re-segmented: the events are the clean run's, and the
// repeated bytes are counted as retransmitted.
func TestReorderAndRetransmit(t *testing.T) {
	c := clean(t)
	segs := session(t)
	conn3 := c.tr.conns[2].key
	cases := []struct {
		name    string
		in      []decoder.Segment
		retrans map[uint64]uint64
	}{
		{"big request: 2 segments swapped", swap(segs, 69, 70), nil},
		{"big request: first segment after 3 others", append(append(slices0(segs[:69]), segs[70], segs[72], segs[73], segs[69]), segs[74:]...), nil},
		{"big request: last segments swapped", swap(segs, 117, 118), nil},
		{"big response: 2 segments swapped", swap(segs, 139, 140), nil},
		{"big response: last 2 segments swapped", swap(segs, 187, 188), nil},
		{"small request repeated", dup(segs, 9, 10), map[uint64]uint64{1: 42}},
		{"small response repeated", dup(segs, 10, 11), map[uint64]uint64{1: 8}},
		{"big request segment repeated later", dup(segs, 70, 100), map[uint64]uint64{1: 43520}},
		{"big request segment repeated while held", dup(swap(segs, 75, 76), 75, 77), map[uint64]uint64{1: 43520}},
		{"big response segment repeated", dup(segs, 153, 160), map[uint64]uint64{1: 65483}},
		{"re-segmented retransmission", overlap(segs, 69, 70, 100, 200, 72), map[uint64]uint64{1: 300}},
		{"retransmission across frames", overlap(segs, 9, 11, 10, 10, 12), map[uint64]uint64{1: 20}},
		{"every segment of conn 3 twice", dupAll(segs, conn3), map[uint64]uint64{3: 275 + 1377}},
		{"SYN repeated", dup(segs, 0, 1), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sameAsClean(t, c, tc.in, track(decoder.Config{}, tc.in), tc.retrans)
		})
	}
}

// dupAll repeats every segment of a connection right after itself.
func dupAll(segs []decoder.Segment, key decoder.ConnKey) []decoder.Segment {
	var out []decoder.Segment
	for _, s := range segs {
		out = append(out, s)
		if s.Key == key && s.Flags&(decoder.FIN|decoder.RST) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// copyOf returns the session moved to client port base+original port
// offset, its times shifted by dt: another client doing the same.
func copyOf(segs []decoder.Segment, n int, dt int64) []decoder.Segment {
	out := slices.Clone(segs)
	for i := range out {
		s := &out[i]
		s.Time += dt
		s.Key.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(n >> 8), byte(n)}), s.Key.Client.Port())
	}
	return out
}

// merge interleaves any number of captures by time.
func merge(all ...[]decoder.Segment) []decoder.Segment {
	var out []decoder.Segment
	for _, s := range all {
		out = interleave(out, s)
	}
	return out
}

// TestManyConnections interleaves 30 copies of the session (90
// connections, from 30 client addresses, 10 µs apart): every copy decodes
// exactly as the session alone.
func TestManyConnections(t *testing.T) {
	segs := session(t)
	alone := map[string][]string{} // client address → sigs, as decoded alone
	var copies [][]decoder.Segment
	for n := range 30 {
		cp := copyOf(segs, n+1, int64(n)*10_000)
		copies = append(copies, cp)
		for _, ev := range track(decoder.Config{}, cp).events {
			if ev.Kind != decoder.EventOpen && ev.Kind != decoder.EventClose {
				alone[ev.Client.String()] = append(alone[ev.Client.String()], sig(ev)+fmt.Sprint(ev.Flags))
			}
		}
	}
	got := track(decoder.Config{}, merge(copies...))
	together := map[string][]string{}
	ids := map[string]uint64{}
	for _, ev := range got.events {
		if prev, ok := ids[ev.Client.String()]; ok && prev != ev.ConnID {
			t.Fatalf("client %v has two connection numbers", ev.Client)
		}
		ids[ev.Client.String()] = ev.ConnID
		if ev.Kind != decoder.EventOpen && ev.Kind != decoder.EventClose {
			together[ev.Client.String()] = append(together[ev.Client.String()], sig(ev)+fmt.Sprint(ev.Flags))
		}
	}
	if len(together) != 90 || got.stats.Conns != 90 || got.stats.Pairs != 30*123 || got.stats.Unanswered+got.stats.Unmatched != 0 {
		t.Fatalf("%d clients, stats %+v", len(together), got.stats)
	}
	for client, want := range alone {
		if !slices.Equal(together[client], want) {
			t.Errorf("client %s decoded differently among the others", client)
		}
	}
}

// TestEviction caps the tracker at fewer connections than are open: the
// least recently active one is closed and reported (with its counters and
// its unanswered request), and if it speaks again it comes back as a new
// connection, mid-stream. No exchange is mispaired.
func TestEviction(t *testing.T) {
	c := clean(t)
	segs := session(t)
	in := merge(segs, copyOf(segs, 1, 3_000), copyOf(segs, 2, 6_000))
	// copyOf puts copy n at 127.1.n>>8.n; the original is at 127.0.0.1.
	var maxOpen int
	var events []*decoder.Event
	tr := decoder.NewTracker(decoder.Config{MaxConns: 4}, func(ev *decoder.Event) { events = append(events, ev) })
	for i := range in {
		tr.Feed(&in[i])
		maxOpen = max(maxOpen, tr.Stats().OpenConns)
	}
	tr.Flush()
	st := tr.Stats()
	if maxOpen > 4 {
		t.Errorf("%d connections tracked at once, cap 4", maxOpen)
	}
	if st.Evicted == 0 {
		t.Fatal("nothing evicted")
	}
	got := &run{events: events, stats: st}
	checkConsistent(t, events)
	open, closed := map[uint64]*decoder.Event{}, map[uint64]bool{}
	for _, ev := range events {
		switch ev.Kind {
		case decoder.EventOpen:
			open[ev.ConnID] = ev
		case decoder.EventClose:
			if open[ev.ConnID] == nil || closed[ev.ConnID] {
				t.Errorf("close without open: %s", describe(ev))
			}
			closed[ev.ConnID] = true
		default:
			if open[ev.ConnID] == nil || closed[ev.ConnID] {
				t.Errorf("event outside its connection's life: %s", describe(ev))
			}
		}
	}
	if len(closed) != len(open) || uint64(len(open)) != st.Conns {
		t.Errorf("%d opened, %d closed, %d conns", len(open), len(closed), st.Conns)
	}
	// Reopened connections are mid-stream; the first 9 connections are not.
	reopened := 0
	for id, ev := range open {
		if id > 9 {
			reopened++
			if ev.Flags&decoder.FlagMidStream == 0 {
				t.Errorf("reopened connection not mid_stream: %s", describe(ev))
			}
		}
	}
	if uint64(reopened) != st.Conns-9 || st.Conns-9 > st.Evicted {
		t.Errorf("%d reopened, %d conns, %d evicted", reopened, st.Conns, st.Evicted)
	}
	// Translate the copies back to the original clients and times.
	for _, ev := range events {
		var n int64 // 0: the original
		if a := ev.Client.Addr().As4(); a[1] == 1 {
			n = int64(a[3])
		}
		if ev.ReqTime != 0 {
			ev.ReqTime -= n * 3_000
		}
		if ev.RespTime != 0 {
			ev.RespTime -= n * 3_000
		}
		ev.Client = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ev.Client.Port())
	}
	exact := checkNoMispairing(t, c, got)
	t.Logf("%d evictions, %d connections, %d of %d exchanges exact, %d unanswered, %d unmatched",
		st.Evicted, st.Conns, exact, 3*123, st.Unanswered, st.Unmatched)
	if exact < 3*123/2 {
		t.Errorf("only %d exchanges decoded exactly", exact)
	}
}
