// Package framing splits one direction of an Iggy connection into frames
// (iggy-wire.md §2.1): requests are [length u32][code u32][payload length-4],
// responses [status u32][length u32][payload length], all little-endian.
//
// A Framer follows the length fields while it is in sync. Bytes the capture
// skipped or lost inside a payload do not disturb it: the frame's end is
// known, so the frame is delivered with the missing bytes counted. A skip or
// gap that covers a header, or a header that cannot be (a length above
// MaxLength, a request length below 4, a response with both an error status
// and a payload), loses sync; the Framer then searches the following bytes
// for a frame boundary that the protocol layer's Validator confirms, within
// a bounded window, and reports what it had to discard.
//
// The search trusts the start of a Data call (a TCP segment, which usually
// begins at an application write) more than a position inside one: a
// response candidate inside a Data call is accepted only when it and at
// least one more validated frame end exactly where a Data call ends (see
// Framer.chain), since response payloads are full of response-like bytes.
// A candidate still waiting for its frame's bytes does not hold back a
// later one at a Data start that is confirmed already (see Framer.look).
//
// Frames that lie whole inside one Data call are delivered without copying;
// others are assembled in one reused buffer. Once warm, framing allocates
// nothing.
package framing

import (
	"encoding/binary"
	"sort"
)

// Kind says which direction a Framer splits.
type Kind uint8

const (
	// Requests is client → server: [length][code][payload length-4].
	Requests Kind = iota
	// Responses is server → client: [status][length][payload length].
	Responses
)

// HeaderSize is the size of a request or response header.
const HeaderSize = 8

// Defaults for the zero values of Config.
const (
	// DefaultMaxLength is far above what any released server accepts for a
	// control frame (10 MiB) and leaves room for large SendMessages and
	// PollMessages batches, whose size classic servers do not cap.
	DefaultMaxLength = 256 << 20
	// DefaultMaxBuffer keeps the whole payload of every frame a 0.8 server
	// would accept as a control frame.
	DefaultMaxBuffer = 16 << 20
	// DefaultMaxScan holds a few typical segments while searching for sync.
	DefaultMaxScan = 64 << 10
	// MaxLengthLimit caps Config.MaxLength: no Iggy frame is 1 GiB or more,
	// so a length field of that size is garbage whatever the configuration.
	MaxLengthLimit = 1 << 30
	// minScan is the smallest useful search window: a few headers.
	minScan = 64
)

// Why a desync episode began, as passed to Handler.Desync.
const (
	ReasonStart     = "capture began mid-stream"
	ReasonLength    = "impossible frame length"
	ReasonHeader    = "impossible response header"
	ReasonSkip      = "frame header not captured"
	ReasonGap       = "frame header lost in a gap"
	ReasonTruncated = "stream ended inside a frame header"
)

// Frame is one request or response.
type Frame struct {
	Pos     uint64 // stream offset of the frame's first header byte, from the Framer's start
	Time    int64  // capture time of the data that carried the first byte
	EndTime int64  // capture time of the data (or skip, or gap) that carried the last byte
	Code    uint32 // request: command code; response: status
	Length  uint32 // payload length (request: the length field - 4; response: the length field)
	// Payload is the captured payload, or its prefix up to the first missing
	// byte when Missing > 0. Valid only during Handler.Frame.
	Payload []byte
	// Missing counts the payload bytes not in Payload: skipped by the
	// capture, lost in a gap, past the end of the stream, past MaxBuffer, or
	// captured after an earlier missing byte. It is Length - len(Payload).
	Missing uint32
	// Lost says some Missing bytes were lost (a gap, or the stream ended
	// mid-frame), not merely left uncaptured.
	Lost bool
	// Resynced marks the first frame after the Framer searched for sync
	// (a loss of sync, or a capture begun mid-stream): its start was found
	// by validation, not by following the previous frame's length.
	Resynced bool
}

