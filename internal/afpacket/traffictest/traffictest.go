// Package traffictest generates real TCP traffic on the loopback interface
// with known bytes in both directions, and checks that the segments a capture
// yields reassemble to exactly those bytes. It serves the tests of the
// capture reader, the pcapng writer and live capture, which all need the
// same proof: what was sent is what the capture holds.
package traffictest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/citest"
)

// RequireTool returns the path of an external program, or skips the test
// when it is missing, except under CI (CI=true), where a missing tool is a
// failure: CI must not pass by testing nothing.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	citest.Needf(t, "%s not found: install Wireshark's command-line tools with scripts/install-deps.sh (apt-get install tshark)", name)
	return ""
}

// Server is a loopback TCP server that records what each client sends and
// answers with bytes of its own.
type Server struct {
	ln   net.Listener
	Addr netip.AddrPort
}

// Listen starts a server on a free port of the loopback address of network
// ("tcp4" or "tcp6"). It is closed when the test ends.
func Listen(t testing.TB, network string) *Server {
	t.Helper()
	host := "127.0.0.1"
	if network == "tcp6" {
		host = "[::1]"
	}
	ln, err := net.Listen(network, host+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	return &Server{ln: ln, Addr: netip.MustParseAddrPort(ln.Addr().String())}
}

// Conn is one finished connection: who the client was and what each side
// sent.
type Conn struct {
	Key      decoder.ConnKey
	ToServer []byte
	ToClient []byte
}

// Exchange runs conns connections to the server, one after the other. In
// each, both sides send a few messages at once (from a few bytes to a few
// hundred KiB, so that loopback GSO produces 64 KiB packets) and half-close
// when done. It returns when both sides of every connection have read the
// other's FIN, so that every data packet has been through the interface.
func (s *Server) Exchange(t testing.TB, conns int, seed uint64) []Conn {
	t.Helper()
	out := make([]Conn, conns)
	for i := range conns {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		out[i].ToServer, out[i].ToClient = messages(rng), messages(rng)
		errs := make(chan error, 2)
		go func() {
			c, err := net.DialTimeout(s.ln.Addr().Network(), s.ln.Addr().String(), 10*time.Second)
			if err != nil {
				errs <- fmt.Errorf("dial: %w", err)
				return
			}
			out[i].Key = decoder.ConnKey{
				Client: netip.MustParseAddrPort(c.LocalAddr().String()),
				Server: netip.MustParseAddrPort(c.RemoteAddr().String()),
			}
			errs <- talk("client", c.(*net.TCPConn), out[i].ToServer, out[i].ToClient)
		}()
		go func() {
			c, err := s.ln.Accept()
			if err != nil {
				errs <- fmt.Errorf("accept: %w", err)
				return
			}
			errs <- talk("server", c.(*net.TCPConn), out[i].ToClient, out[i].ToServer)
		}()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		}
	}
	return out
}

// talk sends send, half-closes, and requires the peer to send exactly want
// before its FIN.
func talk(who string, c *net.TCPConn, send, want []byte) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(c); got <- b }()
	if err := writeChunks(c, send); err != nil {
		return fmt.Errorf("%s write: %w", who, err)
	}
	if err := c.CloseWrite(); err != nil {
		return fmt.Errorf("%s half-close: %w", who, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		return fmt.Errorf("%s received %d bytes, peer sent %d", who, len(b), len(want))
	}
	return nil
}

// messages draws a few messages, concatenated as one stream.
func messages(rng *rand.Rand) []byte {
	var b []byte
	for range 2 + rng.IntN(4) {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = 1 + rng.IntN(16)
		case 1:
			n = 100 + rng.IntN(2000)
		case 2:
			n = 10_000 + rng.IntN(60_000)
		default:
			n = 100_000 + rng.IntN(200_000)
		}
		m := make([]byte, n)
		for i := range m {
			m[i] = byte(rng.Uint32())
		}
		b = append(b, m...)
	}
	return b
}

