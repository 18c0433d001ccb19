package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // section header; palindromic, so readable before the byte order is known
	blockIDB = 0x00000001 // interface description
	blockOPB = 0x00000002 // packet (obsolete)
	blockSPB = 0x00000003 // simple packet
	blockEPB = 0x00000006 // enhanced packet

	byteOrderMagic = 0x1a2b3c4d
	optEndOfOpt    = 0
	optIfTsresol   = 9
	optIfTsoffset  = 14
	// maxInterfaces bounds the interface table a section may build.
	maxInterfaces = 1 << 16
)

// pcapngState is the section being read: its byte order and interfaces.
type pcapngState struct {
	order  binary.ByteOrder
	ifaces []ngInterface
	lastTs int64 // simple packet blocks have no timestamp: they get the last one seen
}

// ngInterface is what an interface description block says that packets need.
type ngInterface struct {
	link    LinkType
	snapLen uint32
	ts      tsUnit
}

// tsUnit converts a pcapng timestamp (a count of if_tsresol units since
// if_tsoffset seconds after the epoch) to nanoseconds since the epoch.
type tsUnit struct {
	binary   bool   // units of 2^-shift seconds rather than 10^-n
	shift    uint   // binary resolution exponent
	mul, div uint64 // decimal: ns = ts * mul / div, one of them 1
	offsetNs int64
}

func (u tsUnit) ns(ts uint64) int64 {
	var ns uint64
	switch {
	case !u.binary:
		ns = ts * u.mul / u.div
	case u.shift == 0:
		ns = ts * 1e9
	default:
		// (ts * 1e9) >> shift, in 128 bits so that fine resolutions do not overflow.
		hi, lo := bits.Mul64(ts, 1e9)
		ns = hi<<(64-u.shift) | lo>>u.shift
	}
	return int64(ns) + u.offsetNs
}

// next reads blocks until it finds a packet, which it leaves in r.frame,
// r.wireLen, r.ts and r.link.
func (g *pcapngState) next(r *Reader) error {
	for {
		start := r.src.off
		if err := r.src.need(8); err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return r.needBlock(start, 8, "a block header")
		}
		h := r.src.peek(8)
		typ := g.order.Uint32(h)
		if typ == blockSHB {
			if err := g.readSectionHeader(r); err != nil {
				return err
			}
			continue
		}
		blockLen := g.order.Uint32(h[4:])
		if err := checkLen(r, start, typ, blockLen); err != nil {
			return err
		}
		switch typ {
		case blockEPB, blockSPB, blockOPB, blockIDB:
		default:
			// Statistics, name resolution, decryption secrets, custom
			// blocks: nothing a segment needs. Skip without buffering.
			if err := r.src.skip(int64(blockLen) - 4); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return r.errorf(start, err, "file ends inside a block of type %#x (%d bytes long)", typ, blockLen)
				}
				return r.errorf(start, err, "reading a block of type %#x", typ)
			}
			if err := r.needBlock(start, 4, "a block trailer"); err != nil {
				return err
			}
			if trailer := g.order.Uint32(r.src.take(4)); trailer != blockLen {
				return r.errorf(start, nil, "block of type %#x: trailing length %d differs from leading length %d", typ, trailer, blockLen)
			}
			continue
		}
		if blockLen > maxBlockLen {
			return r.errorf(start, nil, "%s length %d exceeds the %d-byte limit", blockName(typ), blockLen, maxBlockLen)
		}
		if err := r.needBlock(start, int(blockLen), blockName(typ)); err != nil {
			return err
		}
		b := r.src.take(int(blockLen))
		if trailer := g.order.Uint32(b[blockLen-4:]); trailer != blockLen {
			return r.errorf(start, nil, "%s: trailing length %d differs from leading length %d", blockName(typ), trailer, blockLen)
		}
		body := b[8 : blockLen-4]
		switch typ {
		case blockIDB:
			if err := g.readInterface(r, start, body); err != nil {
				return err
			}
		case blockEPB:
			return g.readEnhanced(r, start, body)
		case blockSPB:
			return g.readSimple(r, start, body)
		case blockOPB:
			return g.readObsolete(r, start, body)
		}
	}
}

