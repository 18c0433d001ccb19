// Package reassembly puts one direction of one TCP connection back in order.
//
// A Stream is fed the segments a capture source saw, in the order it saw
// them, and hands its Sink the byte stream in order: each byte once, with the
// bytes the capture did not copy reported as skipped and the bytes it never
// saw reported as a gap. It keeps positions exact in all three cases, so the
// framer above it can keep following length fields across a skipped payload
// or a lost segment.
//
// Segments that arrive ahead of a hole are copied and held, within a budget
// of bytes, segments and capture time; past the budget the hole is declared
// a gap and delivery moves on. A segment beyond TCP's largest window is
// dropped, unless a run of them shows the capture lost more than a window.
// The in-order path never copies and never allocates.
package reassembly

// Sink receives one direction's byte stream in order.
type Sink interface {
	// Data delivers in-order bytes; p is valid only during the call.
	Data(p []byte, t int64)
	// Skip reports n bytes the capture did not copy: their positions are
	// exact, their content unknown.
	Skip(n uint32, t int64)
	// Gap reports n bytes lost: never seen by the capture. n may be large.
	Gap(n uint64, t int64)
}

// Defaults for the zero values of Config.
const (
	DefaultMaxPendingBytes    = 4 << 20
	DefaultMaxPendingSegments = 1024
	// DefaultMaxHoleAge outlasts a few TCP retransmission timeouts (the
	// minimum RTO is 200 ms, the initial one 1 s): a hole older than that was
	// lost by the capture, not by the network.
	DefaultMaxHoleAge = 3e9
)

// Config bounds what a Stream holds while it waits for a hole to fill.
// Zero values mean the defaults.
type Config struct {
	// MaxPendingBytes caps the captured bytes held out of order.
	MaxPendingBytes int
	// MaxPendingSegments caps the number of segments held out of order.
	MaxPendingSegments int
	// MaxHoleAge is how long, in nanoseconds of capture time, a hole may
	// stall delivery before it is declared a gap. Negative: no age limit
	// (only the size caps and Flush end a hole).
	MaxHoleAge int64
	// Pool, if set, supplies the buffers for held segments; streams driven
	// by one goroutine may share one. Nil: each Stream has its own, which
	// keeps at most MaxPendingBytes of free buffers.
	Pool *Pool
}

func (c Config) withDefaults() Config {
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if c.MaxPendingSegments <= 0 {
		c.MaxPendingSegments = DefaultMaxPendingSegments
	}
	if c.MaxHoleAge == 0 {
		c.MaxHoleAge = DefaultMaxHoleAge
	}
	return c
}

// Stats counts what a Stream has seen. After Flush, every stream position
// from the start up to the end of the last segment is exactly one of
// Delivered, SkippedBytes or GapBytes, and every payload byte pushed is
// exactly one of Delivered, SkippedBytes, RetransmittedBytes or
// OutOfWindowBytes.
type Stats struct {
	Delivered          uint64 // bytes passed to Sink.Data
	SkippedBytes       uint64 // bytes passed to Sink.Skip
	Duplicates         uint64 // segments that brought nothing new
	RetransmittedBytes uint64 // bytes received again (whole duplicates and trimmed overlaps)
	OutOfOrder         uint64 // segments held for a hole to fill
	Gaps               uint64 // holes declared lost
	GapBytes           uint64 // bytes passed to Sink.Gap
	OutOfWindow        uint64 // segments dropped for lying beyond MaxWindow
	OutOfWindowBytes   uint64 // their bytes
}

// segment is a held out-of-order segment: stream positions [start, end),
// of which the first len(data) bytes were captured.
type segment struct {
	start, end uint64
	data       []byte // from the pool; nil when nothing was captured
	t          int64
}

// Stream reassembles one direction of one TCP connection. It is not safe for
// concurrent use.
type Stream struct {
	cfg  Config
	pool *Pool

	started bool
	// next is the position of the next byte to deliver. Positions are the
	// 32-bit sequence numbers unwrapped to 64 bits, starting 2^32 above the
	// first sequence number so that a segment from before the start never
	// underflows.
	next   uint64
	origin uint64 // the position the stream began at
	// progress is the capture time of the last segment that was delivered on
	// arrival. A hole stalls delivery from then on; a far-ahead segment
	// held while data still flows in order does not age.
	progress int64
	arrived  int64 // capture time of the last segment within the window
	outRun   int   // consecutive segments beyond the window

	// pending holds out-of-order segments sorted by start position,
	// descending, so the earliest is last and pops in O(1). For equal
	// starts the longer segment is later, so it is delivered first and the
	// shorter one is then a plain duplicate.
	pending      []segment
	pendingBytes int // captured bytes held

	stats Stats
}

