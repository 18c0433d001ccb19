package decoder

import (
	"cmp"
	"slices"

	"github.com/iggytrace/iggytrace/decoder/framing"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/decoder/reassembly"
)

// Config bounds and tunes a Tracker. The zero value is usable.
type Config struct {
	Protocol   protocol.Options
	Reassembly reassembly.Config
	Framing    framing.Config
	// MaxConns caps the connections tracked at once; the least recently
	// active one is closed (and reported) to make room. Default 65536.
	MaxConns int
	// MaxPending caps the requests awaiting a response per connection. Iggy
	// clients keep one in flight; a peer that pipelines more than this has
	// its oldest requests reported unanswered. Default 1024.
	MaxPending int
}

func (c *Config) setDefaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 1 << 16
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1024
	}
}

// Stats are a Tracker's running totals, for metrics and the end-of-run summary.
type Stats struct {
	Segments      uint64
	Conns         uint64 // connections seen
	OpenConns     int    // connections tracked now
	Events        uint64
	Pairs         uint64
	Unanswered    uint64
	Unmatched     uint64
	Gaps          uint64
	GapBytes      uint64
	SkippedBytes  uint64
	DesyncBytes   uint64
	Retransmitted uint64
	DecodeErrors  uint64
	Evicted       uint64 // connections closed to respect MaxConns
}

// Tracker rebuilds Iggy exchanges from TCP segments of any number of
// connections and reports each as an Event. It is not safe for concurrent
// use: feed it from one goroutine.
type Tracker struct {
	cfg    Config
	emit   func(*Event)
	conns  map[ConnKey]*conn
	nextID uint64
	stats  Stats
	hints  valueHints // sizes the memory pair events are decoded into (event.go)
}

// NewTracker returns a Tracker that passes every event to emit. emit owns the
// Event it is given.
func NewTracker(cfg Config, emit func(*Event)) *Tracker {
	cfg.setDefaults()
	return &Tracker{cfg: cfg, emit: emit, conns: make(map[ConnKey]*conn)}
}

// Stats returns the running totals.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.OpenConns = len(t.conns)
	return s
}

// Feed processes one segment. seg.Data is not retained.
func (t *Tracker) Feed(seg *Segment) {
	t.stats.Segments++
	c := t.conns[seg.Key]
	if c == nil {
		if seg.Len == 0 && seg.Flags&SYN == 0 {
			// A bare ACK, FIN or RST of a connection not tracked (closed
			// already, or never seen carrying data): nothing to report.
			return
		}
		c = t.open(seg)
	}
	c.lastSeen = seg.Time
	c.feed(seg)
	if c.closed() {
		t.close(c, seg.Time)
	}
}

// Flush ends the capture: every connection is closed, its cut frames and
// unanswered requests reported, in the order the connections were first
// seen (not map order: the same capture must give the same output).
func (t *Tracker) Flush() {
	open := make([]*conn, 0, len(t.conns))
	for _, c := range t.conns {
		open = append(open, c)
	}
	slices.SortFunc(open, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	for _, c := range open {
		t.close(c, c.lastSeen)
	}
}

func (t *Tracker) open(seg *Segment) *conn {
	if len(t.conns) >= t.cfg.MaxConns {
		t.evictOldest()
	}
	t.nextID++
	t.stats.Conns++
	c := newConn(t, t.nextID, seg.Key, t.cfg.Protocol)
	t.conns[seg.Key] = c
	midStream := seg.Flags&SYN == 0
	c.midStream = midStream
	ev := &Event{Kind: EventOpen, ConnID: c.id, Client: seg.Key.Client, Server: seg.Key.Server, ReqTime: seg.Time}
	if midStream {
		ev.Flags |= FlagMidStream
		c.startUnsynced()
	}
	t.send(ev)
	return c
}

func (t *Tracker) evictOldest() {
	var oldest *conn
	for _, c := range t.conns {
		if oldest == nil || c.lastSeen < oldest.lastSeen || (c.lastSeen == oldest.lastSeen && c.id < oldest.id) {
			oldest = c
		}
	}
	if oldest != nil {
		t.stats.Evicted++
		t.close(oldest, oldest.lastSeen)
	}
}

func (t *Tracker) close(c *conn, now int64) {
	c.finish(now)
	delete(t.conns, c.key)
	st := c.stats
	t.send(&Event{
		Kind: EventClose, ConnID: c.id, Client: c.key.Client, Server: c.key.Server,
		RespTime: now, Stats: &st,
	})
}

func (t *Tracker) send(ev *Event) {
	t.stats.Events++
	switch ev.Kind {
	case EventPair:
		t.stats.Pairs++
	case EventRequest:
		t.stats.Unanswered++
	case EventResponse:
		t.stats.Unmatched++
	case EventGap:
		t.stats.Gaps++
		t.stats.GapBytes += ev.Bytes
	case EventDesync:
		t.stats.DesyncBytes += ev.Bytes
	}
	if ev.Flags&FlagDecodeError != 0 {
		t.stats.DecodeErrors++
	}
	t.emit(ev)
}
