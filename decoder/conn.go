package decoder

import (
	"github.com/iggytrace/iggytrace/decoder/framing"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/decoder/reassembly"
)

// statusDisconnected is the status of the frame a 0.6+ server sends, unasked,
// when it shuts down (iggy-wire.md §2.1 item 4).
const statusDisconnected = 8

// conn is one TCP connection: two halves, a protocol decoder that remembers
// the connection's protocol version, and the requests awaiting responses.
type conn struct {
	t        *Tracker
	id       uint64
	key      ConnKey
	dec      *protocol.Decoder
	rec      protocol.Record // scratch, reused for every payload
	in, out  half            // client → server, server → client
	pending  queue           // FIFO of requests awaiting a response
	lastSeen int64
	stats    ConnStats

	// causal is set while frames may be missing from either direction (a loss
	// of sync, or a capture begun mid-connection). FIFO order cannot be
	// trusted then, so a response is paired with the newest request that was
	// complete before the response began, which is exact for Iggy's clients:
	// they keep one request in flight per connection, so request i+1 is never
	// sent before response i has arrived. Older requests are reported
	// unanswered. The next pairing restores FIFO order. Where the losses
	// seen leave it ambiguous which request a response answers, it is not
	// paired (see match), and a response that would answer the newest
	// request waits for the request stream to show what it lost (see
	// onResponse).
	causal    bool
	midStream bool
	rst       bool

	// reqN numbers the requests framed (pending.n); lossAt holds reqN at
	// the last places (len(lossAt)) the request stream lost bytes (a gap,
	// a desync, a loss of sync), nLoss counts them: a request may have
	// been lost there, and a response that follows may answer it rather
	// than the request before.
	reqN   uint64
	lossAt [16]uint64
	nLoss  int
	// provisional: the last loss recorded is a hole seen ahead (feed), not
	// yet delivered.
	provisional bool
	// Since the last pairing: the losses of the request stream (reqN at
	// each, once per place) and of the response stream that cost a frame
	// header. See match.
	reqLosses  [16]uint64
	nReqLosses int
	respLost   int
	// orphan is when the last response that found no request began (0:
	// none since the last pairing). It answered a request that ended
	// before, if the capture recorded the request after it.
	orphan int64
	// held is a response waiting, while pairing is causal, for the request
	// stream to show whether a request was lost before it (see onResponse).
	held     framing.Frame
	heldData []byte
	holding  bool
}

type pending struct {
	ev   *Event
	n    uint64    // conn.reqN of the request
	end  int64     // time of the request's last byte
	room eventRoom // what ev's block has left for the response's Values
}

// queue is a FIFO of pending requests: items[head:]. Taking from the front
// moves head rather than reslicing, so the backing array is reused: with
// one request in flight, as Iggy clients keep, a resliced FIFO loses its
// capacity on every pop and allocates on every push.
type queue struct {
	items []pending
	head  int
}

func (q *queue) len() int { return len(q.items) - q.head }

// all returns the queued requests, oldest first; valid until the next change.
func (q *queue) all() []pending { return q.items[q.head:] }

func (q *queue) push(p pending) {
	if len(q.items) == cap(q.items) && q.head > 0 && 2*q.head >= len(q.items) {
		// At least half the array lies before head: move the queue down
		// instead of growing. Compacting only then keeps push O(1)
		// amortised when the queue is held full (MaxPending reached).
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, p)
}

// drop removes the n oldest requests.
func (q *queue) drop(n int) {
	clear(q.items[q.head : q.head+n]) // let the Events go
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
}

// pop removes and returns the oldest request.
func (q *queue) pop() pending {
	p := q.items[q.head]
	q.drop(1)
	return p
}

