package pcapng

import (
	"encoding/binary"

	"github.com/iggytrace/iggytrace/decoder"
)

const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	tcpHeaderLen  = 20
	// maxSegPayload is the most payload one synthetic packet carries: what
	// fits in IPv4's 16-bit total length (IPv6 allows a little more; one
	// limit for both keeps the splitting simple). Sources that see whole
	// send() calls deliver longer segments, which become several packets.
	maxSegPayload = 0xffff - ipv4HeaderLen - tcpHeaderLen

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// Synthetic MAC addresses (locally administered): the client's and the
// server's, so that Wireshark's Ethernet columns show who sent what.
var (
	clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	serverMAC = [6]byte{0x02, 0, 0, 0, 0, 0x02}
)

// WriteSegment writes seg as one TCP/IP packet on the Ethernet interface (or
// several, when its payload exceeds what one IPv4 packet can carry).
//
// The packet's sequence number is seg.Seq; its acknowledgement number is what
// the other direction has sent so far (the ACK flag is set once that is
// known); SYN, FIN and RST come from seg.Flags and PSH is set on packets with
// payload. Checksums are valid for packets that hold their whole payload.
// When len(seg.Data) < seg.Len, the packet's original length counts seg.Len
// bytes of payload and its captured length only len(seg.Data), as a snaplen
// capture would; the checksums then cover the captured bytes only (the rest
// are unknown), which Wireshark does not check on truncated packets.
//
// Addresses of mixed families (an IPv4 client of an IPv6 server) are written
// as IPv6, with the IPv4 address mapped.
func (w *Writer) WriteSegment(seg *decoder.Segment) error {
	if w.err != nil {
		return w.err
	}
	d := seg.Dir & 1
	st := w.conns[seg.Key]
	if st == nil {
		st = new(connState)
		w.conns[seg.Key] = st
	} else if seg.Flags&decoder.SYN != 0 && d == decoder.ToServer {
		*st = connState{} // the 4-tuple is reused by a new connection
	}

	data := seg.Data
	if uint32(len(data)) > seg.Len {
		data = data[:seg.Len] // a source that broke the contract; never claim more than Len
	}
	remaining := seg.Len
	seq := seg.Seq
	first := true
	for {
		chunk := min(remaining, maxSegPayload)
		last := chunk == remaining
		var flags byte
		if first && seg.Flags&decoder.SYN != 0 {
			flags |= tcpSYN
		}
		if last && seg.Flags&decoder.FIN != 0 {
			flags |= tcpFIN
		}
		if last && seg.Flags&decoder.RST != 0 {
			flags |= tcpRST
		}
		if chunk != 0 {
			flags |= tcpPSH
		}
		var ack uint32
		if st.known[1-d] {
			flags |= tcpACK
			ack = st.next[1-d]
		}
		captured := data[:min(uint32(len(data)), chunk)]
		data = data[len(captured):]
		w.writeTCP(seg, seq, ack, flags, captured, chunk)

		// A SYN occupies the sequence number before the payload, and a FIN
		// the one after it.
		if flags&tcpSYN != 0 {
			seq++
		}
		seq += chunk
		if flags&tcpFIN != 0 {
			seq++
			st.fin[d] = true
		}
		st.next[d], st.known[d] = seq, true
		remaining -= chunk
		first = false
		if last {
			break
		}
	}
	if seg.Flags&decoder.RST != 0 || (st.fin[0] && st.fin[1]) {
		delete(w.conns, seg.Key) // keep the table to open connections
	}
	return w.err
}

