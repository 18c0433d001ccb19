// Package decoder turns the bytes of Iggy TCP connections into paired, named,
// redacted events: it reassembles each direction, splits it into frames, pairs
// every request with its response and decodes both payloads.
//
// Data flows one way: a source (the kernel loader or a capture file) feeds
// Segments to a Tracker, and the Tracker hands Events to a sink.
package decoder

import "net/netip"

// Direction says which way a segment travelled, seen from the Iggy server.
type Direction uint8

const (
	// ToServer is client → server: requests.
	ToServer Direction = iota
	// ToClient is server → client: responses.
	ToClient
)

func (d Direction) String() string {
	if d == ToServer {
		return "request"
	}
	return "response"
}

// ConnKey names one TCP connection from the server's point of view.
type ConnKey struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// SegFlags are the TCP control bits a decoder cares about.
type SegFlags uint8

const (
	SYN SegFlags = 1 << iota
	FIN
	RST
)

// Segment is one piece of one direction of a TCP connection, as a capture
// source delivers it. Data is a prefix of the segment's payload: a source may
// copy fewer bytes than were on the wire (Len), and the bytes not copied are
// accounted as skipped, not lost. Data is only valid during the call it is
// passed to; the decoder copies what it must keep.
type Segment struct {
	Time  int64 // nanoseconds since the Unix epoch
	Key   ConnKey
	Dir   Direction
	Flags SegFlags
	Seq   uint32 // TCP sequence number of the first payload byte (of SYN for a SYN)
	Len   uint32 // payload length on the wire
	Data  []byte // captured payload bytes, len(Data) <= Len
}