// half is one direction: reassembly feeds the framer, the framer feeds the conn.
type half struct {
	c      *conn
	dir    Direction
	stream *reassembly.Stream
	framer *framing.Framer
	fin    bool

	// heldSince is the capture time of the segment that made the stream
	// hold data behind a hole, 0 while it holds none (see conn.feed).
	heldSince int64
	// end is the sequence number just past the furthest byte seen, once
	// seen is set: it tells new data from a retransmission.
	end  uint32
	seen bool
	// fed counts the stream positions passed to the framer (data, skip
	// and gap), to tell whether it holds a frame in progress.
	fed uint64

	// Where Data calls began (see trusted): starts holds the positions of
	// the last len(starts) calls, aligned that of the last call that began
	// at a frame boundary in sync.
	starts     [64]uint64
	nstarts    int
	aligned    uint64
	hasAligned bool
	// unsure is set from a loss of sync (or a capture begun mid-stream)
	// until a frame is found where a Data call began; resync, when a frame
	// was not believed, so that the framer searches again (see conn.feed).
	unsure, resync bool
	// restarted is set while the search that restart began goes on.
	restarted bool
	// owed is what the frame last delivered cut short (see cut) still
	// lacked: a gap of up to that many bytes is its lost end, not a loss
	// of frames. absorbing is set while such a gap is fed to the framer.
	owed      uint64
	cutting   bool
	absorbing bool
	// now is the capture time of the bytes being fed, for events the
	// framer reports without one (Desync).
	now int64
}

func newConn(t *Tracker, id uint64, key ConnKey, opts protocol.Options) *conn {
	c := &conn{t: t, id: id, key: key, dec: protocol.NewDecoder(opts)}
	c.in = half{c: c, dir: ToServer,
		stream: reassembly.NewStream(t.cfg.Reassembly),
		framer: framing.New(framing.Requests, t.cfg.Framing, requestValidator{c.dec})}
	c.out = half{c: c, dir: ToClient,
		stream: reassembly.NewStream(t.cfg.Reassembly),
		framer: framing.New(framing.Responses, t.cfg.Framing, responseValidator{})}
	return c
}

func (c *conn) startUnsynced() {
	c.in.framer.Unsync()
	c.out.framer.Unsync()
	c.causal = true
	c.out.unsure = true
}

func (c *conn) feed(seg *Segment) {
	h := &c.in
	if seg.Dir == ToClient {
		h = &c.out
	}
	if h == &c.in && seg.Flags&SYN == 0 && h.seen {
		// Every client segment, bare ACKs and FINs included, tells how far
		// the client has sent: what the request stream lost shows here
		// before the reassembly can report it (when data after the hole
		// arrives, if ever). A response held for that (see onResponse) can
		// be paired.
		if d := int32(seg.Seq - h.end); d > 0 {
			// Provisionally: if the hole turns out to lie inside a frame,
			// Gap takes the mark back.
			c.requestLoss(c.in.inProgress())
			c.provisional = true
			if seg.Len == 0 {
				h.end = seg.Seq
			}
			c.release()
		} else if d == 0 && seg.Len == 0 {
			c.release()
		}
	}
	if seg.Flags&SYN != 0 {
		h.stream.Start(seg.Seq)
		if !h.seen {
			h.end, h.seen = seg.Seq+1, true
		}
	} else if seg.Len > 0 {
		if seg.Dir == ToServer {
			c.stats.BytesIn += uint64(seg.Len)
		} else {
			c.stats.BytesOut += uint64(seg.Len)
		}
		fresh := h.isNew(seg)
		if h == &c.in && fresh {
			c.release() // the request stream has shown what it lost
		}
		// New data in this direction, sent after the other direction's
		// held data was: the peer saw those bytes and the hole before them,
		// and answered. An Iggy client sends a request only once it has
		// the whole previous response, and a server answers only a whole
		// request, so the hole will never fill: the capture lost it.
		// Declare it now, before this segment is framed, rather than when
		// the hole ages out (seconds later) or at the end of the capture,
		// which would leave every later exchange unpaired.
		o := &c.out
		if h == &c.out {
			o = &c.in
		}
		if fresh && o.heldSince != 0 && o.heldSince <= seg.Time {
			o.stream.Flush(seg.Time, o)
			o.heldSince = 0
		}
		if h.resync {
			h.restart()
		}
		h.stream.Push(seg.Seq, seg.Data, seg.Len, seg.Time, h)
		if n, _ := h.stream.Pending(); n == 0 {
			h.heldSince = 0
		} else if h.heldSince == 0 {
			h.heldSince = seg.Time
		}
	}
	if seg.Flags&FIN != 0 {
		h.fin = true
	}
	if seg.Flags&RST != 0 {
		c.rst = true
	}
}

