package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// readAll reads a whole capture, copying each segment's Data (which the
// reader reuses), and returns the final error (nil at a clean EOF).
func readAll(t testing.TB, file []byte, cfg Config) ([]decoder.Segment, Stats, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file), cfg)
	if err != nil {
		return nil, Stats{}, err
	}
	defer r.Close()
	var out []decoder.Segment
	for {
		var seg decoder.Segment
		err := r.Next(&seg)
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return out, r.Stats(), nil
		}
		if err != nil {
			return out, r.Stats(), err
		}
		seg.Data = append([]byte{}, seg.Data...)
		out = append(out, seg)
	}
}

func mustReadAll(t testing.TB, file []byte, cfg Config) ([]decoder.Segment, Stats) {
	t.Helper()
	segs, st, err := readAll(t, file, cfg)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return segs, st
}

// want is the segment the reader must produce for s sent at ts.
func want(s tcpSeg, ts int64) decoder.Segment {
	seg := decoder.Segment{Time: ts, Seq: s.seq, Len: uint32(len(s.payload)), Data: append([]byte{}, s.payload...)}
	if s.dst.Port() == 8090 {
		seg.Key, seg.Dir = decoder.ConnKey{Client: s.src, Server: s.dst}, decoder.ToServer
	} else {
		seg.Key, seg.Dir = decoder.ConnKey{Client: s.dst, Server: s.src}, decoder.ToClient
	}
	if s.flags&fSYN != 0 {
		seg.Flags |= decoder.SYN
	}
	if s.flags&fFIN != 0 {
		seg.Flags |= decoder.FIN
	}
	if s.flags&fRST != 0 {
		seg.Flags |= decoder.RST
	}
	return seg
}

func checkSegments(t *testing.T, got, wantSegs []decoder.Segment) {
	t.Helper()
	if len(got) != len(wantSegs) {
		t.Fatalf("got %d segments, want %d:\n got %+v\nwant %+v", len(got), len(wantSegs), got, wantSegs)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], wantSegs[i]) {
			t.Errorf("segment %d:\n got %+v\nwant %+v", i, got[i], wantSegs[i])
		}
	}
}

