package decoder

import (
	"net/netip"
	"strings"
	"unsafe"

	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventPair is a request and the response that answered it.
	EventPair EventKind = iota + 1
	// EventRequest is a request that got no response: the connection closed,
	// or its response was lost in a gap (see Flags).
	EventRequest
	// EventResponse is a response with no request to pair it with: the capture
	// began mid-connection, its request was lost in a gap, or the server sent
	// it unsolicited (status Disconnected on shutdown).
	EventResponse
	// EventOpen is a new connection (SYN seen, or the kernel reported it).
	EventOpen
	// EventClose is a closed connection, with its counters.
	EventClose
	// EventGap reports bytes of one direction that were lost: a dropped
	// segment or ring-buffer record. Pairing restarts after it.
	EventGap
	// EventDesync reports bytes that could not be framed (garbage on the
	// port, a capture begun mid-frame, an impossible length) and were skipped
	// until the next frame boundary that validates.
	EventDesync
)

var eventKindNames = [...]string{"", "pair", "request", "response", "open", "close", "gap", "desync"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "unknown"
}

// Flags are findings about an event, in the manner of Wireshark's expert info.
type Flags uint32

const (
	// FlagNoResponse: the request was never answered (connection closed or capture ended).
	FlagNoResponse Flags = 1 << iota
	// FlagResponseLost: the response was lost in a gap of the server → client stream.
	FlagResponseLost
	// FlagNoRequest: no request was seen for this response.
	FlagNoRequest
	// FlagUnsolicited: a status Disconnected frame with nothing outstanding (server shutdown).
	FlagUnsolicited
	// FlagAfterGap: paired after a gap by causal order (see Tracker).
	FlagAfterGap
	// FlagRequestPartial: some request payload bytes were not captured or lost.
	FlagRequestPartial
	// FlagResponsePartial: some response payload bytes were not captured or lost.
	FlagResponsePartial
	// FlagUnknownCommand: the command code is not in the protocol description.
	FlagUnknownCommand
	// FlagDecodeError: a payload did not decode; Error says why.
	FlagDecodeError
	// FlagVersionAssumed: the protocol version was assumed, not detected.
	FlagVersionAssumed
	// FlagMidStream: the connection was already open when capture began.
	FlagMidStream
)

var flagNames = [...]string{
	"no_response", "response_lost", "no_request", "unsolicited", "after_gap",
	"request_partial", "response_partial", "unknown_command", "decode_error",
	"version_assumed", "mid_stream",
}