// Handler receives what a Framer finds.
type Handler interface {
	// Frame delivers a frame; f and f.Payload are valid only during the call.
	Frame(f *Frame)
	// Desync reports the captured bytes discarded during one episode out of
	// sync (garbage, a frame begun before the capture, a bad length), once
	// the episode ends with a resync or at Flush. Skipped and lost bytes are
	// not counted again: the reassembly reported them.
	Desync(bytes uint64, reason string)
	// Lost says sync was lost: frames may be missing from here on, so
	// requests and responses can no longer be paired by FIFO order alone.
	Lost()
}

// Validator is how the Framer asks the protocol layer whether a candidate
// frame is real while it searches for sync. In sync, the Framer only checks
// that headers are possible (lengths in range; for a response, no payload
// with an error status): an unknown command or status is the protocol
// layer's finding, not a framing error.
type Validator interface {
	// ValidHeader reports whether a header could start a frame. length is
	// the header's length field as on the wire: for a request it includes
	// the 4 code bytes.
	ValidHeader(code, length uint32) bool
	// ValidFrame reports whether a complete frame is plausible: for a
	// request, that the payload decodes exactly.
	ValidFrame(code uint32, payload []byte) bool
}

// Config bounds a Framer. Zero values mean the defaults.
type Config struct {
	// MaxLength is the largest possible length field; a larger one loses
	// sync. Capped at MaxLengthLimit.
	MaxLength uint32
	// MaxBuffer caps the payload bytes kept per frame; the rest of a longer
	// frame is passed over and counted in Missing.
	MaxBuffer int
	// MaxScan caps the bytes held while searching for sync.
	MaxScan int
}

func (c Config) withDefaults() Config {
	if c.MaxLength == 0 {
		c.MaxLength = DefaultMaxLength
	}
	c.MaxLength = min(c.MaxLength, MaxLengthLimit)
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	if c.MaxScan <= 0 {
		c.MaxScan = DefaultMaxScan
	}
	c.MaxScan = max(c.MaxScan, minScan)
	return c
}

// Stats counts what a Framer has done. After Flush, FramedBytes +
// DesyncBytes + UnframedBytes is the number of stream positions fed.
type Stats struct {
	Frames        uint64 // frames delivered
	FramedBytes   uint64 // stream positions inside delivered frames (headers included)
	Desyncs       uint64 // Desync calls
	DesyncBytes   uint64 // captured bytes discarded
	UnframedBytes uint64 // skipped or lost positions outside any frame
	SyncLosses    uint64 // Lost calls
	Resyncs       uint64 // frames delivered with Resynced set
}

// piece is one Data call's worth of the scan buffer.
type piece struct {
	off   int   // offset in the scan buffer
	t     int64 // capture time
	start bool  // off is the start of a Data call: a likely frame boundary
	// need is the lookahead's state for a candidate at off (see look): 0
	// not judged yet, -1 rejected, else the scan length at which its
	// waiting verdict may change.
	need int
}

// verdict is the outcome of judging a sync candidate.
type verdict uint8

const (
	wait verdict = iota
	reject
	accept
)

// Framer splits one direction's byte stream into frames. It is not safe for
// concurrent use.
type Framer struct {
	kind Kind
	cfg  Config
	v    Validator

	pos uint64 // stream position just past everything fed so far

	synced   bool
	reason   string // why the current desync episode began
	desync   uint64 // captured bytes discarded in the current episode
	resynced bool   // the next frame ends a desync episode

	// The frame in progress, once its header has been read.
	inFrame bool
	cur     Frame
	rem     uint64 // payload positions still to come
	hole    bool   // a payload byte was missing: later bytes are not kept
	buf     []byte // the payload prefix, up to cfg.MaxBuffer

	// scan holds captured bytes not yet framed, always the tail of the
	// input (a skip or gap empties it): while in sync, the first bytes of a
	// header split across Data calls; while not, the search window.
	// pieces records the Data calls within it.
	scan   []byte
	pieces []piece
	cand   int // while not in sync: the offset in scan being judged
	one    [1]piece

	// The lookahead over Data-start candidates while f.cand waits (see
	// look): pieces before looked have been judged at least once, and no
	// waiting one can change before the scan buffer reaches minNeed.
	looked  int
	minNeed int
	need    int // set by judge when it returns wait: see piece.need

	stats Stats
}