// NewStream returns a Stream with cfg's limits.
func NewStream(cfg Config) *Stream {
	cfg = cfg.withDefaults()
	s := &Stream{cfg: cfg, pool: cfg.Pool}
	if s.pool == nil {
		s.pool = NewPool(cfg.MaxPendingBytes)
	}
	return s
}

// Start tells the stream that a SYN with sequence number isn was seen: the
// stream's first byte is isn+1. It has no effect once the stream has a
// position (a retransmitted SYN, or data seen before it).
func (s *Stream) Start(isn uint32) {
	if !s.started {
		s.begin(isn + 1)
	}
}

func (s *Stream) begin(seq uint32) {
	s.started = true
	s.next = 1<<32 + uint64(seq)
	s.origin = s.next
}

// Stats returns the counters so far.
func (s *Stream) Stats() Stats { return s.stats }

// Pending returns the number of segments and captured bytes held out of order.
func (s *Stream) Pending() (segments, bytes int) { return len(s.pending), s.pendingBytes }

// Position returns the number of stream positions delivered so far, as data,
// skip or gap, counted from the stream's first byte.
func (s *Stream) Position() uint64 { return s.next - s.origin }

// unwrap maps a sequence number to the position nearest to next: at most
// 2 GiB ahead or behind, as in TCP's own sequence comparisons.
func (s *Stream) unwrap(seq uint32) uint64 {
	return s.next + uint64(int64(int32(seq-uint32(s.next))))
}

// Push adds a segment: seq is its first payload byte, data the captured
// prefix of its wireLen payload bytes, t its capture time. Pure ACKs
// (wireLen 0) only let held holes age. Before Start, the first segment with
// a payload fixes the stream's position. A segment more than MaxWindow
// ahead is dropped (see moveOn for when the stream jumps to it instead).
func (s *Stream) Push(seq uint32, data []byte, wireLen uint32, t int64, sink Sink) {
	if uint64(len(data)) > uint64(wireLen) {
		// A source bug; trust the wire length, which fixes positions.
		data = data[:wireLen]
	}
	if wireLen == 0 {
		if s.started {
			s.Expire(t, sink)
		}
		return
	}
	if !s.started {
		s.begin(seq)
		s.progress, s.arrived = t, t
	}
	start := s.unwrap(seq)
	end := start + uint64(wireLen)
	if start > s.next+MaxWindow {
		if !s.moveOn(t) {
			s.stats.OutOfWindow++
			s.stats.OutOfWindowBytes += uint64(wireLen)
			s.Expire(t, sink)
			return
		}
		// The capture lost more than a window's worth: give up on the old
		// position and carry on from this segment.
		s.Flush(t, sink)
		s.skipTo(start, t, sink)
	}
	s.outRun = 0
	s.arrived = t
	switch {
	case end <= s.next:
		s.stats.Duplicates++
		s.stats.RetransmittedBytes += uint64(wireLen)
	case start <= s.next:
		data = s.trim(start, data)
		s.progress = t
		s.deliver(end, data, t, sink)
		s.drain(sink)
	default:
		s.hold(start, end, data, t, sink)
	}
	s.Expire(t, sink)
}

// MaxWindow is the furthest ahead of the next expected byte that a segment
// can lie: TCP's largest receive window (RFC 7323). A receiver drops
// anything further, so such a segment is either bogus or a sign that the
// capture lost more than a window of data.
const MaxWindow = 1 << 30

// outOfWindowRun is how many consecutive segments beyond the window make a
// Stream believe the capture lost more than a window, rather than that a
// stray segment came by.
const outOfWindowRun = 4

// moveOn counts a segment beyond the window and reports whether the stream
// should jump to it: after a run of such segments, or when no segment
// within the window has arrived for MaxHoleAge.
func (s *Stream) moveOn(t int64) bool {
	s.outRun++
	return s.outRun >= outOfWindowRun || (s.cfg.MaxHoleAge > 0 && t-s.arrived > s.cfg.MaxHoleAge)
}

// skipTo declares the bytes from next to pos lost.
func (s *Stream) skipTo(pos uint64, t int64, sink Sink) {
	if pos > s.next {
		n := pos - s.next
		s.stats.Gaps++
		s.stats.GapBytes += n
		s.next = pos
		sink.Gap(n, t)
	}
}

