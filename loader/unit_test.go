package loader

// Tests that need no kernel support.

import (
	"encoding/binary"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/bpf"
	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/citest"
)

// The hand decoder's offsets must match the structs bpf2go generated from
// capture.c.
func TestRecordLayout(t *testing.T) {
	var h bpf.CaptureRecHdr
	var s bpf.CaptureStateRec
	if unsafe.Sizeof(h) != recHdrSize || unsafe.Sizeof(s) != recHdrSize {
		t.Fatalf("rec_hdr %d bytes, state_rec %d, want %d", unsafe.Sizeof(h), unsafe.Sizeof(s), recHdrSize)
	}
	for _, c := range []struct {
		name string
		got  uintptr
		want int
	}{
		{"type", unsafe.Offsetof(h.Type), offType},
		{"family", unsafe.Offsetof(h.Family), offFamily},
		{"dir", unsafe.Offsetof(h.Dir), offDir},
		{"tcp_flags", unsafe.Offsetof(h.TcpFlags), offTCPFlags},
		{"rflags", unsafe.Offsetof(h.Rflags), offRFlags},
		{"cpu", unsafe.Offsetof(h.Cpu), offCPU},
		{"cpu_seq", unsafe.Offsetof(h.CpuSeq), offCPUSeq},
		{"seq", unsafe.Offsetof(h.Seq), offSeq},
		{"ktime_ns", unsafe.Offsetof(h.KtimeNs), offKtime},
		{"wire_len", unsafe.Offsetof(h.WireLen), offWireLen},
		{"cap_len", unsafe.Offsetof(h.CapLen), offCapLen},
		{"sport", unsafe.Offsetof(h.Sport), offSport},
		{"dport", unsafe.Offsetof(h.Dport), offDport},
		{"pkt_len", unsafe.Offsetof(h.PktLen), offPktLen},
		{"saddr", unsafe.Offsetof(h.Saddr), offSaddr},
		{"daddr", unsafe.Offsetof(h.Daddr), offDaddr},
		{"state type", unsafe.Offsetof(s.Type), offType},
		{"state family", unsafe.Offsetof(s.Family), offFamily},
		{"oldstate", unsafe.Offsetof(s.Oldstate), offOldState},
		{"newstate", unsafe.Offsetof(s.Newstate), offNewState},
		{"state cpu", unsafe.Offsetof(s.Cpu), offCPU},
		{"state cpu_seq", unsafe.Offsetof(s.CpuSeq), offCPUSeq},
		{"rcv_nxt", unsafe.Offsetof(s.RcvNxt), offRcvNxt},
		{"state ktime_ns", unsafe.Offsetof(s.KtimeNs), offKtime},
		{"snd_una", unsafe.Offsetof(s.SndUna), offSndUna},
		{"snd_nxt", unsafe.Offsetof(s.SndNxt), offSndNxt},
		{"state sport", unsafe.Offsetof(s.Sport), offSport},
		{"state dport", unsafe.Offsetof(s.Dport), offDport},
		{"state saddr", unsafe.Offsetof(s.Saddr), offSaddr},
		{"state daddr", unsafe.Offsetof(s.Daddr), offDaddr},
	} {
		if int(c.got) != c.want {
			t.Errorf("%s at offset %d, decoder reads %d", c.name, c.got, c.want)
		}
	}
	var cfg bpf.CaptureConfig
	if n := len(cfg.Ports); n != MaxPorts {
		t.Errorf("config has %d ports, MaxPorts = %d", n, MaxPorts)
	}
	var sc bpf.CaptureScratch
	if n := len(sc.Data); n != maxChunk {
		t.Errorf("scratch holds %d bytes, maxChunk = %d", n, maxChunk)
	}
}