// Names lists the set flags by name, in bit order.
func (f Flags) Names() []string {
	var out []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Event is what the decoder reports. Which fields are set depends on Kind;
// the JSON names in export/stdout are documented in docs/events.md.
type Event struct {
	Kind   EventKind
	Flags  Flags
	ConnID uint64 // 1, 2, ... in order of first sight
	Client netip.AddrPort
	Server netip.AddrPort

	// Request side (EventPair, EventRequest).
	ReqTime  int64 // ns since the Unix epoch: first byte of the request
	ReqBytes uint32
	// Response side (EventPair, EventResponse).
	RespTime  int64 // ns: last byte of the response
	RespBytes uint32
	Latency   int64 // ns from the request's last byte to the response's last byte

	Code       protocol.Code
	Command    string // command name, "" when the code is unknown
	Status     uint32
	StatusName string
	// NotFound: an OK response with an empty payload to a query that answers
	// "not found" that way (GetStream, GetUser, ...; iggy-wire.md §2.1).
	NotFound bool

	Request  []protocol.Value
	Response []protocol.Value
	Summary  protocol.Summary
	Error    string // why a payload did not decode

	// EventGap, EventDesync: which direction and how many bytes.
	Dir    Direction
	Bytes  uint64
	Reason string

	// EventClose: counters of the whole connection.
	Stats *ConnStats

	cmd *protocol.Command // the command's description, nil when unknown
}

// Cmd returns the description of the event's command, nil when the code is
// unknown or the event has no request.
func (e *Event) Cmd() *protocol.Command { return e.cmd }

// ConnStats are a connection's counters, reported when it closes.
type ConnStats struct {
	Requests, Responses   uint64
	Pairs                 uint64
	BytesIn, BytesOut     uint64 // payload bytes client → server and server → client
	GapBytes              uint64
	SkippedBytes          uint64 // not copied by the capture (header-only mode)
	DesyncBytes           uint64
	Retransmitted         uint64 // duplicate bytes dropped
	Unanswered, Unmatched uint64
}

// Allocation of pair events.
//
// A pair's Event, the Values of its request and response, and the bytes of
// their strings share one allocation, a block, when they fit one: a pair
// then costs one allocation instead of up to five (the Event, and a value
// slice and a string for each payload, as protocol.Record.Clone makes them).
// The payloads are decoded straight into the block rather than into the
// conn's Record and then copied. The block is allocated before the request
// is decoded, so it is sized from what the last request and the last OK
// response of the same command decoded to (valueHints); Values that do not
// fit what is left go to an array of their own, which the decoder grows.
// Payloads of more than maxBlockValues Values (message batches) are decoded
// into a slice of their own, sized the same way.

// block is an Event with room for its Values and their strings.
type block[V, S any] struct {
	ev   Event
	vals V // [n]protocol.Value
	strs S // [m]byte
}

type blockSize struct {
	vals  int
	alloc func() (*Event, eventRoom)
}

func sized[V, S any]() blockSize {
	var b block[V, S]
	nv := int(unsafe.Sizeof(b.vals) / unsafe.Sizeof(protocol.Value{}))
	ns := int(unsafe.Sizeof(b.strs))
	return blockSize{vals: nv, alloc: func() (*Event, eventRoom) {
		b := new(block[V, S])
		return &b.ev, eventRoom{
			vals: unsafe.Slice((*protocol.Value)(unsafe.Pointer(&b.vals)), nv),
			strs: unsafe.Slice((*byte)(unsafe.Pointer(&b.strs)), ns),
		}
	}}
}

// blockSizes, smallest first. With the 384-byte Event of 64-bit platforms
// each fills a size class of the Go allocator (512, 576, ... 4096 bytes;
// above 512 bytes an object with pointers also takes an 8-byte header) with
// as many Values as fit and at least 16 bytes for strings.
var blockSizes = [...]blockSize{
	sized[[2]protocol.Value, [16]byte](),  // 512
	sized[[3]protocol.Value, [16]byte](),  // 576
	sized[[4]protocol.Value, [24]byte](),  // 640
	sized[[5]protocol.Value, [32]byte](),  // 704
	sized[[6]protocol.Value, [40]byte](),  // 768
	sized[[8]protocol.Value, [56]byte](),  // 896
	sized[[11]protocol.Value, [16]byte](), // 1024
	sized[[13]protocol.Value, [32]byte](), // 1152
	sized[[15]protocol.Value, [48]byte](), // 1280
	sized[[17]protocol.Value, [64]byte](), // 1408
	sized[[20]protocol.Value, [24]byte](), // 1536
	sized[[24]protocol.Value, [56]byte](), // 1792
	sized[[29]protocol.Value, [32]byte](), // 2048
	sized[[33]protocol.Value, [64]byte](), // 2304
	sized[[40]protocol.Value, [56]byte](), // 2688
	sized[[47]protocol.Value, [48]byte](), // 3072
	sized[[49]protocol.Value, [64]byte](), // 3200
	sized[[54]protocol.Value, [40]byte](), // 3456
	sized[[65]protocol.Value, [64]byte](), // 4096
}

// blockFor[n] is the index in blockSizes of the smallest block for n Values.
var blockFor = func() (t [maxBlockValues + 1]uint8) {
	i := 0
	for n := 1; n <= maxBlockValues; n++ {
		for blockSizes[i].vals < n {
			i++
		}
		t[n] = uint8(i)
	}
	return t
}()

const maxBlockValues = 65

// newEvent returns a zero Event and the room allocated with it for n Values.
func newEvent(n int) (*Event, eventRoom) {
	if n > 0 && n <= maxBlockValues {
		return blockSizes[blockFor[n]].alloc()
	}
	return new(Event), eventRoom{}
}

// valueHints remembers, per command code, what its last request and its
// last OK response decoded to, to size the memory the next ones are
// decoded into.
type valueHints struct {
	byCode [1024]struct{ req, resp valueHint }
	other  [2]valueHint // shared by larger codes
}

// valueHint is a payload's length and the number of Values it decoded to.
type valueHint struct{ len, n uint32 }

func (h *valueHints) get(code protocol.Code) (req, resp *valueHint) {
	if int(code) < len(h.byCode) {
		return &h.byCode[code].req, &h.byCode[code].resp
	}
	return &h.other[0], &h.other[1]
}

// estimate returns the Values expected of a payload of plen bytes: as many
// per byte as last time, which is exact for the same payload shape and
// keeps a small payload after a large one from reserving much.
func (v *valueHint) estimate(plen int) int {
	if v.len == 0 || uint64(plen) == uint64(v.len) {
		return int(v.n)
	}
	return int((uint64(v.n)*uint64(plen) + uint64(v.len) - 1) / uint64(v.len))
}

func (v *valueHint) note(plen, n int) {
	v.len, v.n = uint32(min(plen, 1<<31)), uint32(min(n, 1<<31))
}

// eventRoom is the unused part of an Event's block.
type eventRoom struct {
	vals []protocol.Value
	strs []byte
}

// target returns the slice to decode a payload of about n Values into: the
// room, or else a new slice of n Values. The decoder appends to it, so
// Values that do not fit land in an array it allocates; whatever the slice
// holds after decoding belongs to the Event (see keep).
func (r *eventRoom) target(n int) []protocol.Value {
	if len(r.vals) > 0 {
		return r.vals[:0]
	}
	if n > 0 {
		return make([]protocol.Value, 0, n)
	}
	return nil
}

// keep takes for the Event the Values that rec, given target's slice,
// decoded to; copies the strings they own out of rec's arena and re-points
// rec.Summary's strings at the copies, as rec.Clone does; and leaves rec
// without Values, so that nothing decodes into the Event's memory.
func (r *eventRoom) keep(rec *protocol.Record) []protocol.Value {
	got := rec.Values
	rec.Values = nil
	n := len(got)
	switch {
	case n == 0:
		return nil
	case len(r.vals) > 0 && &got[0] == &r.vals[0]:
		r.vals = r.vals[n:]
	case cap(got) > 2*n+16:
		// A poor estimate, or growth by append: do not keep the Event's
		// Values in an array mostly empty.
		got = append([]protocol.Value(nil), got...)
	}
	vals := got[:n:n]
	r.detachStrings(vals, &rec.Summary)
	return vals
}

// detachStrings copies the bytes of the strings vals own into the room, or
// else into one new buffer, and re-points sum's strings that were theirs at
// the copies.
func (r *eventRoom) detachStrings(vals []protocol.Value, sum *protocol.Summary) {
	n := 0
	for i := range vals {
		if ownsStr(vals[i].Kind) {
			n += len(vals[i].Str)
		}
	}
	if n == 0 {
		return
	}
	// The new buffer is grown once to n bytes, so it never moves and every
	// string taken from it stays valid. Nothing writes those bytes again.
	inRoom := n <= len(r.strs)
	var sb strings.Builder
	if !inRoom {
		sb.Grow(n)
	}
	for i := range vals {
		v := &vals[i]
		if !ownsStr(v.Kind) || v.Str == "" {
			continue
		}
		var s string
		if inRoom {
			k := copy(r.strs, v.Str)
			s = unsafe.String(&r.strs[0], k)
			r.strs = r.strs[k:]
		} else {
			off := sb.Len()
			sb.WriteString(v.Str)
			s = sb.String()[off:]
		}
		// A Summary string is the Str of one of the Values (the same
		// bytes, not merely equal ones): follow it to the copy.
		old := unsafe.StringData(v.Str)
		for _, f := range [...]*string{&sum.Stream, &sum.Topic, &sum.ConsumerGroup, &sum.Username} {
			if len(*f) == len(s) && unsafe.StringData(*f) == old {
				*f = s
			}
		}
		v.Str = s
	}
}

// ownsStr tells whether a Value's Str may point into a Record's arena
// (protocol.Record.Clone copies those). Enum names are constants.
func ownsStr(k protocol.Kind) bool { return k == protocol.KindString || k == protocol.KindBytes }
