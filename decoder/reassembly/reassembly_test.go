package reassembly

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// content is the byte at stream offset i of every test stream, so that a
// sink can check that each delivered byte is the right one. It depends on
// the offset modulo 2^32 only, like a sequence number.
func content(i uint64) byte {
	j := uint32(i)
	return byte(j*13 + j>>8 + 7)
}

func contentRange(off, n uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = content(off + uint64(i))
	}
	return b
}

// sink records what a Stream delivers as "D<off>+<n>", "S<off>+<n>",
// "G<off>+<n>" events, merging adjacent events of one kind, and checks each
// data byte against content.
type sink struct {
	t      testing.TB
	off    uint64 // stream offset of the next byte
	events []string
	last   byte
	start  uint64 // offset where the last event began
	times  []int64
	quiet  bool // check content only, record nothing
}

func (s *sink) add(kind byte, n uint64, t int64) {
	if n == 0 {
		s.t.Errorf("empty %c event", kind)
	}
	if s.quiet {
		s.off += n
		return
	}
	if kind == s.last && len(s.events) > 0 {
		s.events[len(s.events)-1] = fmt.Sprintf("%c%d+%d", kind, s.start, s.off+n-s.start)
	} else {
		s.start = s.off
		s.events = append(s.events, fmt.Sprintf("%c%d+%d", kind, s.off, n))
		s.times = append(s.times, t)
	}
	s.last = kind
	s.off += n
}

func (s *sink) Data(p []byte, t int64) {
	for i, c := range p {
		if c != content(s.off+uint64(i)) {
			s.t.Fatalf("byte at %d is %#x, want %#x", s.off+uint64(i), c, content(s.off+uint64(i)))
		}
	}
	s.add('D', uint64(len(p)), t)
}

func (s *sink) Skip(n uint32, t int64) { s.add('S', uint64(n), t) }
func (s *sink) Gap(n uint64, t int64)  { s.add('G', n, t) }

// seg is a test segment: stream offset, wire length, captured length.
type seg struct {
	off, n, captured uint64
	t                int64
}

func full(off, n uint64) seg    { return seg{off: off, n: n, captured: n} }
func part(off, n, c uint64) seg { return seg{off: off, n: n, captured: c} }
func (s seg) at(t int64) seg    { s.t = t; return s }

// push feeds s to st for a stream whose first byte has sequence number base.
func push(st *Stream, base uint32, s seg, k Sink) {
	st.Push(base+uint32(s.off), contentRange(s.off, s.captured), uint32(s.n), s.t, k)
}