func TestDecodeRecord(t *testing.T) {
	b := make([]byte, recHdrSize+5)
	b[offType], b[offFamily], b[offDir], b[offTCPFlags], b[offRFlags] = recSegment, 6, 1, thFIN|thPSH, rfLast
	le := binary.LittleEndian
	le.PutUint16(b[offCPU:], 1)
	le.PutUint32(b[offCPUSeq:], 77)
	le.PutUint32(b[offSeq:], 0xfffffffe)
	le.PutUint64(b[offKtime:], 123)
	le.PutUint32(b[offWireLen:], 9)
	le.PutUint32(b[offCapLen:], 5)
	le.PutUint16(b[offSport:], 8090)
	le.PutUint16(b[offDport:], 50000)
	srv := netip.MustParseAddr("::ffff:10.0.0.1") // v4-mapped: unmapped in the key
	cli := netip.MustParseAddr("fe80::1")
	s16, c16 := srv.As16(), cli.As16()
	copy(b[offSaddr:], s16[:])
	copy(b[offDaddr:], c16[:])
	copy(b[recHdrSize:], "hello")

	var r record
	if err := r.decode(b); err != nil {
		t.Fatal(err)
	}
	var seg decoder.Segment
	r.segment(1000, &seg)
	want := decoder.Segment{
		Time: 1000, Dir: decoder.ToClient, Flags: decoder.FIN, Seq: 0xfffffffe, Len: 9, Data: []byte("hello"),
		Key: decoder.ConnKey{
			Client: netip.AddrPortFrom(cli, 50000),
			Server: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 8090),
		},
	}
	if !reflect.DeepEqual(seg, want) {
		t.Errorf("segment\n %+v\nwant\n %+v", seg, want)
	}

	for _, bad := range []func([]byte){
		func(b []byte) { b[offType] = 9 },
		func(b []byte) { b[offFamily] = 3 },
		func(b []byte) { b[offDir] = 2 },
		func(b []byte) { le.PutUint32(b[offCapLen:], 10) },                                 // more than wire_len
		func(b []byte) { le.PutUint32(b[offCapLen:], 6); le.PutUint32(b[offWireLen:], 6) }, // more than present
	} {
		c := append([]byte(nil), b...)
		bad(c)
		if err := r.decode(c); err == nil {
			t.Errorf("decoded a malformed record")
		}
	}
	if err := r.decode(b[:recHdrSize-1]); err == nil {
		t.Errorf("decoded a truncated record")
	}
}

func TestStateSegments(t *testing.T) {
	r := record{typ: recState, family: 4, newState: tcpEstablished, oldState: tcpSynRecv,
		rcvNxt: 1001, sndUna: 5001, sndNxt: 5001, sport: 8090, dport: 40000}
	copy(r.saddr[:], []byte{127, 0, 0, 1})
	copy(r.daddr[:], []byte{127, 0, 0, 2})
	var a, b decoder.Segment
	if !r.stateSegments(7, &a, &b) {
		t.Fatal("open not converted")
	}
	key := decoder.ConnKey{Client: netip.MustParseAddrPort("127.0.0.2:40000"), Server: netip.MustParseAddrPort("127.0.0.1:8090")}
	if a.Key != key || b.Key != key || a.Dir != decoder.ToServer || b.Dir != decoder.ToClient ||
		a.Flags != decoder.SYN || b.Flags != decoder.SYN || a.Seq != 1000 || b.Seq != 5000 || a.Len != 0 {
		t.Errorf("open: %+v %+v", a, b)
	}
	r.newState, r.oldState = tcpClose, tcpEstablished
	r.stateSegments(7, &a, &b)
	if a.Flags != decoder.RST || a.Seq != 1001 || b.Seq != 5001 {
		t.Errorf("abortive close: %+v %+v", a, b)
	}
	r.oldState = 9 // LAST_ACK
	r.stateSegments(7, &a, &b)
	if a.Flags != decoder.FIN || b.Flags != decoder.FIN {
		t.Errorf("graceful close: %+v %+v", a, b)
	}
	r.newState = 5
	if r.stateSegments(7, &a, &b) {
		t.Errorf("converted a state that is neither open nor close")
	}
}

