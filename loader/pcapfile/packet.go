package pcapfile

import (
	"encoding/binary"
	"net/netip"

	"github.com/iggytrace/iggytrace/decoder"
)

// LinkType is a LINKTYPE_ value from the tcpdump.org registry: what header
// precedes the network-layer packet in every frame of an interface.
type LinkType uint16

// The link types DecodeFrame understands.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with any number of 802.1Q/802.1ad tags
	LinkRawDLT12  LinkType = 12  // DLT_RAW as most BSDs number it; same as LinkRaw
	LinkRawDLT14  LinkType = 14  // DLT_RAW as OpenBSD numbers it; same as LinkRaw
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, big-endian
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 (16-byte header)
	LinkIPv4      LinkType = 228 // raw IPv4 only
	LinkIPv6      LinkType = 229 // raw IPv6 only
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (20-byte header)
)

const (
	etherTypeIPv4    = 0x0800
	etherTypeIPv6    = 0x86dd
	etherTypeVLAN    = 0x8100
	etherTypeQinQ    = 0x88a8
	etherTypeQinQOld = 0x9100
	ipProtoTCP       = 6
)

// SkipReason says why DecodeFrame did not produce a segment. The zero value,
// Keep, means it did.
type SkipReason uint8

const (
	// Keep: the frame is a TCP segment to or from a server port.
	Keep SkipReason = iota
	// SkipNotTCP: not IP, or IP carrying something other than TCP.
	SkipNotTCP
	// SkipOtherPort: TCP, but neither port is a server port.
	SkipOtherPort
	// SkipFragment: a non-first IP fragment, which carries no TCP header to
	// place its bytes. First fragments are delivered with the bytes they hold.
	SkipFragment
	// SkipTruncated: the capture cut the frame inside a link, IP or TCP header.
	SkipTruncated
	// SkipBadHeader: a header that contradicts itself or the frame (an IP
	// header length below the minimum, a total length beyond the frame, a TCP
	// data offset beyond the segment, ...).
	SkipBadHeader
	// SkipUnknownLinkType: an interface whose link type DecodeFrame does not know.
	SkipUnknownLinkType
	numSkipReasons
)

var skipReasonNames = [numSkipReasons]string{"kept", "not TCP", "other port", "fragment", "truncated", "bad header", "unknown link type"}

func (r SkipReason) String() string {
	if r < numSkipReasons {
		return skipReasonNames[r]
	}
	return "unknown reason"
}

// DecodeFrame parses one captured frame of the given link type and, when it is
// a TCP segment to or from one of serverPorts, fills seg (all fields but Time)
// and returns Keep. Otherwise it returns why not and leaves seg untouched.
//
// frame is what was captured; wireLen is the frame's length on the wire
// (values below len(frame) are taken as len(frame)). seg.Data aliases frame.
// seg.Len is the TCP payload length on the wire, from the IP length fields, so
// a snaplen-truncated capture yields len(seg.Data) < seg.Len.
//
// It is exported so that live capture (internal/afpacket) filters packets with
// exactly the parser that later reads them back. It never allocates.
func DecodeFrame(link LinkType, frame []byte, wireLen int, serverPorts []uint16, seg *decoder.Segment) SkipReason {
	wireLen = max(wireLen, len(frame))
	var off int
	var etherType uint16 // 0: tell IPv4 from IPv6 by the version nibble
	switch link {
	case LinkEthernet:
		if len(frame) < 14 {
			return short(frame, wireLen)
		}
		etherType = be16(frame[12:])
		off = 14
		for etherType == etherTypeVLAN || etherType == etherTypeQinQ || etherType == etherTypeQinQOld {
			if len(frame) < off+4 {
				return short(frame, wireLen)
			}
			etherType = be16(frame[off+2:])
			off += 4
		}
	case LinkLinuxSLL:
		if len(frame) < 16 {
			return short(frame, wireLen)
		}
		etherType = be16(frame[14:])
		off = 16
	case LinkLinuxSLL2:
		if len(frame) < 20 {
			return short(frame, wireLen)
		}
		etherType = be16(frame[0:])
		off = 20
	case LinkNull, LinkLoop:
		if len(frame) < 4 {
			return short(frame, wireLen)
		}
		// The family is in the capturing host's byte order for NULL and
		// big-endian for LOOP; accept either, since files travel.
		family := binary.LittleEndian.Uint32(frame)
		if family > 0xffff {
			family = binary.BigEndian.Uint32(frame)
		}
		switch family {
		case 2: // AF_INET everywhere
			etherType = etherTypeIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, Net/OpenBSD, FreeBSD, Darwin
			etherType = etherTypeIPv6
		default:
			return SkipNotTCP
		}
		off = 4
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
	case LinkIPv4:
		etherType = etherTypeIPv4
	case LinkIPv6:
		etherType = etherTypeIPv6
	default:
		return SkipUnknownLinkType
	}
	p, wire := frame[off:], wireLen-off
	if etherType == 0 {
		if len(p) == 0 {
			return short(p, wire)
		}
		switch p[0] >> 4 {
		case 4:
			etherType = etherTypeIPv4
		case 6:
			etherType = etherTypeIPv6
		default:
			return SkipNotTCP
		}
	}
	switch etherType {
	case etherTypeIPv4:
		return decodeIPv4(p, wire, serverPorts, seg)
	case etherTypeIPv6:
		return decodeIPv6(p, wire, serverPorts, seg)
	}
	return SkipNotTCP
}

