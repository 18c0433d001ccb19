package testserver_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/apache/iggy/foreign/go/client"
	"github.com/apache/iggy/foreign/go/client/tcp"
	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"

	"github.com/iggytrace/iggytrace/internal/testserver"
)

const rootPassword = "t3st-R00t-pw"

// start runs a server on a loopback port for the duration of the test.
func start(t *testing.T, cfg testserver.Config) (*testserver.Server, string) {
	t.Helper()
	if cfg.RootPassword == "" {
		cfg.RootPassword = rootPassword
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, addr, err := testserver.Start(ctx, cfg, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return srv, addr.String()
}

// sdkClient connects the real SDK without its heartbeat (the zero
// client.Options disables it) and closes it at the end of the test.
func sdkClient(t *testing.T, addr string) iggcon.Client {
	t.Helper()
	noHeartbeat := func(o *client.Options) { *o = client.Options{} }
	cli, err := client.NewIggyClient(noHeartbeat, client.WithTcp(tcp.WithServerAddress(addr)))
	if err != nil {
		t.Fatalf("connect SDK: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// rootClient is sdkClient logged in as root.
func rootClient(t *testing.T, addr string) iggcon.Client {
	t.Helper()
	cli := sdkClient(t, addr)
	if _, err := cli.LoginUser("iggy", rootPassword); err != nil {
		t.Fatalf("login root: %v", err)
	}
	return cli
}

func must[T any](t *testing.T, what string) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantCode asserts that err carries the Iggy error code.
func wantCode(t *testing.T, what string, err error, code ierror.Code) {
	t.Helper()
	var ie ierror.IggyError
	if err == nil {
		t.Fatalf("%s: succeeded, want error %d", what, code)
	}
	if !errors.As(err, &ie) || ie.Code() != code {
		t.Fatalf("%s: error %v, want code %d", what, err, code)
	}
}

func num(v uint32) iggcon.Identifier {
	id, _ := iggcon.NewIdentifier(v)
	return id
}

func name(s string) iggcon.Identifier {
	id, _ := iggcon.NewIdentifier(s)
	return id
}

// rawConn is a plain TCP connection for hand-made frames.
type rawConn struct {
	t *testing.T
	net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, Conn: c}
}

func frame(code uint32, payload []byte) []byte {
	f := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)+4))
	f = binary.LittleEndian.AppendUint32(f, code)
	return append(f, payload...)
}

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response frame.
func (c *rawConn) read() (status uint32, payload []byte) {
	c.t.Helper()
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		c.t.Fatalf("read response header: %v", err)
	}
	n := binary.LittleEndian.Uint32(hdr[4:])
	payload = make([]byte, n)
	if _, err := io.ReadFull(c, payload); err != nil {
		c.t.Fatalf("read %d-byte payload: %v", n, err)
	}
	return binary.LittleEndian.Uint32(hdr[:4]), payload
}

func (c *rawConn) do(code uint32, payload []byte) (uint32, []byte) {
	c.t.Helper()
	c.send(frame(code, payload))
	return c.read()
}

func str8(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func str32(s string) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(s))), s...)
}

func loginPayload(user, pw string) []byte {
	p := append(str8(user), str8(pw)...)
	p = append(p, str32("test")...)
	return append(p, str32("")...)
}

func (c *rawConn) login() {
	c.t.Helper()
	if st, _ := c.do(38, loginPayload("iggy", rootPassword)); st != 0 {
		c.t.Fatalf("raw login: status %d", st)
	}
}

func numIDBytes(v uint32) []byte { return binary.LittleEndian.AppendUint32([]byte{1, 4}, v) }

func sleep() { time.Sleep(10 * time.Millisecond) }