// New returns a Framer for one direction, in sync at a frame boundary (the
// stream's start). v validates candidates when sync is lost.
func New(kind Kind, cfg Config, v Validator) *Framer {
	return &Framer{kind: kind, cfg: cfg.withDefaults(), v: v, synced: true}
}

// Synced reports whether the Framer is following frame lengths.
func (f *Framer) Synced() bool { return f.synced }

// Stats returns the counters so far.
func (f *Framer) Stats() Stats { return f.stats }

// Unsync makes the Framer search for a frame boundary before delivering
// anything: the capture began mid-connection. It does not call Lost (the
// caller knows), and is meant to be called before any data.
func (f *Framer) Unsync() {
	if !f.synced {
		return
	}
	if f.inFrame {
		// The caller no longer trusts the position: drop the frame in
		// progress rather than deliver a guess.
		f.stats.UnframedBytes += HeaderSize + uint64(f.cur.Length) - f.rem
		f.inFrame = false
	}
	f.synced = false
	f.reason = ReasonStart
	f.cand = 0
	f.resetLook()
}

// resetLook clears the lookahead state as a search begins.
func (f *Framer) resetLook() {
	f.looked, f.minNeed = 0, 0
	for j := range f.pieces {
		f.pieces[j].need = 0
	}
}

// header decodes a frame header: code (or status), length field, payload
// length, and whether the length is possible.
func (f *Framer) header(b []byte) (code, length uint32, plen uint64, ok bool) {
	first := binary.LittleEndian.Uint32(b)
	second := binary.LittleEndian.Uint32(b[4:])
	if f.kind == Requests {
		code, length = second, first
		return code, length, uint64(length) - 4, length >= 4 && length <= f.cfg.MaxLength
	}
	code, length = first, second
	// No error response has a payload (iggy-wire.md §2.1 item 1): a
	// non-zero status with a non-zero length is as impossible as a length
	// above MaxLength, whatever the Validator says.
	return code, length, uint64(length), length <= f.cfg.MaxLength && (code == 0 || length == 0)
}

// badReason says why the header at b, which header rejected, is impossible.
func (f *Framer) badReason(b []byte) string {
	if f.kind == Responses && binary.LittleEndian.Uint32(b[4:]) <= f.cfg.MaxLength {
		return ReasonHeader
	}
	return ReasonLength
}

// Data feeds captured bytes that follow the previous ones; p need only be
// valid during the call.
func (f *Framer) Data(p []byte, t int64, h Handler) {
	start := true
	for len(p) > 0 {
		switch {
		case f.synced && len(f.scan) == 0:
			f.one[0] = piece{t: t, start: start}
			n, ok := f.parse(p, f.pos, f.one[:], h)
			f.pos += uint64(n)
			p = p[n:]
			if ok {
				if len(p) > 0 { // a header split across calls
					f.push(p, t, start && n == 0)
				}
				return
			}
			// An impossible header: the byte it starts at is garbage.
			f.loseSync(f.badReason(p), h)
			f.pos++
			f.desync++
			f.stats.DesyncBytes++
			p = p[1:]
			start = false
		case f.synced:
			// Complete the header held in scan, then go on without it.
			k := min(HeaderSize-len(f.scan), len(p))
			f.push(p[:k], t, start)
			p = p[k:]
			start = false
			if len(f.scan) < HeaderSize {
				return
			}
			f.drainScan(h)
			if !f.synced {
				f.resolve(h, len(p) == 0, false)
			}
		default:
			if len(f.scan) == f.cfg.MaxScan || len(f.pieces) >= maxPieces {
				f.makeRoom(h)
				continue
			}
			k := min(f.cfg.MaxScan-len(f.scan), len(p))
			f.push(p[:k], t, start)
			p = p[k:]
			start = false
			f.resolve(h, len(p) == 0, false)
		}
	}
}

