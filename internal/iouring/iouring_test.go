package iouring_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/internal/iouring"
)

// newRing creates a ring closed at the end of the test, and checks then
// that Close released its goroutines.
func newRing(t *testing.T, maxInFlight int) *iouring.Ring {
	t.Helper()
	citest.NeedIOURing(t)
	base := runtime.NumGoroutine()
	r, err := iouring.NewRing(maxInFlight)
	if err != nil {
		t.Fatalf("NewRing: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close ring: %v", err)
		}
		waitGoroutines(t, base)
	})
	return r
}

func listen(t *testing.T, r *iouring.Ring) *iouring.Listener {
	t.Helper()
	ln, err := r.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return ln
}

// waitGoroutines waits (bounded) until no more than base goroutines run.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutine leak: %d running, %d before\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoServer accepts until the listener is closed and echoes every
// connection back until its peer closes it. The returned function closes
// the listener and waits for all server goroutines.
func echoServer(t *testing.T, ln *iouring.Listener) (stop func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("Accept: %v", err)
				}
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := io.Copy(c, c); err != nil && !errors.Is(err, net.ErrClosed) {
					t.Errorf("echo: %v", err)
				}
			})
		}
	})
	return func() {
		if err := ln.Close(); err != nil {
			t.Errorf("close listener: %v", err)
		}
		wg.Wait()
	}
}

func dial(t *testing.T, addr net.Addr) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

// accept accepts one connection in the background so that the test can
// dial meanwhile.
func accept(t *testing.T, ln *iouring.Listener) <-chan *iouring.Conn {
	t.Helper()
	ch := make(chan *iouring.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
		}
		ch <- c
	}()
	return ch
}

// pair returns the two ends of one connection: the io_uring server side
// and a net.Conn client.
func pair(t *testing.T, ln *iouring.Listener) (*iouring.Conn, *net.TCPConn) {
	t.Helper()
	ch := accept(t, ln)
	cl := dial(t, ln.Addr())
	sc := <-ch
	if sc == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = sc.Close() })
	return sc, cl
}

func randomBytes(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

func TestEcho(t *testing.T) {
	r := newRing(t, 0)
	ln := listen(t, r)
	stop := echoServer(t, ln)
	defer stop()

	c := dial(t, ln.Addr())
	for _, msg := range []string{"ping", "hello io_uring", strings.Repeat("x", 100000)} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("client write: %v", err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("client read: %v", err)
		}
		if string(got) != msg {
			t.Fatalf("echo of %d bytes differs", len(msg))
		}
	}
	// Half-close: the server's Read sees EOF, io.Copy returns, the server
	// closes, and the client sees EOF in turn.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client read after half-close = %d, %v; want 0, EOF", n, err)
	}
}

func TestAddrs(t *testing.T) {
	r := newRing(t, 0)
	ln := listen(t, r)
	sc, cl := pair(t, ln)
	if sc.LocalAddr().String() != cl.RemoteAddr().String() || sc.RemoteAddr().String() != cl.LocalAddr().String() {
		t.Errorf("server sees %s <- %s, client %s -> %s", sc.LocalAddr(), sc.RemoteAddr(), cl.LocalAddr(), cl.RemoteAddr())
	}
	if ln.Addr().String() != sc.LocalAddr().String() {
		t.Errorf("listener address %s, connection's local address %s", ln.Addr(), sc.LocalAddr())
	}
	if _, err := r.Listen("not an address"); err == nil {
		t.Error("Listen accepted a bad address")
	}
	if _, err := r.Listen(ln.Addr().String()); err == nil {
		t.Error("Listen bound a port in use")
	}
}

