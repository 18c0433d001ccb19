// Package pcapfile reads pcap and pcapng capture files and delivers the TCP
// segments of Iggy connections in them as decoder.Segments.
//
// It is written by hand on byte slices, without cgo or gopacket, for two
// reasons: iggytrace must read a multi-gigabyte capture at disk speed without
// allocating per packet, and a corrupt or hostile file must end in a precise
// error (where, and what was wrong) rather than a panic or an unbounded
// allocation.
//
// Formats: pcap in both byte orders with microsecond or nanosecond
// timestamps (and the Kuznetzov variant), and pcapng with any number of
// sections of either byte order, interfaces of any link type and timestamp
// resolution, enhanced, simple and obsolete packet blocks; other blocks are
// skipped. Link types: see LinkType.
package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/iggytrace/iggytrace/decoder"
)

// DefaultServerPort is the port Iggy's TCP transport listens on by default.
const DefaultServerPort = 8090

// Config says which traffic to deliver.
type Config struct {
	// ServerPorts are the Iggy servers' TCP ports: a segment to one of them
	// is a request (ToServer), a segment from one a response (ToClient), and
	// the ConnKey is built from the server's point of view. When both ports
	// are server ports (server-to-server traffic), the destination wins: the
	// segment is a request. Empty means DefaultServerPort.
	ServerPorts []uint16
}

// Stats counts what a Reader has read and what it skipped, so that nothing is
// dropped silently.
type Stats struct {
	Packets  int64 // packet records read
	Segments int64 // TCP segments delivered by Next
	Bytes    int64 // file bytes consumed
	Skipped  Skipped
}

// Skipped counts the packets not delivered, by reason (see SkipReason).
type Skipped struct {
	NotTCP          int64
	OtherPort       int64
	Fragment        int64
	Truncated       int64
	BadHeader       int64
	UnknownLinkType int64
}

// Total is the number of packets skipped for any reason.
func (s Skipped) Total() int64 {
	return s.NotTCP + s.OtherPort + s.Fragment + s.Truncated + s.BadHeader + s.UnknownLinkType
}

// String summarises the counters on one line, naming only the skip reasons
// that occurred.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets, %d TCP segments delivered, %d bytes read", s.Packets, s.Segments, s.Bytes)
	sep := "; skipped: "
	for _, c := range []struct {
		n    int64
		what string
	}{
		{s.Skipped.NotTCP, "not TCP"},
		{s.Skipped.OtherPort, "other port"},
		{s.Skipped.Fragment, "IP fragment"},
		{s.Skipped.Truncated, "truncated in headers"},
		{s.Skipped.BadHeader, "bad header"},
		{s.Skipped.UnknownLinkType, "unknown link type"},
	} {
		if c.n != 0 {
			fmt.Fprintf(&b, "%s%d %s", sep, c.n, c.what)
			sep = ", "
		}
	}
	return b.String()
}