// isNew reports whether seg brings bytes beyond any seen before in its
// direction, and records them.
func (h *half) isNew(seg *Segment) bool {
	end := seg.Seq + seg.Len
	if h.seen && int32(end-h.end) <= 0 {
		return false
	}
	h.end, h.seen = end, true
	return true
}

func (c *conn) closed() bool { return c.rst || (c.in.fin && c.out.fin) }

// finish delivers what the halves still hold and reports every request left
// without a response.
func (c *conn) finish(now int64) {
	for _, h := range []*half{&c.in, &c.out} {
		h.stream.Flush(now, h)
		h.framer.Flush(h)
		c.release() // once the requests have shown their losses, and after the last response
		st := h.stream.Stats()
		c.stats.SkippedBytes += st.SkippedBytes
		c.stats.Retransmitted += st.RetransmittedBytes
		c.t.stats.SkippedBytes += st.SkippedBytes
		c.t.stats.Retransmitted += st.RetransmittedBytes
	}
	for _, p := range c.pending.all() {
		p.ev.Flags |= FlagNoResponse
		c.stats.Unanswered++
		c.t.send(p.ev)
	}
	c.pending.drop(c.pending.len())
}

// Data, Skip and Gap make a half the reassembly's sink.

// cut delivers the frame in progress cut short (framing.Framer.Flush): the
// peer's next frame shows that it ended.
func (h *half) cut() {
	h.cutting = true
	h.framer.Flush(h)
	h.cutting = false
}

func (h *half) Data(p []byte, t int64) {
	h.now = t
	h.owed = 0
	if h.dir == ToClient {
		if h.framer.Synced() && !h.inProgress() {
			h.aligned, h.hasAligned = h.fed, true
		}
		h.starts[h.nstarts%len(h.starts)] = h.fed
		h.nstarts++
	}
	h.fed += uint64(len(p))
	h.framer.Data(p, t, h)
}

// restart makes the framer search for sync again, from the next byte: the
// frame it followed was not believed, so the one it is in (if any) is no
// frame either. Its bytes so far are reported as undecodable.
func (h *half) restart() {
	h.resync = false
	st := h.framer.Stats()
	n := h.fed - (st.FramedBytes + st.DesyncBytes + st.UnframedBytes)
	h.framer.Unsync()
	h.restarted = true
	if n > 0 {
		h.Desync(n, reasonUntrusted)
	}
}

// reasonUntrusted is the desync reason for frames not believed.
const reasonUntrusted = "response-like bytes inside a segment after a loss of sync"

// trusted reports whether a frame found at stream position pos can be
// believed: always in sync, and after a loss of sync only if it begins
// where a Data call (a segment, a server write) began. The framer's
// search for sync takes any bytes that read as a valid header followed by
// another, and inside a response payload many do (a PollMessages message
// id 1000+i followed by zeros reads as status 1000+i, no payload); frames
// found there are not paired with anything.
func (h *half) trusted(pos uint64) bool {
	if !h.unsure {
		return true
	}
	ok := h.hasAligned && pos == h.aligned
	for i := range min(h.nstarts, len(h.starts)) {
		ok = ok || h.starts[i] == pos
	}
	if ok {
		h.unsure, h.resync, h.restarted = false, false, false
	}
	return ok
}