func TestConfigResolved(t *testing.T) {
	c, err := Config{}.resolved()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Ports, []uint16{8090}) || c.Mode != HeaderOnly || c.RingSize != 16<<20 ||
		c.MetaBudget != DefaultMetaBudget || c.MaxFrame != DefaultMaxFrame || c.Logger == nil || c.PollInterval != DefaultPollInterval {
		t.Errorf("defaults: %+v", c)
	}
	if c, _ := (Config{Mode: Full}).resolved(); c.RingSize != 64<<20 {
		t.Errorf("full mode ring %d", c.RingSize)
	}
	if c, _ := (Config{RingSize: 5000}).resolved(); c.RingSize != 8192 {
		t.Errorf("ring 5000 rounded to %d", c.RingSize)
	}
	for _, bad := range []Config{
		{Ports: make([]uint16, 9)},
		{Ports: []uint16{0}},
		{Mode: 7},
		{MetaBudget: MaxMetaBudget + 1},
		{RingSize: -1},
		{MaxFrame: 10},
		{PID: 1, CgroupPath: "/sys/fs/cgroup"},
		{PID: -2},
	} {
		if _, err := bad.resolved(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	for s, want := range map[string]Mode{"full": Full, "header-only": HeaderOnly, "headers": HeaderOnly} {
		if m, err := ParseMode(s); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("everything"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
}

func TestCgroupPaths(t *testing.T) {
	mountinfo := `25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
41 33 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 33 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
90 80 0:38 /kubepods/pod1 /host/cg\040dir rw - cgroup2 cgroup2 rw
`
	ms, err := parseMountinfo(strings.NewReader(mountinfo), "cgroup2")
	if err != nil {
		t.Fatal(err)
	}
	want := []mountEntry{{"/", "/sys/fs/cgroup/unified"}, {"/kubepods/pod1", "/host/cg dir"}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("mounts %+v, want %+v", ms, want)
	}

	rel, err := parseProcCgroup(strings.NewReader("9:name=systemd:/\n4:memory:/x\n0::/system.slice/iggy.service\n"))
	if err != nil || rel != "/system.slice/iggy.service" {
		t.Errorf("parseProcCgroup = %q, %v", rel, err)
	}
	if _, err := parseProcCgroup(strings.NewReader("4:memory:/x\n")); err == nil {
		t.Error("v1-only /proc/PID/cgroup accepted")
	}
	for _, c := range []struct {
		m    mountEntry
		rel  string
		want string
		ok   bool
	}{
		{mountEntry{"/", "/sys/fs/cgroup"}, "/a/b", "/sys/fs/cgroup/a/b", true},
		{mountEntry{"/", "/sys/fs/cgroup"}, "/", "/sys/fs/cgroup", true},
		{mountEntry{"/kubepods/pod1", "/sys/fs/cgroup"}, "/kubepods/pod1/c1", "/sys/fs/cgroup/c1", true},
		{mountEntry{"/kubepods/pod1", "/sys/fs/cgroup"}, "/kubepods/pod10", "", false},
		{mountEntry{"/", "/sys/fs/cgroup"}, "relative", "", false},
	} {
		got, err := joinCgroup(c.m, c.rel)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("joinCgroup(%+v, %q) = %q, %v", c.m, c.rel, got, err)
		}
	}
}

func TestCgroupOfSelf(t *testing.T) {
	root, err := CgroupV2Root()
	if err != nil {
		citest.Need(t, err)
	}
	p, err := CgroupOfPID(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, root) {
		t.Errorf("our cgroup %q is not under the v2 root %q", p, root)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		t.Errorf("our cgroup %q is not a directory: %v", p, err)
	}
}

func TestWallClock(t *testing.T) {
	c := newWallClock()
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		t.Fatal(err)
	}
	got := c.wall(uint64(mono.Nano()))
	if d := time.Now().UnixNano() - got; d < 0 || d > int64(50*time.Millisecond) {
		t.Errorf("wall clock off by %v", time.Duration(d))
	}
	// A timestamp more than a second past the sample resamples the offset.
	before := c.sampled
	c.wall(uint64(mono.Nano()) + 2*clockResample)
	if c.sampled == before {
		t.Error("offset not resampled")
	}
}