// trim drops the part of a segment at start that lies before next, counting
// it as retransmitted, and returns what is left of the captured prefix.
func (s *Stream) trim(start uint64, data []byte) []byte {
	cut := s.next - start
	s.stats.RetransmittedBytes += cut
	if cut >= uint64(len(data)) {
		return nil
	}
	return data[cut:]
}

// deliver passes the segment from next to end, whose captured part is data,
// to the sink.
func (s *Stream) deliver(end uint64, data []byte, t int64, sink Sink) {
	if len(data) > 0 {
		s.stats.Delivered += uint64(len(data))
		sink.Data(data, t)
	}
	if skip := end - s.next - uint64(len(data)); skip > 0 {
		s.stats.SkippedBytes += skip
		sink.Skip(uint32(skip), t)
	}
	s.next = end
}

// drain delivers the held segments that the last delivery made contiguous.
func (s *Stream) drain(sink Sink) {
	for len(s.pending) > 0 {
		i := len(s.pending) - 1
		seg := s.pending[i]
		if seg.start > s.next {
			return
		}
		s.pending[i] = segment{}
		s.pending = s.pending[:i]
		if seg.end <= s.next {
			s.stats.Duplicates++
			s.stats.RetransmittedBytes += seg.end - seg.start
		} else {
			s.deliver(seg.end, s.trim(seg.start, seg.data), seg.t, sink)
		}
		s.release(seg)
	}
}

// hold copies an out-of-order segment into the pending list, then enforces
// the size caps. Partial overlaps among held segments stay: they are
// trimmed on delivery.
func (s *Stream) hold(start, end uint64, data []byte, t int64, sink Sink) {
	s.stats.OutOfOrder++
	for i := range s.pending {
		p := &s.pending[i]
		if p.start <= start && end <= p.end &&
			!(p.start == start && p.end == end && len(data) > len(p.data)) {
			// Nothing new (an exact copy with more captured bytes replaces
			// the held one below instead).
			s.stats.Duplicates++
			s.stats.RetransmittedBytes += end - start
			return
		}
	}
	// Drop the held segments this one covers.
	keep := s.pending[:0]
	for _, p := range s.pending {
		if start <= p.start && p.end <= end {
			s.stats.Duplicates++
			s.stats.RetransmittedBytes += p.end - p.start
			s.release(p)
			continue
		}
		keep = append(keep, p)
	}
	clear(s.pending[len(keep):])
	s.pending = keep

	at := len(s.pending)
	for ; at > 0; at-- {
		p := &s.pending[at-1]
		if p.start > start || (p.start == start && p.end < end) {
			break
		}
	}
	seg := segment{start: start, end: end, t: t}
	if len(data) > 0 {
		seg.data = s.pool.get(len(data))
		copy(seg.data, data)
		s.pendingBytes += len(data)
	}
	s.pending = append(s.pending, segment{})
	copy(s.pending[at+1:], s.pending[at:])
	s.pending[at] = seg
	for len(s.pending) > s.cfg.MaxPendingSegments || s.pendingBytes > s.cfg.MaxPendingBytes {
		s.skipHole(t, sink)
	}
}

// release gives a held segment's buffer back.
func (s *Stream) release(p segment) {
	s.pendingBytes -= len(p.data)
	if p.data != nil {
		s.pool.put(p.data)
	}
}

// skipHole declares the hole before the earliest held segment lost and
// delivers what follows it.
func (s *Stream) skipHole(t int64, sink Sink) {
	s.skipTo(s.pending[len(s.pending)-1].start, t, sink)
	s.drain(sink)
}

// Expire declares lost the holes that have stalled delivery for longer than
// MaxHoleAge at capture time t. Push calls it; a tracker may also call it
// on an idle connection.
func (s *Stream) Expire(t int64, sink Sink) {
	for s.cfg.MaxHoleAge > 0 && len(s.pending) > 0 {
		since := max(s.progress, s.pending[len(s.pending)-1].t)
		if t-since <= s.cfg.MaxHoleAge {
			return
		}
		s.skipHole(t, sink)
	}
}

// Flush ends the stream: every held segment is delivered, and the holes
// before them are reported as gaps at time t.
func (s *Stream) Flush(t int64, sink Sink) {
	for len(s.pending) > 0 {
		s.skipHole(t, sink)
	}
}
