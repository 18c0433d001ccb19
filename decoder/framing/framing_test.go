package framing

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"
)

func requests() *builder  { return &builder{kind: Requests} }
func responses() *builder { return &builder{kind: Responses} }

// cut returns w with its payload cut to n captured bytes and lost set as given.
func cut(w got, n int, lost bool) got {
	w.Payload = w.Payload[:n]
	w.Missing = w.Length - uint32(n)
	w.Lost = lost
	return w
}

func resynced(w got) got { w.Resynced = true; return w }

// moved returns w at a position d bytes later.
func moved(w got, d int) got { w.Pos += uint64(d); return w }

func TestInOrder(t *testing.T) {
	for _, kind := range []Kind{Requests, Responses} {
		b := &builder{kind: kind}
		b.add(1, 0).add(10, 20).add(100, 1).add(11, 300)
		if kind == Responses {
			b.add(3, 0).add(0, 0).add(1000, 0)
		}
		// One call, then one call per frame.
		r, f := run(t, kind, Config{}, false, data(b.stream))
		compareFrames(t, r.frames, b.want)
		if len(r.log) != len(b.want) || f.Stats().Frames != uint64(len(b.want)) {
			t.Errorf("kind %d: events %v", kind, r.log)
		}
		var ops []op
		for i := range b.starts {
			ops = append(ops, data(b.frame(i)))
		}
		r, _ = run(t, kind, Config{}, false, ops...)
		compareFrames(t, r.frames, b.want)
	}
}

func TestResponseFields(t *testing.T) {
	// Error responses carry a status and length 0; OK responses a payload.
	stream := frameBytes(Responses, 0, []byte("hello"))
	stream = append(stream, frameBytes(Responses, 40, nil)...)
	r, _ := run(t, Responses, Config{}, false, data(stream))
	want := []got{
		{Pos: 0, Code: 0, Length: 5, Payload: []byte("hello")},
		{Pos: 13, Code: 40, Length: 0, Payload: []byte{}},
	}
	compareFrames(t, r.frames, want)
}

func TestZeroCopy(t *testing.T) {
	b := requests().add(10, 100).add(11, 7)
	f := New(Requests, Config{}, testValidator{Requests})
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.stream)))
	hi := lo + uintptr(len(b.stream))
	n := 0
	h := handlerFunc(func(fr *Frame) {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(fr.Payload)))
		if p < lo || p >= hi {
			t.Errorf("frame %d payload was copied", fr.Pos)
		}
		n++
	})
	f.Data(b.stream, 0, h)
	if n != 2 {
		t.Fatalf("got %d frames", n)
	}
}

type handlerFunc func(*Frame)

func (h handlerFunc) Frame(f *Frame)      { h(f) }
func (handlerFunc) Desync(uint64, string) {}
func (handlerFunc) Lost()                 {}

func TestTimes(t *testing.T) {
	b := requests().add(10, 20).add(11, 4)
	s := b.stream
	// Frame 0 starts in the call at t=1 and ends in the call at t=3; frame 1
	// lies in the call at t=3 except its last 2 bytes (a skip at t=4).
	r, _ := run(t, Requests, Config{}, false,
		at(data(s[:5]), 1), at(data(s[5:20]), 2), at(data(s[20:len(s)-2]), 3), at(skip(2), 4))
	if len(r.frames) != 2 {
		t.Fatalf("frames %v", r.frames)
	}
	if g := r.frames[0]; g.Time != 1 || g.EndTime != 3 {
		t.Errorf("frame 0 times %d-%d, want 1-3", g.Time, g.EndTime)
	}
	if g := r.frames[1]; g.Time != 3 || g.EndTime != 4 {
		t.Errorf("frame 1 times %d-%d, want 3-4", g.Time, g.EndTime)
	}
}

// TestSplitEverywhere feeds a stream cut at every pair of positions.
func TestSplitEverywhere(t *testing.T) {
	for _, kind := range []Kind{Requests, Responses} {
		b := &builder{kind: kind}
		b.add(1, 0).add(10, 9).add(100, 0).add(11, 17)
		if kind == Responses {
			b.add(4, 0)
		}
		s := b.stream
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				r, f := run(t, kind, Config{}, false, data(s[:i]), data(s[i:j]), data(s[j:]))
				compareFrames(t, r.frames, b.want)
				if cap(f.scan) > 256 {
					t.Errorf("a split header grew the scan buffer to %d", cap(f.scan))
				}
				if r.lost != 0 || len(r.desync) != 0 {
					t.Fatalf("split %d,%d: lost %d desync %v", i, j, r.lost, r.desync)
				}
				if t.Failed() {
					t.Fatalf("split %d,%d", i, j)
				}
			}
		}
	}
}

