package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

var le = binary.LittleEndian

// validPcapng is a small file: SHB, IDB, three packets, each an EPB.
func validPcapng() (file []byte, packets int) {
	n := (&ngBuilder{order: le}).shb().idb(1, 262144, 9, 0)
	for i, s := range conversation()[:3] {
		f := eth(s.ip())
		n.epb(0, uint64(i), f, len(f))
	}
	return n.b, 3
}

// blockEnds walks a little-endian pcapng file and returns the offset at which
// each block ends.
func blockEnds(file []byte) []int {
	var ends []int
	for off := 0; off+8 <= len(file); {
		off += int(le.Uint32(file[off+4:]))
		ends = append(ends, off)
	}
	return ends
}

// allocated reports the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestCorruptFiles(t *testing.T) {
	good, _ := validPcapng()
	shbLen := int(le.Uint32(good[4:]))
	idbLen := int(le.Uint32(good[shbLen+4:]))
	epb := shbLen + idbLen // offset of the first EPB
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	s := conversation()[2]
	frame := eth(s.ip())
	pcapGood := pcapFile(le, false, 1, 1000, record{data: frame}, record{data: frame})

	for _, tc := range []struct {
		name     string
		file     []byte
		atOpen   bool  // the error comes from NewReader
		segments int   // delivered before the error
		offset   int64 // of the FormatError
		msg      string
	}{
		{name: "empty", file: nil, atOpen: true, msg: "empty or too short"},
		{name: "garbage", file: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), atOpen: true, msg: "not a pcap or pcapng file (magic number 0x47455420)"},
		{name: "gzip", file: []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, atOpen: true, msg: "gzip-compressed"},
		{name: "pcap header cut", file: pcapGood[:10], atOpen: true, msg: "file ends inside the pcap file header (24 bytes long, 10 present)"},
		{name: "pcap version", file: func() []byte {
			b := append([]byte{}, pcapGood...)
			le.PutUint16(b[4:], 3)
			return b
		}(), atOpen: true, offset: 4, msg: "unsupported pcap version 3.4"},
		{name: "pcap caplen > snaplen", file: func() []byte {
			b := append([]byte{}, pcapGood...)
			le.PutUint32(b[24+16+len(frame)+8:], 1001)
			return b
		}(), segments: 1, offset: int64(24 + 16 + len(frame)), msg: "captured length 1001 exceeds the file's snaplen 1000"},
		{name: "pcap absurd caplen", file: func() []byte {
			b := pcapFile(le, false, 1, 0, record{data: frame})
			le.PutUint32(b[24+8:], 0xfffffff0)
			return b
		}(), offset: 24, msg: "captured length 4294967280 exceeds the 16777216-byte limit"},
		{name: "pcap record cut", file: pcapGood[:len(pcapGood)-1], segments: 1, offset: int64(24 + 16 + len(frame)),
			msg: "file ends inside a packet record"},
		{name: "pcapng bad byte order", file: mutate(func(b []byte) []byte { le.PutUint32(b[8:], 0x12345678); return b }),
			atOpen: true, msg: "bad byte-order magic 0x78563412"},
		{name: "pcapng version", file: mutate(func(b []byte) []byte { le.PutUint16(b[12:], 2); return b }),
			atOpen: true, msg: "unsupported pcapng version 2.0"},
		{name: "SHB absurd length", file: mutate(func(b []byte) []byte { le.PutUint32(b[4:], 0xfffffff0); return b }),
			atOpen: true, msg: "section header block length 4294967280 exceeds"},
		{name: "EPB absurd length", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+4:], 0x7ffffff0); return b }),
			offset: int64(epb), msg: "enhanced packet block length 2147483632 exceeds the 16777216-byte limit"},
		{name: "EPB length past EOF", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+4:], 0x00fffff0); return b }),
			offset: int64(epb), msg: "file ends inside enhanced packet block (16777200 bytes long"},
		{name: "block length too small", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+4:], 8); return b }),
			offset: int64(epb), msg: "enhanced packet block length 8 is below the 12-byte minimum"},
		{name: "block length unaligned", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+4:], 130); return b }),
			offset: int64(epb), msg: "enhanced packet block length 130 is not a multiple of 4"},
		{name: "trailer mismatch", file: mutate(func(b []byte) []byte { le.PutUint32(b[blockEnds(b)[2]-4:], 4); return b }),
			offset: int64(epb), msg: "trailing length 4 differs from leading length"},
		{name: "caplen past block", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+20:], 5000); return b }),
			offset: int64(epb), msg: "captured length 5000 runs past the block"},
		{name: "caplen > IDB snaplen", file: mutate(func(b []byte) []byte { le.PutUint32(b[shbLen+12:], 50); return b }),
			offset: int64(epb), msg: "captured length 54 exceeds the interface's snaplen 50"},
		{name: "unknown interface", file: mutate(func(b []byte) []byte { le.PutUint32(b[epb+8:], 5); return b }),
			offset: int64(epb), msg: "refers to interface 5, but the section defines 1"},
		{name: "packet before interface", file: func() []byte {
			n := (&ngBuilder{order: le}).shb()
			return n.epb(0, 0, frame, len(frame)).b
		}(), offset: 28 + 12, msg: "refers to interface 0, but the section defines 0"},
		{name: "IDB option past block", file: mutate(func(b []byte) []byte { le.PutUint16(b[shbLen+16+2:], 200); return b }),
			offset: int64(shbLen), msg: "option 2 of length 200 runs past the block"},
		{name: "if_tsresol absurd", file: func() []byte {
			return (&ngBuilder{order: le}).shb().idb(1, 0, 100, 0).epb(0, 0, frame, len(frame)).b
		}(), offset: 28 + 12, msg: "if_tsresol 10^-100 is finer than supported"},
		{name: "unknown block absurd length", file: func() []byte {
			b := append([]byte{}, good[:epb]...)
			b = le.AppendUint32(b, 0x0bad)
			b = le.AppendUint32(b, 0x7ffffff0)
			return append(b, make([]byte, 100)...)
		}(), offset: int64(epb), msg: "file ends inside a block of type 0xbad (2147483632 bytes long)"},
		{name: "block header cut", file: append(append([]byte{}, good...), 6, 0, 0, 0, 1), segments: 3, offset: int64(len(good)), msg: "file ends inside a block header (8 bytes long, 5 present)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var segs int
			var err error
			mem := allocated(func() {
				var r *Reader
				r, err = NewReader(bytes.NewReader(tc.file), Config{})
				if err != nil {
					return
				}
				segs, err = countSegments(r)
			})
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if tc.atOpen && segs != 0 {
				t.Errorf("error came after %d segments, want it at open", segs)
			}
			if segs != tc.segments {
				t.Errorf("%d segments delivered before the error, want %d", segs, tc.segments)
			}
			if fe.Offset != tc.offset || !strings.Contains(fe.Error(), tc.msg) {
				t.Errorf("error %q at offset %d; want offset %d and %q", fe, fe.Offset, tc.offset, tc.msg)
			}
			if mem > 4<<20 {
				t.Errorf("reading a %d-byte file allocated %d bytes", len(tc.file), mem)
			}
		})
	}
}

