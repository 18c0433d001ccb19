package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/iggytrace/iggytrace/internal/iouring"
)

// StartIOUring is Start with the socket I/O done through io_uring (see
// ServeIOUring), the way the real Iggy server (0.6+, compio runtime) does
// it. Server.Close stops everything, as with Start.
func StartIOUring(ctx context.Context, cfg Config, addr string) (*Server, net.Addr, error) {
	s := New(cfg)
	bound, _, err := ServeIOUring(ctx, s, addr)
	if err != nil {
		return nil, nil, err
	}
	return s, bound, nil
}

// ServeIOUring listens on addr (e.g. "127.0.0.1:0") and serves s there with
// all socket I/O going through io_uring: connections are accepted with
// IORING_OP_ACCEPT and every request read and response written is an
// IORING_OP_RECV or IORING_OP_SEND, so the process makes no read(2),
// write(2), recvfrom(2), sendto(2), recvmsg(2) or sendmsg(2) call on them.
// Tracers hooking those syscalls see nothing, as with the real server;
// tests use it to show that iggytrace does not depend on them.
//
// It returns the bound address and a stop function. The listener stops with
// ctx, Server.Close (which also sends connected clients the Disconnected
// frame and closes them) or stop. stop additionally closes the connections
// accepted here at once, without the Disconnected frame, waits for their
// goroutines and releases the ring; it returns any error from accepting or
// releasing. Without stop, the ring is released once the listener has
// stopped and its last connection has ended.
func ServeIOUring(ctx context.Context, s *Server, addr string) (net.Addr, func() error, error) {
	ring, err := iouring.NewRing(0)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: io_uring on %s: %w", addr, err)
	}
	ln, err := ring.Listen(addr)
	if err != nil {
		_ = ring.Close()
		return nil, nil, fmt.Errorf("testserver: io_uring on %s: %w", addr, err)
	}
	// Registered among the listeners so that Server.Close stops accepting.
	reg := uringListener{ln}
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		_ = ring.Close()
		return nil, nil, errors.New("testserver: server closed")
	}
	s.listeners[reg] = struct{}{}
	s.wg.Add(1)
	s.life.Unlock()

	done := make(chan struct{})
	var serveErr error
	go func() {
		defer s.wg.Done()
		defer close(done)
		serveErr = s.serveIOUring(ctx, ring, ln, reg)
	}()
	stop := func() error {
		err := ring.Close() // ends the accept loop and every connection
		<-done
		return errors.Join(serveErr, err)
	}
	return ln.Addr(), stop, nil
}

// serveIOUring is the accept loop of ServeIOUring. When accepting stops it
// waits for the connections it started and then releases the ring, which
// they share.
func (s *Server) serveIOUring(ctx context.Context, ring *iouring.Ring, ln *iouring.Listener, reg uringListener) error {
	var conns sync.WaitGroup
	defer func() {
		s.life.Lock()
		delete(s.listeners, reg)
		s.life.Unlock()
	}()
	stopCtx := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stopCtx()

	var acceptErr error
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.isClosed() || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of descriptors or memory: wait as net/http does.
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
				time.Sleep(backoff)
				backoff = min(backoff*2, time.Second)
				continue
			}
			acceptErr = fmt.Errorf("testserver: io_uring accept on %s: %w", ln.Addr(), err)
			s.log.Error("serve stopped", "addr", ln.Addr().String(), "err", acceptErr)
			break
		}
		backoff = 5 * time.Millisecond
		if !s.track() {
			_ = c.Close()
			break
		}
		conns.Add(1)
		go func() {
			defer s.wg.Done()
			defer conns.Done()
			s.ServeConn(ctx, c, c.RemoteAddr().String())
		}()
	}
	_ = ln.Close()
	conns.Wait()
	return errors.Join(acceptErr, ring.Close())
}

// uringListener lets Server.Close, which closes every net.Listener in
// s.listeners, close an io_uring listener. Its Accept is never used.
type uringListener struct{ ln *iouring.Listener }

func (l uringListener) Accept() (net.Conn, error) {
	return nil, errors.New("testserver: io_uring listener accepts through ServeIOUring only")
}

func (l uringListener) Close() error   { return l.ln.Close() }
func (l uringListener) Addr() net.Addr { return l.ln.Addr() }