// maxPieces caps the Data calls recorded in the scan window: a stream cut
// into tiny pieces must not grow the record without bound.
const maxPieces = 4096

// push appends captured bytes to the scan buffer. The buffer grows as
// needed up to MaxScan, so the many connections that only ever split a
// header across calls hold a few hundred bytes, not the whole window.
func (f *Framer) push(b []byte, t int64, start bool) {
	f.scan = grow(f.scan, len(b), f.cfg.MaxScan)
	f.pieces = append(f.pieces, piece{off: len(f.scan), t: t, start: start})
	f.scan = append(f.scan, b...)
	f.pos += uint64(len(b))
}

// grow makes room for n more bytes in b, doubling its capacity but never
// beyond limit, which len(b)+n must not exceed.
func grow(b []byte, n, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	nb := make([]byte, len(b), min(max(2*cap(b), need, 256), limit))
	copy(nb, b)
	return nb
}

// drop removes the first n bytes of the scan buffer.
func (f *Framer) drop(n int) {
	if n <= 0 {
		return
	}
	if n >= len(f.scan) {
		f.scan = f.scan[:0]
		f.pieces = f.pieces[:0]
		f.looked, f.minNeed = 0, 0
		return
	}
	i := f.pieceAt(n)
	if f.pieces[i].off < n {
		f.pieces[i].off = n
		f.pieces[i].start = false
		f.pieces[i].need = -1
	}
	m := copy(f.pieces, f.pieces[i:])
	f.pieces = f.pieces[:m]
	for j := range f.pieces {
		f.pieces[j].off -= n
		if f.pieces[j].need > 0 {
			f.pieces[j].need = max(f.pieces[j].need-n, 1)
		}
	}
	f.looked = max(f.looked-i, 0)
	f.minNeed = max(f.minNeed-n, 0)
	m = copy(f.scan, f.scan[n:])
	f.scan = f.scan[:m]
}

// discard drops the first n bytes of the scan buffer as desync garbage.
func (f *Framer) discard(n int) {
	n = min(n, len(f.scan))
	f.desync += uint64(n)
	f.stats.DesyncBytes += uint64(n)
	f.drop(n)
}

// pieceAt returns the index of the piece holding scan offset off.
func (f *Framer) pieceAt(off int) int {
	return sort.Search(len(f.pieces), func(i int) bool { return f.pieces[i].off > off }) - 1
}

// parse frames b while in sync; base is b[0]'s stream position and pcs
// records the Data calls that carried b. It stops before a partial header
// (ok) or at an impossible header (!ok), returning the bytes consumed.
func (f *Framer) parse(b []byte, base uint64, pcs []piece, h Handler) (n int, ok bool) {
	off, pc := 0, 0
	// timeAt returns the capture time of b[o], o never decreasing.
	timeAt := func(o int) int64 {
		for pc+1 < len(pcs) && pcs[pc+1].off <= o {
			pc++
		}
		return pcs[pc].t
	}
	for off < len(b) {
		if f.inFrame {
			k := int(min(f.rem, uint64(len(b)-off)))
			f.addPayload(b[off : off+k])
			f.rem -= uint64(k)
			off += k
			f.cur.EndTime = timeAt(off - 1)
			if f.rem == 0 {
				f.inFrame = false
				f.cur.Payload = f.buf
				f.emit(h, HeaderSize+uint64(f.cur.Length))
			}
			continue
		}
		if len(b)-off < HeaderSize {
			return off, true
		}
		code, _, plen, ok := f.header(b[off:])
		if !ok {
			return off, false
		}
		t := timeAt(off)
		f.cur = Frame{Pos: base + uint64(off), Time: t, EndTime: t, Code: code, Length: uint32(plen)}
		off += HeaderSize
		if plen <= uint64(len(b)-off) {
			// The whole frame is here: no copy.
			end := off + int(plen)
			f.cur.Payload = b[off : off+min(int(plen), f.cfg.MaxBuffer)]
			if plen > 0 {
				f.cur.EndTime = timeAt(end - 1)
			}
			off = end
			f.emit(h, HeaderSize+plen)
			continue
		}
		f.inFrame = true
		f.rem = plen
		f.hole = false
		f.buf = f.buf[:0]
	}
	return off, true
}

