package decoder_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// garbage returns n random bytes whose first 8 are impossible as a frame
// header in either direction (a length field of 2^32-1 at both offsets), so
// that a framer in sync loses it at once instead of taking the garbage for
// a frame of a plausible length (see TestGarbagePlausibleLength).
func garbage(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if n >= 8 {
		binary.LittleEndian.PutUint32(b, 0xFFFFFFFF)
		binary.LittleEndian.PutUint32(b[4:], 0xFFFFFFFF)
	}
	return b
}

// segIndex returns the index of the data segment of connection tc,
// direction dir, that begins at stream offset off.
func segIndex(t *testing.T, segs []decoder.Segment, tc *truthConn, dir decoder.Direction, off uint64) int {
	t.Helper()
	k := findSeg(segs, tc, dir, off)
	if k < 0 || tc.offset(&segs[k]) != off {
		t.Fatalf("no segment begins at offset %d", off)
	}
	return k
}

// TestGarbageInjected inserts random bytes into one direction of a
// connection, before its first frame or between two frames: the framer
// reports exactly those bytes as one desync event, and every exchange
// decodes as in the clean run.
func TestGarbageInjected(t *testing.T) {
	c := clean(t)
	segs := session(t)
	conn1, conn3 := c.tr.conns[0], c.tr.conns[2]
	rng := rand.New(rand.NewPCG(7, 7))
	cases := []struct {
		name  string
		conn  *truthConn
		dir   decoder.Direction
		frame int // garbage goes right before this frame
		n     int
	}{
		{"before the first request", conn1, decoder.ToServer, 0, 100},
		{"before the first response", conn1, decoder.ToClient, 0, 37},
		{"between requests", conn1, decoder.ToServer, 5, 1000},
		{"between responses", conn1, decoder.ToClient, 5, 9},
		{"before the big SendMessages", conn1, decoder.ToServer, 33, 4096},
		{"after the big SendMessages", conn1, decoder.ToServer, 34, 70_000}, // more than the scan window
		{"before the big PollMessages response", conn1, decoder.ToClient, 41, 8},
		{"between requests of conn 3", conn3, decoder.ToServer, 3, 300},
		{"between responses of conn 3", conn3, decoder.ToClient, 3, 200_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.conn.frames[tc.dir][tc.frame]
			k := segIndex(t, segs, tc.conn, tc.dir, f.start)
			in := insertData(segs, k, tc.conn.key, tc.dir, garbage(rng, tc.n))
			got := track(decoder.Config{}, in)
			checkConsistent(t, got.events)
			if exact := checkNoMispairing(t, c, got); exact != len(c.byKey) {
				t.Errorf("%d of %d exchanges decoded exactly", exact, len(c.byKey))
			}
			var desync []*decoder.Event
			for _, ev := range got.conn(tc.conn.id) {
				switch ev.Kind {
				case decoder.EventDesync:
					desync = append(desync, ev)
				case decoder.EventPair:
					if ev.Flags&^(decoder.FlagAfterGap|decoder.FlagUnknownCommand) != 0 {
						t.Errorf("flags: %s", describe(ev))
					}
				default:
					t.Errorf("unexpected %s", describe(ev))
				}
			}
			if len(desync) != 1 || desync[0].Dir != tc.dir || desync[0].Bytes != uint64(tc.n) {
				t.Fatalf("desync events %v, want one of %d %s bytes\n%s", desync, tc.n, tc.dir, got.dump())
			}
			if desync[0].Reason != "impossible frame length" {
				t.Errorf("desync reason %q", desync[0].Reason)
			}
			if cl := got.close(tc.conn.id); cl.Stats.DesyncBytes != uint64(tc.n) || cl.Stats.Unanswered+cl.Stats.Unmatched != 0 {
				t.Errorf("close stats %+v", *cl.Stats)
			}
		})
	}
}

