package loader

// Live tests: real sockets over loopback, the programs attached to a cgroup.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/citest"
)

const serverEnv = "IGGYTRACE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		os.Exit(runTestServer())
	}
	os.Exit(m.Run())
}

// runTestServer is the re-executed test binary: an Iggy-like server on a
// dual-stack port, printed on stdout. It exits when stdin closes.
func runTestServer() int {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	serveFrames(ln)
	return 0
}

// serveFrames answers classic Iggy requests until ln is closed:
// code 100 with a u32 n gets n payload bytes, 38 a 20-byte payload, 1 and
// 101 an empty OK, anything else error 3 (InvalidCommand).
func serveFrames(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				var hdr [8]byte
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return
				}
				n := binary.LittleEndian.Uint32(hdr[:])
				code := binary.LittleEndian.Uint32(hdr[4:])
				payload := make([]byte, n-4)
				if _, err := io.ReadFull(r, payload); err != nil {
					return
				}
				var resp []byte
				switch code {
				case 100:
					resp = response(0, pattern(int(binary.LittleEndian.Uint32(payload)), 9))
				case 38:
					resp = response(0, pattern(20, 3))
				case 1, 101:
					resp = response(0, nil)
				default:
					resp = response(3, nil)
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// childServer runs serveFrames in a re-executed test binary placed in a new
// child cgroup of the v2 root (clone3 CLONE_INTO_CGROUP), so that its
// sockets belong to that cgroup from the start.
type childServer struct {
	cgroup string
	port   uint16
}

func startChildServer(t testing.TB) *childServer {
	t.Helper()
	root, err := CgroupV2Root()
	if err != nil {
		citest.Need(t, err)
	}
	dir := filepath.Join(root, fmt.Sprintf("iggytrace-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		citest.Need(t, fmt.Errorf("create cgroup: %w", err))
	}
	t.Cleanup(func() {
		// The cgroup can be removed once its last process has been reaped.
		for i := 0; ; i++ {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if i == 50 {
				t.Errorf("remove cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open cgroup: %v", err)
	}
	defer unix.Close(fd)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		citest.Need(t, fmt.Errorf("start server in cgroup: %w", err))
	}
	t.Cleanup(func() {
		stdin.Close() // the server exits
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read server port: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "PORT "))
	if err != nil {
		t.Fatalf("server said %q", line)
	}
	return &childServer{cgroup: dir, port: uint16(port)}
}

// collector keeps copies of the segments and records Run delivers.
type collector struct {
	mu      sync.Mutex
	segs    []decoder.Segment
	maxPkt  uint32 // largest packet payload seen in a record
	chunked int    // packets that took more than one record
}

func (c *collector) add(s *decoder.Segment) {
	cp := *s
	cp.Data = bytes.Clone(s.Data)
	c.mu.Lock()
	c.segs = append(c.segs, cp)
	c.mu.Unlock()
}

func (c *collector) hook(r *record) {
	if r.typ != recSegment {
		return
	}
	c.mu.Lock()
	c.maxPkt = max(c.maxPkt, r.pktLen)
	if r.rflags&rfFirst != 0 && r.rflags&rfLast == 0 {
		c.chunked++
	}
	c.mu.Unlock()
}

func (c *collector) of(key decoder.ConnKey) []decoder.Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []decoder.Segment
	for _, s := range c.segs {
		if s.Key == key {
			out = append(out, s)
		}
	}
	return out
}

// waitClosed waits until both directions of key have their FIN twice: from
// the packet and from the connection's close event.
func (c *collector) waitClosed(t *testing.T, key decoder.ConnKey, events bool) {
	t.Helper()
	want := 1
	if events {
		want = 2
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var fins [2]int
		for _, s := range c.of(key) {
			if s.Flags&(decoder.FIN|decoder.RST) != 0 {
				fins[s.Dir]++
			}
		}
		if fins[0] >= want && fins[1] >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: FIN/RST segments %v after 10s, want %d each way", key, fins, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startRun runs tr.Run until the test ends, and checks it returns cleanly.
func startRun(t *testing.T, tr *Tracer, col *collector) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	tr.recordHook = col.hook
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx, col.add) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return 5s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// exchange plays a client session and returns the frames each way, as the
// client sent and received them.
func exchange(t *testing.T, c net.Conn) (reqs, resps [][]byte) {
	t.Helper()
	r := bufio.NewReader(c)
	readResp := func() {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatalf("read response: %v", err)
		}
		f := make([]byte, 8+binary.LittleEndian.Uint32(hdr[4:]))
		copy(f, hdr[:])
		if _, err := io.ReadFull(r, f[8:]); err != nil {
			t.Fatalf("read response: %v", err)
		}
		resps = append(resps, f)
	}
	write := func(b []byte) {
		if _, err := c.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	send := func(f []byte) {
		reqs = append(reqs, f)
		write(f)
		readResp()
	}

	send(request(1, nil)) // Ping

	// A LoginUser whose header is split across two packets.
	login := request(38, pattern(40, 1))
	reqs = append(reqs, login)
	write(login[:3])
	time.Sleep(20 * time.Millisecond)
	write(login[3:])
	readResp()

	send(request(101, pattern(200_000, 2))) // SendMessages: 64 KiB GSO packets in
	poll := make([]byte, 4)
	binary.LittleEndian.PutUint32(poll, 300_000)
	send(request(100, poll)) // PollMessages: 64 KiB GSO packets out

	// 50 pipelined Pings in one write: many frames in one packet.
	var burst []byte
	for range 50 {
		f := request(1, nil)
		reqs = append(reqs, f)
		burst = append(burst, f...)
	}
	write(burst)
	for range 50 {
		readResp()
	}

	send(request(999, pattern(10, 3))) // unknown command: error 3
	return reqs, resps
}

// synBase finds the stream start of one direction from its SYN segments
// and checks that the packet SYN and the open event agree.
func synBase(t *testing.T, segs []decoder.Segment, dir decoder.Direction, events bool) uint32 {
	t.Helper()
	var seqs []uint32
	for _, s := range segs {
		if s.Dir == dir && s.Flags&decoder.SYN != 0 {
			seqs = append(seqs, s.Seq)
		}
	}
	want := 1
	if events {
		want = 2
	}
	if len(seqs) != want {
		t.Fatalf("%v: %d SYN segments, want %d", dir, len(seqs), want)
	}
	for _, s := range seqs[1:] {
		if s != seqs[0] {
			t.Errorf("%v: SYN at %d and %d: packet and open event disagree", dir, seqs[0], s)
		}
	}
	return seqs[0] + 1
}

// checkStreams rebuilds both directions of one connection from segments:
// every byte covered, captured bytes equal to those sent, and the captured
// set exactly every byte (full) or each frame's header + budget. A byte may
// be covered twice when TCP retransmitted it (tail loss probes happen on a
// loaded machine even over loopback); it returns how many were.
func checkStreams(t *testing.T, segs []decoder.Segment, reqs, resps [][]byte, budget int, full, events bool) (dups int) {
	t.Helper()
	for _, d := range []struct {
		dir    decoder.Direction
		frames [][]byte
	}{{decoder.ToServer, reqs}, {decoder.ToClient, resps}} {
		all := concat(d.frames...)
		s := newStream(synBase(t, segs, d.dir, events), all)
		for _, seg := range segs {
			if seg.Dir != d.dir || seg.Len == 0 {
				continue
			}
			if err := s.add(seg.Seq, seg.Len, seg.Data); err != nil {
				t.Fatalf("%v: %v", d.dir, err)
			}
		}
		var mask []bool
		if !full {
			mask = frameMask(d.frames, budget)
			// A retransmitted packet carries the start of its payload
			// whatever the frames: only the first copy follows the mask.
			s.captured = s.firstCopy
		}
		if err := s.check(true, mask); err != nil {
			var ls []string
			for _, seg := range segs {
				if seg.Dir == d.dir {
					ls = append(ls, fmt.Sprintf("%d+%d/%d %v", seg.Seq-s.base, seg.Len, len(seg.Data), seg.Flags))
				}
			}
			t.Logf("segments: %s", strings.Join(ls, " "))
			t.Fatalf("%v (%d bytes, %d frames): %v", d.dir, len(all), len(d.frames), err)
		}
		for _, n := range s.covered {
			if n > 1 {
				dups++
			}
		}
	}
	if dups > 0 {
		t.Logf("%d bytes seen twice (TCP retransmissions)", dups)
	}
	return dups
}

func TestLive(t *testing.T) {
	for _, mode := range []Mode{Full, HeaderOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := startChildServer(t)
			const budget = 64
			tr, err := Open(context.Background(), Config{
				CgroupPath: srv.cgroup, Ports: []uint16{srv.port}, Mode: mode,
				MetaBudget: budget, Logger: testLogger(t),
			})
			if err != nil {
				citest.Need(t, err)
			}
			defer tr.Close()
			if !tr.StateEvents() {
				citest.Need(t, errors.New("no connection events (tp_btf)"))
			}
			col := &collector{}
			stop := startRun(t, tr, col)

			type session struct {
				key         decoder.ConnKey
				reqs, resps [][]byte
			}
			var sessions []session
			for _, host := range []string{"127.0.0.1", "::1"} {
				c, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(srv.port))))
				if err != nil {
					t.Fatal(err)
				}
				reqs, resps := exchange(t, c)
				key := decoder.ConnKey{
					Client: netip.MustParseAddrPort(c.LocalAddr().String()),
					Server: netip.MustParseAddrPort(c.RemoteAddr().String()),
				}
				c.Close()
				col.waitClosed(t, key, true)
				sessions = append(sessions, session{key, reqs, resps})
			}
			stop()

			for _, s := range sessions {
				segs := col.of(s.key)
				checkStreams(t, segs, s.reqs, s.resps, budget, mode == Full, true)
				var closes int
				for _, seg := range segs {
					if seg.Len == 0 && seg.Flags&(decoder.FIN|decoder.RST) != 0 {
						closes++
					}
				}
				if closes < 4 {
					t.Errorf("%v: %d zero-length FIN/RST segments, want packet + close event each way", s.key, closes)
				}
			}
			st := tr.Stats()
			var buf strings.Builder
			st.Format(&buf)
			t.Logf("stats:\n%s", buf.String())
			if st.Lost() != 0 || st.RecordsMissing != 0 || st.RecordsBad != 0 || st.SyncLost != 0 {
				t.Errorf("lost %d, missing %d, bad %d, sync lost %d", st.Lost(), st.RecordsMissing, st.RecordsBad, st.SyncLost)
			}
			if st.BytesWire != st.BytesCaptured+st.BytesSkipped {
				t.Errorf("wire %d != captured %d + skipped %d", st.BytesWire, st.BytesCaptured, st.BytesSkipped)
			}
			if st.StateRecords < 4 {
				t.Errorf("%d state records, want an open and a close per connection", st.StateRecords)
			}
			if col.maxPkt <= maxChunk || (mode == Full && col.chunked == 0) {
				t.Errorf("largest packet %d bytes, %d packets chunked: no GSO packet split into records", col.maxPkt, col.chunked)
			}
			t.Logf("largest packet %d bytes; %d packets took several records", col.maxPkt, col.chunked)
		})
	}
}

