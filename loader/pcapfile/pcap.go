package pcapfile

import (
	"encoding/binary"
	"errors"
	"io"
)

// Classic pcap magic numbers, as read in the writer's byte order.
const (
	magicMicros    = 0xa1b2c3d4
	magicNanos     = 0xa1b23c4d
	magicKuznetzov = 0xa1b2cd34 // patched libpcap: 8 more bytes per record header
)

func isPcapMagic(m uint32) bool {
	return m == magicMicros || m == magicNanos || m == magicKuznetzov
}

// pcapState is what the file header of a classic pcap file says.
type pcapState struct {
	order   binary.ByteOrder
	fracNs  int64 // nanoseconds per unit of the sub-second timestamp field
	recHdr  int   // record header length
	snapLen uint32
	link    LinkType
}

func (p *pcapState) readHeader(r *Reader) error {
	if err := r.needBlock(0, 24, "the pcap file header"); err != nil {
		return err
	}
	h := r.src.take(24)
	p.order = binary.ByteOrder(binary.LittleEndian)
	if !isPcapMagic(binary.LittleEndian.Uint32(h)) {
		p.order = binary.BigEndian
	}
	p.fracNs, p.recHdr = 1000, 16
	switch p.order.Uint32(h) {
	case magicNanos:
		p.fracNs = 1
	case magicKuznetzov:
		p.recHdr = 24
	}
	if major := p.order.Uint16(h[4:]); major != 2 {
		return r.errorf(4, nil, "unsupported pcap version %d.%d", major, p.order.Uint16(h[6:]))
	}
	p.snapLen = p.order.Uint32(h[16:])
	// The upper bits of the link type field carry FCS information.
	p.link = LinkType(p.order.Uint32(h[20:]) & 0xffff)
	return nil
}

// next reads one packet record into r.frame, r.wireLen, r.ts and r.link.
func (p *pcapState) next(r *Reader) error {
	start := r.src.off
	if err := r.src.need(p.recHdr); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return r.needBlock(start, p.recHdr, "a packet record header")
	}
	h := r.src.peek(p.recHdr)
	sec, frac := p.order.Uint32(h), p.order.Uint32(h[4:])
	capLen, origLen := p.order.Uint32(h[8:]), p.order.Uint32(h[12:])
	switch {
	case capLen > maxBlockLen:
		return r.errorf(start, nil, "packet record captured length %d exceeds the %d-byte limit", capLen, maxBlockLen)
	case p.snapLen != 0 && capLen > p.snapLen:
		return r.errorf(start, nil, "packet record captured length %d exceeds the file's snaplen %d", capLen, p.snapLen)
	}
	n := p.recHdr + int(capLen)
	if err := r.needBlock(start, n, "a packet record"); err != nil {
		return err
	}
	rec := r.src.take(n)
	r.frame = rec[p.recHdr:]
	r.wireLen = int(origLen)
	r.ts = int64(sec)*1e9 + int64(frac)*p.fracNs
	r.link = p.link
	return nil
}