func (h *half) Skip(n uint32, t int64) {
	h.now = t
	h.fed += uint64(n)
	owed := h.owe(uint64(n))
	synced := h.framer.Synced()
	h.framer.Skip(n, t, h)
	h.absorbing = false
	if !owed {
		h.countLoss(synced)
	}
}

// owe reports whether n missing bytes are the end of the frame last cut
// short, and sets absorbing if so.
func (h *half) owe(n uint64) bool {
	if n <= h.owed {
		h.owed -= n
		h.absorbing = true
		return true
	}
	h.owed = 0
	return false
}

// countLoss counts a response lost to a skip or gap: one that cost the
// framer its sync (a header was in it), or came while it had none.
func (h *half) countLoss(wasSynced bool) {
	if h.dir == ToClient && (!wasSynced || !h.framer.Synced()) {
		h.c.respLost++
	}
}

// inProgress reports whether the framer holds positions it has not yet
// framed or discarded: a frame or a header in progress, or bytes it is
// searching for sync.
func (h *half) inProgress() bool {
	st := h.framer.Stats()
	return h.fed > st.FramedBytes+st.DesyncBytes+st.UnframedBytes
}

func (h *half) Gap(n uint64, t int64) {
	h.now = t
	h.fed += n
	c := h.c
	c.stats.GapBytes += n
	c.t.send(&Event{Kind: EventGap, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		ReqTime: t, Dir: h.dir, Bytes: n, Reason: "bytes missing from the capture"})
	owed := h.owe(n)
	if h.dir == ToServer && !h.framer.Synced() && !owed {
		c.requestLoss(h.inProgress()) // out of sync, whole requests may be in the hole
	}
	synced := h.framer.Synced()
	provisional := h.dir == ToServer && c.provisional
	if h.dir == ToServer {
		c.provisional = false
	}
	h.framer.Gap(n, t, h)
	h.absorbing = false
	if !owed {
		h.countLoss(synced)
	}
	if provisional && synced && h.framer.Synced() {
		// The hole the request stream showed in feed lay inside a frame
		// (which is now delivered, partial): no request was lost there.
		c.retractLoss()
	}
}

// Frame, Desync and Lost make a half the framer's handler.

func (h *half) Frame(f *framing.Frame) {
	if h.dir == ToServer {
		h.c.onRequest(f)
	} else {
		h.c.onResponse(f)
	}
}

func (h *half) Desync(n uint64, reason string) {
	if h.restarted && reason == framing.ReasonStart {
		// The search restart began, not the capture.
		reason = reasonUntrusted
	}
	c := h.c
	if h.dir == ToServer {
		c.requestLoss(false) // the bytes may have held a request it could not validate
	}
	c.stats.DesyncBytes += n
	c.t.send(&Event{Kind: EventDesync, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		ReqTime: h.now, Dir: h.dir, Bytes: n, Reason: reason})
}

func (h *half) Lost() {
	h.c.causal = true
	h.unsure = true
	if h.dir == ToServer && !h.absorbing {
		h.c.requestLoss(false)
	}
}

