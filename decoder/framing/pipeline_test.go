package framing

import (
	"math/rand/v2"
	"testing"

	"github.com/iggytrace/iggytrace/decoder/reassembly"
)

// pipe makes a Framer the Sink of a reassembly.Stream, as the tracker does.
type pipe struct {
	f *Framer
	h Handler
}

func (p *pipe) Data(b []byte, t int64) { p.f.Data(b, t, p.h) }
func (p *pipe) Skip(n uint32, t int64) { p.f.Skip(n, t, p.h) }
func (p *pipe) Gap(n uint64, t int64)  { p.f.Gap(n, t, p.h) }

// tcpSeg is a segment of a test stream: offset, wire length, captured length.
type tcpSeg struct{ off, n, c int }

// randomFrames builds a stream of n random valid frames.
func randomFrames(rng *rand.Rand, kind Kind, n int) *builder {
	b := &builder{kind: kind}
	codes := []uint32{1, 10, 11, 12, 100, 101, 200, 301}
	for range n {
		size := rng.IntN(100)
		if rng.IntN(8) == 0 {
			size = rng.IntN(20000)
		}
		code := codes[rng.IntN(len(codes))]
		if code == 1 {
			size = 0
		}
		if kind == Responses {
			code = 0
			if rng.IntN(4) == 0 {
				code = []uint32{1, 2, 3, 4, 8, 40, 1000}[rng.IntN(7)]
			}
		}
		b.add(code, size)
	}
	return b
}

// TestPipelineProperty is the property test: any segmentation, reordering
// and duplication of a valid stream, through reassembly and framing, yields
// exactly the original frames. In header-only mode (every fourth round)
// each segment is captured up to a prefix that includes any header it
// starts with, and each frame yields its captured payload prefix.
func TestPipelineProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rounds := 400
	if testing.Short() {
		rounds = 50
	}
	for iter := range rounds {
		kind := Kind(iter & 1)
		headerOnly := iter%4 >= 2
		b := randomFrames(rng, kind, 1+rng.IntN(40))
		s := b.stream

		var segs []tcpSeg
		if !headerOnly {
			for off := 0; off < len(s); {
				n := min(len(s)-off, 1+rng.IntN(3000))
				segs = append(segs, tcpSeg{off, n, n})
				off += n
			}
			// Retransmissions of arbitrary ranges.
			for range rng.IntN(len(segs) + 1) {
				a := rng.IntN(len(s))
				n := 1 + rng.IntN(len(s)-a)
				segs = append(segs, tcpSeg{a, n, n})
			}
		} else {
			// Segments begin at frames (application writes) or inside
			// payloads, never inside a header.
			for i := range b.starts {
				fr := b.frame(i)
				for off := 0; off < len(fr); {
					n := min(len(fr)-off, 1+rng.IntN(3000))
					if off == 0 {
						n = max(n, min(len(fr), HeaderSize))
					}
					c := rng.IntN(n + 1)
					if off == 0 {
						c = max(c, HeaderSize)
					}
					segs = append(segs, tcpSeg{b.starts[i] + off, n, c})
					off += n
				}
			}
			for range rng.IntN(len(segs) + 1) {
				segs = append(segs, segs[rng.IntN(len(segs))])
			}
		}
		for i := 1; i < len(segs); i++ {
			j := i + rng.IntN(min(8, len(segs)-i))
			segs[i], segs[j] = segs[j], segs[i]
		}

		isn := rng.Uint32()
		if iter%8 < 4 {
			isn = -uint32(1 + rng.IntN(len(s))) // the stream crosses 2^32
		}
		st := reassembly.NewStream(reassembly.Config{MaxHoleAge: -1, MaxPendingSegments: 1 << 20, MaxPendingBytes: 1 << 30})
		st.Start(isn)
		r := &recorder{t: t}
		p := &pipe{New(kind, Config{}, testValidator{kind}), r}
		for _, sg := range segs {
			st.Push(isn+1+uint32(sg.off), s[sg.off:sg.off+sg.c], uint32(sg.n), int64(sg.off), p)
		}
		st.Flush(0, p)
		p.f.Flush(r)

		want := b.want
		if headerOnly {
			captured := make([]bool, len(s))
			for _, sg := range segs {
				for i := sg.off; i < sg.off+sg.c; i++ {
					captured[i] = true
				}
			}
			want = nil
			for i, w := range b.want {
				at := b.starts[i] + HeaderSize
				n := 0
				for n < len(w.Payload) && captured[at+n] {
					n++
				}
				if n < len(w.Payload) {
					w = cut(w, n, false)
				}
				want = append(want, w)
			}
		}
		compareFrames(t, r.frames, want)
		if r.lost != 0 || len(r.desync) != 0 {
			t.Errorf("lost %d, desync %v", r.lost, r.desync)
		}
		if t.Failed() {
			t.Fatalf("round %d (kind %d, header-only %v)", iter, kind, headerOnly)
		}
	}
}

// TestPipelineLossProperty drops random segments of a request stream. The
// framer must then deliver only real frames (each at an original frame's
// position, with its code and length and a prefix of its payload) and every
// frame that lies wholly after the last lost byte, exactly.
func TestPipelineLossProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := range 300 {
		b := randomFrames(rng, Requests, 2+rng.IntN(40))
		s := b.stream
		var segs []tcpSeg
		for off := 0; off < len(s); {
			n := min(len(s)-off, 1+rng.IntN(3000))
			segs = append(segs, tcpSeg{off, n, n})
			off += n
		}
		lastLost := -1 // end of the last dropped segment
		kept := segs[:0:0]
		for i, sg := range segs {
			if i > 0 && rng.IntN(6) == 0 {
				lastLost = sg.off + sg.n
				continue
			}
			kept = append(kept, sg)
		}
		byPos := map[uint64]got{}
		for _, w := range b.want {
			byPos[w.Pos] = w
		}

		st := reassembly.NewStream(reassembly.Config{MaxHoleAge: -1, MaxPendingSegments: 2})
		st.Start(0)
		r := &recorder{t: t}
		p := &pipe{New(Requests, Config{}, testValidator{Requests}), r}
		for _, sg := range kept {
			st.Push(1+uint32(sg.off), s[sg.off:sg.off+sg.c], uint32(sg.n), 0, p)
		}
		st.Flush(0, p)
		p.f.Flush(r)

		seen := map[uint64]bool{}
		for _, g := range r.frames {
			w, ok := byPos[g.Pos]
			if !ok || g.Code != w.Code || g.Length != w.Length || string(g.Payload) != string(w.Payload[:len(g.Payload)]) {
				t.Fatalf("round %d: frame %v is not an original frame", iter, g)
			}
			seen[g.Pos] = true
		}
		for _, w := range b.want {
			if int(w.Pos) >= lastLost && !seen[w.Pos] {
				t.Fatalf("round %d: frame %v after the last loss (%d) missing", iter, w, lastLost)
			}
		}
	}
}
