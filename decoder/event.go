package decoder

import (
	"net/netip"

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