// conversation is a small exchange over IPv4 and IPv6, both directions, with
// handshake and teardown flags.
func conversation() []tcpSeg {
	return []tcpSeg{
		{src: cli4, dst: srv4, seq: 1000, flags: fSYN},
		{src: srv4, dst: cli4, seq: 5000, flags: fSYN | fACK},
		{src: cli4, dst: srv4, seq: 1001, flags: fACK | fPSH, payload: []byte("request one"), opts: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{src: srv4, dst: cli4, seq: 5001, flags: fACK | fPSH, payload: []byte("response one")},
		{src: cli6, dst: srv6, seq: 0xfffffff0, flags: fACK | fPSH, payload: bytes.Repeat([]byte{0xab}, 100)},
		{src: srv6, dst: cli6, seq: 7, flags: fACK | fFIN},
		{src: cli4, dst: srv4, seq: 1012, flags: fRST},
	}
}

func TestPcapByteOrdersAndResolutions(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nanos := range []bool{false, true} {
			t.Run(order.String()+map[bool]string{false: "/micro", true: "/nano"}[nanos], func(t *testing.T) {
				var recs []record
				var wantSegs []decoder.Segment
				for i, s := range conversation() {
					ts := int64(1_700_000_000_123_456_789) + int64(i)*1_000_001
					recs = append(recs, record{ts: ts, data: eth(s.ip())})
					if !nanos {
						ts -= ts % 1000
					}
					wantSegs = append(wantSegs, want(s, ts))
				}
				got, st := mustReadAll(t, pcapFile(order, nanos, 1, 262144, recs...), Config{})
				checkSegments(t, got, wantSegs)
				if st.Packets != int64(len(recs)) || st.Segments != int64(len(recs)) || st.Skipped.Total() != 0 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func TestPcapng(t *testing.T) {
	segs := conversation()
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			n := &ngBuilder{order: order}
			n.shb().
				idb(1, 262144, -1, 0).      // 0: Ethernet, microseconds (default)
				idb(113, 0, 9, 0).          // 1: SLL, nanoseconds
				idb(101, 65535, 0x80|20, 0) // 2: raw, 2^-20 s
			n.block(4, []byte{0, 0, 0, 0})               // name resolution block: skipped
			n.block(0x0bad, bytes.Repeat([]byte{7}, 40)) // custom block: skipped
			n.epb(0, 1_700_000_000_000_001, eth(segs[0].ip()), len(eth(segs[0].ip())))
			n.epb(1, 1_700_000_000_123_456_789, sll(segs[1].ip()), len(sll(segs[1].ip())))
			n.epb(2, 3<<20|1<<19, segs[2].ip(), len(segs[2].ip())) // 3.5 s
			n.spb(eth(segs[3].ip()), len(eth(segs[3].ip())))       // interface 0, time of the previous packet
			n.opb(1, 42, sll(segs[4].ip()))
			n.block(5, make([]byte, 20)) // interface statistics: skipped
			// A second section in the other byte order, with its own interfaces
			// and a timestamp offset.
			other := byteOrder(binary.BigEndian)
			if order == binary.BigEndian {
				other = binary.LittleEndian
			}
			n.with(other).shb().idb(276, 0, 3, 100)
			n.epb(0, 5, sll2(segs[5].ip()), len(sll2(segs[5].ip())))
			n.epb(0, 6, sll2(segs[6].ip()), len(sll2(segs[6].ip())))

			got, st := mustReadAll(t, n.b, Config{})
			checkSegments(t, got, []decoder.Segment{
				want(segs[0], 1_700_000_000_000_001_000),
				want(segs[1], 1_700_000_000_123_456_789),
				want(segs[2], 3_500_000_000),
				want(segs[3], 3_500_000_000),
				want(segs[4], 42),
				want(segs[5], 100_005_000_000),
				want(segs[6], 100_006_000_000),
			})
			if st.Bytes != int64(len(n.b)) {
				t.Errorf("Bytes = %d, want %d", st.Bytes, len(n.b))
			}
		})
	}
}

func TestLinkTypes(t *testing.T) {
	s4 := tcpSeg{src: cli4, dst: srv4, seq: 9, flags: fACK, payload: []byte("v4 payload")}
	s6 := tcpSeg{src: srv6, dst: cli6, seq: 9, flags: fACK, payload: []byte("v6 payload")}
	le, be := binary.LittleEndian, binary.BigEndian
	for _, tc := range []struct {
		name string
		link uint32
		s    tcpSeg
		data []byte
	}{
		{"ethernet v4", 1, s4, eth(s4.ip())},
		{"ethernet v6", 1, s6, eth(s6.ip())},
		{"ethernet 802.1Q", 1, s4, eth(s4.ip(), 0x8100)},
		{"ethernet QinQ", 1, s6, eth(s6.ip(), 0x88a8, 0x8100)},
		{"sll", 113, s4, sll(s4.ip())},
		{"sll2", 276, s6, sll2(s6.ip())},
		{"null LE v4", 0, s4, null(le, 2, s4.ip())},
		{"null BE v4", 0, s4, null(be, 2, s4.ip())},
		{"null linux v6", 0, s6, null(le, 10, s6.ip())},
		{"null bsd v6", 0, s6, null(le, 24, s6.ip())},
		{"null freebsd v6", 0, s6, null(be, 28, s6.ip())},
		{"null darwin v6", 0, s6, null(le, 30, s6.ip())},
		{"loop v4", 108, s4, null(be, 2, s4.ip())},
		{"loop v6", 108, s6, null(be, 24, s6.ip())},
		{"raw v4", 101, s4, s4.ip()},
		{"raw v6", 101, s6, s6.ip()},
		{"raw dlt 12", 12, s4, s4.ip()},
		{"raw dlt 14", 14, s6, s6.ip()},
		{"ipv4", 228, s4, s4.ip()},
		{"ipv6", 229, s6, s6.ip()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := mustReadAll(t, pcapFile(le, true, tc.link, 0, record{ts: 1, data: tc.data}), Config{})
			checkSegments(t, got, []decoder.Segment{want(tc.s, 1)})
		})
	}
}

func TestIPv4OptionsAndFragments(t *testing.T) {
	s := tcpSeg{src: cli4, dst: srv4, seq: 77, flags: fACK, payload: []byte("with options")}
	opts := []byte{0x94, 4, 0, 0, 1, 1, 1, 0} // router alert, NOPs, end
	withOpts := ipv4(cli4.Addr(), srv4.Addr(), 6, s.tcp(), opts, 0)
	firstFrag := ipv4(cli4.Addr(), srv4.Addr(), 6, s.tcp(), nil, 0x2000)          // MF, offset 0
	laterFrag := ipv4(cli4.Addr(), srv4.Addr(), 6, []byte("continued"), nil, 185) // offset 1480
	udp := ipv4(cli4.Addr(), srv4.Addr(), 17, make([]byte, 16), nil, 0)
	file := pcapFile(binary.LittleEndian, false, 101, 0,
		record{data: withOpts}, record{data: firstFrag}, record{data: laterFrag}, record{data: udp})
	got, st := mustReadAll(t, file, Config{})
	checkSegments(t, got, []decoder.Segment{want(s, 0), want(s, 0)})
	if st.Skipped.Fragment != 1 || st.Skipped.NotTCP != 1 || st.Packets != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	s := tcpSeg{src: cli6, dst: srv6, seq: 1, flags: fACK, payload: []byte("behind extensions")}
	// hop-by-hop (8 bytes) -> destination options (16 bytes) -> fragment
	// (atomic: offset 0, no more fragments) -> TCP.
	ext := []byte{
		60, 0, 1, 4, 0, 0, 0, 0, // HBH: next 60, len 0, PadN
		44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // dest opts: next 44, len 1
		6, 0, 0, 0, 0, 0, 0, 1, // fragment: next TCP, offset 0, M=0, id 1
	}
	chained := ipv6(cli6.Addr(), srv6.Addr(), 0, ext, s.tcp())
	laterFrag := ipv6(cli6.Addr(), srv6.Addr(), 44, []byte{6, 0, 0x05, 0xc8, 0, 0, 0, 1}, []byte("rest"))
	ah := ipv6(cli6.Addr(), srv6.Addr(), 51, []byte{6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, s.tcp()) // AH: (1+2)*4 bytes
	esp := ipv6(cli6.Addr(), srv6.Addr(), 50, nil, []byte("encrypted stuff!"))
	lying := ipv6(cli6.Addr(), srv6.Addr(), 0, []byte{6, 200, 0, 0, 0, 0, 0, 0}, s.tcp()) // HBH longer than the packet
	file := pcapFile(binary.BigEndian, true, 101, 0,
		record{data: chained}, record{data: laterFrag}, record{data: ah}, record{data: esp}, record{data: lying})
	got, st := mustReadAll(t, file, Config{})
	checkSegments(t, got, []decoder.Segment{want(s, 0), want(s, 0)})
	if st.Skipped.Fragment != 1 || st.Skipped.NotTCP != 1 || st.Skipped.BadHeader != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSkipReasons(t *testing.T) {
	good := tcpSeg{src: cli4, dst: srv4, seq: 1, flags: fACK, payload: []byte("payload")}
	other := tcpSeg{src: cli4, dst: netip.MustParseAddrPort("10.9.8.7:443"), payload: []byte("x")}
	arp := append(make([]byte, 12), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)

	ihlLow := good.ip()
	ihlLow[0] = 0x44
	totalBeyond := good.ip()
	binary.BigEndian.PutUint16(totalBeyond[2:], 1500)
	totalBelowIHL := good.ip()
	binary.BigEndian.PutUint16(totalBelowIHL[2:], 12)
	doffBeyond := good.ip()
	doffBeyond[20+12] = 0xf0 // 60-byte TCP header in a 27-byte segment
	doffLow := good.ip()
	doffLow[20+12] = 0x40
	notIP := good.ip()
	notIP[0] = 0x55 // version 5 under an IP ethertype

	rec := func(ip []byte) record { return record{data: eth(ip)} }
	cutTCP := eth(good.ip())[:14+20+10]
	file := pcapFile(binary.LittleEndian, false, 1, 0,
		rec(good.ip()),
		rec(other.ip()),
		record{data: arp},
		rec(ihlLow), rec(totalBeyond), rec(totalBelowIHL), rec(doffBeyond), rec(doffLow),
		record{data: cutTCP, origLen: len(eth(good.ip()))},
		record{data: eth(good.ip())[:10], origLen: 100},
		rec(notIP),
	)
	got, st := mustReadAll(t, file, Config{})
	checkSegments(t, got, []decoder.Segment{want(good, 0)})
	wantSkipped := Skipped{NotTCP: 1, OtherPort: 1, Truncated: 2, BadHeader: 6}
	if st.Skipped != wantSkipped || st.Packets != 11 || st.Segments != 1 {
		t.Errorf("stats %+v, want skipped %+v", st, wantSkipped)
	}
	for _, s := range []string{"11 packets", "1 TCP segments", "1 not TCP", "1 other port", "2 truncated", "6 bad header"} {
		if !strings.Contains(st.String(), s) {
			t.Errorf("Stats.String() = %q, missing %q", st, s)
		}
	}

	n := (&ngBuilder{order: binary.LittleEndian}).shb().idb(147, 0, 9, 0) // DLT_USER0
	n.epb(0, 1, good.ip(), len(good.ip()))
	_, st = mustReadAll(t, n.b, Config{})
	if st.Skipped.UnknownLinkType != 1 {
		t.Errorf("unknown link type not counted: %+v", st)
	}
}

func TestSnaplenTruncatedPayload(t *testing.T) {
	s := tcpSeg{src: srv4, dst: cli4, seq: 3, flags: fACK, payload: bytes.Repeat([]byte("0123456789"), 100)}
	frame := eth(s.ip())
	n := (&ngBuilder{order: binary.LittleEndian}).shb().idb(1, 96, 9, 0)
	n.epb(0, 9, frame[:96], len(frame))
	got, _ := mustReadAll(t, n.b, Config{})
	w := want(s, 9)
	w.Data = w.Data[:96-14-20-20]
	checkSegments(t, got, []decoder.Segment{w})
}

func TestEthernetPaddingIsNotPayload(t *testing.T) {
	s := tcpSeg{src: cli4, dst: srv4, seq: 3, flags: fACK | fFIN}
	frame := append(eth(s.ip()), 0, 0, 0, 0, 0, 0) // padded to the 60-byte minimum
	got, _ := mustReadAll(t, pcapFile(binary.LittleEndian, false, 1, 0, record{data: frame}), Config{})
	checkSegments(t, got, []decoder.Segment{want(s, 0)})
}

func TestServerPorts(t *testing.T) {
	a := tcpSeg{src: cli4, dst: netip.MustParseAddrPort("10.9.8.7:9000"), payload: []byte("a")}
	b := tcpSeg{src: netip.MustParseAddrPort("10.9.8.7:9001"), dst: cli4, payload: []byte("b")}
	c := tcpSeg{src: cli4, dst: srv4, payload: []byte("c")}
	file := pcapFile(binary.LittleEndian, false, 101, 0, record{data: a.ip()}, record{data: b.ip()}, record{data: c.ip()})

	got, st := mustReadAll(t, file, Config{ServerPorts: []uint16{9000, 9001}})
	if len(got) != 2 || got[0].Dir != decoder.ToServer || got[0].Key.Server != a.dst ||
		got[1].Dir != decoder.ToClient || got[1].Key.Server != b.src || got[1].Key.Client != cli4 {
		t.Errorf("got %+v", got)
	}
	if st.Skipped.OtherPort != 1 {
		t.Errorf("stats %+v", st)
	}
	got, _ = mustReadAll(t, file, Config{}) // default: 8090 only
	if len(got) != 1 || string(got[0].Data) != "c" {
		t.Errorf("default port: got %+v", got)
	}
}

func TestOpenAndProgress(t *testing.T) {
	s := tcpSeg{src: cli4, dst: srv4, payload: []byte("x")}
	file := pcapFile(binary.LittleEndian, false, 101, 0, record{data: s.ip()}, record{data: s.ip()})
	path := filepath.Join(t.TempDir(), "two.pcap")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var seg decoder.Segment
	for r.Next(&seg) == nil {
	}
	if read, total := r.Progress(); read != int64(len(file)) || total != int64(len(file)) {
		t.Errorf("Progress() = %d, %d; want %d, %d", read, total, len(file), len(file))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(&seg); err == nil {
		t.Error("Next after Close succeeded")
	}

	// A pipe has no size.
	pr, pw := io.Pipe()
	go func() { pw.Write(file); pw.Close() }()
	r, err = NewReader(pr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, total := r.Progress(); total != -1 {
		t.Errorf("pipe total = %d, want -1", total)
	}
	n := 0
	for r.Next(&seg) == nil {
		n++
	}
	if n != 2 {
		t.Errorf("read %d segments from a pipe, want 2", n)
	}

	if _, err := Open(filepath.Join(t.TempDir(), "missing.pcap"), Config{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pcap")
	os.WriteFile(bad, []byte("definitely not a capture"), 0o644)
	if _, err := Open(bad, Config{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(garbage) error %v does not name the file", err)
	}
}

// TestZeroAllocs checks the steady state: once the buffer has grown to the
// largest block, reading a packet allocates nothing.
func TestZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"pcapng", benchFile(t, true, 20000, 700)},
		{"pcap", benchFile(t, false, 20000, 700)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.file), Config{})
			if err != nil {
				t.Fatal(err)
			}
			var seg decoder.Segment
			if err := r.Next(&seg); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(10000, func() {
				if err := r.Next(&seg); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per packet, want 0", allocs)
			}
		})
	}
}
