package framing

import (
	"math/rand/v2"
	"testing"

	"github.com/iggytrace/iggytrace/decoder/reassembly"
)

// countHandler counts frames and touches each payload, as a consumer would.
type countHandler struct{ frames, bytes int }

func (h *countHandler) Frame(f *Frame)        { h.frames++; h.bytes += len(f.Payload) }
func (h *countHandler) Desync(uint64, string) {}
func (h *countHandler) Lost()                 {}

// smallFrames is a stream of n requests with 16-byte payloads (24 bytes a frame).
func smallFrames(n int) *builder {
	b := requests()
	for range n {
		b.add(10, 16)
	}
	return b
}

func largeFrames(n, size int) *builder {
	b := requests()
	for range n {
		b.add(101, size)
	}
	return b
}

// feedChunks feeds s to f in Data calls of chunk bytes.
func feedChunks(f *Framer, s []byte, chunk int, h Handler) {
	for off := 0; off < len(s); off += chunk {
		f.Data(s[off:min(off+chunk, len(s))], 0, h)
	}
}

func reportFrames(b *testing.B, frames int) {
	b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkFramerSmall: 24-byte frames in 64 KiB Data calls.
func BenchmarkFramerSmall(b *testing.B) {
	s := smallFrames(1 << 14).stream
	f := New(Requests, Config{}, testValidator{Requests})
	h := &countHandler{}
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		feedChunks(f, s, 64<<10, h)
	}
	reportFrames(b, 1<<14)
}

// BenchmarkFramerLarge: 1 MiB frames in 64 KiB Data calls (assembled by copy).
func BenchmarkFramerLarge(b *testing.B) {
	s := largeFrames(16, 1<<20).stream
	f := New(Requests, Config{}, testValidator{Requests})
	h := &countHandler{}
	feedChunks(f, s, 64<<10, h) // warm: grow the payload buffer
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		feedChunks(f, s, 64<<10, h)
	}
}

// BenchmarkFramerResync: scanning random garbage for a frame boundary.
func BenchmarkFramerResync(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := make([]byte, 1<<20)
	for i := range s {
		s[i] = byte(rng.Uint32())
	}
	f := New(Requests, Config{}, testValidator{Requests})
	f.Unsync()
	h := &countHandler{}
	feedChunks(f, s, 1448, h) // warm: grow the scan window
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		feedChunks(f, s, 1448, h)
	}
}

// segments cuts s into TCP segments of at most mss bytes; when perFrame,
// every frame also starts a segment (one application write per frame).
func segments(bld *builder, mss int, perFrame bool) []tcpSeg {
	var segs []tcpSeg
	cuts := []int{0}
	if perFrame {
		cuts = bld.starts
	}
	for i, start := range cuts {
		end := len(bld.stream)
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		for off := start; off < end; off += mss {
			n := min(mss, end-off)
			segs = append(segs, tcpSeg{off, n, n})
		}
	}
	return segs
}

// benchPipeline runs reassembly and framing over segs, in order, as the
// tracker does.
func benchPipeline(b *testing.B, bld *builder, segs []tcpSeg, prefix int) {
	s := bld.stream
	st := reassembly.NewStream(reassembly.Config{})
	st.Start(0)
	h := &countHandler{}
	p := &pipe{New(Requests, Config{}, testValidator{Requests}), h}
	var seq uint32 = 1
	round := func() {
		for _, sg := range segs {
			c := min(sg.c, prefix)
			st.Push(seq+uint32(sg.off), s[sg.off:sg.off+c], uint32(sg.n), 0, p)
		}
		seq += uint32(len(s))
	}
	round() // warm: grow the payload buffer
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
	reportFrames(b, len(bld.starts))
}

// BenchmarkPipelineSmallPerSegment: one 24-byte request per TCP segment,
// the request/response pattern of a typical client.
func BenchmarkPipelineSmallPerSegment(b *testing.B) {
	bld := smallFrames(1 << 14)
	benchPipeline(b, bld, segments(bld, 1448, true), 1<<30)
}

// BenchmarkPipelineSmallBatched: 24-byte requests in 64 KiB segments (GRO).
func BenchmarkPipelineSmallBatched(b *testing.B) {
	bld := smallFrames(1 << 14)
	benchPipeline(b, bld, segments(bld, 64<<10, false), 1<<30)
}

// BenchmarkPipelineLarge: 1 MiB requests in 64 KiB segments.
func BenchmarkPipelineLarge(b *testing.B) {
	bld := largeFrames(16, 1<<20)
	benchPipeline(b, bld, segments(bld, 64<<10, true), 1<<30)
}

// BenchmarkPipelineHeaderOnly: 1 MiB requests in 64 KiB segments, of which
// the capture copied 128 bytes each.
func BenchmarkPipelineHeaderOnly(b *testing.B) {
	bld := largeFrames(16, 1<<20)
	benchPipeline(b, bld, segments(bld, 64<<10, true), 128)
}