func (c *conn) onRequest(f *framing.Frame) {
	if c.in.cutting {
		c.in.owed = uint64(f.Missing)
	}
	if c.pending.len() > 0 && c.out.inProgress() {
		// A new request while a response is still in progress: a client
		// sends a request only once it has the whole previous response, so
		// that response ended (its length field lied, or its end was lost
		// and no later byte has revealed the hole yet). Deliver it cut
		// short now, for the request waiting for it, rather than let it
		// swallow the responses to come. The mirror of onResponse.
		c.out.cut()
	}
	c.stats.Requests++
	code := protocol.Code(f.Code)
	partial := f.Missing > 0
	cmd, known := protocol.Lookup(code)
	// The Event's block has room for the request's and the response's
	// Values, as many as last time, and the request is decoded into it
	// (see newEvent).
	var err error
	nreq, nresp := 0, 0
	hreq, hresp := c.t.hints.get(code)
	if known {
		nreq, nresp = hreq.estimate(len(f.Payload)), int(hresp.n)
	}
	ev, room := newEvent(nreq + nresp)
	if known {
		c.rec.Values = room.target(nreq)
		err = c.dec.Request(code, f.Payload, int(f.Length), &c.rec)
		hreq.note(len(f.Payload), len(c.rec.Values))
	}
	*ev = Event{
		Kind: EventRequest, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		ReqTime: f.Time, ReqBytes: 8 + f.Length, Code: code,
	}
	if partial {
		ev.Flags |= FlagRequestPartial
	}
	if known {
		ev.Command = cmd.Name
		ev.cmd = cmd
		if err != nil {
			ev.Flags |= FlagDecodeError
			ev.Error = "request: " + err.Error()
		}
		if c.dec.Assumed() {
			ev.Flags |= FlagVersionAssumed
		}
		ev.Request = room.keep(&c.rec)
		ev.Summary = c.rec.Summary
	} else {
		ev.Flags |= FlagUnknownCommand
	}
	if c.pending.len() >= c.t.cfg.MaxPending {
		old := c.pending.pop()
		old.ev.Flags |= FlagNoResponse
		c.stats.Unanswered++
		c.t.send(old.ev)
	}
	c.reqN++
	end := f.EndTime
	if f.Lost {
		// Its end was lost: EndTime is when the loss was found, later than
		// the end. Its start is what causal pairing can trust.
		end = f.Time
	}
	c.pending.push(pending{ev: ev, end: end, room: room, n: c.reqN})
}

func (c *conn) onResponse(f *framing.Frame) {
	if c.out.cutting {
		c.out.owed = uint64(f.Missing)
	}
	if f.Code != 0 && f.Length != 0 {
		// No server sends a payload with an error status (iggy-wire.md
		// §2.1): the framer is following a length field that is not one,
		// after a resync on bytes that only looked like a frame. Report
		// the bytes as undecodable rather than as a response, and pair
		// what follows by causal order.
		c.out.Desync(framed(f), "impossible response header")
		c.causal = true
		c.out.unsure, c.out.resync = true, true
		return
	}
	if !c.out.trusted(f.Pos) {
		c.out.Desync(framed(f), reasonUntrusted)
		c.out.resync = true
		return
	}
	c.stats.Responses++
	if c.pending.len() == 0 && c.in.inProgress() {
		// A response, and no complete request to answer, but one in
		// progress: the server had all of it, so the capture lost its end
		// (a hole no later request byte has revealed yet). Deliver it now,
		// cut short, for this response to answer, rather than leave the
		// response unpaired and the request to take the next response.
		// The framer resumes in sync here; the lost tail, once the next
		// request reveals it as a gap, makes it search for sync again.
		c.in.cut()
	}
	c.release()
	if c.causal && c.pending.len() > 0 && c.pending.all()[c.pending.len()-1].end <= f.Time {
		// After a loss, this response would answer the newest request. But
		// if the request stream lost a request after that one, the
		// response answers the lost one, and the hole shows only when the
		// next request bytes arrive. Hold the response until then (or the
		// next response, or the end of the connection).
		c.held = *f
		c.heldData = append(c.heldData[:0], f.Payload...)
		c.held.Payload = nil
		c.holding = true
		return
	}
	c.respond(f)
}

// release pairs the response held by onResponse, if any, now that the
// request stream has shown what it lost.
func (c *conn) release() {
	if c.holding {
		c.holding = false
		f := c.held
		f.Payload = c.heldData
		c.respond(&f)
		if cap(c.heldData) > 64<<10 {
			c.heldData = nil // rare: do not pin a large payload per connection
		}
	}
}

