package iouring

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIO caps the length of one RECV or SEND (the SQE length field is 32
// bits; Go's net package uses the same cap).
const maxIO = 1 << 30

// errRingClosed is returned for operations attempted while or after the
// ring closes.
var errRingClosed = fmt.Errorf("ring closed: %w", net.ErrClosed)

// errSocketClosed is returned for operations on a closed listener or
// connection, including the ones pending when it was closed.
var errSocketClosed = fmt.Errorf("use of closed socket: %w", net.ErrClosed)

// socket is a socket descriptor whose io_uring operations are counted, so
// that closing it can wait until the kernel is done with them (and with the
// caller's buffers) before the descriptor is closed.
type socket struct {
	r  *Ring
	fd int

	mu       sync.Mutex
	closed   bool
	inflight int
	drained  chan struct{} // set by close when operations are in flight

	done chan struct{} // closed by close, for callers waiting for a slot

	closeOnce sync.Once
	closeErr  error
}

// do runs one operation on the socket and returns the CQE's res. buf, if
// not empty, is the memory the kernel reads (SEND) or writes (RECV).
//
// Lifetime of buf: the kernel accesses it asynchronously, after
// io_uring_enter has returned, until the completion is posted. do never
// returns before it has received that completion (closing the socket makes
// it come promptly), and buf is pinned for that whole time: pinning keeps
// the garbage collector from freeing it and, because the pinned value
// escapes, the compiler from placing it on a goroutine stack that could
// move.
func (s *socket) do(e sqe, buf []byte) (int32, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	e.fd = int32(s.fd)
	if len(buf) > 0 {
		pin.Pin(&buf[0])
		// unsafe: the address goes to the kernel; see the lifetime note.
		e.addr = uint64(uintptr(unsafe.Pointer(&buf[0])))
		e.len = uint32(len(buf))
	}

	if err := s.r.acquire(s); err != nil {
		return 0, err
	}
	defer s.r.release()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errSocketClosed
	}
	// Submitting under s.mu orders it with close: an operation is either
	// counted before close looks at inflight or refused.
	done, err := s.r.start(&e)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.inflight++
	s.mu.Unlock()

	res := <-done

	s.mu.Lock()
	s.inflight--
	if s.inflight == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
	runtime.KeepAlive(buf)
	return res, nil
}

func (s *socket) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// close refuses new operations, completes the pending ones by shutting the
// socket down, waits for their completions and closes the descriptor. The
// descriptor stays open until then so that its number cannot be reused
// while the kernel still works on it. Safe to call more than once; every
// call returns the first result.
func (s *socket) close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		var drained chan struct{}
		if s.inflight > 0 {
			drained = make(chan struct{})
			s.drained = drained
		}
		s.mu.Unlock()

		var errs []error
		if drained != nil {
			// shutdown(2) wakes every waiter on the socket: a pending RECV
			// completes with 0, a SEND with EPIPE, an ACCEPT with EINVAL.
			// The kernel wakes them even when it reports ENOTCONN.
			if err := unix.Shutdown(s.fd, unix.SHUT_RDWR); err != nil && err != unix.ENOTCONN {
				errs = append(errs, fmt.Errorf("iouring: shut down socket %d: %w", s.fd, err))
			}
			<-drained
		}
		if err := unix.Close(s.fd); err != nil {
			errs = append(errs, fmt.Errorf("iouring: close socket %d: %w", s.fd, err))
		}
		s.r.forget(s)
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Listener is a TCP listening socket whose Accept is an IORING_OP_ACCEPT.
type Listener struct {
	s    *socket
	addr net.Addr
}

// Listen creates a TCP listening socket on address ("host:port"; an empty
// host means 0.0.0.0, the IPv4 wildcard, as the Iggy server's default
// 0.0.0.0:8090) with socket(2), bind(2) and listen(2); connections are then
// accepted through r.
func (r *Ring) Listen(address string) (*Listener, error) {
	ta, err := net.ResolveTCPAddr("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: %w", address, err)
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ta.IP.To4(); ta.IP == nil || ip4 != nil {
		a := &unix.SockaddrInet4{Port: ta.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		if ta.Zone != "" {
			return nil, fmt.Errorf("iouring: listen on %s: IPv6 zones are not supported", address)
		}
		a := &unix.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16())
		sa, family = a, unix.AF_INET6
	}

	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: socket: %w", address, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = unix.Close(fd)
		}
	}()
	// As Go's net package does, so that a restarted server can rebind a
	// port with connections in TIME_WAIT.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: SO_REUSEADDR: %w", address, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: bind: %w", address, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: listen: %w", address, err)
	}
	lsa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: getsockname: %w", address, err)
	}
	s, err := r.newSocket(fd)
	if err != nil {
		return nil, fmt.Errorf("iouring: listen on %s: %w", address, err)
	}
	ok = true
	return &Listener{s: s, addr: tcpAddr(lsa)}, nil
}

// Addr is the bound address (with the actual port when listening on 0).
func (l *Listener) Addr() net.Addr { return l.addr }