func TestMissingInPayload(t *testing.T) {
	b := requests().add(10, 20).add(11, 30).add(100, 5)
	f0, f1, f2 := b.frame(0), b.frame(1), b.frame(2)
	tests := []struct {
		name string
		ops  []op
		want []got
	}{
		{"skip in payload",
			[]op{data(f0[:12]), skip(len(f0) - 12), data(f1), data(f2)},
			[]got{cut(b.want[0], 4, false), b.want[1], b.want[2]}},
		{"gap in payload",
			[]op{data(f0[:12]), gap(uint64(len(f0) - 12)), data(f1), data(f2)},
			[]got{cut(b.want[0], 4, true), b.want[1], b.want[2]}},
		{"skip then data in payload: later bytes are not kept",
			[]op{data(f0[:12]), skip(3), data(f0[15:]), data(f1), data(f2)},
			[]got{cut(b.want[0], 4, false), b.want[1], b.want[2]}},
		{"skip and gap: lost wins",
			[]op{data(f0[:9]), gap(2), data(f0[11:14]), skip(len(f0) - 14), data(f1), data(f2)},
			[]got{cut(b.want[0], 1, true), b.want[1], b.want[2]}},
		{"skip the whole payload, next header in the same call",
			[]op{data(f0[:8]), skip(len(f0) - 8), data(append(bytes.Clone(f1), f2...))},
			[]got{cut(b.want[0], 0, false), b.want[1], b.want[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := run(t, Requests, Config{}, false, tt.ops...)
			compareFrames(t, r.frames, tt.want)
			if r.lost != 0 || len(r.desync) != 0 {
				t.Errorf("lost %d, desync %v", r.lost, r.desync)
			}
		})
	}
}

func TestHeaderHit(t *testing.T) {
	b := requests().add(10, 20).add(11, 30).add(100, 5).add(12, 6)
	f0, f1, f2, f3 := b.frame(0), b.frame(1), b.frame(2), b.frame(3)
	tests := []struct {
		name   string
		ops    []op
		want   []got
		desync []desyncEvent
	}{
		{"skip cuts a header",
			[]op{data(append(bytes.Clone(f0), f1[:3]...)), skip(len(f1) - 3), data(f2), data(f3)},
			[]got{b.want[0], resynced(b.want[2]), b.want[3]},
			[]desyncEvent{{3, ReasonSkip}}},
		{"gap cuts a header",
			[]op{data(append(bytes.Clone(f0), f1[:5]...)), gap(uint64(len(f1) - 5)), data(f2), data(f3)},
			[]got{b.want[0], resynced(b.want[2]), b.want[3]},
			[]desyncEvent{{5, ReasonGap}}},
		{"gap ends a payload and covers the next header",
			[]op{data(f0[:12]), gap(uint64(len(f0) - 12 + len(f1))), data(f2), data(f3)},
			[]got{cut(b.want[0], 4, true), resynced(b.want[2]), b.want[3]},
			nil},
		{"skip ends a payload and eats into the next frame",
			[]op{data(f0[:12]), skip(len(f0) - 12 + 10), data(f1[10:]), data(f2), data(f3)},
			[]got{cut(b.want[0], 4, false), resynced(b.want[2]), b.want[3]},
			[]desyncEvent{{uint64(len(f1) - 10), ReasonSkip}}},
		{"skip at a frame boundary",
			[]op{data(f0), skip(len(f1)), data(append(bytes.Clone(f2), f3...))},
			[]got{b.want[0], resynced(b.want[2]), b.want[3]},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, f := run(t, Requests, Config{}, false, tt.ops...)
			compareFrames(t, r.frames, tt.want)
			if r.lost != 1 || f.Stats().SyncLosses != 1 {
				t.Errorf("lost %d", r.lost)
			}
			if !reflect.DeepEqual(r.desync, tt.desync) {
				t.Errorf("desync %v, want %v", r.desync, tt.desync)
			}
			if !f.Synced() {
				t.Error("not in sync after the stream")
			}
		})
	}
}