func TestStream(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		segs  []seg
		flush bool
		want  string
		stats Stats
	}{
		{name: "in order",
			segs:  []seg{full(0, 100), full(100, 50), full(150, 1)},
			want:  "D0+151",
			stats: Stats{Delivered: 151}},
		{name: "out of order",
			segs:  []seg{full(0, 10), full(20, 10), full(30, 5), full(10, 10)},
			want:  "D0+35",
			stats: Stats{Delivered: 35, OutOfOrder: 2}},
		{name: "reversed",
			segs:  []seg{full(40, 10), full(30, 10), full(20, 10), full(10, 10), full(0, 10)},
			want:  "D0+50",
			stats: Stats{Delivered: 50, OutOfOrder: 4}},
		{name: "exact duplicate",
			segs:  []seg{full(0, 10), full(10, 10), full(0, 10), full(10, 10), full(20, 5)},
			want:  "D0+25",
			stats: Stats{Delivered: 25, Duplicates: 2, RetransmittedBytes: 20}},
		{name: "partial overlaps trimmed",
			segs:  []seg{full(0, 10), full(5, 10), full(12, 10), full(30, 10), full(25, 10), full(20, 12)},
			want:  "D0+40",
			stats: Stats{Delivered: 40, OutOfOrder: 2, RetransmittedBytes: 5 + 3 + 2 + 7 + 5}},
		{name: "duplicate of a held segment",
			segs:  []seg{full(0, 10), full(20, 10), full(22, 5), full(20, 10), full(10, 10)},
			want:  "D0+30",
			stats: Stats{Delivered: 30, OutOfOrder: 3, Duplicates: 2, RetransmittedBytes: 15}},
		{name: "held segments covered by a retransmission",
			segs:  []seg{full(0, 10), full(20, 5), full(30, 5), full(15, 25), full(10, 5)},
			want:  "D0+40",
			stats: Stats{Delivered: 40, OutOfOrder: 3, Duplicates: 2, RetransmittedBytes: 10}},
		{name: "partially captured in order",
			segs:  []seg{part(0, 100, 20), part(100, 50, 50), part(150, 30, 0)},
			want:  "D0+20 S20+80 D100+50 S150+30",
			stats: Stats{Delivered: 70, SkippedBytes: 110}},
		{name: "partially captured held segment keeps its skip",
			segs:  []seg{part(100, 100, 8), part(0, 100, 8)},
			want:  "D0+8 S8+92 D100+8 S108+92",
			stats: Stats{Delivered: 16, SkippedBytes: 184, OutOfOrder: 1}},
		{name: "overlap trimmed into the skipped part",
			segs:  []seg{part(0, 100, 8), part(50, 100, 60)},
			want:  "D0+8 S8+92 D100+10 S110+40",
			stats: Stats{Delivered: 18, SkippedBytes: 132, RetransmittedBytes: 50}},
		{name: "exact copy with more captured bytes replaces the held one",
			segs:  []seg{full(0, 10), part(20, 10, 2), full(20, 10), full(10, 10)},
			want:  "D0+30",
			stats: Stats{Delivered: 30, OutOfOrder: 2, Duplicates: 1, RetransmittedBytes: 10}},
		{name: "segment cap declares a gap",
			cfg:   Config{MaxPendingSegments: 2},
			segs:  []seg{full(0, 10), full(20, 10), full(30, 10), full(40, 10), full(10, 10)},
			want:  "D0+10 G10+10 D20+30",
			stats: Stats{Delivered: 40, OutOfOrder: 3, Gaps: 1, GapBytes: 10, Duplicates: 1, RetransmittedBytes: 10}},
		{name: "byte cap declares a gap",
			cfg:   Config{MaxPendingBytes: 25},
			segs:  []seg{full(0, 10), full(20, 10), full(40, 10), full(60, 10)},
			flush: true,
			want:  "D0+10 G10+10 D20+10 G30+10 D40+10 G50+10 D60+10",
			stats: Stats{Delivered: 40, OutOfOrder: 3, Gaps: 3, GapBytes: 30}},
		{name: "skipped bytes do not count against the byte cap",
			cfg:   Config{MaxPendingBytes: 25},
			segs:  []seg{full(0, 10), part(20, 1000, 10), part(1020, 1000, 10), full(10, 10)},
			want:  "D0+30 S30+990 D1020+10 S1030+990",
			stats: Stats{Delivered: 40, SkippedBytes: 1980, OutOfOrder: 2}},
		{name: "old hole expires",
			cfg:   Config{MaxHoleAge: 100},
			segs:  []seg{full(0, 10).at(0), full(20, 10).at(50), full(30, 10).at(100), full(40, 10).at(151)},
			want:  "D0+10 G10+10 D20+30",
			stats: Stats{Delivered: 40, OutOfOrder: 3, Gaps: 1, GapBytes: 10}},
		{name: "young hole waits",
			cfg:   Config{MaxHoleAge: 100},
			segs:  []seg{full(0, 10).at(0), full(20, 10).at(50), full(30, 10).at(100), full(10, 10).at(149)},
			want:  "D0+40",
			stats: Stats{Delivered: 40, OutOfOrder: 2}},
		{name: "flush reports holes",
			segs:  []seg{full(0, 10), full(20, 10), part(50, 10, 3)},
			flush: true,
			want:  "D0+10 G10+10 D20+10 G30+20 D50+3 S53+7",
			stats: Stats{Delivered: 23, SkippedBytes: 7, OutOfOrder: 2, Gaps: 2, GapBytes: 30}},
		{name: "far in the past is a duplicate",
			segs:  []seg{full(0, 10), full(1<<31+100, 10), full(10, 10)},
			want:  "D0+20",
			stats: Stats{Delivered: 20, Duplicates: 1, RetransmittedBytes: 10}},
		{name: "pure ack",
			segs:  []seg{full(0, 10), {off: 10}, full(10, 10)},
			want:  "D0+20",
			stats: Stats{Delivered: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, base := range []uint32{1000, 0xFFFFFFF0, 0xFFFFFFFF, 0} {
				st := NewStream(tt.cfg)
				st.Start(base - 1)
				k := &sink{t: t}
				for _, s := range tt.segs {
					push(st, base, s, k)
				}
				if tt.flush {
					st.Flush(1000, k)
				}
				if got := strings.Join(k.events, " "); got != tt.want {
					t.Errorf("base %#x: got %s, want %s", base, got, tt.want)
				}
				if st.Stats() != tt.stats {
					t.Errorf("base %#x: stats %+v, want %+v", base, st.Stats(), tt.stats)
				}
			}
		})
	}
}