// short classifies a frame too short for the header being parsed: cut by the
// snap length if the wire had more, otherwise simply malformed.
func short(captured []byte, wireLen int) SkipReason {
	if wireLen > len(captured) {
		return SkipTruncated
	}
	return SkipBadHeader
}

// decodeIPv4 parses an IPv4 packet; p is what was captured of it and wire its
// length on the wire (from the link layer).
func decodeIPv4(p []byte, wire int, ports []uint16, seg *decoder.Segment) SkipReason {
	if len(p) < 20 {
		return short(p, wire)
	}
	if p[0]>>4 != 4 {
		return SkipBadHeader
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(be16(p[2:]))
	if total == 0 {
		// TSO/GSO packets captured before segmentation may leave the total
		// length to the link layer.
		total = wire
	}
	if ihl < 20 || total < ihl || total > wire {
		return SkipBadHeader
	}
	if p[9] != ipProtoTCP {
		return SkipNotTCP
	}
	if be16(p[6:])&0x1fff != 0 {
		return SkipFragment
	}
	if len(p) < ihl {
		return SkipTruncated
	}
	src := netip.AddrFrom4([4]byte(p[12:16]))
	dst := netip.AddrFrom4([4]byte(p[16:20]))
	return decodeTCP(p[ihl:min(len(p), total)], total-ihl, src, dst, ports, seg)
}

// decodeIPv6 parses an IPv6 packet, walking the extension headers that may
// precede TCP.
func decodeIPv6(p []byte, wire int, ports []uint16, seg *decoder.Segment) SkipReason {
	if len(p) < 40 {
		return short(p, wire)
	}
	if p[0]>>4 != 6 {
		return SkipBadHeader
	}
	end := 40 + int(be16(p[4:]))
	if end == 40 {
		end = wire // jumbogram or GSO: the length is the link layer's
	}
	if end > wire {
		return SkipBadHeader
	}
	next, off := p[6], 40
	// Every extension header is at least 8 bytes long, so the loop ends.
	for next != ipProtoTCP {
		var hdrLen int
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(p) < off+8 {
				return short(p[:min(len(p), end)], end)
			}
			hdrLen = (int(p[off+1]) + 1) * 8
		case 44: // fragment
			if len(p) < off+8 {
				return short(p[:min(len(p), end)], end)
			}
			if be16(p[off+2:])&0xfff8 != 0 {
				return SkipFragment
			}
			hdrLen = 8
		case 51: // authentication header, counted in 4-byte units
			if len(p) < off+8 {
				return short(p[:min(len(p), end)], end)
			}
			hdrLen = (int(p[off+1]) + 2) * 4
		default: // ESP, no next header, ICMPv6, UDP, ...
			return SkipNotTCP
		}
		next = p[off]
		off += hdrLen
		if off > end {
			return SkipBadHeader
		}
	}
	src := netip.AddrFrom16([16]byte(p[8:24]))
	dst := netip.AddrFrom16([16]byte(p[24:40]))
	if off > len(p) {
		return SkipTruncated
	}
	return decodeTCP(p[off:min(len(p), end)], end-off, src, dst, ports, seg)
}

// decodeTCP parses a TCP segment: t is what was captured of it (clipped to the
// IP packet's end), segLen its length on the wire.
func decodeTCP(t []byte, segLen int, src, dst netip.Addr, ports []uint16, seg *decoder.Segment) SkipReason {
	if segLen < 20 {
		return SkipBadHeader
	}
	if len(t) < 4 {
		return SkipTruncated
	}
	sport, dport := be16(t[0:]), be16(t[2:])
	var dir decoder.Direction
	switch {
	case isServerPort(ports, dport):
		dir = decoder.ToServer
	case isServerPort(ports, sport):
		dir = decoder.ToClient
	default:
		return SkipOtherPort
	}
	if len(t) < 20 {
		return SkipTruncated
	}
	doff := int(t[12]>>4) * 4
	if doff < 20 || doff > segLen {
		return SkipBadHeader
	}
	if len(t) < doff {
		return SkipTruncated
	}
	srcAP, dstAP := netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	if dir == decoder.ToServer {
		seg.Key = decoder.ConnKey{Client: srcAP, Server: dstAP}
	} else {
		seg.Key = decoder.ConnKey{Client: dstAP, Server: srcAP}
	}
	seg.Dir = dir
	var flags decoder.SegFlags
	if t[13]&0x02 != 0 {
		flags |= decoder.SYN
	}
	if t[13]&0x01 != 0 {
		flags |= decoder.FIN
	}
	if t[13]&0x04 != 0 {
		flags |= decoder.RST
	}
	seg.Flags = flags
	seg.Seq = be32(t[4:])
	seg.Len = uint32(segLen - doff)
	seg.Data = t[doff:]
	return Keep
}

// isServerPort is a linear scan: configurations name one or two ports, which
// a map or bitmap would only slow down.
func isServerPort(ports []uint16, p uint16) bool {
	for _, sp := range ports {
		if sp == p {
			return true
		}
	}
	return false
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
