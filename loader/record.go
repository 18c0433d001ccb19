package loader

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/iggytrace/iggytrace/decoder"
)

// Ring record layout, mirrored from struct rec_hdr and struct state_rec in
// bpf/capture.c (a test checks these offsets against the generated Go types).
// Every record starts with the same 72-byte header; a segment record is
// followed by cap_len payload bytes.
const (
	recSegment = 1 // struct rec_hdr + payload
	recState   = 2 // struct state_rec

	recHdrSize = 72

	offType     = 0
	offFamily   = 1
	offDir      = 2 // rec_hdr
	offOldState = 2 // state_rec
	offTCPFlags = 3 // rec_hdr
	offNewState = 3 // state_rec
	offRFlags   = 4
	offCPU      = 6
	offCPUSeq   = 8
	offSeq      = 12 // rec_hdr
	offRcvNxt   = 12 // state_rec
	offKtime    = 16
	offWireLen  = 24 // rec_hdr
	offSndUna   = 24 // state_rec
	offCapLen   = 28 // rec_hdr
	offSndNxt   = 28 // state_rec
	offSport    = 32
	offDport    = 34
	offPktLen   = 36
	offSaddr    = 40
	offDaddr    = 56
)

// Record flags (enum rec_flags in capture.c).
const (
	rfFirst   = 0x01 // first record of its packet
	rfLast    = 0x02 // last record of its packet
	rfDesync  = 0x04 // frame tracking lost: the start of the packet was copied
	rfRetrans = 0x08 // bytes before the tracked point
	rfTrunc   = 0x10 // more records than one program run writes: rest skipped
	rfResync  = 0x20 // frame tracking resumed at this packet
)

// TCP header flag bits as the kernel records them.
const (
	thFIN = 0x01
	thSYN = 0x02
	thRST = 0x04
)

// TCP states (include/net/tcp_states.h) used by state records.
const (
	tcpEstablished = 1
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpClose       = 7
	tcpCloseWait   = 8
)

// record is one ring record, decoded by hand from its little-endian bytes.
// data aliases the ring sample and is valid until the next read.
type record struct {
	typ      uint8
	family   uint8
	dir      uint8 // segment
	tcpFlags uint8 // segment
	rflags   uint8 // segment
	oldState uint8 // state
	newState uint8 // state
	cpu      uint16
	cpuSeq   uint32
	seq      uint32 // segment
	ktime    uint64
	wireLen  uint32 // segment
	capLen   uint32 // segment
	pktLen   uint32 // segment
	rcvNxt   uint32 // state
	sndUna   uint32 // state
	sndNxt   uint32 // state
	sport    uint16
	dport    uint16
	saddr    [16]byte
	daddr    [16]byte
	data     []byte
}

// decode parses b into r without allocating.
func (r *record) decode(b []byte) error {
	if len(b) < recHdrSize {
		return fmt.Errorf("record of %d bytes, shorter than its %d-byte header", len(b), recHdrSize)
	}
	le := binary.LittleEndian
	r.typ = b[offType]
	r.family = b[offFamily]
	r.cpu = le.Uint16(b[offCPU:])
	r.cpuSeq = le.Uint32(b[offCPUSeq:])
	r.ktime = le.Uint64(b[offKtime:])
	r.sport = le.Uint16(b[offSport:])
	r.dport = le.Uint16(b[offDport:])
	copy(r.saddr[:], b[offSaddr:offSaddr+16])
	copy(r.daddr[:], b[offDaddr:offDaddr+16])
	if r.family != 4 && r.family != 6 {
		return fmt.Errorf("record with address family %d", r.family)
	}
	switch r.typ {
	case recSegment:
		r.dir = b[offDir]
		r.tcpFlags = b[offTCPFlags]
		r.rflags = b[offRFlags]
		r.seq = le.Uint32(b[offSeq:])
		r.wireLen = le.Uint32(b[offWireLen:])
		r.capLen = le.Uint32(b[offCapLen:])
		r.pktLen = le.Uint32(b[offPktLen:])
		if r.dir > 1 {
			return fmt.Errorf("segment record with direction %d", r.dir)
		}
		if r.capLen > r.wireLen || int(r.capLen) > len(b)-recHdrSize {
			return fmt.Errorf("segment record with cap_len %d, wire_len %d, %d bytes after the header",
				r.capLen, r.wireLen, len(b)-recHdrSize)
		}
		r.data = b[recHdrSize : recHdrSize+int(r.capLen)]
	case recState:
		r.oldState = b[offOldState]
		r.newState = b[offNewState]
		r.rcvNxt = le.Uint32(b[offRcvNxt:])
		r.sndUna = le.Uint32(b[offSndUna:])
		r.sndNxt = le.Uint32(b[offSndNxt:])
		r.data = nil
	default:
		return fmt.Errorf("record of unknown type %d", r.typ)
	}
	return nil
}

