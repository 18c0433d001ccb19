package loader

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/citest"
)

// tcpPacket describes a synthetic packet for BPF_PROG_TEST_RUN.
type tcpPacket struct {
	src, dst     netip.Addr
	sport, dport uint16
	seq          uint32
	flags        uint8 // thFIN, thSYN, thRST; ACK is always set
	payload      []byte
	proto        uint8   // IP protocol, default TCP
	frag         bool    // IPv4: set the more-fragments bit
	ext          []uint8 // IPv6: extension headers (next header values) before TCP
}

const (
	thPSH = 0x08
	thACK = 0x10
)

// bytes returns the packet with an Ethernet header in front: the kernel's
// test run for skb programs strips it, so a cgroup_skb program sees the IP
// header first, as it does for real traffic.
func (p tcpPacket) bytes() []byte {
	const eth, tcp = 14, 20
	proto := p.proto
	if proto == 0 {
		proto = 6
	}
	ipLen := 20
	etherType := uint16(0x0800)
	if p.src.Is6() {
		ipLen = 40 + 8*len(p.ext)
		etherType = 0x86dd
	}
	b := make([]byte, eth+ipLen+tcp+len(p.payload))
	binary.BigEndian.PutUint16(b[12:], etherType)
	ip := b[eth:]
	if p.src.Is4() {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcp+len(p.payload)))
		if p.frag {
			binary.BigEndian.PutUint16(ip[6:], 0x2000)
		}
		ip[8] = 64
		ip[9] = proto
		s, d := p.src.As4(), p.dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
	} else {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(ipLen-40+tcp+len(p.payload)))
		ip[7] = 64
		s, d := p.src.As16(), p.dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		// Each extension header is 8 bytes: next header, length 0, PadN.
		next := ip[6:7]
		for i, typ := range p.ext {
			next[0] = typ
			h := ip[40+8*i:]
			h[2], h[3] = 1, 4 // PadN option over the remaining 4 bytes
			next = h[0:1]
		}
		next[0] = proto
	}
	th := ip[ipLen:]
	binary.BigEndian.PutUint16(th[0:], p.sport)
	binary.BigEndian.PutUint16(th[2:], p.dport)
	binary.BigEndian.PutUint32(th[4:], p.seq)
	binary.BigEndian.PutUint32(th[8:], 1)
	th[12] = 5 << 4
	th[13] = p.flags | thACK
	binary.BigEndian.PutUint16(th[14:], 65535)
	copy(th[tcp:], p.payload)
	return b
}

// testRec is a decoded record with its data copied.
type testRec struct {
	record
	seg decoder.Segment
}

