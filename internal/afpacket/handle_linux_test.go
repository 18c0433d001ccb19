package afpacket

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/export/pcapng"
)

// fakePacket puts an IPv4 TCP segment to port 8090 in h's buffer as recv
// would, with a kernel timestamp control message.
func fakePacket(h *Handle, pkttype uint8) {
	ip := h.buf[sll2Len:]
	clear(ip[:40])
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 40+100)
	ip[9] = 6
	src, dst := netip.MustParseAddr("127.0.0.1").As4(), netip.MustParseAddr("127.0.0.2").As4()
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[20:], 40000)
	binary.BigEndian.PutUint16(ip[22:], 8090)
	ip[32] = 5 << 4
	h.n = 140
	h.rsa = unix.RawSockaddrLinklayer{Protocol: htons(0x0800), Ifindex: 1, Hatype: unix.ARPHRD_LOOPBACK, Pkttype: pkttype}

	oob := unsafe.Slice((*byte)(unsafe.Pointer(&h.oob[0])), len(h.oob)*8)
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	cm.Level, cm.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	cm.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))))
	*(*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = unix.Timespec{Sec: 1_700_000_000, Nsec: 123}
	h.msg.SetControllen(unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
}

func TestHandlePacket(t *testing.T) {
	h := &Handle{ports: []uint16{8090}, buf: make([]byte, sll2Len+snapLen)}
	fakePacket(h, unix.PACKET_HOST)
	if ts := h.timestamp(); ts != 1_700_000_000_000_000_123 {
		t.Errorf("timestamp %d, want the control message's", ts)
	}
	w, err := pcapng.NewWriter(io.Discard, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.handle(w); err != nil {
		t.Fatal(err)
	}
	// The SLL2 header, as libpcap writes it.
	want := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := h.buf[:sll2Len]; string(got) != string(want) {
		t.Errorf("SLL2 header % x, want % x", got, want)
	}
	fakePacket(h, unix.PACKET_OUTGOING)
	h.handle(w)
	binary.BigEndian.PutUint16(h.buf[sll2Len+22:], 9999) // another port
	h.rsa.Pkttype = unix.PACKET_HOST
	h.handle(w)
	if want := (Stats{Received: 3, Written: 1, Duplicates: 1, Filtered: 1}); h.stats != want {
		t.Errorf("stats %+v, want %+v", h.stats, want)
	}

	fakePacket(h, unix.PACKET_HOST)
	if allocs := testing.AllocsPerRun(1000, func() { h.handle(w) }); allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

func TestPortFilterJumps(t *testing.T) {
	prog := portFilter(make([]uint16, maxFilterPorts))
	if prog == nil {
		t.Fatalf("a filter for %d ports does not assemble", maxFilterPorts)
	}
	if portFilter(make([]uint16, 200)) != nil {
		t.Error("a filter for 200 ports assembled: its jumps cannot reach")
	}
	for i, ins := range prog {
		if i+1+int(ins.Jt) > len(prog) || i+1+int(ins.Jf) > len(prog) {
			t.Fatalf("instruction %d jumps past the end", i)
		}
	}
	if last := prog[len(prog)-1]; last.Code != unix.BPF_RET|unix.BPF_K || last.K != 0xffffffff {
		t.Errorf("last instruction %+v, want accept", last)
	}
}
