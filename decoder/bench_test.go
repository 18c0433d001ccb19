package decoder_test

// Throughput benchmarks of the decoder on real SDK traffic (see
// internal/benchdata): a SendMessages-heavy stream (100 × 1 KiB messages per
// request) and a small-command stream (Ping, GetStream, GetTopic,
// StoreConsumerOffset, GetConsumerOffset), each over 4 connections opened
// once, replayed with sequence numbers moving on. Besides ns/op, MB/s (TCP
// payload bytes, both directions) and allocs/op (one op = one replay) each
// reports
//
//	frames/s      request and response frames decoded per second
//	ns/frame      the same, inverted
//	cpu-ns/frame  process CPU time per frame (GC included): the cost of a
//	              frame, less disturbed than ns/frame by other load
//	allocs/frame  heap allocations per frame
//	allocs/pair   heap allocations per request/response pair
//
// Goals (issue): ≥ 1 GB/s on the SendMessages-heavy stream, ≥ 2 million
// small frames per second per core, no allocation per frame in reassembly,
// framing and pairing once warm. scripts/bench.sh (make bench) runs them and
// compares with the goals.

import (
	"context"
	"io"
	"log"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/framing"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/decoder/reassembly"
	"github.com/iggytrace/iggytrace/internal/benchdata"
)

// The streams are recorded once per test binary: recording runs the test
// server and the SDK, which takes a second or two.
var (
	sendStream  = sync.OnceValues(func() (*benchdata.Stream, error) { return record(benchdata.SendMessages) })
	smallStream = sync.OnceValues(func() (*benchdata.Stream, error) { return record(benchdata.SmallCommands) })
)

func record(f func(context.Context) (*benchdata.Stream, error)) (*benchdata.Stream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The SDK logs its cluster-leader check to the standard logger, which
	// would interleave with the benchmark output.
	w := log.Writer()
	log.SetOutput(io.Discard)
	defer log.SetOutput(w)
	return f(ctx)
}

func stream(tb testing.TB, f func() (*benchdata.Stream, error)) *benchdata.Stream {
	tb.Helper()
	s, err := f()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// replay feeds one replay of s to feed and moves s on to the next.
func replay(s *benchdata.Stream, feed func(*decoder.Segment)) {
	for i := range s.Segments {
		feed(&s.Segments[i])
	}
	s.Advance()
}

// measure runs body once per iteration under b.Loop and reports the
// per-frame metrics. body must process one replay of s.
func measure(b *testing.B, s *benchdata.Stream, body func()) {
	b.SetBytes(s.Bytes)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := benchdata.CPUTime()
	for b.Loop() {
		body()
	}
	cpu = benchdata.CPUTime() - cpu
	runtime.ReadMemStats(&after)
	frames := float64(b.N) * float64(s.Frames)
	allocs := float64(after.Mallocs - before.Mallocs)
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/frames, "ns/frame")
	if cpu > 0 {
		// CPU time of the whole process (GC workers included) per frame:
		// what a frame costs, whatever else ran on the machine.
		b.ReportMetric(float64(cpu.Nanoseconds())/frames, "cpu-ns/frame")
	}
	b.ReportMetric(allocs/frames, "allocs/frame")
	b.ReportMetric(allocs/(float64(b.N)*float64(s.Pairs)), "allocs/pair")
}

// keep is where the emit callback leaves the last event, so that the
// compiler cannot drop the work of building it.
var keep *decoder.Event

// pipelineCheck counts what a tracker emitted, to verify that a benchmark
// measured clean pairs and nothing else.
type pipelineCheck struct {
	pairs, other, flagged int
	first                 *decoder.Event
}

func (c *pipelineCheck) emit(ev *decoder.Event) {
	keep = ev
	switch {
	case ev.Kind == decoder.EventOpen:
	case ev.Kind != decoder.EventPair:
		c.other++
	case ev.Flags&^decoder.FlagVersionAssumed != 0 || ev.Error != "":
		c.flagged++
		if c.first == nil {
			c.first = ev
		}
	default:
		c.pairs++
	}
}