// TestLiveRootOnce attaches at the cgroup v2 root, where both ends of a
// loopback connection are visible, and checks that each byte is captured
// once: the server's copy, not the client's.
func TestLiveRootOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveFrames(ln)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	tr, err := Open(context.Background(), Config{Ports: []uint16{port}, Mode: Full, Logger: testLogger(t)})
	if err != nil {
		citest.Need(t, err)
	}
	defer tr.Close()
	col := &collector{}
	stop := startRun(t, tr, col)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	reqs, resps := exchange(t, c)
	key := decoder.ConnKey{
		Client: netip.MustParseAddrPort(c.LocalAddr().String()),
		Server: netip.MustParseAddrPort(c.RemoteAddr().String()),
	}
	c.Close()
	col.waitClosed(t, key, tr.StateEvents())
	stop()

	col.mu.Lock()
	for _, s := range col.segs {
		if s.Key.Server.Port() != port {
			t.Errorf("segment of another connection: %v", s.Key)
		}
	}
	col.mu.Unlock()
	// The client's copies would cover every byte a second time.
	total := len(concat(reqs...)) + len(concat(resps...))
	if dups := checkStreams(t, col.of(key), reqs, resps, 0, true, tr.StateEvents()); dups > total/10 {
		t.Errorf("%d of %d bytes captured twice: the client's copies are kept too", dups, total)
	}
	if st := tr.Stats(); st.Lost() != 0 {
		t.Errorf("lost %d records", st.Lost())
	}
}