// TestLargeTransfer moves 4 MiB each way: with single 4 MiB Read/Write
// calls on the io_uring side (many RECVs to fill the buffer, partial SENDs),
// and through the echo loop with the client writing and reading at once.
func TestLargeTransfer(t *testing.T) {
	const size = 4 << 20
	r := newRing(t, 0)
	ln := listen(t, r)
	data := randomBytes(size, 1)

	t.Run("whole buffers", func(t *testing.T) {
		sc, cl := pair(t, ln)
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, size)
			if _, err := io.ReadFull(sc, buf); err != nil {
				done <- fmt.Errorf("server read: %w", err)
				return
			}
			n, err := sc.Write(buf)
			if err == nil && n != size {
				err = fmt.Errorf("wrote %d of %d bytes", n, size)
			}
			done <- err
		}()
		if _, err := cl.Write(data); err != nil {
			t.Fatalf("client write: %v", err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatalf("client read: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("4 MiB came back different")
		}
	})

	t.Run("echo", func(t *testing.T) {
		stop := echoServer(t, ln)
		defer stop()
		cl := dial(t, ln.Addr())
		werr := make(chan error, 1)
		go func() {
			_, err := cl.Write(data)
			if err == nil {
				err = cl.CloseWrite()
			}
			werr <- err
		}()
		got, err := io.ReadAll(cl)
		if err != nil {
			t.Fatalf("client read: %v", err)
		}
		if err := <-werr; err != nil {
			t.Fatalf("client write: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("echo of 4 MiB: got %d bytes, different", len(got))
		}
	})
}

// TestManyConnections runs 64 clients at once against one ring, each doing
// round trips of random sizes up to 64 KiB.
func TestManyConnections(t *testing.T) {
	const clients, rounds = 64, 20
	r := newRing(t, 0)
	ln := listen(t, r)
	stop := echoServer(t, ln)
	defer stop()

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for j := range rounds {
				msg := randomBytes(1+rng.IntN(64<<10), uint64(i*rounds+j))
				if _, err := c.Write(msg); err != nil {
					errs <- fmt.Errorf("client %d round %d: write: %w", i, j, err)
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- fmt.Errorf("client %d round %d: read: %w", i, j, err)
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("client %d round %d: echo differs", i, j)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// openFiles returns the targets of the process's descriptors
// ("socket:[123]", "anon_inode:[io_uring]", ...) by number.
func openFiles(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			out[e.Name()] = target
		}
	}
	return out
}

func ringMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "[io_uring]")
}

// TestCloseWhilePending closes the ring while an Accept, a Read (idle peer)
// and a Write (peer not reading, socket buffers full) are pending: each
// returns an error wrapping net.ErrClosed, Close returns promptly, and the
// ring's descriptors, mappings and goroutines are gone afterwards.
func TestCloseWhilePending(t *testing.T) {
	citest.NeedIOURing(t)
	// Make the Go runtime open its network poller's descriptors now, so
	// that they are part of the baseline.
	if warm, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		_ = warm.Close()
	}
	base := runtime.NumGoroutine()
	mapsBefore := ringMappings(t)
	filesBefore := openFiles(t)

	r, err := iouring.NewRing(0)
	if err != nil {
		t.Fatal(err)
	}
	if ringMappings(t) == mapsBefore {
		t.Fatal("no io_uring mapping visible in /proc/self/maps")
	}
	ln := listen(t, r)
	reader, readerPeer := pair(t, ln)
	writer, writerPeer := pair(t, ln)

	type result struct {
		op  string
		err error
	}
	results := make(chan result, 3)
	go func() {
		_, err := ln.Accept()
		results <- result{"Accept", err}
	}()
	go func() {
		_, err := reader.Read(make([]byte, 100))
		results <- result{"Read", err}
	}()
	go func() {
		_, err := writer.Write(make([]byte, 64<<20)) // far beyond the socket buffers
		results <- result{"Write", err}
	}()
	time.Sleep(200 * time.Millisecond) // let all three reach the kernel
	select {
	case res := <-results:
		t.Fatalf("%s returned before Close: %v", res.op, res.err)
	default:
	}
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for range 3 {
		res := <-results // Close returns only after all three completed
		if !errors.Is(res.err, net.ErrClosed) {
			t.Errorf("pending %s returned %v, want net.ErrClosed", res.op, res.err)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := reader.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := writer.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, err := r.Listen("127.0.0.1:0"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}

	// The peers see the connections end.
	_ = readerPeer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readerPeer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("reader's peer: %v, want EOF", err)
	}
	_ = writerPeer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, writerPeer); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("writer's peer: %v", err)
	}

	// Everything the ring owned is released.
	if n := ringMappings(t); n != mapsBefore {
		t.Errorf("%d io_uring mappings left, %d before", n, mapsBefore)
	}
	readerPeer.Close()
	writerPeer.Close()
	for fd, target := range openFiles(t) {
		if filesBefore[fd] != target {
			t.Errorf("descriptor %s (%s) left open", fd, target)
		}
	}
	waitGoroutines(t, base)
}

