package afpacket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/pcapng"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

const (
	sll2Len = 20 // Linux cooked v2 header, built in front of each packet
	// rcvBuf is the socket buffer asked for: large enough to absorb a burst
	// of 64 KiB loopback packets while the writer is busy.
	rcvBuf = 8 << 20
)

// Handle is an open capture socket. Open it first, then start the traffic,
// then Run: packets that arrive in between wait in the socket buffer, so a
// test never races the capture's start.
type Handle struct {
	iface string
	fd    int
	file  *os.File // owns fd; makes reads pollable, so Run can be cancelled
	rc    syscall.RawConn
	ports []uint16

	// recvmsg state, kept here so that a read allocates nothing.
	buf    []byte // sll2Len header + packet
	rsa    unix.RawSockaddrLinklayer
	oob    [8]uint64 // control messages (the timestamp), 8-byte aligned for Cmsghdr
	iov    unix.Iovec
	msg    unix.Msghdr
	n      int // bytes of the last packet on the wire (MSG_TRUNC)
	errno  error
	recvFn func(fd uintptr) bool
	seg    decoder.Segment

	stats Stats
}

// Open creates an AF_PACKET socket on iface ("any" or "" for all
// interfaces) that receives the TCP segments to or from ports. It needs
// CAP_NET_RAW.
func Open(iface string, ports []uint16) (*Handle, error) {
	if len(ports) == 0 {
		return nil, errors.New("afpacket: no ports to capture")
	}
	ifindex := 0
	if iface != "" && iface != "any" {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, fmt.Errorf("afpacket: %w", err)
		}
		ifindex = ifc.Index
	}
	// Protocol 0: the socket receives nothing until bound, so no packet of
	// another interface or before the filter slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: creating a packet socket (needs CAP_NET_RAW): %w", err)
	}
	h := &Handle{iface: iface, fd: fd, ports: append([]uint16(nil), ports...), buf: make([]byte, sll2Len+snapLen)}
	if err := h.setup(ifindex); err != nil {
		unix.Close(fd)
		return nil, err
	}
	h.file = os.NewFile(uintptr(fd), "afpacket:"+iface)
	if h.rc, err = h.file.SyscallConn(); err != nil {
		h.file.Close()
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	h.msg.Name = (*byte)(unsafe.Pointer(&h.rsa))
	h.iov.Base = &h.buf[sll2Len]
	h.iov.SetLen(len(h.buf) - sll2Len)
	h.msg.Iov = &h.iov
	h.msg.SetIovlen(1)
	h.msg.Control = (*byte)(unsafe.Pointer(&h.oob[0]))
	h.recvFn = h.recv
	return h, nil
}