func TestMidStreamStart(t *testing.T) {
	// Without Start, the first segment fixes the position; what comes from
	// before it is a duplicate.
	st := NewStream(Config{})
	k := &sink{t: t, off: 500}
	push(st, 0, full(500, 10), k)
	push(st, 0, full(490, 10), k)
	push(st, 0, full(505, 10), k)
	if got := strings.Join(k.events, " "); got != "D500+15" {
		t.Errorf("got %s", got)
	}
	if st.Position() != 15 {
		t.Errorf("position %d", st.Position())
	}
	// A SYN after data changes nothing.
	st.Start(7)
	push(st, 0, full(515, 5), k)
	if got := strings.Join(k.events, " "); got != "D500+20" {
		t.Errorf("got %s", got)
	}
}

func TestWrapAround(t *testing.T) {
	// Segments straddling 2^32, delivered in and out of order.
	const isn = 0xFFFFFF00
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 0, 3, 2}} {
		segs := []seg{full(0, 200), full(200, 200), full(400, 200), full(600, 1)}
		st := NewStream(Config{})
		st.Start(isn)
		k := &sink{t: t}
		for _, i := range order {
			push(st, isn+1, segs[i], k)
		}
		if got := strings.Join(k.events, " "); got != "D0+601" {
			t.Errorf("order %v: got %s", order, got)
		}
	}
}

func TestFarAhead(t *testing.T) {
	// A stray segment 1.5 GiB ahead, beyond any TCP window, is dropped: it
	// does not disturb in-order data or stay in memory.
	st := NewStream(Config{MaxHoleAge: 10})
	st.Start(0)
	k := &sink{t: t}
	push(st, 1, full(0, 10).at(0), k)
	push(st, 1, full(3<<29, 10).at(1), k)
	for i := uint64(1); i < 100; i++ {
		push(st, 1, full(i*10, 10).at(int64(i)), k)
	}
	st.Expire(200, k)
	if got := strings.Join(k.events, " "); got != "D0+1000" {
		t.Errorf("got %s", got)
	}
	if n, b := st.Pending(); n != 0 || b != 0 {
		t.Errorf("pending %d segments, %d bytes", n, b)
	}
	if s := st.Stats(); s.OutOfWindow != 1 || s.OutOfWindowBytes != 10 {
		t.Errorf("stats %+v", s)
	}
	// A segment within the window but far ahead is held.
	push(st, 1, full(1000+1<<29, 10).at(201), k)
	if n, b := st.Pending(); n != 1 || b != 10 {
		t.Errorf("pending %d segments, %d bytes", n, b)
	}
}