// harness runs the capture programs on synthetic packets.
type harness struct {
	t  *testing.T
	tr *Tracer
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	tr, err := newTracer(cfg)
	if err != nil {
		citest.Need(t, err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &harness{t: t, tr: tr}
}

// in runs the ingress program (packets the server receives).
func (h *harness) in(p tcpPacket) { h.run(h.tr.objs.Ingress, p) }

// out runs the egress program (packets the server sends).
func (h *harness) out(p tcpPacket) { h.run(h.tr.objs.Egress, p) }

func (h *harness) run(prog *ebpf.Program, p tcpPacket) {
	h.t.Helper()
	ret, err := prog.Run(&ebpf.RunOptions{Data: p.bytes()})
	if err != nil {
		h.t.Fatalf("test run %v: %v", prog, err)
	}
	if ret != 1 {
		h.t.Fatalf("%v returned %d, want 1 (never drop traffic)", prog, ret)
	}
}

// drain returns the records in the ring, without blocking.
func (h *harness) drain() []testRec {
	h.t.Helper()
	recs, err := drainRing(h.tr)
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// drainRing reads what is in the ring now.
func drainRing(tr *Tracer) ([]testRec, error) {
	var (
		out  []testRec
		clk  = newWallClock()
		derr error
	)
	err := tr.rd.read(func(sample []byte) {
		var r testRec
		if derr != nil {
			return
		}
		if derr = r.decode(sample); derr != nil {
			return
		}
		r.data = append([]byte(nil), r.data...)
		tr.read.Add(1)
		tr.trackCPU(r.cpu, r.cpuSeq)
		if r.typ == recSegment {
			r.segment(clk.wall(r.ktime), &r.seg)
		}
		out = append(out, r)
	})
	if err != nil {
		return out, fmt.Errorf("read ring: %w", err)
	}
	return out, derr
}

var (
	cli4 = netip.MustParseAddr("10.1.2.3")
	srv4 = netip.MustParseAddr("10.9.8.7")
	cli6 = netip.MustParseAddr("fd00::1:2")
	srv6 = netip.MustParseAddr("fd00::9:8")
)

// conn is one synthetic connection; toServer and toClient build packets of
// each direction as the server's programs see them.
type conn struct {
	client, server netip.AddrPort
}

func (c conn) toServer(seq uint32, flags uint8, payload []byte) tcpPacket {
	return tcpPacket{src: c.client.Addr(), dst: c.server.Addr(), sport: c.client.Port(), dport: c.server.Port(),
		seq: seq, flags: flags, payload: payload}
}

func (c conn) toClient(seq uint32, flags uint8, payload []byte) tcpPacket {
	return tcpPacket{src: c.server.Addr(), dst: c.client.Addr(), sport: c.server.Port(), dport: c.client.Port(),
		seq: seq, flags: flags, payload: payload}
}

// stream rebuilds one direction from records and checks that every byte is
// covered exactly once and that captured bytes are the real ones.
type stream struct {
	base      uint32 // sequence number of byte 0
	want      []byte // the bytes sent
	covered   []int
	captured  []bool // by any record
	firstCopy []bool // by the first record that covered the byte
}

func newStream(base uint32, want []byte) *stream {
	return &stream{base: base, want: want, covered: make([]int, len(want)),
		captured: make([]bool, len(want)), firstCopy: make([]bool, len(want))}
}

func (s *stream) add(seq, wire uint32, data []byte) error {
	off := int(int32(seq - s.base))
	if off < 0 || off+int(wire) > len(s.want) {
		return fmt.Errorf("record [%d,+%d) outside the stream of %d bytes", off, wire, len(s.want))
	}
	if len(data) > int(wire) {
		return fmt.Errorf("record at %d: %d bytes captured of %d", off, len(data), wire)
	}
	for i, c := range data {
		if s.want[off+i] != c {
			return fmt.Errorf("byte %d: captured %#x, sent %#x", off+i, c, s.want[off+i])
		}
		s.captured[off+i] = true
		if s.covered[off+i] == 0 {
			s.firstCopy[off+i] = true
		}
	}
	for i := 0; i < int(wire); i++ {
		s.covered[off+i]++
	}
	return nil
}

// check verifies coverage (each byte once, or at least once with dups) and
// that the captured set is exactly wantCaptured (nil: every byte).
func (s *stream) check(dups bool, wantCaptured []bool) error {
	for i, n := range s.covered {
		if n == 0 || (!dups && n > 1) {
			return fmt.Errorf("byte %d covered %d times", i, n)
		}
	}
	for i, c := range s.captured {
		want := wantCaptured == nil || wantCaptured[i]
		if c != want {
			return fmt.Errorf("byte %d: captured=%v, want %v", i, c, want)
		}
	}
	return nil
}

// frameMask marks, for a stream of classic frames, the bytes header-only
// mode keeps: each frame's first 8+budget bytes.
func frameMask(frames [][]byte, budget int) []bool {
	var m []bool
	for _, f := range frames {
		for i := range f {
			m = append(m, i < 8+budget)
		}
	}
	return m
}

// request and response build classic Iggy frames (iggy-wire.md §2.1).
func request(code uint32, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	binary.LittleEndian.PutUint32(b, uint32(4+len(payload)))
	binary.LittleEndian.PutUint32(b[4:], code)
	copy(b[8:], payload)
	return b
}

func response(status uint32, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	binary.LittleEndian.PutUint32(b, status)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	copy(b[8:], payload)
	return b
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