// writeChunks writes b as separate writes at message-like boundaries.
func writeChunks(c net.Conn, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 1+len(b)/3)
		if _, err := c.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// stream collects one direction of one connection.
type stream struct {
	isn    uint32
	hasSyn bool
	pieces []piece
}

type piece struct {
	seq  uint32
	data []byte
}

// Reassemble rebuilds both directions of every connection from segments
// (whose Data the caller has copied). It requires the capture to be complete
// and untruncated: a hole or a retransmission with different bytes is an
// error, and so is a segment whose Data is shorter than Len.
func Reassemble(segs []decoder.Segment) (map[decoder.ConnKey]*Conn, error) {
	type dirKey struct {
		key decoder.ConnKey
		dir decoder.Direction
	}
	streams := map[dirKey]*stream{}
	for _, s := range segs {
		if uint32(len(s.Data)) != s.Len {
			return nil, fmt.Errorf("%v %v seq %d: %d of %d bytes captured", s.Key, s.Dir, s.Seq, len(s.Data), s.Len)
		}
		k := dirKey{s.Key, s.Dir}
		st := streams[k]
		if st == nil {
			st = &stream{}
			streams[k] = st
		}
		seq := s.Seq
		if s.Flags&decoder.SYN != 0 {
			st.isn, st.hasSyn = s.Seq, true
			seq++
		}
		if len(s.Data) > 0 {
			st.pieces = append(st.pieces, piece{seq, s.Data})
		}
	}
	conns := map[decoder.ConnKey]*Conn{}
	for k, st := range streams {
		if !st.hasSyn {
			return nil, fmt.Errorf("%v %v: no SYN captured", k.key, k.dir)
		}
		base := st.isn + 1
		slices.SortStableFunc(st.pieces, func(a, b piece) int { return int(a.seq-base) - int(b.seq-base) })
		var out []byte
		for _, p := range st.pieces {
			off := int(p.seq - base)
			switch {
			case off > len(out):
				return nil, fmt.Errorf("%v %v: hole of %d bytes at stream offset %d", k.key, k.dir, off-len(out), len(out))
			case off+len(p.data) <= len(out):
				if !bytes.Equal(out[off:off+len(p.data)], p.data) {
					return nil, fmt.Errorf("%v %v: retransmission at offset %d differs", k.key, k.dir, off)
				}
			default:
				if !bytes.Equal(out[off:], p.data[:len(out)-off]) {
					return nil, fmt.Errorf("%v %v: overlap at offset %d differs", k.key, k.dir, off)
				}
				out = append(out, p.data[len(out)-off:]...)
			}
		}
		c := conns[k.key]
		if c == nil {
			c = &Conn{Key: k.key}
			conns[k.key] = c
		}
		if k.dir == decoder.ToServer {
			c.ToServer = out
		} else {
			c.ToClient = out
		}
	}
	return conns, nil
}

// Check reassembles segs and requires every connection in want to be there
// with exactly the bytes sent each way. Connections not in want (other
// tests' traffic on the same interface cannot match the server port, but
// warm-up connections can) are ignored.
func Check(t testing.TB, segs []decoder.Segment, want []Conn) {
	t.Helper()
	got, err := Reassemble(segs)
	if err != nil {
		t.Fatalf("reassembling %d segments: %v", len(segs), err)
	}
	for _, w := range want {
		g := got[w.Key]
		switch {
		case g == nil:
			t.Errorf("connection %v not in the capture (%d connections there)", w.Key, len(got))
		case !bytes.Equal(g.ToServer, w.ToServer):
			t.Errorf("connection %v: %d bytes to the server captured, %d sent", w.Key, len(g.ToServer), len(w.ToServer))
		case !bytes.Equal(g.ToClient, w.ToClient):
			t.Errorf("connection %v: %d bytes to the client captured, %d sent", w.Key, len(g.ToClient), len(w.ToClient))
		}
	}
}