func (h *Handle) setup(ifindex int) error {
	if prog := portFilter(h.ports); len(h.ports) <= maxFilterPorts && prog != nil {
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.SetsockoptSockFprog(h.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fmt.Errorf("afpacket: attaching the port filter: %w", err)
		}
	}
	// A larger buffer than the default 208 KiB; FORCE works for root and
	// ignores rmem_max, the plain option is the fallback.
	if unix.SetsockoptInt(h.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(h.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	// Kernel receive timestamps: the time the packet crossed the interface,
	// not the time this process got round to reading it.
	if err := unix.SetsockoptInt(h.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("afpacket: enabling timestamps: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(h.fd, sa); err != nil {
		return fmt.Errorf("afpacket: binding to %q: %w", h.iface, err)
	}
	return nil
}

func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }

// Close closes the socket.
func (h *Handle) Close() error {
	if h.file == nil {
		return nil
	}
	err := h.file.Close()
	h.file = nil
	return err
}

// Capture opens a capture on iface, writes the TCP segments to or from ports
// to w until ctx is done, and closes it. It returns nil when stopped by ctx.
func Capture(ctx context.Context, iface string, ports []uint16, w *pcapng.Writer) (Stats, error) {
	h, err := Open(iface, ports)
	if err != nil {
		return Stats{}, err
	}
	defer h.Close()
	return h.Run(ctx, w)
}

// Run writes captured packets to w until ctx is done, then writes what is
// still queued in the socket and returns (with a nil error). It flushes w
// whenever the socket is idle, so that the file can be read while it grows.
// It fails on a socket or write error.
func (h *Handle) Run(ctx context.Context, w *pcapng.Writer) (Stats, error) {
	if h.file == nil {
		return h.stats, errors.New("afpacket: handle closed")
	}
	stop := context.AfterFunc(ctx, func() { h.file.SetReadDeadline(time.Now()) })
	defer stop()
	dirty := false
	// One closure for the whole run: a func literal passed to Read inside
	// the loop would be allocated for every packet.
	read := func(fd uintptr) bool {
		if h.recvFn(fd) {
			return true
		}
		// Idle: flush before parking, so readers of the file keep up.
		if dirty {
			if h.errno = w.Flush(); h.errno != nil {
				return true
			}
			dirty = false
		}
		return false
	}
	for {
		err := h.rc.Read(read)
		if err == nil {
			err = h.errno
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			// Stopped: take what the socket still holds, without waiting.
			for {
				h.recvFn(uintptr(h.fd))
				if h.errno != nil {
					break
				}
				if werr := h.handle(w); werr != nil {
					return h.finish(), werr
				}
			}
			if !errors.Is(h.errno, unix.EAGAIN) {
				return h.finish(), fmt.Errorf("afpacket: reading %q: %w", h.iface, h.errno)
			}
			if err := w.Flush(); err != nil {
				return h.finish(), err
			}
			return h.finish(), nil
		}
		if err != nil {
			return h.finish(), fmt.Errorf("afpacket: reading %q: %w", h.iface, err)
		}
		if err := h.handle(w); err != nil {
			return h.finish(), err
		}
		dirty = true
	}
}

// recv reads one packet into buf after the SLL2 header's room. It returns
// false when no packet is queued (EAGAIN), to park on the poller.
func (h *Handle) recv(fd uintptr) bool {
	h.msg.Namelen = unix.SizeofSockaddrLinklayer
	h.msg.SetControllen(len(h.oob) * 8)
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&h.msg)), unix.MSG_TRUNC)
	switch errno {
	case 0:
		h.n, h.errno = int(n), nil
		return true
	case unix.EINTR:
		return h.recv(fd)
	case unix.EAGAIN:
		h.errno = unix.EAGAIN
		return false
	}
	h.errno = errno
	return true
}

// handle writes the packet recv read, unless it is a loopback duplicate or
// not a segment of the ports.
func (h *Handle) handle(w *pcapng.Writer) error {
	h.stats.Received++
	if h.rsa.Pkttype == unix.PACKET_OUTGOING && h.rsa.Hatype == unix.ARPHRD_LOOPBACK {
		h.stats.Duplicates++
		return nil
	}
	// Linux cooked v2 header, as libpcap builds it from sockaddr_ll.
	hdr := h.buf[:sll2Len]
	binary.NativeEndian.PutUint16(hdr[0:], h.rsa.Protocol) // already in network order
	binary.BigEndian.PutUint16(hdr[2:], 0)
	binary.BigEndian.PutUint32(hdr[4:], uint32(h.rsa.Ifindex))
	binary.BigEndian.PutUint16(hdr[8:], h.rsa.Hatype)
	hdr[10], hdr[11] = h.rsa.Pkttype, h.rsa.Halen
	copy(hdr[12:20], h.rsa.Addr[:])

	captured := min(h.n, len(h.buf)-sll2Len)
	if captured < h.n {
		h.stats.Truncated++
	}
	frame := h.buf[:sll2Len+captured]
	if pcapfile.DecodeFrame(pcapfile.LinkLinuxSLL2, frame, sll2Len+h.n, h.ports, &h.seg) != pcapfile.Keep {
		h.stats.Filtered++
		return nil
	}
	if err := w.WritePacket(h.timestamp(), pcapng.LinkTypeLinuxSLL2, frame, sll2Len+h.n); err != nil {
		return err
	}
	h.stats.Written++
	return nil
}

// timestamp finds the SCM_TIMESTAMPNS control message of the last packet,
// falling back to the current time.
func (h *Handle) timestamp() int64 {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&h.oob[0])), len(h.oob)*8)
	end := min(int(h.msg.Controllen), len(oob))
	for off := 0; off+unix.SizeofCmsghdr <= end; {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		l := int(cm.Len)
		if l < unix.SizeofCmsghdr || off+l > end {
			break
		}
		if cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[off+unix.CmsgLen(0)]))
			return ts.Nano()
		}
		off += unix.CmsgSpace(l - unix.CmsgLen(0))
	}
	return time.Now().UnixNano()
}

// finish adds the kernel's drop count (which reading resets) to the stats.
func (h *Handle) finish() Stats {
	if st, err := unix.GetsockoptTpacketStats(h.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		h.stats.Dropped += uint64(st.Drops)
	}
	return h.stats
}