// checkLen validates a block's leading length field.
func checkLen(r *Reader, start int64, typ, blockLen uint32) error {
	switch {
	case blockLen < 12:
		return r.errorf(start, nil, "%s length %d is below the 12-byte minimum", blockName(typ), blockLen)
	case blockLen%4 != 0:
		return r.errorf(start, nil, "%s length %d is not a multiple of 4", blockName(typ), blockLen)
	}
	return nil
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockEPB:
		return "enhanced packet block"
	case blockSPB:
		return "simple packet block"
	case blockOPB:
		return "packet block"
	}
	return "block"
}

// readSectionHeader reads a section header block, which sets the byte order
// of everything up to the next one and starts a new interface table.
func (g *pcapngState) readSectionHeader(r *Reader) error {
	start := r.src.off
	if err := r.needBlock(start, 12, "a section header block"); err != nil {
		return err
	}
	h := r.src.peek(12)
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == byteOrderMagic:
		g.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == byteOrderMagic:
		g.order = binary.BigEndian
	default:
		return r.errorf(start, nil, "section header block: bad byte-order magic %#08x", binary.BigEndian.Uint32(h[8:]))
	}
	blockLen := g.order.Uint32(h[4:])
	if err := checkLen(r, start, blockSHB, blockLen); err != nil {
		return err
	}
	if blockLen < 28 {
		return r.errorf(start, nil, "section header block length %d is below the 28-byte minimum", blockLen)
	}
	if blockLen > maxBlockLen {
		return r.errorf(start, nil, "section header block length %d exceeds the %d-byte limit", blockLen, maxBlockLen)
	}
	if err := r.needBlock(start, int(blockLen), "a section header block"); err != nil {
		return err
	}
	b := r.src.take(int(blockLen))
	if trailer := g.order.Uint32(b[blockLen-4:]); trailer != blockLen {
		return r.errorf(start, nil, "section header block: trailing length %d differs from leading length %d", trailer, blockLen)
	}
	if major, minor := g.order.Uint16(b[12:]), g.order.Uint16(b[14:]); major != 1 {
		return r.errorf(start, nil, "unsupported pcapng version %d.%d", major, minor)
	}
	g.ifaces = g.ifaces[:0]
	return nil
}

