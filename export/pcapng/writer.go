// Package pcapng writes pcapng capture files that Wireshark, tshark and
// iggytrace's own reader (loader/pcapfile) open.
//
// It has two inputs. WriteSegment turns the stream bytes a capture source
// delivers (decoder.Segment: from eBPF, there are no packets) into synthetic
// Ethernet + IPv4/IPv6 + TCP packets with valid checksums and consistent
// sequence and acknowledgement numbers, so that Wireshark's TCP analysis and
// dissectors work on them (iggytrace trace --write-pcap). WritePacket stores
// frames captured from a real interface as they are (internal/afpacket).
package pcapng

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/iggytrace/iggytrace/decoder"
)

// LinkType is a LINKTYPE_ value from the tcpdump.org registry.
type LinkType uint16

// Link types used by iggytrace.
const (
	LinkTypeEthernet   LinkType = 1
	LinkTypeRaw        LinkType = 101
	LinkTypeLinuxSLL   LinkType = 113
	LinkTypeLinuxSLL2  LinkType = 276
	defaultApplication          = "iggytrace"
)

// pcapng block types and options.
const (
	blockSHB       = 0x0a0d0d0a
	blockIDB       = 0x00000001
	blockEPB       = 0x00000006
	byteOrderMagic = 0x1a2b3c4d
	optEndOfOpt    = 0
	optShbUserAppl = 4
	optIfName      = 2
	optIfTsresol   = 9
	// maxPacketLen is the largest frame a block may carry: pcapng's 32-bit
	// lengths allow more, but readers (ours included) refuse such blocks.
	maxPacketLen = 16<<20 - 64
)

// Options configure a Writer.
type Options struct {
	// Application goes into the section header's shb_userappl option.
	// Empty means "iggytrace".
	Application string
	// SnapLen is the snaplen every interface declares; 0 means no limit.
	// Frames longer than it are written truncated to it.
	SnapLen uint32
}

// Writer writes one pcapng section. It is not safe for concurrent use.
// Errors are sticky: after a failed write every method returns the first
// error, since a half-written block would corrupt the rest of the file.
type Writer struct {
	w       *bufio.Writer
	opts    Options
	ifaces  []LinkType // interface ID -> link type, IDBs written so far
	conns   map[decoder.ConnKey]*connState
	scratch [ethHeaderLen + ipv6HeaderLen + tcpHeaderLen]byte // headers of the packet being written
	parts   [2][]byte                                         // headers and payload, for writeEPB without a copy
	small   [32]byte                                          // block headers, option headers, padding: a local array would escape through bufio
	err     error
	closed  bool
}

// connState tracks what WriteSegment needs to acknowledge: per direction,
// the sequence number after the last byte (and SYN/FIN) sent.
type connState struct {
	next  [2]uint32 // indexed by decoder.Direction
	known [2]bool
	fin   [2]bool
}

// NewWriter writes the section header (with shb_userappl) and an Ethernet
// interface with nanosecond timestamps, for WriteSegment.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	if opts.Application == "" {
		opts.Application = defaultApplication
	}
	pw := &Writer{
		w:     bufio.NewWriterSize(w, 64<<10),
		opts:  opts,
		conns: make(map[decoder.ConnKey]*connState),
	}
	pw.writeSectionHeader()
	pw.writeInterface(LinkTypeEthernet, "iggytrace")
	// Flushing the header at once reports an unwritable destination here
	// rather than at the first packet, and lets a reader on a pipe start.
	if err := pw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the file header: %w", err)
	}
	return pw, nil
}

// Flush writes buffered blocks to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("pcapng: %w", err)
	}
	return w.err
}

// Close flushes the file. It does not close the underlying writer: the caller
// opened it and knows whether it is a file, a pipe or a buffer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.Flush()
	w.closed = true
	if w.err == nil {
		w.err = errors.New("pcapng: writer closed")
	}
	return err
}