// garbageConn returns the segments of a connection that carries nothing but
// random bytes: a handshake, then n segments of size bytes alternating
// between the directions, the first 8 bytes of each direction impossible as
// a header.
func garbageConn(rng *rand.Rand, port uint16, t0 int64, n, size int) []decoder.Segment {
	key := decoder.ConnKey{
		Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
		Server: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 8090),
	}
	isn := [2]uint32{rng.Uint32(), rng.Uint32()}
	out := []decoder.Segment{
		{Time: t0, Key: key, Dir: decoder.ToServer, Flags: decoder.SYN, Seq: isn[0]},
		{Time: t0 + 1, Key: key, Dir: decoder.ToClient, Flags: decoder.SYN, Seq: isn[1]},
	}
	seq := [2]uint32{isn[0] + 1, isn[1] + 1}
	for i := range n {
		dir := decoder.Direction(i % 2)
		data := garbage(rng, size)
		if i >= 2 {
			data = data[:size:size]
			data[0], data[4] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		out = append(out, decoder.Segment{Time: t0 + 2 + int64(i), Key: key, Dir: dir, Seq: seq[dir], Len: uint32(size), Data: data})
		seq[dir] += uint32(size)
	}
	return out
}

// TestGarbageConnection feeds a connection of pure garbage, interleaved
// with the real session: every byte of it is reported as desync, nothing is
// framed, the session decodes as if alone, and the tracker's memory stays
// bounded by its scan window, not by the garbage.
func TestGarbageConnection(t *testing.T) {
	c := clean(t)
	segs := session(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const n, size = 200, 16 << 10 // 1.6 MiB each way
	junk := garbageConn(rng, 40000, segs[0].Time-1000, n, size)
	in := interleave(segs, junk)

	got := track(decoder.Config{}, in)
	checkConsistent(t, got.events)
	if exact := checkNoMispairing(t, c, got); exact != len(c.byKey) {
		t.Errorf("%d of %d exchanges decoded exactly", exact, len(c.byKey))
	}
	var desync [2]uint64
	junkID := got.events[0].ConnID
	for _, ev := range got.conn(junkID) {
		if ev.Kind != decoder.EventDesync {
			t.Errorf("garbage connection: %s", describe(ev))
			continue
		}
		desync[ev.Dir] += ev.Bytes
	}
	want := uint64(n / 2 * size)
	if desync != [2]uint64{want, want} {
		t.Errorf("desync bytes %v, want %d each way", desync, want)
	}

	// Memory: the garbage is fed from segments built beforehand; what the
	// tracker allocates while eating it is bounded by its window.
	junk = garbageConn(rng, 40001, 0, 1000, 8<<10) // 4 MiB each way
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := decoder.NewTracker(decoder.Config{}, func(*decoder.Event) {})
	for i := range junk {
		tr.Feed(&junk[i])
	}
	runtime.ReadMemStats(&after)
	tr.Flush()
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
		t.Errorf("tracker allocated %d KiB for 8 MiB of garbage", grew>>10)
	}
	if st := tr.Stats(); st.DesyncBytes != 1000*8<<10 || st.Pairs+st.Unanswered+st.Unmatched != 0 {
		t.Errorf("stats %+v", st)
	}
}

// interleave merges extra segments into segs by capture time, keeping the
// order of each.
func interleave(segs, extra []decoder.Segment) []decoder.Segment {
	out := make([]decoder.Segment, 0, len(segs)+len(extra))
	i, j := 0, 0
	for i < len(segs) || j < len(extra) {
		if j == len(extra) || (i < len(segs) && segs[i].Time <= extra[j].Time) {
			out = append(out, segs[i])
			i++
		} else {
			out = append(out, extra[j])
			j++
		}
	}
	return out
}

// withHeader returns segs with the 8 header bytes of a frame that begins a
// segment replaced.
func withHeader(t *testing.T, segs []decoder.Segment, tc *truthConn, dir decoder.Direction, frame int, first, second uint32) []decoder.Segment {
	t.Helper()
	k := segIndex(t, segs, tc, dir, tc.frames[dir][frame].start)
	data := slices.Clone(segs[k].Data)
	binary.LittleEndian.PutUint32(data, first)
	binary.LittleEndian.PutUint32(data[4:], second)
	return replaceData(segs, k, data)
}