// TestHeaderOnlyCapture models the kernel's header-only mode: each segment
// is captured up to a prefix and the rest skipped. Frames begin segments,
// so every header is captured and every frame is framed exactly.
func TestHeaderOnlyCapture(t *testing.T) {
	const mss, prefix = 1448, 64
	for _, kind := range []Kind{Requests, Responses} {
		b := &builder{kind: kind}
		b.add(10, 1000).add(11, 5000).add(100, 3).add(1, 0).add(12, 1500)
		if kind == Responses {
			b.add(40, 0)
		}
		var ops []op
		var want []got
		for i := range b.starts {
			fr := b.frame(i)
			for off := 0; off < len(fr); off += mss {
				seg := fr[off:min(off+mss, len(fr))]
				c := min(prefix, len(seg))
				ops = append(ops, data(seg[:c]))
				if c < len(seg) {
					ops = append(ops, skip(len(seg)-c))
				}
			}
			w := b.want[i]
			if n := min(prefix-HeaderSize, len(w.Payload)); n < len(w.Payload) {
				w = cut(w, n, false)
			}
			want = append(want, w)
		}
		r, _ := run(t, kind, Config{}, false, ops...)
		compareFrames(t, r.frames, want)
		if r.lost != 0 || len(r.desync) != 0 {
			t.Errorf("lost %d, desync %v", r.lost, r.desync)
		}
	}
}

// TestHeaderOnlyCoalesced: two writes in one segment. When the second
// header falls in the captured prefix, framing stays exact; when it falls
// in the skipped tail, sync is lost and regained at the next segment.
func TestHeaderOnlyCoalesced(t *testing.T) {
	b := requests().add(10, 12).add(11, 500).add(12, 40).add(100, 700).add(101, 30)
	f0, f1, f2, f3, f4 := b.frame(0), b.frame(1), b.frame(2), b.frame(3), b.frame(4)
	seg1 := append(bytes.Clone(f0), f1...) // header of f1 at 20: captured
	seg2 := append(bytes.Clone(f2), f3...) // header of f3 at 48: skipped
	r, _ := run(t, Requests, Config{}, false,
		data(seg1[:64]), skip(len(seg1)-64),
		data(seg2[:40]), skip(len(seg2)-40),
		data(f4))
	want := []got{b.want[0], cut(b.want[1], 36, false), cut(b.want[2], 32, false), resynced(b.want[4])}
	compareFrames(t, r.frames, want)
	if r.lost != 1 || !reflect.DeepEqual(r.desync, []desyncEvent(nil)) {
		t.Errorf("lost %d desync %v", r.lost, r.desync)
	}
}

func TestGarbage(t *testing.T) {
	junk := bytes.Repeat([]byte{0xEE}, 37)
	tests := []struct {
		name   string
		kind   Kind
		unsync bool
		build  func(b *builder)
		// frames are b.want with these indexes; the first is Resynced when resync is set
		frames []int
		resync int // index into frames of the resynced frame, -1 for none
		desync []desyncEvent
		lost   int
	}{
		{"garbage before frames (mid-stream start)", Requests, true,
			func(b *builder) { b.raw(junk).add(10, 20).add(11, 3) },
			[]int{0, 1}, 0, []desyncEvent{{37, ReasonStart}}, 0},
		{"4 GiB length between frames", Requests, false,
			func(b *builder) {
				b.add(10, 20).raw([]byte{0xFF, 0xFF, 0xFF, 0xFF, 10, 0, 0, 0}).raw(junk).add(11, 3).add(12, 9)
			},
			[]int{0, 1, 2}, 1, []desyncEvent{{8 + 37, ReasonLength}}, 1},
		{"4 GiB response length", Responses, false,
			func(b *builder) {
				b.add(0, 20).raw([]byte{0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}).add(0, 3).add(3, 0)
			},
			[]int{0, 1, 2}, 1, []desyncEvent{{8, ReasonLength}}, 1},
		{"request length below 4", Requests, false,
			func(b *builder) { b.add(10, 20).raw([]byte{3, 0, 0, 0, 1, 0, 0, 0}).add(11, 3).add(12, 0) },
			[]int{0, 1, 2}, 1, []desyncEvent{{8, ReasonLength}}, 1},
		{"only garbage", Requests, true,
			func(b *builder) { b.raw(junk) },
			nil, -1, []desyncEvent{{37, ReasonStart}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{kind: tt.kind}
			tt.build(b)
			var want []got
			for i, k := range tt.frames {
				w := b.want[k]
				if i == tt.resync {
					w = resynced(w)
				}
				want = append(want, w)
			}
			// In one call, and byte by byte.
			for _, split := range []bool{false, true} {
				ops := []op{data(b.stream)}
				if split {
					ops = nil
					for i := range b.stream {
						ops = append(ops, data(b.stream[i:i+1]))
					}
				}
				r, _ := run(t, tt.kind, Config{}, tt.unsync, ops...)
				compareFrames(t, r.frames, want)
				if !reflect.DeepEqual(r.desync, tt.desync) || r.lost != tt.lost {
					t.Errorf("split %v: desync %v lost %d, want %v %d", split, r.desync, r.lost, tt.desync, tt.lost)
				}
			}
		})
	}
}

