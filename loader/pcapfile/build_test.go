package pcapfile

import (
	"encoding/binary"
	"net/netip"
)

// Builders of packets and capture files, byte by byte, independent of the
// code under test (and of export/pcapng) so that a shared misreading of the
// formats cannot cancel out.

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

var (
	cli4 = netip.MustParseAddrPort("10.1.2.3:40000")
	srv4 = netip.MustParseAddrPort("10.9.8.7:8090")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:40001")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:8090")
)

// tcpSeg is the TCP part of a test packet.
type tcpSeg struct {
	src, dst netip.AddrPort
	seq      uint32
	flags    byte
	payload  []byte
	opts     []byte // TCP options, a multiple of 4 bytes
}

func (s tcpSeg) tcp() []byte {
	h := make([]byte, 20+len(s.opts))
	binary.BigEndian.PutUint16(h[0:], s.src.Port())
	binary.BigEndian.PutUint16(h[2:], s.dst.Port())
	binary.BigEndian.PutUint32(h[4:], s.seq)
	h[12] = byte(len(h)/4) << 4
	h[13] = s.flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	copy(h[20:], s.opts)
	return append(h, s.payload...)
}

// ipv4 wraps a transport payload in an IPv4 header (checksum left zero: the
// reader does not verify it).
func ipv4(src, dst netip.Addr, proto byte, payload []byte, opts []byte, fragField uint16) []byte {
	ihl := 20 + len(opts)
	h := make([]byte, ihl, ihl+len(payload))
	h[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(ihl+len(payload)))
	binary.BigEndian.PutUint16(h[6:], fragField)
	h[8], h[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	copy(h[20:], opts)
	return append(h, payload...)
}

// ipv6 wraps a payload in an IPv6 header; ext is the extension header chain
// (already linked), first the next-header value of the fixed header.
func ipv6(src, dst netip.Addr, first byte, ext, payload []byte) []byte {
	h := make([]byte, 40, 40+len(ext)+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(payload)))
	h[6], h[7] = first, 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	h = append(h, ext...)
	return append(h, payload...)
}

// ip builds the IP packet of a TCP segment, in the family of its addresses.
func (s tcpSeg) ip() []byte {
	if s.src.Addr().Is4() {
		return ipv4(s.src.Addr(), s.dst.Addr(), 6, s.tcp(), nil, 0x4000)
	}
	return ipv6(s.src.Addr(), s.dst.Addr(), 6, nil, s.tcp())
}

func etherType(ip []byte) uint16 {
	if ip[0]>>4 == 4 {
		return 0x0800
	}
	return 0x86dd
}

func eth(ip []byte, vlans ...uint16) []byte {
	f := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	for _, tpid := range vlans {
		f = binary.BigEndian.AppendUint16(f, tpid)
		f = binary.BigEndian.AppendUint16(f, 42) // TCI
	}
	f = binary.BigEndian.AppendUint16(f, etherType(ip))
	return append(f, ip...)
}

func sll(ip []byte) []byte {
	f := make([]byte, 16)
	binary.BigEndian.PutUint16(f[2:], 772) // ARPHRD_LOOPBACK
	binary.BigEndian.PutUint16(f[4:], 6)
	binary.BigEndian.PutUint16(f[14:], etherType(ip))
	return append(f, ip...)
}

func sll2(ip []byte) []byte {
	f := make([]byte, 20)
	binary.BigEndian.PutUint16(f[0:], etherType(ip))
	binary.BigEndian.PutUint32(f[4:], 1)
	binary.BigEndian.PutUint16(f[8:], 772)
	return append(f, ip...)
}

func null(order byteOrder, family uint32, ip []byte) []byte {
	return append(order.AppendUint32(nil, family), ip...)
}

// byteOrder is what the builders need of binary.LittleEndian and BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// record is one packet of a test capture file.
type record struct {
	ts      int64 // ns
	iface   uint32
	data    []byte
	origLen int // 0: len(data)
}

