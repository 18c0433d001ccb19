package testserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// callOutcome is what must not depend on the transport: which connection
// made which call and the status it got.
type callOutcome struct {
	conn   int
	method string
	status uint32
}

func runFullAgainst(t *testing.T, start func(context.Context, testserver.Config, string) (*testserver.Server, net.Addr, error)) []callOutcome {
	t.Helper()
	srv, addr, err := start(context.Background(), testserver.Config{RootPassword: workload.RootPassword}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	calls, err := workload.Full(ctx, addr.String())
	if cerr := srv.Close(); cerr != nil {
		t.Errorf("close server: %v", cerr)
	}
	if err != nil {
		t.Fatalf("workload.Full: %v", err)
	}
	out := make([]callOutcome, len(calls))
	for i, c := range calls {
		out[i] = callOutcome{c.ConnIndex, c.Method, c.Status()}
	}
	return out
}

// TestIOUringFullWorkload runs the whole SDK workload against the io_uring
// transport and requires the same calls with the same statuses, in the
// same order, as against the net.Listener transport.
func TestIOUringFullWorkload(t *testing.T) {
	citest.NeedIOURing(t)
	want := runFullAgainst(t, testserver.Start)
	got := runFullAgainst(t, testserver.StartIOUring)
	if len(want) < 100 {
		t.Fatalf("the workload made only %d calls", len(want))
	}
	if !slices.Equal(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w callOutcome
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("call %d: io_uring %+v, net %+v", i, g, w)
			}
		}
		t.Fatalf("io_uring run: %d calls, net run: %d calls", len(got), len(want))
	}
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