func TestLostMoreThanAWindow(t *testing.T) {
	const far = 3 << 29 // beyond the window, within 2 GiB
	// A run of segments beyond the window: the capture lost more than a
	// window, and the stream moves on to them.
	st := NewStream(Config{MaxHoleAge: -1})
	st.Start(0)
	k := &sink{t: t}
	push(st, 1, full(0, 10), k)
	push(st, 1, full(20, 10), k)
	for i := range uint64(outOfWindowRun) {
		push(st, 1, full(far+i*10, 10), k)
	}
	want := fmt.Sprintf("D0+10 G10+10 D20+10 G30+%d D%d+10", far, far+30)
	if got := strings.Join(k.events, " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if s := st.Stats(); s.OutOfWindow != outOfWindowRun-1 {
		t.Errorf("stats %+v", s)
	}
	// When nothing within the window arrives for MaxHoleAge, one segment
	// beyond it is enough.
	st = NewStream(Config{MaxHoleAge: 100})
	st.Start(0)
	k = &sink{t: t}
	push(st, 1, full(0, 10).at(0), k)
	push(st, 1, full(far, 10).at(50), k)
	push(st, 1, full(far+10, 10).at(101), k)
	want = fmt.Sprintf("D0+10 G10+%d D%d+10", far, far+10)
	if got := strings.Join(k.events, " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestHugeSkip(t *testing.T) {
	// A wire length near 4 GiB (a bogus source, or a jumbo skip) keeps
	// positions exact without memory.
	st := NewStream(Config{})
	st.Start(0)
	k := &sink{t: t}
	st.Push(1, contentRange(0, 4), 0xFFFFFFFF, 0, k)
	if got := strings.Join(k.events, " "); got != "D0+4 S4+4294967291" {
		t.Errorf("got %s", got)
	}
}

func TestEventTimes(t *testing.T) {
	// Held data is delivered with the time it was captured; a gap with the
	// time it was declared.
	st := NewStream(Config{MaxPendingSegments: 1})
	st.Start(0)
	k := &sink{t: t}
	push(st, 1, full(0, 10).at(1), k)
	push(st, 1, full(20, 10).at(2), k)
	push(st, 1, full(40, 10).at(3), k)
	if !slices.Equal(k.times, []int64{1, 3, 2}) {
		t.Errorf("events %v times %v", k.events, k.times)
	}
}

func TestPoolBudget(t *testing.T) {
	p := NewPool(1000)
	var bufs [][]byte
	for range 20 {
		bufs = append(bufs, p.get(100))
	}
	for _, b := range bufs {
		p.put(b)
	}
	if p.retained > 1000 {
		t.Errorf("retained %d", p.retained)
	}
	if b := p.get(1 << 22); len(b) != 1<<22 {
		t.Errorf("big buffer %d", len(b))
	}
}

// TestRandomOrder is the property test: any segmentation, reordering and
// duplication of a stream delivers the stream, each byte once.
func TestRandomOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 500 {
		size := uint64(1 + rng.IntN(20000))
		var segs []seg
		for off := uint64(0); off < size; {
			n := min(size-off, uint64(1+rng.IntN(3000)))
			c := n
			if iter%3 == 0 {
				c = uint64(rng.IntN(int(n) + 1))
			}
			segs = append(segs, seg{off: off, n: n, captured: c})
			off += n
		}
		// Duplicates and overlapping retransmissions.
		for range rng.IntN(len(segs) + 1) {
			a := uint64(rng.IntN(int(size)))
			b := a + 1 + uint64(rng.IntN(int(size-a)))
			segs = append(segs, seg{off: a, n: b - a, captured: b - a})
		}
		// Reorder within a window, always keeping the stream's first segment first.
		for i := 1; i < len(segs); i++ {
			j := i + rng.IntN(min(8, len(segs)-i))
			segs[i], segs[j] = segs[j], segs[i]
		}
		base := rng.Uint32()
		st := NewStream(Config{MaxHoleAge: -1})
		st.Start(base - 1)
		k := &sink{t: t}
		var wire uint64
		for _, s := range segs {
			push(st, base, s, k)
			wire += s.n
		}
		st.Flush(0, k)
		checkAccounting(t, st, wire)
		if st.Position() != size {
			t.Fatalf("iter %d: position %d, want %d (%v)", iter, st.Position(), size, k.events)
		}
		if s := st.Stats(); s.GapBytes != 0 {
			t.Fatalf("iter %d: gaps %+v", iter, s)
		}
		if iter%3 != 0 && (len(k.events) != 1 || k.events[0] != fmt.Sprintf("D0+%d", size)) {
			// Retransmissions are fully captured, so any byte may come from
			// one; only fully captured streams compare exactly.
			t.Fatalf("iter %d: got %v", iter, k.events)
		}
	}
}