func TestMidFrameStart(t *testing.T) {
	b := requests().add(10, 40).add(11, 20).add(100, 5).add(12, 3)
	s := b.stream
	for _, start := range []int{1, 4, 7, 8, 9, 30} {
		// Positions count from where the capture began.
		want := []got{resynced(b.want[1]), b.want[2], b.want[3]}
		for i := range want {
			want[i].Pos -= uint64(start)
		}
		// The capture begins inside frame 0 and the rest arrives in one
		// call, in segments that begin at frames, and cut at random.
		tail := s[start:b.starts[1]]
		for _, ops := range [][]op{
			{data(s[start:])},
			{data(tail), data(b.frame(1)), data(b.frame(2)), data(b.frame(3))},
			{data(s[start : start+3]), data(s[start+3 : b.starts[2]+4]), data(s[b.starts[2]+4:])},
		} {
			r, _ := run(t, Requests, Config{}, true, ops...)
			compareFrames(t, r.frames, want)
			if !reflect.DeepEqual(r.desync, []desyncEvent{{uint64(len(tail)), ReasonStart}}) || r.lost != 0 {
				t.Errorf("start %d: desync %v lost %d", start, r.desync, r.lost)
			}
		}
	}
}

func TestResyncAtSegmentEnd(t *testing.T) {
	// A lone frame after garbage, ending where its Data call ends, is
	// accepted without a following header.
	b := requests().raw([]byte{1, 2, 3}).add(10, 20)
	r, _ := run(t, Requests, Config{}, true, data(b.stream))
	compareFrames(t, r.frames, []got{resynced(b.want[0])})
	if !reflect.DeepEqual(r.desync, []desyncEvent{{3, ReasonStart}}) {
		t.Errorf("desync %v", r.desync)
	}
	// The same frame followed by garbage in the same call is not confirmed
	// by a next header, so it is discarded with the garbage.
	b.raw(bytes.Repeat([]byte{0xEE}, 9))
	r, _ = run(t, Requests, Config{}, true, data(b.stream))
	compareFrames(t, r.frames, nil)
	if !reflect.DeepEqual(r.desync, []desyncEvent{{uint64(len(b.stream)), ReasonStart}}) {
		t.Errorf("desync %v", r.desync)
	}
}

func TestCutAtEnd(t *testing.T) {
	b := requests().add(10, 20).add(11, 30)
	f0, f1 := b.frame(0), b.frame(1)
	r, _ := run(t, Requests, Config{}, false, data(f0), data(f1[:20]))
	compareFrames(t, r.frames, []got{b.want[0], cut(b.want[1], 12, true)})

	r, _ = run(t, Requests, Config{}, false, data(f0), data(f1[:5]))
	compareFrames(t, r.frames, []got{b.want[0]})
	if !reflect.DeepEqual(r.desync, []desyncEvent{{5, ReasonTruncated}}) {
		t.Errorf("desync %v", r.desync)
	}

	// A header alone, at the end.
	r, _ = run(t, Requests, Config{}, false, data(f0), data(f1[:8]))
	compareFrames(t, r.frames, []got{b.want[0], cut(b.want[1], 0, true)})
}

func TestMaxBuffer(t *testing.T) {
	b := requests().add(10, 100).add(11, 10)
	want := []got{cut(b.want[0], 64, false), b.want[1]}
	cfg := Config{MaxBuffer: 64}
	r, _ := run(t, Requests, cfg, false, data(b.stream))
	compareFrames(t, r.frames, want)
	r, _ = run(t, Requests, cfg, false, data(b.stream[:50]), data(b.stream[50:]))
	compareFrames(t, r.frames, want)
}