// TestConnCloseWhilePending closes one connection while a Read is pending
// on it: the Read returns net.ErrClosed, the peer sees EOF, and the ring
// keeps serving other connections.
func TestConnCloseWhilePending(t *testing.T) {
	r := newRing(t, 0)
	ln := listen(t, r)
	sc, cl := pair(t, ln)

	rerr := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 10))
		rerr <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := sc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-rerr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("pending Read returned %v, want net.ErrClosed", err)
	}
	if err := sc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("peer read: %v, want EOF", err)
	}

	sc2, cl2 := pair(t, ln)
	if _, err := cl2.Write([]byte("still")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(sc2, buf); err != nil || string(buf) != "still" {
		t.Fatalf("read on another connection: %q, %v", buf, err)
	}
}

// TestListenerClose: a pending Accept returns net.ErrClosed, and the port
// is free again afterwards (the descriptor really was closed).
func TestListenerClose(t *testing.T) {
	r := newRing(t, 0)
	ln := listen(t, r)
	aerr := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		aerr <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-aerr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("pending Accept returned %v, want net.ErrClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	ln2, err := r.Listen(ln.Addr().String())
	if err != nil {
		t.Fatalf("listen again on %s: %v", ln.Addr(), err)
	}
	_ = ln2.Close()
}

// TestPeerGone: a peer's orderly close is io.EOF; writing to a peer that
// reset the connection is an error, not a SIGPIPE.
func TestPeerGone(t *testing.T) {
	r := newRing(t, 0)
	ln := listen(t, r)
	sc, cl := pair(t, ln)
	if err := cl.SetLinger(0); err != nil { // close with RST
		t.Fatal(err)
	}
	if _, err := cl.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(sc, buf); err != nil {
		t.Fatal(err)
	}
	_ = cl.Close()
	var err error
	for range 100 { // the first sends may still be accepted by the local stack
		if _, err = sc.Write(make([]byte, 64<<10)); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
	if _, err := sc.Read(buf); err == nil {
		t.Error("Read on a reset connection succeeded")
	}

	sc2, cl2 := pair(t, ln)
	_ = cl2.Close()
	if n, err := sc2.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after the peer closed = %d, %v; want 0, EOF", n, err)
	}
}

// TestInFlightLimit: with room for one operation, a Write waits while a
// Read holds the slot and proceeds once the Read completes; a call waiting
// for a slot ends when its connection is closed.
func TestInFlightLimit(t *testing.T) {
	r := newRing(t, 1)
	ln := listen(t, r)
	a, aPeer := pair(t, ln)
	b, bPeer := pair(t, ln)

	read := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		read <- err
	}()
	time.Sleep(100 * time.Millisecond)
	wrote := make(chan error, 1)
	go func() {
		_, err := b.Write([]byte("queued"))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("Write ran beside the pending Read (err %v) with one slot", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := aPeer.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(bPeer, buf); err != nil || string(buf) != "queued" {
		t.Fatalf("peer got %q, %v", buf, err)
	}

	// A call waiting for a slot ends when its connection is closed.
	go func() {
		_, err := a.Read(make([]byte, 1))
		read <- err
	}()
	time.Sleep(100 * time.Millisecond)
	go func() {
		_, err := b.Read(make([]byte, 1))
		wrote <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-wrote:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read waiting for a slot returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read waiting for a slot did not end when its connection closed")
	}
	if _, err := aPeer.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("Read: %v", err)
	}
}