// WritePacket writes one captured frame of the given link type, timestamped
// ts nanoseconds since the epoch, whose length on the wire was origLen
// (values below len(data) are taken as len(data)). The first frame of a link
// type adds an interface description for it.
func (w *Writer) WritePacket(ts int64, linkType LinkType, data []byte, origLen int) error {
	if w.err != nil {
		return w.err
	}
	ifID := w.interfaceFor(linkType)
	if w.opts.SnapLen != 0 && len(data) > int(w.opts.SnapLen) {
		data = data[:w.opts.SnapLen]
	}
	if len(data) > maxPacketLen {
		data = data[:maxPacketLen]
	}
	w.parts[0], w.parts[1] = data, nil
	w.writeEPB(ifID, ts, w.parts[:1], max(origLen, len(data)))
	w.parts[0] = nil // do not keep the caller's buffer alive
	return w.err
}

// interfaceFor returns the interface ID of a link type, describing a new
// interface the first time the link type is used.
func (w *Writer) interfaceFor(link LinkType) uint32 {
	for id, l := range w.ifaces {
		if l == link {
			return uint32(id)
		}
	}
	w.writeInterface(link, "")
	return uint32(len(w.ifaces) - 1)
}

func (w *Writer) writeSectionHeader() {
	opts := optionLen(len(w.opts.Application)) + 4
	blockLen := 28 + opts
	b := w.small[:24]
	le := binary.LittleEndian
	le.PutUint32(b[0:], blockSHB)
	le.PutUint32(b[4:], uint32(blockLen))
	le.PutUint32(b[8:], byteOrderMagic)
	le.PutUint16(b[12:], 1) // version 1.0
	le.PutUint16(b[14:], 0)
	le.PutUint64(b[16:], ^uint64(0)) // section length: not known in advance
	w.write(b)
	w.writeOption(optShbUserAppl, []byte(w.opts.Application))
	w.writeOption(optEndOfOpt, nil)
	w.writeUint32(uint32(blockLen))
}

func (w *Writer) writeInterface(link LinkType, name string) {
	blockLen := 20 + 8 + 4 // fixed part, if_tsresol, end of options
	if name != "" {
		blockLen += optionLen(len(name))
	}
	b := w.small[:16]
	clear(b)
	le := binary.LittleEndian
	le.PutUint32(b[0:], blockIDB)
	le.PutUint32(b[4:], uint32(blockLen))
	le.PutUint16(b[8:], uint16(link))
	le.PutUint32(b[12:], w.opts.SnapLen)
	w.write(b)
	if name != "" {
		w.writeOption(optIfName, []byte(name))
	}
	w.small[31] = 9 // if_tsresol 10^-9: nanoseconds
	w.writeOption(optIfTsresol, w.small[31:32])
	w.writeOption(optEndOfOpt, nil)
	w.writeUint32(uint32(blockLen))
	w.ifaces = append(w.ifaces, link)
}

// writeEPB writes an enhanced packet block whose packet data is the
// concatenation of parts, so that headers built in scratch and a payload owned
// by the caller need not be copied together.
func (w *Writer) writeEPB(ifID uint32, ts int64, parts [][]byte, origLen int) {
	capLen := 0
	for _, p := range parts {
		capLen += len(p)
	}
	pad := (4 - capLen%4) % 4
	blockLen := 32 + capLen + pad
	b := w.small[:28]
	le := binary.LittleEndian
	le.PutUint32(b[0:], blockEPB)
	le.PutUint32(b[4:], uint32(blockLen))
	le.PutUint32(b[8:], ifID)
	le.PutUint32(b[12:], uint32(uint64(ts)>>32))
	le.PutUint32(b[16:], uint32(ts))
	le.PutUint32(b[20:], uint32(capLen))
	le.PutUint32(b[24:], uint32(origLen))
	w.write(b)
	for _, p := range parts {
		w.write(p)
	}
	w.writePad(pad)
	w.writeUint32(uint32(blockLen))
}

func optionLen(n int) int { return 4 + (n+3)&^3 }

func (w *Writer) writeOption(code uint16, val []byte) {
	b := w.small[:4]
	binary.LittleEndian.PutUint16(b[0:], code)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(val)))
	w.write(b)
	w.write(val)
	w.writePad((4 - len(val)%4) % 4)
}

func (w *Writer) writePad(n int) {
	b := w.small[:n]
	clear(b)
	w.write(b)
}

func (w *Writer) writeUint32(v uint32) {
	b := w.small[:4]
	binary.LittleEndian.PutUint32(b, v)
	w.write(b)
}

func (w *Writer) write(b []byte) {
	if w.err != nil || len(b) == 0 {
		return
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("pcapng: %w", err)
	}
}