func (c *pipelineCheck) verify(tb testing.TB, s *benchdata.Stream, replays int) {
	tb.Helper()
	if c.other != 0 || c.flagged != 0 || c.pairs != replays*s.Pairs {
		tb.Fatalf("%s: %d clean pairs, want %d; %d flagged (first: %+v), %d other events",
			s.Name, c.pairs, replays*s.Pairs, c.flagged, c.first, c.other)
	}
}

// benchTracker runs the whole pipeline: Segment → reassembly → framing →
// pairing → protocol decoding → Event, on connections opened once (the SYNs
// and one warm-up replay are not measured).
func benchTracker(b *testing.B, s *benchdata.Stream, cfg decoder.Config) {
	chk := &pipelineCheck{}
	tr := decoder.NewTracker(cfg, chk.emit)
	for _, sg := range s.Handshake() {
		tr.Feed(&sg)
	}
	replay(s, tr.Feed) // warm: grow buffers, detect the version
	measure(b, s, func() { replay(s, tr.Feed) })
	chk.verify(b, s, b.N+1)
	b.Log(s.Describe())
}

// detail decodes every message of a batch (--messages).
var detail = decoder.Config{Protocol: protocol.Options{Messages: true}}

// BenchmarkTrackerSendMessages: the full pipeline on the SendMessages-heavy
// stream, batches summarised (the default).
func BenchmarkTrackerSendMessages(b *testing.B) {
	benchTracker(b, stream(b, sendStream), decoder.Config{})
}

// BenchmarkTrackerSendMessagesDetail: the same with a Value per message.
func BenchmarkTrackerSendMessagesDetail(b *testing.B) {
	benchTracker(b, stream(b, sendStream), detail)
}

// BenchmarkTrackerSmallCommands: the full pipeline on the small-command stream.
func BenchmarkTrackerSmallCommands(b *testing.B) {
	benchTracker(b, stream(b, smallStream), decoder.Config{})
}

// pairer is the tracker's work without protocol decoding: per connection,
// two reassembly streams feeding two framers, and requests paired with
// responses in FIFO order. It is built from the same public pieces, wired
// the way decoder/conn.go wires them, with a fixed ring for the requests in
// flight instead of Events.
type pairer struct {
	conns map[decoder.ConnKey]*pconn
	pairs int
	lat   int64
}

type pconn struct {
	p       *pairer
	dec     *protocol.Decoder
	in, out phalf
	ring    [16]pframe // requests in flight
	head, n int
}

type pframe struct {
	code uint32
	end  int64
}

type phalf struct {
	c      *pconn
	dir    decoder.Direction
	stream *reassembly.Stream
	framer *framing.Framer
}

func newPairer() *pairer { return &pairer{conns: map[decoder.ConnKey]*pconn{}} }

func (p *pairer) feed(seg *decoder.Segment) {
	c := p.conns[seg.Key]
	if c == nil {
		c = &pconn{p: p, dec: protocol.NewDecoder(protocol.Options{})}
		c.in = phalf{c: c, dir: decoder.ToServer, stream: reassembly.NewStream(reassembly.Config{}),
			framer: framing.New(framing.Requests, framing.Config{}, validator{c.dec})}
		c.out = phalf{c: c, dir: decoder.ToClient, stream: reassembly.NewStream(reassembly.Config{}),
			framer: framing.New(framing.Responses, framing.Config{}, validator{c.dec})}
		p.conns[seg.Key] = c
	}
	h := &c.in
	if seg.Dir == decoder.ToClient {
		h = &c.out
	}
	if seg.Flags&decoder.SYN != 0 {
		h.stream.Start(seg.Seq)
	} else if seg.Len > 0 {
		h.stream.Push(seg.Seq, seg.Data, seg.Len, seg.Time, h)
	}
}