// addPayload keeps payload bytes that extend the captured prefix.
func (f *Framer) addPayload(p []byte) {
	if f.hole {
		return
	}
	if room := f.cfg.MaxBuffer - len(f.buf); room > 0 {
		p = p[:min(room, len(p))]
		f.buf = append(grow(f.buf, len(p), f.cfg.MaxBuffer), p...)
	}
}

// emit delivers f.cur, which covers span stream positions.
func (f *Framer) emit(h Handler, span uint64) {
	if f.resynced {
		f.cur.Resynced = true
		f.resynced = false
		f.stats.Resyncs++
	}
	f.cur.Missing = f.cur.Length - uint32(len(f.cur.Payload))
	f.stats.Frames++
	f.stats.FramedBytes += span
	h.Frame(&f.cur)
	f.cur.Payload = nil
}

// drainScan frames the scan buffer while in sync, leaving at most a partial
// header in it, or losing sync at an impossible header.
func (f *Framer) drainScan(h Handler) {
	base := f.pos - uint64(len(f.scan))
	n, ok := f.parse(f.scan, base, f.pieces, h)
	f.drop(n)
	if !ok {
		f.loseSync(f.badReason(f.scan), h)
		f.discard(1)
	}
}

// loseSync starts a desync episode from a state in sync at a header.
func (f *Framer) loseSync(reason string, h Handler) {
	f.synced = false
	f.reason = reason
	f.cand = 0
	f.resetLook()
	f.stats.SyncLosses++
	h.Lost()
}

// resolve judges sync candidates in the scan buffer, from f.cand on, and
// frames what follows an accepted one. dataEnd says the buffer ends where a
// Data call ended; interrupted, that no more contiguous bytes will follow
// (a skip, a gap, or the end of the stream), in which case every candidate
// is decided and the bytes left are discarded.
func (f *Framer) resolve(h Handler, dataEnd, interrupted bool) {
	for !f.synced && f.cand < len(f.scan) {
		switch f.judge(f.cand, dataEnd, interrupted) {
		case wait:
			if i := f.look(dataEnd); i > f.cand {
				// A later candidate is confirmed while this one waits:
				// take it, and the bytes before it are garbage.
				f.cand = i
				f.accept(h)
				continue
			}
			return
		case reject:
			f.cand++
		case accept:
			f.accept(h)
		}
	}
	if !f.synced && (interrupted || f.cand == len(f.scan)) {
		f.discard(len(f.scan))
		f.cand = 0
	}
}

// accept ends the desync episode at the candidate f.cand and frames the scan
// buffer from there.
func (f *Framer) accept(h Handler) {
	f.discard(f.cand)
	f.cand = 0
	if f.desync > 0 {
		f.stats.Desyncs++
		h.Desync(f.desync, f.reason)
	}
	f.desync = 0
	f.synced = true
	f.resynced = true
	f.drainScan(h)
}