// TestRunCancelWithoutTraffic checks that cancelling an idle Run returns
// promptly (Flush wakes the blocked reader) and that Close after that works.
func TestRunCancelWithoutTraffic(t *testing.T) {
	h := newHarness(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.tr.Run(ctx, func(*decoder.Segment) {}) }()
	time.Sleep(50 * time.Millisecond)
	if err := h.tr.Run(ctx, nil); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	// Close during Run ends it with os.ErrClosed.
	errc = make(chan error, 1)
	go func() { errc <- h.tr.Run(context.Background(), func(*decoder.Segment) {}) }()
	time.Sleep(50 * time.Millisecond)
	if err := h.tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Run after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

// TestLiveRingFull gives a 1 MiB transfer a 64 KiB ring: records are lost,
// and exactly the bytes the kernel counted as dropped are missing from the
// rebuilt stream.
func TestLiveRingFull(t *testing.T) {
	srv := startChildServer(t)
	tr, err := Open(context.Background(), Config{
		CgroupPath: srv.cgroup, Ports: []uint16{srv.port}, Mode: Full,
		RingSize: 64 << 10, PollInterval: 50 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		citest.Need(t, err)
	}
	defer tr.Close()
	col := &collector{}
	stop := startRun(t, tr, col)

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(srv.port))))
	if err != nil {
		t.Fatal(err)
	}
	req := request(101, pattern(1<<20, 5))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var resp [8]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		t.Fatal(err)
	}
	key := decoder.ConnKey{
		Client: netip.MustParseAddrPort(c.LocalAddr().String()),
		Server: netip.MustParseAddrPort(c.RemoteAddr().String()),
	}
	c.Close()
	time.Sleep(200 * time.Millisecond) // FINs may be among the lost records
	stop()

	st := tr.Stats()
	if st.DroppedRecords == 0 {
		t.Skip("the reader kept up with a 64 KiB ring; nothing to check")
	}
	if st.BytesWire != st.BytesCaptured+st.BytesSkipped+st.DroppedBytes {
		t.Errorf("wire %d != captured %d + skipped %d + dropped %d", st.BytesWire, st.BytesCaptured, st.BytesSkipped, st.DroppedBytes)
	}
	if st.RecordsMissing > st.Lost() {
		t.Errorf("%d counter gaps but only %d records lost", st.RecordsMissing, st.Lost())
	}
	// Find the request stream start from its first data segment: the SYN
	// record may be among the lost ones.
	segs := col.of(key)
	all := concat(req, response(0, nil))
	covered := 0
	seen := map[uint32]bool{}
	for _, s := range segs {
		if s.Len > 0 && !seen[s.Seq] {
			seen[s.Seq] = true
			covered += int(s.Len)
		}
	}
	if missing := len(all) - covered; uint64(missing) != st.DroppedBytes {
		t.Errorf("%d bytes missing from the streams, kernel counted %d dropped", missing, st.DroppedBytes)
	}
	t.Logf("dropped %d records (%d bytes) of %d; %d counter gaps seen", st.DroppedRecords, st.DroppedBytes, st.Records+st.DroppedRecords, st.RecordsMissing)
}
