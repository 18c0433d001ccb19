// Package afpacket captures the TCP traffic of given ports on a network
// interface into a pcapng file, with a Linux AF_PACKET socket and no cgo or
// libpcap.
//
// It exists to make real captures of real traffic, loopback included, for
// iggytrace's tests and for users without tcpdump: what the eBPF loader sees
// can be compared with what crossed the interface. It is deliberately small:
// one socket read per packet, not a memory-mapped ring, which is plenty for
// test and debugging loads.
//
// Packets are written as Linux cooked v2 frames (LINKTYPE_LINUX_SLL2): the
// socket is SOCK_DGRAM, so every interface, "any" included, yields the same
// framing, and the header keeps the interface index and packet direction.
package afpacket

import "fmt"

// Stats counts what a capture saw.
type Stats struct {
	Received   uint64 // packets read from the socket
	Written    uint64 // packets written to the pcapng file
	Duplicates uint64 // outgoing copies of loopback packets, which also arrive as incoming
	Filtered   uint64 // not TCP to or from the ports (the kernel filter lets few through)
	Truncated  uint64 // longer than the capture buffer: written with caplen < len
	Dropped    uint64 // dropped by the kernel because the socket buffer was full
}

func (s Stats) String() string {
	return fmt.Sprintf("%d packets received, %d written, %d loopback duplicates, %d filtered, %d truncated, %d dropped by the kernel",
		s.Received, s.Written, s.Duplicates, s.Filtered, s.Truncated, s.Dropped)
}

// snapLen bounds the bytes kept of one packet. Loopback GSO and GRO make
// packets of up to 64 KiB, and BIG TCP up to 512 KiB; 256 KiB is libpcap's
// default and keeps every loopback packet whole.
const snapLen = 256 << 10