// respond pairs a response with the request it answers, or reports it alone.
func (c *conn) respond(f *framing.Frame) {
	p, ok := c.match(f.Time)
	if !ok {
		ev := &Event{
			Kind: EventResponse, Flags: FlagNoRequest, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
			RespTime: f.EndTime, RespBytes: 8 + f.Length, Status: f.Code, StatusName: protocol.StatusName(f.Code),
		}
		if f.Code == statusDisconnected && c.pending.len() == 0 {
			ev.Flags |= FlagUnsolicited
		}
		if c.midStream {
			ev.Flags |= FlagMidStream
		}
		// A response with nothing to answer: its request was lost, or the
		// capture saw the two out of order (a request can be recorded
		// after its response when the directions are captured on
		// different CPUs). In the latter case the request is still to
		// come, and FIFO order would pair it with the next response, and
		// every request after it with the response after its own. Pair
		// the next response by causal order instead.
		c.causal = true
		c.orphan = f.Time
		c.stats.Unmatched++
		c.t.send(ev)
		return
	}
	ev := p.ev
	ev.Kind = EventPair
	ev.Status = f.Code
	ev.StatusName = protocol.StatusName(f.Code)
	ev.RespTime = f.EndTime
	ev.RespBytes = 8 + f.Length
	ev.Latency = f.EndTime - p.end
	if f.Code == 0 && ev.cmd != nil {
		partial := f.Missing > 0
		if partial {
			ev.Flags |= FlagResponsePartial
		}
		ev.NotFound = f.Length == 0 && ev.cmd.EmptyIsNotFound
		_, hresp := c.t.hints.get(ev.Code)
		c.rec.Values = p.room.target(hresp.estimate(len(f.Payload)))
		if err := c.dec.Response(ev.Code, f.Payload, int(f.Length), &c.rec); err != nil {
			ev.Flags |= FlagDecodeError
			if ev.Error != "" {
				ev.Error += "; "
			}
			ev.Error += "response: " + err.Error()
		}
		if c.dec.Assumed() {
			ev.Flags |= FlagVersionAssumed
		}
		hresp.note(len(f.Payload), len(c.rec.Values))
		ev.Response = p.room.keep(&c.rec)
		mergeSummary(&ev.Summary, &c.rec.Summary)
	}
	c.respLost, c.nReqLosses, c.orphan = 0, 0, 0
	c.stats.Pairs++
	c.t.send(ev)
}

// requestLostAfter reports whether the request stream may have lost a
// request after pending request all[idx] and before the next pending one:
// it lost bytes there, or holds data behind a hole after all of them.
func (c *conn) requestLostAfter(all []pending, idx int) bool {
	last := idx == len(all)-1
	if last && c.in.heldSince != 0 {
		return true
	}
	for _, at := range c.lossAt[:min(c.nLoss, len(c.lossAt))] {
		if at >= all[idx].n && (last || at < all[idx+1].n) {
			return true
		}
	}
	return false
}

// requestLoss records that the request stream lost bytes after the
// requests framed so far, or, with afterNext, after the next one too: the
// bytes lost follow a frame in progress.
func (c *conn) requestLoss(afterNext bool) {
	at := c.reqN
	if afterNext {
		at++
	}
	if c.nLoss == 0 || c.lossAt[(c.nLoss-1)%len(c.lossAt)] != at {
		c.lossAt[c.nLoss%len(c.lossAt)] = at
		c.nLoss++
	}
	if n := c.nReqLosses; n < len(c.reqLosses) && (n == 0 || c.reqLosses[n-1] != at) {
		c.reqLosses[n] = at
		c.nReqLosses++
	}
}

// retractLoss forgets the last request loss recorded.
func (c *conn) retractLoss() {
	if c.nLoss > 0 {
		c.nLoss--
	}
	if c.nReqLosses > 0 {
		c.nReqLosses--
	}
}

// requestLossesBefore counts the places the request stream lost bytes,
// since the last pairing, before the request numbered n.
func (c *conn) requestLossesBefore(n uint64) int {
	k := 0
	for _, at := range c.reqLosses[:c.nReqLosses] {
		if at < n {
			k++
		}
	}
	return k
}