// readInterface reads an interface description block into the section's
// interface table.
func (g *pcapngState) readInterface(r *Reader, start int64, body []byte) error {
	if len(body) < 8 {
		return r.errorf(start, nil, "interface description block: body of %d bytes is below the 8-byte minimum", len(body))
	}
	if len(g.ifaces) >= maxInterfaces {
		return r.errorf(start, nil, "interface description block: more than %d interfaces in one section", maxInterfaces)
	}
	ifc := ngInterface{
		link:    LinkType(g.order.Uint16(body)),
		snapLen: g.order.Uint32(body[4:]),
		ts:      tsUnit{mul: 1000, div: 1}, // default resolution: microseconds
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := g.order.Uint16(opts), int(g.order.Uint16(opts[2:]))
		if code == optEndOfOpt {
			break
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(opts) {
			return r.errorf(start, nil, "interface description block: option %d of length %d runs past the block", code, n)
		}
		val := opts[4 : 4+n]
		switch code {
		case optIfTsresol:
			if n != 1 {
				return r.errorf(start, nil, "interface description block: if_tsresol has length %d, want 1", n)
			}
			u, err := tsResolution(val[0])
			if err != nil {
				return r.errorf(start, nil, "interface description block: %s", err)
			}
			u.offsetNs = ifc.ts.offsetNs
			ifc.ts = u
		case optIfTsoffset:
			if n != 8 {
				return r.errorf(start, nil, "interface description block: if_tsoffset has length %d, want 8", n)
			}
			ifc.ts.offsetNs = int64(g.order.Uint64(val)) * 1e9
		}
		opts = opts[4+padded:]
	}
	g.ifaces = append(g.ifaces, ifc)
	return nil
}

// tsResolution decodes if_tsresol: 10^-v seconds, or 2^-v with the top bit set.
func tsResolution(v byte) (tsUnit, error) {
	if v&0x80 != 0 {
		shift := uint(v & 0x7f)
		if shift >= 64 {
			return tsUnit{}, fmt.Errorf("if_tsresol 2^-%d is finer than supported", shift)
		}
		return tsUnit{binary: true, shift: shift}, nil
	}
	switch {
	case v <= 9:
		return tsUnit{mul: pow10(9 - int(v)), div: 1}, nil
	case v <= 9+19:
		return tsUnit{mul: 1, div: pow10(int(v) - 9)}, nil
	}
	return tsUnit{}, fmt.Errorf("if_tsresol 10^-%d is finer than supported", v)
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// iface looks up the interface a packet block refers to.
func (g *pcapngState) iface(r *Reader, start int64, what string, id uint32) (*ngInterface, error) {
	if id >= uint32(len(g.ifaces)) {
		return nil, r.errorf(start, nil, "%s refers to interface %d, but the section defines %d", what, id, len(g.ifaces))
	}
	return &g.ifaces[id], nil
}

// packet checks a packet's captured length against its block and interface
// and publishes it to the reader.
func (g *pcapngState) packet(r *Reader, start int64, what string, ifc *ngInterface, data []byte, capLen, origLen uint32, ts int64) error {
	switch {
	case capLen > uint32(len(data)):
		return r.errorf(start, nil, "%s: captured length %d runs past the block (%d bytes of packet data)", what, capLen, len(data))
	case ifc.snapLen != 0 && capLen > ifc.snapLen:
		return r.errorf(start, nil, "%s: captured length %d exceeds the interface's snaplen %d", what, capLen, ifc.snapLen)
	}
	r.frame = data[:capLen]
	r.wireLen = int(origLen)
	r.link = ifc.link
	r.ts = ts
	g.lastTs = ts
	return nil
}

func (g *pcapngState) readEnhanced(r *Reader, start int64, body []byte) error {
	const what = "enhanced packet block"
	if len(body) < 20 {
		return r.errorf(start, nil, "%s: body of %d bytes is below the 20-byte minimum", what, len(body))
	}
	ifc, err := g.iface(r, start, what, g.order.Uint32(body))
	if err != nil {
		return err
	}
	ts := uint64(g.order.Uint32(body[4:]))<<32 | uint64(g.order.Uint32(body[8:]))
	return g.packet(r, start, what, ifc, body[20:], g.order.Uint32(body[12:]), g.order.Uint32(body[16:]), ifc.ts.ns(ts))
}

func (g *pcapngState) readObsolete(r *Reader, start int64, body []byte) error {
	const what = "packet block"
	if len(body) < 20 {
		return r.errorf(start, nil, "%s: body of %d bytes is below the 20-byte minimum", what, len(body))
	}
	ifc, err := g.iface(r, start, what, uint32(g.order.Uint16(body)))
	if err != nil {
		return err
	}
	ts := uint64(g.order.Uint32(body[4:]))<<32 | uint64(g.order.Uint32(body[8:]))
	return g.packet(r, start, what, ifc, body[20:], g.order.Uint32(body[12:]), g.order.Uint32(body[16:]), ifc.ts.ns(ts))
}

// readSimple reads a simple packet block: interface 0, no timestamp, and a
// captured length implied by the block and the snaplen.
func (g *pcapngState) readSimple(r *Reader, start int64, body []byte) error {
	const what = "simple packet block"
	if len(body) < 4 {
		return r.errorf(start, nil, "%s: body of %d bytes is below the 4-byte minimum", what, len(body))
	}
	ifc, err := g.iface(r, start, what, 0)
	if err != nil {
		return err
	}
	origLen := g.order.Uint32(body)
	data := body[4:]
	capLen := min(origLen, uint32(len(data)))
	if ifc.snapLen != 0 {
		capLen = min(capLen, ifc.snapLen)
	}
	return g.packet(r, start, what, ifc, data, capLen, origLen, g.lastTs)
}