// writeTCP builds the Ethernet, IP and TCP headers of one packet in scratch
// and writes them with the captured payload; wireLen is the payload's length
// on the wire.
func (w *Writer) writeTCP(seg *decoder.Segment, seq, ack uint32, flags byte, payload []byte, wireLen uint32) {
	src, dst := seg.Key.Client, seg.Key.Server
	srcMAC, dstMAC := clientMAC, serverMAC
	if seg.Dir == decoder.ToClient {
		src, dst = dst, src
		srcMAC, dstMAC = dstMAC, srcMAC
	}
	srcIP, dstIP := src.Addr().Unmap(), dst.Addr().Unmap()
	v4 := srcIP.Is4() && dstIP.Is4()

	h := w.scratch[:]
	be := binary.BigEndian
	copy(h[0:], dstMAC[:])
	copy(h[6:], srcMAC[:])
	tcpLen := tcpHeaderLen + wireLen
	var pseudo uint64 // checksum of the TCP pseudo-header
	var ipLen int
	if v4 {
		ipLen = ipv4HeaderLen
		be.PutUint16(h[12:], 0x0800)
		ip := h[ethHeaderLen : ethHeaderLen+ipv4HeaderLen]
		ip[0], ip[1] = 0x45, 0
		be.PutUint16(ip[2:], uint16(ipv4HeaderLen+tcpLen))
		be.PutUint16(ip[4:], 0)      // ID: unused with DF (RFC 6864)
		be.PutUint16(ip[6:], 0x4000) // DF, offset 0
		ip[8], ip[9] = 64, 6
		be.PutUint16(ip[10:], 0)
		s4, d4 := srcIP.As4(), dstIP.As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		be.PutUint16(ip[10:], fold(sum(0, ip)))
		pseudo = sum(sum(0, s4[:]), d4[:]) + 6 + uint64(tcpLen)
	} else {
		ipLen = ipv6HeaderLen
		be.PutUint16(h[12:], 0x86dd)
		ip := h[ethHeaderLen : ethHeaderLen+ipv6HeaderLen]
		be.PutUint32(ip[0:], 0x60000000)
		be.PutUint16(ip[4:], uint16(tcpLen))
		ip[6], ip[7] = 6, 64
		s16, d16 := srcIP.As16(), dstIP.As16()
		copy(ip[8:], s16[:])
		copy(ip[24:], d16[:])
		pseudo = sum(sum(0, s16[:]), d16[:]) + 6 + uint64(tcpLen)
	}
	t := h[ethHeaderLen+ipLen : ethHeaderLen+ipLen+tcpHeaderLen]
	be.PutUint16(t[0:], src.Port())
	be.PutUint16(t[2:], dst.Port())
	be.PutUint32(t[4:], seq)
	be.PutUint32(t[8:], ack)
	t[12], t[13] = tcpHeaderLen/4<<4, flags
	be.PutUint16(t[14:], 0xffff) // window
	be.PutUint16(t[16:], 0)      // checksum, below
	be.PutUint16(t[18:], 0)      // urgent pointer
	// The header is 20 bytes, so the payload starts on an even offset and
	// the two sums add up; bytes not captured count as zeros.
	be.PutUint16(t[16:], fold(sum(sum(pseudo, t), payload)))

	hdr := h[:ethHeaderLen+ipLen+tcpHeaderLen]
	if w.opts.SnapLen != 0 && len(hdr)+len(payload) > int(w.opts.SnapLen) {
		if int(w.opts.SnapLen) <= len(hdr) {
			hdr, payload = hdr[:w.opts.SnapLen], nil
		} else {
			payload = payload[:int(w.opts.SnapLen)-len(hdr)]
		}
	}
	w.parts[0], w.parts[1] = hdr, payload
	w.writeEPB(0, seg.Time, w.parts[:], len(h[:ethHeaderLen+ipLen+tcpHeaderLen])+int(wireLen))
	w.parts[1] = nil // do not keep the caller's buffer alive
}

// sum adds b to a running ones'-complement sum of big-endian 16-bit words.
// It adds 32 bits at a time: 2^16 ≡ 1 modulo 0xffff, so a 32-bit word counts
// as its two halves, and the 64-bit accumulator cannot overflow for any
// packet. An odd trailing byte is padded with zero, so only the last part of
// a checksummed concatenation may have odd length.
func sum(acc uint64, b []byte) uint64 {
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces a sum to the 16-bit ones' complement checksum.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}