func (h *phalf) Data(b []byte, t int64) { h.framer.Data(b, t, h) }
func (h *phalf) Skip(n uint32, t int64) { h.framer.Skip(n, t, h) }
func (h *phalf) Gap(n uint64, t int64)  { h.framer.Gap(n, t, h) }
func (h *phalf) Desync(uint64, string)  {}
func (h *phalf) Lost()                  {}
func (h *phalf) Frame(f *framing.Frame) { h.c.frame(h.dir, f) }

func (c *pconn) frame(dir decoder.Direction, f *framing.Frame) {
	if dir == decoder.ToServer {
		if c.n == len(c.ring) {
			panic("pairer: too many requests in flight")
		}
		c.ring[(c.head+c.n)%len(c.ring)] = pframe{code: f.Code, end: f.EndTime}
		c.n++
		return
	}
	if c.n == 0 {
		panic("pairer: response without a request")
	}
	req := c.ring[c.head]
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	c.p.pairs++
	c.p.lat += f.EndTime - req.end
}

// validator is what decoder/conn.go gives its framers; it is only consulted
// out of sync, which these streams never are.
type validator struct{ dec *protocol.Decoder }

func (v validator) ValidHeader(code, length uint32) bool { return true }
func (v validator) ValidFrame(code uint32, payload []byte) bool {
	return v.dec.ValidRequest(protocol.Code(code), payload)
}

func benchPairing(b *testing.B, s *benchdata.Stream) {
	p := newPairer()
	for _, sg := range s.Handshake() {
		p.feed(&sg)
	}
	replay(s, p.feed)
	measure(b, s, func() { replay(s, p.feed) })
	if p.pairs != (b.N+1)*s.Pairs {
		b.Fatalf("%d pairs, want %d", p.pairs, (b.N+1)*s.Pairs)
	}
}

// BenchmarkPairingOnlySendMessages: reassembly, framing and FIFO pairing of
// the SendMessages-heavy stream, without protocol decoding or Events.
func BenchmarkPairingOnlySendMessages(b *testing.B) { benchPairing(b, stream(b, sendStream)) }

// BenchmarkPairingOnlySmallCommands: reassembly, framing and FIFO pairing of
// the small-command stream, without protocol decoding or Events.
func BenchmarkPairingOnlySmallCommands(b *testing.B) { benchPairing(b, stream(b, smallStream)) }

// TestBenchAllocs pins the allocation figures the benchmarks report, on the
// same streams: once warm, reassembly, framing and pairing allocate nothing,
// and the full pipeline allocates only the events it returns. A small
// command's Event, its request's and response's Values and their strings
// take one allocation (see newEvent in event.go), and so does a summarised
// SendMessages Event; with a Value per message (--messages) its request
// decodes to a thousand Values and takes three: the Event, the Values, and
// the bytes of their strings (the stream and topic identifiers).
func TestBenchAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("records SDK traffic")
	}
	for _, tc := range []struct {
		s    func() (*benchdata.Stream, error)
		cfg  decoder.Config
		pair float64 // allocations per pair in the full pipeline
	}{
		{smallStream, decoder.Config{}, 1},
		{sendStream, decoder.Config{}, 1},
		{sendStream, detail, 3},
	} {
		s := stream(t, tc.s)
		p := newPairer()
		for _, sg := range s.Handshake() {
			p.feed(&sg)
		}
		replay(s, p.feed)
		if n := testing.AllocsPerRun(3, func() { replay(s, p.feed) }); n != 0 {
			t.Errorf("%s: reassembly, framing and pairing: %v allocations per replay, want 0", s.Name, n)
		}

		chk := &pipelineCheck{}
		tr := decoder.NewTracker(tc.cfg, chk.emit)
		for _, sg := range s.Handshake() {
			tr.Feed(&sg)
		}
		replay(s, tr.Feed)
		n := testing.AllocsPerRun(3, func() { replay(s, tr.Feed) })
		chk.verify(t, s, 1+4)
		if got := n / float64(s.Pairs); got != tc.pair {
			t.Errorf("%s (messages %v): full pipeline: %v allocations per pair, want %v", s.Name, tc.cfg.Protocol.Messages, got, tc.pair)
		}
	}
}