func (r *record) addrs() (src, dst netip.Addr) {
	if r.family == 4 {
		return netip.AddrFrom4([4]byte(r.saddr[:4])), netip.AddrFrom4([4]byte(r.daddr[:4]))
	}
	// A dual-stack socket reports IPv4 peers as v4-mapped IPv6 addresses;
	// unmap them so that state records and packets agree on the key.
	return netip.AddrFrom16(r.saddr).Unmap(), netip.AddrFrom16(r.daddr).Unmap()
}

func segFlags(tcp uint8) decoder.SegFlags {
	var f decoder.SegFlags
	if tcp&thSYN != 0 {
		f |= decoder.SYN
	}
	if tcp&thFIN != 0 {
		f |= decoder.FIN
	}
	if tcp&thRST != 0 {
		f |= decoder.RST
	}
	return f
}

// segment fills seg from a segment record; wall is the record's time.
func (r *record) segment(wall int64, seg *decoder.Segment) {
	src, dst := r.addrs()
	s := netip.AddrPortFrom(src, r.sport)
	d := netip.AddrPortFrom(dst, r.dport)
	seg.Time = wall
	if r.dir == 0 {
		seg.Dir = decoder.ToServer
		seg.Key = decoder.ConnKey{Client: s, Server: d}
	} else {
		seg.Dir = decoder.ToClient
		seg.Key = decoder.ConnKey{Client: d, Server: s}
	}
	seg.Flags = segFlags(r.tcpFlags)
	seg.Seq = r.seq
	seg.Len = r.wireLen
	seg.Data = r.data
}

// stateSegments turns a state record into one zero-length segment per
// direction. An open carries SYN at each side's initial sequence number, the
// sequence numbers of the SYN packets. A close carries FIN, or RST when the
// socket went to CLOSE from a state a graceful close never leaves that way,
// at the next sequence number of each direction as the socket saw it.
// It returns false for a record that is neither.
func (r *record) stateSegments(wall int64, toServer, toClient *decoder.Segment) bool {
	src, dst := r.addrs()
	key := decoder.ConnKey{
		Client: netip.AddrPortFrom(dst, r.dport),
		Server: netip.AddrPortFrom(src, r.sport),
	}
	*toServer = decoder.Segment{Time: wall, Key: key, Dir: decoder.ToServer}
	*toClient = decoder.Segment{Time: wall, Key: key, Dir: decoder.ToClient}
	switch r.newState {
	case tcpEstablished:
		toServer.Flags, toClient.Flags = decoder.SYN, decoder.SYN
		toServer.Seq = r.rcvNxt - 1
		toClient.Seq = r.sndUna - 1
	case tcpClose:
		f := decoder.FIN
		switch r.oldState {
		case tcpSynRecv, tcpEstablished, tcpCloseWait:
			f = decoder.RST
		}
		toServer.Flags, toClient.Flags = f, f
		toServer.Seq = r.rcvNxt
		toClient.Seq = r.sndNxt
	default:
		return false
	}
	return true
}
