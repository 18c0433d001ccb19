package afpacket

import (
	"golang.org/x/sys/unix"
)

// Linux's ancillary loads (linux/filter.h), which x/sys does not define:
// offsets past SKF_AD_OFF read skb metadata instead of packet bytes.
// SKF_AD_OFF is -0x1000, which the 32-bit K field holds in two's complement.
const (
	skfAdOff      = 1<<32 - 0x1000
	skfAdProtocol = 0
	skfAdPktType  = 4
	skfAdHaType   = 28
)

// maxFilterPorts bounds the ports the kernel filter checks: conditional jumps
// reach at most 255 instructions ahead. With more ports, user space does all
// the filtering.
const maxFilterPorts = 32

// program assembles a classic BPF program with forward jumps to labels.
type program struct {
	insns  []unix.SockFilter
	fixups []fixup
	labels map[string]int
}

type fixup struct {
	at     int
	jt, jf string // "" falls through
}

func (p *program) stmt(code uint16, k uint32) {
	p.insns = append(p.insns, unix.SockFilter{Code: code, K: k})
}

func (p *program) jump(code uint16, k uint32, jt, jf string) {
	p.fixups = append(p.fixups, fixup{len(p.insns), jt, jf})
	p.insns = append(p.insns, unix.SockFilter{Code: code, K: k})
}

func (p *program) label(name string) { p.labels[name] = len(p.insns) }

// resolve fills in the jump offsets. It returns nil if one does not fit in
// the 8-bit field.
func (p *program) resolve() []unix.SockFilter {
	offset := func(from int, label string) (uint8, bool) {
		if label == "" {
			return 0, true
		}
		d := p.labels[label] - from - 1
		return uint8(d), d >= 0 && d <= 0xff
	}
	for _, f := range p.fixups {
		jt, ok1 := offset(f.at, f.jt)
		jf, ok2 := offset(f.at, f.jf)
		if !ok1 || !ok2 {
			return nil
		}
		p.insns[f.at].Jt, p.insns[f.at].Jf = jt, jf
	}
	return p.insns
}

const (
	ldW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	ldH   = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
	ldB   = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
	ldHX  = unix.BPF_LD | unix.BPF_H | unix.BPF_IND
	ldxIP = unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH // X = 4*(P[k]&0xf): the IPv4 header length
	jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ret   = unix.BPF_RET | unix.BPF_K
)

// portFilter builds the kernel-side filter for a SOCK_DGRAM packet socket,
// where packet data starts at the network header. It accepts IPv4 TCP
// segments (not non-first fragments) and IPv6 TCP segments without
// extension headers whose source or destination port is one of ports, and
// every IPv6 packet with extension headers (rare; user space decides). It
// rejects the outgoing copy of loopback packets, which come back as
// incoming. Cutting the rest in the kernel spares copying every packet of a
// busy interface to user space; user space applies the exact same rules
// again (pcapfile.DecodeFrame), so the filter only has to be conservative.
// It returns nil when the ports are too many for the program's jumps.
func portFilter(ports []uint16) []unix.SockFilter {
	p := &program{labels: map[string]int{}}
	p.stmt(ldW, uint32(skfAdOff+skfAdHaType))
	p.jump(jeq, unix.ARPHRD_LOOPBACK, "", "proto")
	p.stmt(ldW, uint32(skfAdOff+skfAdPktType))
	p.jump(jeq, unix.PACKET_OUTGOING, "reject", "")

	p.label("proto")
	p.stmt(ldW, uint32(skfAdOff+skfAdProtocol))
	p.jump(jeq, 0x0800, "v4", "")
	p.jump(jeq, 0x86dd, "v6", "reject")

	p.label("v4")
	p.stmt(ldB, 9) // protocol
	p.jump(jeq, 6, "", "reject")
	p.stmt(ldH, 6) // flags and fragment offset
	p.jump(jset, 0x1fff, "reject", "")
	p.stmt(ldxIP, 0)
	p.stmt(ldHX, 0) // source port
	portChecks(p, ports)
	p.stmt(ldHX, 2) // destination port
	portChecks(p, ports)
	p.stmt(ret, 0)

	p.label("v6")
	p.stmt(ldB, 6) // next header
	p.jump(jeq, 6, "", "accept")
	p.stmt(ldH, 40)
	portChecks(p, ports)
	p.stmt(ldH, 42)
	portChecks(p, ports)

	p.label("reject")
	p.stmt(ret, 0)
	p.label("accept")
	// Keep the whole packet: a smaller value would trim it before it is
	// queued, and recvmsg's MSG_TRUNC would then report the trimmed length
	// rather than the length on the wire. The read buffer does the snapping.
	p.stmt(ret, 0xffffffff)
	return p.resolve()
}

func portChecks(p *program, ports []uint16) {
	for _, port := range ports {
		p.jump(jeq, uint32(port), "accept", "")
	}
}