// TestIOUringCloseSendsDisconnected: Server.Close stops the io_uring
// listener, sends idle clients the Disconnected frame, closes them and
// leaves no goroutine behind.
func TestIOUringCloseSendsDisconnected(t *testing.T) {
	citest.NeedIOURing(t)
	base := runtime.NumGoroutine()
	srv, addr, err := testserver.StartIOUring(context.Background(), testserver.Config{RootPassword: rootPassword}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr.String())
	c.login()
	st, me := c.do(20, nil) // GetMe: the remote address comes from getpeername
	if st != 0 || !strings.Contains(string(me), c.LocalAddr().String()) {
		t.Fatalf("GetMe: status %d, payload %q lacks %s", st, me, c.LocalAddr())
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if st, _ := c.read(); st != 8 {
		t.Errorf("after Close: status %d, want 8 Disconnected", st)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after Close")
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Errorf("listener still accepting after Close")
	}
	_ = c.Close()
	waitGoroutines(t, base)
}

// TestIOUringStop: stop ends the listener and its connections at once and
// releases the ring; cancelling ctx stops the listener too.
func TestIOUringStop(t *testing.T) {
	citest.NeedIOURing(t)
	base := runtime.NumGoroutine()
	srv := testserver.New(testserver.Config{RootPassword: rootPassword})
	addr, stop, err := testserver.ServeIOUring(context.Background(), srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr.String())
	if st, _ := c.do(1, nil); st != 0 {
		t.Fatalf("ping: %d", st)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after stop")
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addr2, stop2, err := testserver.ServeIOUring(ctx, srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr2.String(), time.Second)
		if err != nil {
			break
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop2(); err != nil {
		t.Errorf("stop after cancel: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("close server: %v", err)
	}
	if _, _, err := testserver.ServeIOUring(context.Background(), srv, "127.0.0.1:0"); err == nil {
		t.Error("ServeIOUring on a closed server succeeded")
	}
	_ = c.Close()
	waitGoroutines(t, base)
}

// childEnv selects the server a re-executed test binary runs in
// TestIOUringChildServer: "io_uring" or "net".
const childEnv = "IGGYTRACE_TESTSERVER_CHILD"

// TestIOUringChildServer is not a test on its own: TestIOUringNoSocketIO
// re-executes the test binary with childEnv set to run a server in a
// process of its own under strace. It prints "LISTEN <addr>" and serves
// until its stdin is closed.
func TestIOUringChildServer(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	start := testserver.Start
	if mode == "io_uring" {
		start = testserver.StartIOUring
	}
	srv, addr, err := start(context.Background(), testserver.Config{RootPassword: workload.RootPassword}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// socketIO matches a traced data-transfer syscall on a socket in strace
// -yy output ("1234  write(7<TCP:[127.0.0.1:8090->127.0.0.1:4711]>, ..."
// or "<socket:[123]>" when strace cannot resolve the socket).
var socketIO = regexp.MustCompile(`^(?:\d+\s+)?(\w+)\(\d+<(?:TCP|TCPv6|UDP|UDPv6|UNIX|socket)[:\[]`)

// tracedIO are the syscalls that move socket data without io_uring, plus
// accept.
const tracedIO = "read,write,readv,writev,pread64,pwrite64,preadv,pwritev,preadv2,pwritev2," +
	"recvfrom,sendto,recvmsg,sendmsg,recvmmsg,sendmmsg,sendfile,splice,accept,accept4"

// syscallCounts runs the full SDK workload against a server child process
// (mode "io_uring" or "net") traced with strace -f, and returns, per
// syscall name, how often it was made on a socket, plus how often
// io_uring_enter was called. getpeername is traced too: the io_uring
// transport calls it on every accepted connection, which shows that strace
// resolved that process's sockets.
func syscallCounts(t *testing.T, strace, mode string) (onSockets map[string]int, uringEnters int) {
	t.Helper()
	trace := t.TempDir() + "/strace.out"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strace, "-f", "-qq", "-yy", "-o", trace,
		"-e", "trace="+tracedIO+",getpeername,io_uring_setup,io_uring_enter",
		os.Args[0], "-test.run=^TestIOUringChildServer$", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strace, err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()

	lines := bufio.NewScanner(stdout)
	var addr string
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "LISTEN "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		_ = cmd.Wait()
		t.Fatalf("child server did not start: %s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	if _, err := workload.Full(ctx, addr); err != nil {
		t.Fatalf("workload.Full against the %s child: %v", mode, err)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child under strace: %v\n%s", err, stderr.String())
	}

	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	onSockets = map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := socketIO.FindStringSubmatch(line); m != nil {
			onSockets[m[1]]++
		}
		if strings.Contains(line, "io_uring_enter(") {
			uringEnters++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return onSockets, uringEnters
}

// TestIOUringNoSocketIO proves that the io_uring server's socket traffic
// bypasses the read/write/send/recv syscall family: the full SDK workload
// runs against it in a child process under strace, which must record no
// such syscall (nor accept) on any socket, but io_uring_enter calls. The
// same trace of the net.Listener server is the control: it must show
// read/write on its sockets, or the detection itself is broken.
func TestIOUringNoSocketIO(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the workload twice under strace")
	}
	citest.NeedIOURing(t)
	strace, err := exec.LookPath("strace")
	if err == nil {
		err = exec.Command(strace, "-f", "-qq", "-o", os.DevNull, "true").Run()
	}
	if err != nil {
		citest.Needf(t, "strace is not usable (apt-get install strace; ptrace allowed): %v", err)
	}

	control, controlEnters := syscallCounts(t, strace, "net")
	if control["read"] == 0 || control["write"] == 0 {
		t.Fatalf("control run: strace saw no read/write on the net server's sockets (%v); the check cannot work", control)
	}
	if controlEnters != 0 {
		t.Errorf("control run made %d io_uring_enter calls", controlEnters)
	}

	got, enters := syscallCounts(t, strace, "io_uring")
	peers := got["getpeername"]
	if peers == 0 {
		t.Fatalf("strace resolved none of the io_uring server's sockets (%v); the check cannot work", got)
	}
	delete(got, "getpeername")
	if len(got) != 0 {
		t.Fatalf("the io_uring server made socket syscalls outside io_uring: %v", got)
	}
	// Every call of the workload is at least one RECV and one SEND.
	if enters < 200 {
		t.Errorf("only %d io_uring_enter calls for the whole workload", enters)
	}
	t.Logf("socket syscalls of the net server: %v; of the io_uring server: %d getpeername, no other, and %d io_uring_enter calls", control, peers, enters)
}