// look searches the candidates after f.cand that begin a Data call for one
// that judge accepts now, while f.cand waits for more bytes (a frame longer
// than what has arrived): without it, one such candidate, often garbage
// whose length field is large, would hold back every frame behind it until
// the window filled or the stream ended. It returns the accepted offset,
// or -1. Each piece is judged when first seen and then again only once the
// buffer has reached the length its waiting verdict needs, and nothing is
// judged unless a new piece arrived or that length was reached; so the
// work is bounded per piece and per byte, not per candidate and per call.
func (f *Framer) look(dataEnd bool) int {
	n := len(f.scan)
	full := f.minNeed > 0 && n >= f.minNeed
	if !full && f.looked >= len(f.pieces) {
		return -1
	}
	from := f.looked
	if full {
		from, f.minNeed = 0, 0
	}
	found := -1
	for k := from; k < len(f.pieces); k++ {
		pc := &f.pieces[k]
		switch {
		case pc.need < 0:
			continue
		case pc.off <= f.cand || pc.need == 0 && !pc.start:
			pc.need = -1 // never (again) a lookahead candidate
			continue
		case pc.need > n:
			f.foldNeed(pc.need)
			continue
		}
		switch f.judge(pc.off, dataEnd, false) {
		case accept:
			found = pc.off
		case reject:
			pc.need = -1
		case wait:
			pc.need = max(f.need, n+1)
			f.foldNeed(pc.need)
		}
		if found >= 0 {
			break
		}
	}
	f.looked = len(f.pieces)
	return found
}

// foldNeed lowers minNeed to need.
func (f *Framer) foldNeed(need int) {
	if f.minNeed == 0 || need < f.minNeed {
		f.minNeed = need
	}
}

// makeRoom frees space in a full scan buffer: it drops what is already
// rejected, or else forces a decision on the candidate at its start.
func (f *Framer) makeRoom(h Handler) {
	if f.cand > 0 {
		f.discard(f.cand)
		f.cand = 0
		return
	}
	if f.judge(0, false, true) == accept {
		f.accept(h)
	} else {
		f.cand = 1
	}
	f.resolve(h, false, false)
}

// judge decides whether the scan buffer offset i starts a frame. A
// candidate must have a valid header. When its frame is complete in the
// window, ValidFrame must agree and the frame must end where a Data call
// ended or be followed by another valid header. A frame that cannot be
// completed in the window (too long, or cut by a skip or gap) is accepted
// on its header alone if it begins a Data call: TCP segments usually begin
// at an application write, so that is where frames begin. A response
// candidate that does not begin a Data call is judged by chain instead.
// On wait, judge sets f.need to the scan length at which the verdict may
// change.
func (f *Framer) judge(i int, dataEnd, interrupted bool) verdict {
	avail := len(f.scan) - i
	if avail < HeaderSize {
		if interrupted {
			return reject
		}
		f.need = i + HeaderSize
		return wait
	}
	code, length, plen, ok := f.header(f.scan[i:])
	if !ok || !f.v.ValidHeader(code, length) {
		return reject
	}
	j := f.pieceAt(i)
	atStart := f.pieces[j].off == i && f.pieces[j].start
	if f.kind == Responses && !atStart {
		return f.chain(i, dataEnd, interrupted)
	}
	size := HeaderSize + plen
	if size > uint64(avail) {
		switch {
		case interrupted || size > uint64(f.cfg.MaxScan):
			if atStart {
				return accept
			}
			return reject
		default:
			f.need = i + int(size)
			return wait
		}
	}
	if !f.v.ValidFrame(code, f.scan[i+HeaderSize:i+int(size)]) {
		return reject
	}
	rest := avail - int(size)
	switch {
	case rest == 0:
		if dataEnd || interrupted {
			return accept
		}
		f.need = len(f.scan) + 1
		return wait
	case rest >= HeaderSize:
		code, length, _, ok := f.header(f.scan[i+int(size):])
		if ok && f.v.ValidHeader(code, length) {
			return accept
		}
		return reject
	case interrupted:
		if atStart {
			return accept
		}
		return reject
	default:
		f.need = i + int(size) + HeaderSize
		return wait
	}
}

// maxChain caps the frames chain follows from one candidate.
const maxChain = 8