// framed returns the captured bytes of a frame: all of it, or when some
// are missing what was captured before the first missing byte.
func framed(f *framing.Frame) uint64 {
	if f.Missing > 0 {
		return 8 + uint64(len(f.Payload))
	}
	return 8 + uint64(f.Length)
}

// match takes the request a response that began at time start answers.
func (c *conn) match(start int64) (pending, bool) {
	if c.pending.len() == 0 {
		return pending{}, false
	}
	if !c.causal {
		return c.pending.pop(), true
	}
	all := c.pending.all()
	idx := -1
	for i := range all {
		if all[i].end <= start {
			idx = i
		}
	}
	if idx < 0 {
		return pending{}, false
	}
	// Iggy clients alternate request and response. Since the last pairing
	// the responses are: those lost (respLost, at least) and this one; the
	// requests before it: the candidates and those lost (one per place, at
	// least). With fewer requests than responses, or a request possibly
	// lost after the newest candidate, this response may answer a request
	// the capture lost: do not guess. The candidates' own responses came
	// before this one and were lost.
	//
	// A candidate that ended before a response with no request began is
	// taken: that response answered it, recorded before it.
	taken := 0 // candidates answered by that response
	for _, p := range all[:idx+1] {
		if p.end <= c.orphan {
			taken++
		}
	}
	if c.requestLostAfter(all, idx) || idx+1-taken+c.requestLossesBefore(all[idx].n) <= c.respLost ||
		all[idx].end <= c.orphan {
		idx++
		for _, old := range all[:idx] {
			old.ev.Flags |= FlagResponseLost
			c.stats.Unanswered++
			c.t.send(old.ev)
		}
		c.pending.drop(idx)
		// Accounted for: the losses so far answered each other.
		c.respLost, c.nReqLosses, c.orphan = 0, 0, 0
		return pending{}, false
	}
	for _, old := range all[:idx] {
		old.ev.Flags |= FlagResponseLost
		c.stats.Unanswered++
		c.t.send(old.ev)
	}
	p := all[idx]
	c.pending.drop(idx + 1)
	p.ev.Flags |= FlagAfterGap
	c.causal = false
	return p, true
}

// mergeSummary adds what a response tells (a login's user id, the messages a
// poll returned) to what its request told.
func mergeSummary(dst, src *protocol.Summary) {
	if src.Stream != "" {
		dst.Stream = src.Stream
	}
	if src.Topic != "" {
		dst.Topic = src.Topic
	}
	if src.ConsumerGroup != "" {
		dst.ConsumerGroup = src.ConsumerGroup
	}
	if src.HasPartition {
		dst.Partition, dst.HasPartition = src.Partition, true
	}
	if src.Username != "" {
		dst.Username = src.Username
	}
	if src.HasUserID {
		dst.UserID, dst.HasUserID = src.UserID, true
	}
	if src.MessageCount != 0 {
		dst.MessageCount = src.MessageCount
	}
	if src.PayloadBytes != 0 {
		dst.PayloadBytes = src.PayloadBytes
	}
}

// requestValidator tells the framer whether a candidate request frame is real,
// from the protocol description.
type requestValidator struct{ dec *protocol.Decoder }

func (v requestValidator) ValidHeader(code, length uint32) bool {
	_, ok := protocol.Lookup(protocol.Code(code))
	return ok && length >= 4
}

func (v requestValidator) ValidFrame(code uint32, payload []byte) bool {
	return v.dec.ValidRequest(protocol.Code(code), payload)
}

// responseValidator accepts a response header whose status is OK or a known
// error, and whose length is 0 for an error: servers never send a payload
// with an error (iggy-wire.md §2.1 item 1).
type responseValidator struct{}

func (responseValidator) ValidHeader(status, length uint32) bool {
	if status == 0 {
		return true
	}
	return length == 0 && protocol.StatusName(status) != ""
}

func (responseValidator) ValidFrame(uint32, []byte) bool { return true }