func (r record) orig() int {
	if r.origLen == 0 {
		return len(r.data)
	}
	return r.origLen
}

// pcapFile builds a classic pcap file.
func pcapFile(order byteOrder, nanos bool, link uint32, snapLen uint32, recs ...record) []byte {
	magic := uint32(magicMicros)
	if nanos {
		magic = magicNanos
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0) // thiszone
	b = order.AppendUint32(b, 0) // sigfigs
	b = order.AppendUint32(b, snapLen)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		b = order.AppendUint32(b, uint32(r.ts/1e9))
		if nanos {
			b = order.AppendUint32(b, uint32(r.ts%1e9))
		} else {
			b = order.AppendUint32(b, uint32(r.ts%1e9/1000))
		}
		b = order.AppendUint32(b, uint32(len(r.data)))
		b = order.AppendUint32(b, uint32(r.orig()))
		b = append(b, r.data...)
	}
	return b
}

// ngBuilder builds pcapng files block by block.
type ngBuilder struct {
	order byteOrder
	b     []byte
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// block appends a block of the given type and body (padded here).
func (n *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	body = pad4(append([]byte(nil), body...))
	l := uint32(12 + len(body))
	n.b = n.order.AppendUint32(n.b, typ)
	n.b = n.order.AppendUint32(n.b, l)
	n.b = append(n.b, body...)
	n.b = n.order.AppendUint32(n.b, l)
	return n
}

func (n *ngBuilder) option(b []byte, code uint16, val []byte) []byte {
	b = n.order.AppendUint16(b, code)
	b = n.order.AppendUint16(b, uint16(len(val)))
	return pad4(append(b, val...))
}

func (n *ngBuilder) shb() *ngBuilder {
	body := n.order.AppendUint32(nil, byteOrderMagic)
	body = n.order.AppendUint16(body, 1)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint64(body, ^uint64(0))
	body = n.option(body, 4, []byte("test"))
	body = n.option(body, 0, nil)
	return n.block(blockSHB, body)
}

// idb appends an interface; tsresol < 0 leaves the option out (microseconds).
func (n *ngBuilder) idb(link uint16, snapLen uint32, tsresol int, tsoffset int64) *ngBuilder {
	body := n.order.AppendUint16(nil, link)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, snapLen)
	body = n.option(body, 2, []byte("eth0"))
	if tsresol >= 0 {
		body = n.option(body, 9, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		body = n.option(body, 14, n.order.AppendUint64(nil, uint64(tsoffset)))
	}
	body = n.option(body, 0, nil)
	return n.block(blockIDB, body)
}

// epb appends an enhanced packet block; units is the timestamp in the
// interface's resolution.
func (n *ngBuilder) epb(iface uint32, units uint64, data []byte, origLen int) *ngBuilder {
	body := n.order.AppendUint32(nil, iface)
	body = n.order.AppendUint32(body, uint32(units>>32))
	body = n.order.AppendUint32(body, uint32(units))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, uint32(origLen))
	body = pad4(append(body, data...))
	body = n.option(body, 1, []byte("comment")) // opt_comment, to be ignored
	body = n.option(body, 0, nil)
	return n.block(blockEPB, body)
}

func (n *ngBuilder) spb(data []byte, origLen int) *ngBuilder {
	return n.block(blockSPB, append(n.order.AppendUint32(nil, uint32(origLen)), data...))
}

func (n *ngBuilder) opb(iface uint16, units uint64, data []byte) *ngBuilder {
	body := n.order.AppendUint16(nil, iface)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, uint32(units>>32))
	body = n.order.AppendUint32(body, uint32(units))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, uint32(len(data)))
	return n.block(blockOPB, append(body, data...))
}

// with switches the byte order for a following section.
func (n *ngBuilder) with(order byteOrder) *ngBuilder {
	n.order = order
	return n
}