// chain judges a response candidate that does not begin a Data call.
// Response payloads (PollMessages above all) are full of response-like
// bytes: a message id followed by zeros reads as an error status with no
// payload, a zero u32 followed by a small one as an OK response. So inside
// a Data call a candidate needs strong evidence: it and at least one more
// frame, each with a header and frame the Validator accepts, must follow
// one another and end exactly where a Data call ends (a write boundary),
// within maxChain frames. Candidates at the start of a Data call need only
// what judge asks of every candidate.
func (f *Framer) chain(i int, dataEnd, interrupted bool) verdict {
	o, frames := i, 0
	for {
		if o == len(f.scan) {
			switch {
			case dataEnd || interrupted:
				if frames >= 2 {
					return accept
				}
				return reject
			default:
				f.need = o + 1
				return wait
			}
		}
		if frames > 0 {
			if j := f.pieceAt(o); f.pieces[j].off == o && f.pieces[j].start {
				// A Data call begins here.
				if frames >= 2 {
					return accept
				}
				return reject
			}
		}
		if frames == maxChain {
			return reject
		}
		avail := len(f.scan) - o
		if avail < HeaderSize {
			if interrupted {
				return reject
			}
			f.need = o + HeaderSize
			return wait
		}
		code, length, plen, ok := f.header(f.scan[o:])
		if !ok || !f.v.ValidHeader(code, length) {
			return reject
		}
		size := HeaderSize + plen
		if size > uint64(avail) {
			if interrupted || size > uint64(f.cfg.MaxScan) {
				return reject
			}
			f.need = o + int(size)
			return wait
		}
		if !f.v.ValidFrame(code, f.scan[o+HeaderSize:o+int(size)]) {
			return reject
		}
		o += int(size)
		frames++
	}
}

// Skip feeds n positions the capture did not copy.
func (f *Framer) Skip(n uint32, t int64, h Handler) {
	f.missing(uint64(n), t, false, h)
}

// Gap feeds n positions lost by the capture.
func (f *Framer) Gap(n uint64, t int64, h Handler) {
	f.missing(n, t, true, h)
}

// missing feeds n positions whose content is unknown; lost says they were
// lost rather than left uncaptured.
func (f *Framer) missing(n uint64, t int64, lost bool, h Handler) {
	if n == 0 {
		return
	}
	if !f.synced {
		f.resolve(h, true, true)
	}
	if f.synced && f.inFrame {
		k := min(f.rem, n)
		f.rem -= k
		n -= k
		f.pos += k
		f.hole = true
		f.cur.Lost = f.cur.Lost || lost
		f.cur.EndTime = t
		if f.rem == 0 {
			f.inFrame = false
			f.cur.Payload = f.buf
			f.emit(h, HeaderSize+uint64(f.cur.Length))
		}
		if n == 0 {
			return
		}
	}
	if f.synced {
		// The hole covers (part of) the next header.
		reason := ReasonSkip
		if lost {
			reason = ReasonGap
		}
		f.loseSync(reason, h)
		f.discard(len(f.scan))
	}
	f.pos += n
	f.stats.UnframedBytes += n
}

// Flush ends the stream: a frame cut short is delivered with its missing
// bytes counted and Lost set, and a pending desync episode is reported.
// The Framer is then in sync at the end of the stream.
func (f *Framer) Flush(h Handler) {
	if !f.synced {
		f.resolve(h, true, true)
	}
	switch {
	case !f.synced:
		f.discard(len(f.scan))
		if f.desync > 0 {
			f.stats.Desyncs++
			h.Desync(f.desync, f.reason)
		}
	case f.inFrame:
		f.inFrame = false
		f.cur.Lost = true
		f.cur.Payload = f.buf
		f.emit(h, HeaderSize+uint64(f.cur.Length)-f.rem)
		f.rem = 0
	case len(f.scan) > 0:
		n := uint64(len(f.scan))
		f.stats.DesyncBytes += n
		f.stats.Desyncs++
		f.drop(len(f.scan))
		h.Desync(n, ReasonTruncated)
	}
	f.synced = true
	f.desync = 0
	f.resynced = false
	f.cand = 0
}