// checkAccounting checks the Stats invariants after Flush.
func checkAccounting(t testing.TB, st *Stream, wire uint64) {
	t.Helper()
	s := st.Stats()
	if s.Delivered+s.SkippedBytes+s.GapBytes != st.Position() {
		t.Fatalf("delivered %d + skipped %d + gap %d != position %d", s.Delivered, s.SkippedBytes, s.GapBytes, st.Position())
	}
	if s.Delivered+s.SkippedBytes+s.RetransmittedBytes+s.OutOfWindowBytes != wire {
		t.Fatalf("delivered %d + skipped %d + retransmitted %d + out of window %d != pushed %d",
			s.Delivered, s.SkippedBytes, s.RetransmittedBytes, s.OutOfWindowBytes, wire)
	}
	if n, b := st.Pending(); n != 0 || b != 0 {
		t.Fatalf("pending %d, %d after flush", n, b)
	}
}

// TestMemoryBound feeds 100 MB of segments of which a third are lost, and
// a few bogus ones far ahead, and checks that the held data and the pool
// stay within their caps.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	cfg := Config{MaxPendingBytes: 256 << 10, MaxPendingSegments: 64, MaxHoleAge: 1e6}
	st := NewStream(cfg)
	st.Start(0)
	buf := make([]byte, 64<<10)
	var seq uint32 = 1
	for now := int64(0); uint64(seq) < 100e6; now += 1000 {
		n := 1 + rng.IntN(len(buf))
		switch r := rng.IntN(100); {
		case r == 0: // bogus, far ahead
			st.Push(seq+1<<30+rng.Uint32N(1<<30), buf[:n], uint32(n), now, nopSink{})
		case r <= 33: // lost
		default:
			st.Push(seq, buf[:n], uint32(n), now, nopSink{})
		}
		seq += uint32(n)
		if segs, b := st.Pending(); segs > cfg.MaxPendingSegments || b > cfg.MaxPendingBytes {
			t.Fatalf("pending %d segments, %d bytes", segs, b)
		}
		if st.pool.retained > cfg.MaxPendingBytes {
			t.Fatalf("pool retains %d bytes", st.pool.retained)
		}
	}
	s := st.Stats()
	if s.Delivered < 60e6 || s.GapBytes > 40e6 {
		t.Errorf("delivered %d, gaps %d: want about 66 MB and 33 MB", s.Delivered, s.GapBytes)
	}
	t.Logf("%+v", s)
}

type nopSink struct{}

func (nopSink) Data([]byte, int64) {}
func (nopSink) Skip(uint32, int64) {}
func (nopSink) Gap(uint64, int64)  {}

func TestZeroAllocs(t *testing.T) {
	st := NewStream(Config{})
	st.Start(0)
	buf := make([]byte, 1448)
	var seq uint32 = 1
	var k Sink = nopSink{}
	inOrder := func() {
		for range 100 {
			st.Push(seq, buf, 1448, 0, k)
			seq += 1448
		}
	}
	outOfOrder := func() {
		for range 50 {
			st.Push(seq+1448, buf, 1448, 0, k)
			st.Push(seq+2*1448, buf[:100], 1448, 0, k)
			st.Push(seq, buf, 1448, 0, k)
			seq += 3 * 1448
		}
	}
	inOrder()
	outOfOrder()
	if n := testing.AllocsPerRun(50, inOrder); n != 0 {
		t.Errorf("in order: %v allocations", n)
	}
	if n := testing.AllocsPerRun(50, outOfOrder); n != 0 {
		t.Errorf("out of order: %v allocations", n)
	}
}