func TestLongFrameResync(t *testing.T) {
	cfg := Config{MaxScan: 1024}
	b := requests().add(10, 20).add(11, 5000).add(12, 10)
	f0, f1, f2 := b.frame(0), b.frame(1), b.frame(2)
	// After a lost header, a segment starting with a frame longer than the
	// scan window is accepted on its header.
	r, _ := run(t, Requests, cfg, false,
		data(f0[:10]), gap(uint64(len(f0)-10+3)), data([]byte{1, 2, 3}), data(f1[:1448]), data(f1[1448:]), data(f2))
	// The gap and the junk add 6 bytes before frame 1.
	compareFrames(t, r.frames, []got{cut(b.want[0], 2, true), moved(resynced(b.want[1]), 6), moved(b.want[2], 6)})
	if !reflect.DeepEqual(r.desync, []desyncEvent{{3, ReasonGap}}) {
		t.Errorf("desync %v", r.desync)
	}
	// Not at a segment start it is rejected, and so is everything up to the
	// next boundary that validates.
	junk := []byte{1, 2, 3}
	r, _ = run(t, Requests, cfg, true, data(append(junk, f1[:1448]...)), data(f1[1448:]), data(f2))
	compareFrames(t, r.frames, []got{moved(resynced(b.want[2]), 3-len(f0))})
	if !reflect.DeepEqual(r.desync, []desyncEvent{{uint64(3 + len(f1)), ReasonStart}}) {
		t.Errorf("desync %v", r.desync)
	}
}

// TestMemoryBound feeds 100 MB of garbage and checks the buffers stay within
// their caps throughout.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 64<<10)
	// Adversarial garbage: valid request headers at every odd offset, with
	// lengths that fit the window, so candidates keep waiting.
	adv := make([]byte, 64<<10)
	for i := 1; i+8 <= len(adv); i += 8 {
		binary.LittleEndian.PutUint32(adv[i:], 4000)
		binary.LittleEndian.PutUint32(adv[i+4:], 10)
	}
	for _, kind := range []Kind{Requests, Responses} {
		cfg := Config{MaxScan: 16 << 10, MaxBuffer: 1 << 20}
		f := New(kind, cfg, testValidator{kind})
		f.Unsync()
		r := &recorder{t: t}
		var total uint64
		for round := 0; total < 100e6; round++ {
			src := chunk
			if round%64 == 0 {
				src = adv
			} else {
				for i := 0; i < len(chunk); i += 8 {
					binary.LittleEndian.PutUint64(chunk[i:], rng.Uint64())
				}
			}
			n := 1 + rng.IntN(len(src))
			f.Data(src[:n], int64(total), r)
			total += uint64(n)
			if rng.IntN(8) == 0 {
				f.Skip(uint32(rng.IntN(3000)), 0, r)
			}
			checkBounds(t, f)
			r.frames = r.frames[:0]
		}
		f.Flush(r)
		if cap(f.scan) > cfg.MaxScan || cap(f.buf) > cfg.MaxBuffer {
			t.Errorf("kind %d: scan cap %d, buf cap %d", kind, cap(f.scan), cap(f.buf))
		}
		t.Logf("kind %d: %d frames, %+v", kind, len(r.frames), f.Stats())
	}
}

// TestUnsyncAtStartOfFrames: a capture that begins exactly at a frame
// boundary loses nothing.
func TestUnsyncAtBoundary(t *testing.T) {
	b := requests().add(10, 20).add(11, 30)
	r, _ := run(t, Requests, Config{}, true, data(b.frame(0)), data(b.frame(1)))
	compareFrames(t, r.frames, []got{resynced(b.want[0]), b.want[1]})
	if len(r.desync) != 0 || r.lost != 0 {
		t.Errorf("desync %v lost %d", r.desync, r.lost)
	}
}

func TestZeroAllocs(t *testing.T) {
	b := requests()
	for i := range 200 {
		b.add(10, i%50)
	}
	b.add(11, 100000)
	s := b.stream
	f := New(Requests, Config{}, testValidator{Requests})
	h := handlerFunc(func(*Frame) {})
	feed := func() {
		for off := 0; off < len(s); off += 1000 {
			f.Data(s[off:min(off+1000, len(s))], 1, h)
		}
		f.Skip(7, 1, h) // a cut header: resync on the next round
	}
	feed()
	feed()
	if n := testing.AllocsPerRun(20, feed); n != 0 {
		t.Errorf("%v allocations per stream", n)
	}
}