// FormatError reports a malformed capture file: where, and what was wrong.
type FormatError struct {
	File   string // file name, when the reader was opened by name
	Offset int64  // offset of the block or record at fault
	Msg    string
	Err    error // underlying cause: io.ErrUnexpectedEOF for a truncated file; may be nil
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("pcapfile: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "offset %d: %s", e.Offset, e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *FormatError) Unwrap() error { return e.Err }

type format uint8

const (
	formatPcap format = iota + 1
	formatPcapNG
)

// Reader delivers the TCP segments of the server ports in a capture file,
// in file order. It is not safe for concurrent use, except Progress.
type Reader struct {
	src   *source
	name  string
	file  *os.File // closed by Close when Open created it
	ports []uint16
	total int64
	read  atomic.Int64 // file bytes consumed, published for Progress
	err   error        // sticky: once set, Next returns it forever

	format format
	pcap   pcapState
	ng     pcapngState

	// The packet readPacket found.
	frame   []byte
	wireLen int
	ts      int64
	link    LinkType

	packets, segments int64
	skipped           [numSkipReasons]int64
}

// Open opens a pcap or pcapng file, telling them apart by their magic number.
func Open(path string, cfg Config) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcapfile: %w", err)
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	r, err := newReader(f, size, path, cfg)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads a pcap or pcapng stream from r (a file, a pipe, standard
// input). Progress knows the total when r is an *os.File of a regular file or
// has a Size method (bytes.Reader, strings.Reader). Close does not close r.
func NewReader(r io.Reader, cfg Config) (*Reader, error) {
	size := int64(-1)
	switch v := r.(type) {
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			if pos, err := v.Seek(0, io.SeekCurrent); err == nil {
				size = fi.Size() - pos
			}
		}
	case interface{ Size() int64 }:
		size = v.Size()
	}
	return newReader(r, size, "", cfg)
}

func newReader(r io.Reader, size int64, name string, cfg Config) (*Reader, error) {
	ports := cfg.ServerPorts
	if len(ports) == 0 {
		ports = []uint16{DefaultServerPort}
	} else {
		ports = append([]uint16(nil), ports...) // the caller may reuse its slice
	}
	rd := &Reader{src: newSource(r, size), name: name, ports: ports, total: size}
	if err := rd.src.need(4); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, rd.errorf(0, io.ErrUnexpectedEOF, "empty or too short for a capture file (%d bytes)", rd.src.buffered())
		}
		return nil, fmt.Errorf("pcapfile: reading the file header: %w", err)
	}
	magic := rd.src.peek(4)
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	var err error
	switch {
	case le == blockSHB:
		rd.format = formatPcapNG
		// Blocks are read by Next; reading the first section header here
		// reports a broken one at Open.
		err = rd.ng.readSectionHeader(rd)
	case isPcapMagic(le) || isPcapMagic(be):
		rd.format = formatPcap
		err = rd.pcap.readHeader(rd)
	case magic[0] == 0x1f && magic[1] == 0x8b:
		err = rd.errorf(0, nil, "gzip-compressed file: decompress it first (gunzip)")
	default:
		err = rd.errorf(0, nil, "not a pcap or pcapng file (magic number %#08x)", be)
	}
	if err != nil {
		return nil, err
	}
	rd.read.Store(rd.src.off)
	return rd, nil
}

// Next fills seg with the next TCP segment to or from a server port, skipping
// and counting every other packet. seg.Data aliases the reader's buffer and
// is valid until the next call. Next returns io.EOF at the clean end of the
// file and a *FormatError (wrapping io.ErrUnexpectedEOF when the file is cut
// short) when the file is corrupt; either way every packet before that point
// has been delivered, and every later call returns the same error.
func (r *Reader) Next(seg *decoder.Segment) error {
	if r.err != nil {
		return r.err
	}
	for {
		var err error
		if r.format == formatPcap {
			err = r.pcap.next(r)
		} else {
			err = r.ng.next(r)
		}
		r.read.Store(r.src.off)
		if err != nil {
			r.err = err
			return err
		}
		r.packets++
		if why := DecodeFrame(r.link, r.frame, r.wireLen, r.ports, seg); why != Keep {
			r.skipped[why]++
			continue
		}
		seg.Time = r.ts
		r.segments++
		return nil
	}
}

// Stats returns the counters so far.
func (r *Reader) Stats() Stats {
	return Stats{
		Packets:  r.packets,
		Segments: r.segments,
		Bytes:    r.src.off,
		Skipped: Skipped{
			NotTCP:          r.skipped[SkipNotTCP],
			OtherPort:       r.skipped[SkipOtherPort],
			Fragment:        r.skipped[SkipFragment],
			Truncated:       r.skipped[SkipTruncated],
			BadHeader:       r.skipped[SkipBadHeader],
			UnknownLinkType: r.skipped[SkipUnknownLinkType],
		},
	}
}

// Progress returns the bytes consumed so far and the file's size, or -1 when
// the size is unknown (a pipe). Unlike the other methods it may be called
// from another goroutine, for a progress bar.
func (r *Reader) Progress() (read, total int64) {
	return r.read.Load(), r.total
}

// Close closes the file if Open opened it. The reader must not be used after.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("pcapfile: reader closed")
	}
	if r.file == nil {
		return nil
	}
	f := r.file
	r.file = nil
	return f.Close()
}

// errorf builds the *FormatError for the block or record at offset.
func (r *Reader) errorf(offset int64, cause error, format string, args ...any) error {
	return &FormatError{File: r.name, Offset: offset, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// needBlock makes n bytes available for the structure starting at offset, or
// explains why it cannot: the file ends inside it, or reading failed.
func (r *Reader) needBlock(offset int64, n int, what string) error {
	err := r.src.need(n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return r.errorf(offset, io.ErrUnexpectedEOF, "file ends inside %s (%d bytes long, %d present)", what, n, r.src.buffered())
	default:
		return r.errorf(offset, err, "reading %s", what)
	}
}