// Accept waits for the next connection. After Close (of the listener or of
// its ring) it returns an error wrapping net.ErrClosed; a connection reset
// before it was accepted is skipped.
func (l *Listener) Accept() (*Conn, error) {
	for {
		// No peer address is requested from the kernel (addr and addrlen
		// stay 0, so it keeps no pointer); getpeername supplies it.
		res, err := l.s.do(sqe{opcode: opAccept, opFlags: unix.SOCK_CLOEXEC}, nil)
		if err != nil {
			return nil, fmt.Errorf("iouring: accept on %s: %w", l.addr, err)
		}
		if res < 0 {
			errno := unix.Errno(-res)
			if l.s.isClosed() {
				return nil, fmt.Errorf("iouring: accept on %s: %w", l.addr, errSocketClosed)
			}
			if errno == unix.ECONNABORTED || errno == unix.EINTR || errno == unix.EAGAIN {
				continue
			}
			return nil, fmt.Errorf("iouring: accept on %s: %w", l.addr, errno)
		}
		c, err := l.s.r.newConn(int(res))
		if errors.Is(err, errPeerGone) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("iouring: accept on %s: %w", l.addr, err)
		}
		return c, nil
	}
}

// Close stops listening. A pending Accept returns an error wrapping
// net.ErrClosed; connections already accepted are not affected.
func (l *Listener) Close() error { return l.s.close() }

// errPeerGone: the connection was reset between accept and getpeername.
var errPeerGone = errors.New("peer gone")

// newConn wraps an accepted descriptor, closing it on failure.
func (r *Ring) newConn(fd int) (*Conn, error) {
	c, err := r.prepareConn(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (r *Ring) prepareConn(fd int) (*Conn, error) {
	// As Go's net package does: a request/response protocol must not wait
	// for Nagle's algorithm.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return nil, fmt.Errorf("TCP_NODELAY: %w", err)
	}
	lsa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	rsa, err := unix.Getpeername(fd)
	if err == unix.ENOTCONN {
		return nil, errPeerGone
	}
	if err != nil {
		return nil, fmt.Errorf("getpeername: %w", err)
	}
	s, err := r.newSocket(fd)
	if err != nil {
		return nil, err
	}
	return &Conn{s: s, local: tcpAddr(lsa), remote: tcpAddr(rsa)}, nil
}

// Conn is an accepted TCP connection. Read is one IORING_OP_RECV and Write
// one or more IORING_OP_SEND on the socket; nothing else touches its data.
// Reads are serialised with each other, and so are writes; a Read and a
// Write may run at the same time, and Close may be called while they are
// pending.
//
// Conn has no deadlines on purpose: a transport that offers them promises
// that a write can be bounded in time (testserver relies on that), which
// this simple binding does not implement.
type Conn struct {
	s             *socket
	local, remote net.Addr
	rmu, wmu      sync.Mutex
}

// Read receives at most len(p) bytes. It returns io.EOF once the peer has
// closed its side, and an error wrapping net.ErrClosed after Close
// (including for a Read pending at the time).
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 {
		if c.s.isClosed() {
			return 0, c.opErr("recv", errSocketClosed)
		}
		return 0, nil
	}
	p = p[:min(len(p), maxIO)]
	for {
		res, err := c.s.do(sqe{opcode: opRecv}, p)
		switch {
		case err != nil:
			return 0, c.opErr("recv", err)
		case res > 0:
			return int(res), nil
		case c.s.isClosed():
			// Checked before res == 0: close's shutdown makes a pending
			// RECV return 0.
			return 0, c.opErr("recv", errSocketClosed)
		case res == 0:
			return 0, io.EOF
		case unix.Errno(-res) == unix.EINTR || unix.Errno(-res) == unix.EAGAIN:
			continue
		default:
			return 0, c.opErr("recv", unix.Errno(-res))
		}
	}
}

// Write sends all of p, with as many SENDs as the kernel needs. On error it
// returns how much was sent. It never raises SIGPIPE (MSG_NOSIGNAL).
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for n < len(p) {
		chunk := p[n:min(len(p), n+maxIO)]
		res, err := c.s.do(sqe{opcode: opSend, opFlags: unix.MSG_NOSIGNAL}, chunk)
		switch {
		case err != nil:
			return n, c.opErr("send", err)
		case res > 0:
			n += int(res)
		case c.s.isClosed():
			return n, c.opErr("send", errSocketClosed)
		case res == 0:
			return n, c.opErr("send", io.ErrShortWrite)
		case unix.Errno(-res) == unix.EINTR || unix.Errno(-res) == unix.EAGAIN:
		default:
			return n, c.opErr("send", unix.Errno(-res))
		}
	}
	return n, nil
}

// Close closes the connection. Pending Read and Write calls return an error
// wrapping net.ErrClosed; Close returns after they have completed. Safe to
// call more than once.
func (c *Conn) Close() error { return c.s.close() }

// LocalAddr is the server-side address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

func (c *Conn) opErr(op string, err error) error {
	return fmt.Errorf("iouring: %s %s: %w", op, c.remote, err)
}

// tcpAddr converts a socket address from getsockname/getpeername.
func tcpAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IPv4(a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3]), Port: a.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, a.Addr[:])
		return &net.TCPAddr{IP: ip, Port: a.Port}
	}
	return &net.TCPAddr{}
}

// Supported reports whether this process may use io_uring: nil, or the
// error creating a ring gives (ENOSYS without kernel support, EPERM when
// disabled by kernel.io_uring_disabled or a seccomp filter).
func Supported() error {
	r, err := NewRing(1)
	if err != nil {
		return err
	}
	return r.Close()
}
