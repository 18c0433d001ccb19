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
	pending  []pending       // FIFO of requests awaiting a response
	lastSeen int64
	stats    ConnStats

	// causal is set while frames may be missing from either direction (a loss
	// of sync, or a capture begun mid-connection). FIFO order cannot be
	// trusted then, so a response is paired with the newest request that was
	// complete before the response began, which is exact for Iggy's clients:
	// they keep one request in flight per connection, so request i+1 is never
	// sent before response i has arrived. Older requests are reported
	// unanswered. The next pairing restores FIFO order.
	causal    bool
	midStream bool
	rst       bool
}

type pending struct {
	ev  *Event
	end int64 // time of the request's last byte
}

// half is one direction: reassembly feeds the framer, the framer feeds the conn.
type half struct {
	c      *conn
	dir    Direction
	stream *reassembly.Stream
	framer *framing.Framer
	fin    bool
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
}

func (c *conn) feed(seg *Segment) {
	h := &c.in
	if seg.Dir == ToClient {
		h = &c.out
	}
	if seg.Flags&SYN != 0 {
		h.stream.Start(seg.Seq)
	} else if seg.Len > 0 {
		if seg.Dir == ToServer {
			c.stats.BytesIn += uint64(seg.Len)
		} else {
			c.stats.BytesOut += uint64(seg.Len)
		}
		h.stream.Push(seg.Seq, seg.Data, seg.Len, seg.Time, h)
	}
	if seg.Flags&FIN != 0 {
		h.fin = true
	}
	if seg.Flags&RST != 0 {
		c.rst = true
	}
}

func (c *conn) closed() bool { return c.rst || (c.in.fin && c.out.fin) }

// finish delivers what the halves still hold and reports every request left
// without a response.
func (c *conn) finish(now int64) {
	for _, h := range []*half{&c.in, &c.out} {
		h.stream.Flush(now, h)
		h.framer.Flush(h)
		st := h.stream.Stats()
		c.stats.SkippedBytes += st.SkippedBytes
		c.stats.Retransmitted += st.RetransmittedBytes
		c.t.stats.SkippedBytes += st.SkippedBytes
		c.t.stats.Retransmitted += st.RetransmittedBytes
	}
	for _, p := range c.pending {
		p.ev.Flags |= FlagNoResponse
		c.stats.Unanswered++
		c.t.send(p.ev)
	}
	c.pending = c.pending[:0]
}

// Data, Skip and Gap make a half the reassembly's sink.

func (h *half) Data(p []byte, t int64) { h.framer.Data(p, t, h) }

func (h *half) Skip(n uint32, t int64) { h.framer.Skip(n, t, h) }

func (h *half) Gap(n uint64, t int64) {
	c := h.c
	c.stats.GapBytes += n
	c.t.send(&Event{Kind: EventGap, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		ReqTime: t, Dir: h.dir, Bytes: n, Reason: "bytes missing from the capture"})
	h.framer.Gap(n, t, h)
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
	c := h.c
	c.stats.DesyncBytes += n
	c.t.send(&Event{Kind: EventDesync, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		Dir: h.dir, Bytes: n, Reason: reason})
}

func (h *half) Lost() { h.c.causal = true }

func (c *conn) onRequest(f *framing.Frame) {
	c.stats.Requests++
	code := protocol.Code(f.Code)
	ev := &Event{
		Kind: EventRequest, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		ReqTime: f.Time, ReqBytes: 8 + f.Length, Code: code,
	}
	partial := f.Missing > 0
	if partial {
		ev.Flags |= FlagRequestPartial
	}
	if cmd, ok := protocol.Lookup(code); ok {
		ev.Command = cmd.Name
		ev.cmd = cmd
		if err := c.dec.Request(code, f.Payload, partial, &c.rec); err != nil {
			ev.Flags |= FlagDecodeError
			ev.Error = "request: " + err.Error()
		}
		if c.dec.Assumed() {
			ev.Flags |= FlagVersionAssumed
		}
		ev.Request = c.rec.Clone()
		ev.Summary = c.rec.Summary
	} else {
		ev.Flags |= FlagUnknownCommand
	}
	if len(c.pending) >= c.t.cfg.MaxPending {
		old := c.pending[0]
		c.pending = c.pending[1:]
		old.ev.Flags |= FlagNoResponse
		c.stats.Unanswered++
		c.t.send(old.ev)
	}
	c.pending = append(c.pending, pending{ev: ev, end: f.EndTime})
}

func (c *conn) onResponse(f *framing.Frame) {
	c.stats.Responses++
	p, ok := c.match(f.Time)
	if !ok {
		ev := &Event{
			Kind: EventResponse, Flags: FlagNoRequest, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
			RespTime: f.EndTime, RespBytes: 8 + f.Length, Status: f.Code, StatusName: protocol.StatusName(f.Code),
		}
		if f.Code == statusDisconnected && len(c.pending) == 0 {
			ev.Flags |= FlagUnsolicited
		}
		if c.midStream {
			ev.Flags |= FlagMidStream
		}
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
		if err := c.dec.Response(ev.Code, f.Payload, partial, &c.rec); err != nil {
			ev.Flags |= FlagDecodeError
			if ev.Error != "" {
				ev.Error += "; "
			}
			ev.Error += "response: " + err.Error()
		}
		if c.dec.Assumed() {
			ev.Flags |= FlagVersionAssumed
		}
		ev.Response = c.rec.Clone()
		mergeSummary(&ev.Summary, &c.rec.Summary)
	}
	c.stats.Pairs++
	c.t.send(ev)
}

// match takes the request a response that began at time start answers.
func (c *conn) match(start int64) (pending, bool) {
	if len(c.pending) == 0 {
		return pending{}, false
	}
	if !c.causal {
		p := c.pending[0]
		c.pending = c.pending[1:]
		return p, true
	}
	idx := -1
	for i := range c.pending {
		if c.pending[i].end <= start {
			idx = i
		}
	}
	if idx < 0 {
		return pending{}, false
	}
	for _, old := range c.pending[:idx] {
		old.ev.Flags |= FlagResponseLost
		c.stats.Unanswered++
		c.t.send(old.ev)
	}
	p := c.pending[idx]
	c.pending = c.pending[idx+1:]
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