// countSegments reads to the end and returns the segments delivered and the
// final error (nil for a clean EOF). A sticky error must repeat.
func countSegments(r *Reader) (int, error) {
	n := 0
	for {
		var seg decoder.Segment
		err := r.Next(&seg)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			if again := r.Next(&seg); again != err {
				return n, errors.New("error not sticky: " + err.Error() + " then " + again.Error())
			}
			return n, err
		}
		n++
	}
}

// TestTruncatedAnywhere cuts valid files at every byte: everything before the
// cut is delivered, then a clean EOF (cut between blocks) or an error naming
// the block that was cut, wrapping io.ErrUnexpectedEOF.
func TestTruncatedAnywhere(t *testing.T) {
	ng, _ := validPcapng()
	ngEnds := blockEnds(ng) // SHB, IDB, then one per packet

	frame := eth(conversation()[3].ip())
	pc := pcapFile(binary.BigEndian, true, 1, 0, record{data: frame}, record{data: frame}, record{data: frame})
	var pcEnds []int
	for i := 0; i <= 3; i++ {
		pcEnds = append(pcEnds, 24+i*(16+len(frame)))
	}

	for _, tc := range []struct {
		name    string
		file    []byte
		ends    []int // offsets where a cut is clean: after each block or record
		headers int   // how many of them are not packets
	}{
		{"pcapng", ng, ngEnds, 2},
		{"pcap", pc, pcEnds, 1},
	} {
		for cut := 0; cut < len(tc.file); cut++ {
			r, err := NewReader(bytes.NewReader(tc.file[:cut]), Config{})
			if cut < tc.ends[0] {
				if err == nil {
					t.Fatalf("%s cut at %d: opened a file without its header", tc.name, cut)
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s cut at %d: open error %v does not wrap io.ErrUnexpectedEOF", tc.name, cut, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s cut at %d: %v", tc.name, cut, err)
			}
			segs, err := countSegments(r)
			complete, clean := 0, false
			for i, e := range tc.ends {
				if e <= cut && i >= tc.headers {
					complete++
				}
				clean = clean || e == cut
			}
			if segs != complete {
				t.Fatalf("%s cut at %d: %d segments, want %d", tc.name, cut, segs, complete)
			}
			if clean != (err == nil) {
				t.Fatalf("%s cut at %d: error %v, clean cut %v", tc.name, cut, err, clean)
			}
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d: error %v does not wrap io.ErrUnexpectedEOF", tc.name, cut, err)
			}
		}
	}
}
