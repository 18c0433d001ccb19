package testserver_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	iggcon "github.com/apache/iggy/foreign/go/contracts"

	"github.com/iggytrace/iggytrace/internal/testserver"
)

// Every command code a classic 0.8 server knows (wire doc §3).
var classicCodes = []uint32{
	1, 10, 11, 12, 20, 21, 22, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43, 44,
	100, 101, 102, 120, 121, 122, 200, 201, 202, 203, 204, 205,
	300, 301, 302, 303, 304, 305, 402, 403, 503, 600, 601, 602, 603, 604, 605,
}

// TestPreAuthCommands checks §2.1 item 8: before login only Ping (1),
// LoginUser (38) and LoginWithPersonalAccessToken (44) are not answered with
// 40 Unauthenticated; error frames have length 0.
func TestPreAuthCommands(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	c := dialRaw(t, addr)
	for _, code := range classicCodes {
		if code == 38 || code == 44 || code == 101 {
			continue // logins change state; SendMessages has its own test
		}
		st, payload := c.do(code, nil)
		want := uint32(40)
		if code == 1 {
			want = 0
		}
		if st != want || len(payload) != 0 {
			t.Errorf("code %d before login: status %d with %d payload bytes, want %d and none", code, st, len(payload), want)
		}
	}
	// A bad login is answered by the login logic itself, not with 40.
	if st, _ := c.do(38, loginPayload("iggy", "nope")); st != 42 {
		t.Errorf("wrong password: status %d, want 42 InvalidCredentials", st)
	}
	if st, _ := c.do(38, loginPayload("nobody", rootPassword)); st != 42 {
		t.Errorf("unknown user: status %d, want 42 InvalidCredentials", st)
	}
	if st, _ := c.do(44, str8("not-a-token")); st != 53 {
		t.Errorf("bogus token: status %d, want 53 InvalidPersonalAccessToken", st)
	}
	st, payload := c.do(38, loginPayload("iggy", rootPassword))
	if st != 0 || !bytes.Equal(payload, []byte{0, 0, 0, 0}) {
		t.Fatalf("root login: status %d payload %x, want 0 and user id 0", st, payload)
	}
	if st, _ := c.do(201, nil); st != 0 {
		t.Errorf("GetStreams after login: status %d", st)
	}
	if st, _ := c.do(39, nil); st != 0 {
		t.Errorf("logout: status %d", st)
	}
	if st, _ := c.do(201, nil); st != 40 {
		t.Errorf("GetStreams after logout: status %d, want 40", st)
	}
}

// TestFramingErrors covers §2.1 item 5 as 0.8 behaves: unknown code → 3 with
// the payload consumed; length < 4 → 3 without draining; a decoding failure
// → 3 (truncated) or 4 (malformed), and the connection keeps working.
func TestFramingErrors(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	c := dialRaw(t, addr)
	c.login()

	if st, _ := c.do(999, []byte("ignored payload")); st != 3 {
		t.Errorf("unknown code: status %d, want 3", st)
	}
	// length 2 < 4: the next 8 bytes are a new frame (Ping).
	short := binary.LittleEndian.AppendUint32(nil, 2)
	short = binary.LittleEndian.AppendUint32(short, 1)
	c.send(append(short, frame(1, nil)...))
	if st, _ := c.read(); st != 3 {
		t.Errorf("length 2: status %d, want 3", st)
	}
	if st, _ := c.read(); st != 0 {
		t.Errorf("ping after short frame: status %d, want 0", st)
	}
	if st, _ := c.do(200, []byte{1, 4, 0}); st != 3 {
		t.Errorf("truncated identifier: status %d, want 3", st)
	}
	if st, _ := c.do(200, []byte{1, 3, 0, 0, 0}); st != 4 {
		t.Errorf("numeric identifier of length 3: status %d, want 4", st)
	}
	if st, _ := c.do(202, []byte{0}); st != 4 {
		t.Errorf("empty stream name: status %d, want 4", st)
	}
	if st, _ := c.do(1, nil); st != 0 {
		t.Errorf("ping at the end: status %d", st)
	}
}

// TestHugeLengthFrames sends 4 GiB length fields. A control frame is
// answered with 3 without reading the (absent) payload, like 0.8; a
// SendMessages frame is answered with 3 and the connection closed. Neither
// may make the server allocate the claimed size.
func TestHugeLengthFrames(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	before := heapInUse()

	c := dialRaw(t, addr)
	c.login()
	huge := binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF)
	huge = binary.LittleEndian.AppendUint32(huge, 201)
	c.send(append(huge, frame(1, nil)...))
	if st, _ := c.read(); st != 3 {
		t.Errorf("4 GiB GetStreams: status %d, want 3", st)
	}
	if st, _ := c.read(); st != 0 {
		t.Errorf("ping after 4 GiB frame: status %d, want 0 (stream not drained)", st)
	}

	s := dialRaw(t, addr)
	s.login()
	huge = binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF)
	huge = binary.LittleEndian.AppendUint32(huge, 101)
	s.send(append(huge, make([]byte, 1<<16)...))
	if st, _ := s.read(); st != 3 {
		t.Errorf("4 GiB SendMessages: status %d, want 3", st)
	}
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after 4 GiB SendMessages")
	}

	// A frame that claims 200 MiB (under the cap) but sends 1 MiB and stops
	// must not cost 200 MiB.
	p := dialRaw(t, addr)
	p.login()
	claim := binary.LittleEndian.AppendUint32(nil, 200<<20)
	claim = binary.LittleEndian.AppendUint32(claim, 101)
	p.send(append(claim, make([]byte, 1<<20)...))
	time.Sleep(100 * time.Millisecond)
	if grown := heapInUse() - before; grown > 64<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	_ = p.Close()
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// TestUnauthenticatedSendMessagesDesync reproduces §2.1 item 7: 40 is
// answered before the body is read, and the body is then parsed as frames.
func TestUnauthenticatedSendMessagesDesync(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	c := dialRaw(t, addr)
	body := frame(1, nil) // the "body" happens to be a Ping frame
	c.send(frame(101, body))
	if st, _ := c.read(); st != 40 {
		t.Fatalf("unauthenticated SendMessages: status %d, want 40", st)
	}
	if st, _ := c.read(); st != 0 {
		t.Fatalf("body parsed as Ping: status %d, want 0", st)
	}
}

// TestGarbage feeds random bytes and truncated frames on several
// connections; the server must neither crash nor stop serving.
func TestGarbage(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for i := range 8 {
		junk := make([]byte, 4096+i*997)
		for j := range junk {
			junk[j] = byte(rng.UintN(256))
		}
		if i%2 == 0 {
			// Valid-looking headers with small lengths reach the handlers.
			for off := 0; off+8 <= len(junk); off += 64 {
				binary.LittleEndian.PutUint32(junk[off:], uint32(4+rng.UintN(48)))
				binary.LittleEndian.PutUint32(junk[off+4:], classicCodes[rng.IntN(len(classicCodes))])
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			if i%2 == 0 {
				_, _ = c.Write(frame(38, loginPayload("iggy", rootPassword)))
			}
			_, _ = c.Write(junk)
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()

	// Truncated frame: header promises 100 bytes, 10 arrive, then EOF.
	tr := dialRaw(t, addr)
	tr.login()
	tr.send(append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 104), 202), make([]byte, 10)...))
	_ = tr.Close()

	cli := rootClient(t, addr)
	if err := cli.Ping(); err != nil {
		t.Fatalf("ping after garbage: %v", err)
	}
	if _, err := cli.GetStats(); err != nil {
		t.Fatalf("stats after garbage: %v", err)
	}
}

// TestOnExchange checks that the hook sees exact request and response frames.
func TestOnExchange(t *testing.T) {
	type exchange struct {
		conn      uint64
		req, resp []byte
	}
	var mu sync.Mutex
	var got []exchange
	_, addr := start(t, testserver.Config{OnExchange: func(conn uint64, req, resp []byte) {
		mu.Lock()
		got = append(got, exchange{conn, req, resp})
		mu.Unlock()
	}})
	c := dialRaw(t, addr)
	login := frame(38, loginPayload("iggy", rootPassword))
	c.send(login)
	c.read()
	c.send(frame(202, str8("hooked")))
	_, streamPayload := c.read()
	_ = c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d exchanges, want 2", len(got))
	}
	if !bytes.Equal(got[0].req, login) || !bytes.Equal(got[0].resp, []byte{0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("login exchange: req %x resp %x", got[0].req, got[0].resp)
	}
	if !bytes.Equal(got[1].req, frame(202, str8("hooked"))) || !bytes.Equal(got[1].resp[8:], streamPayload) {
		t.Errorf("create stream exchange: req %x resp %x", got[1].req, got[1].resp)
	}
	if got[0].conn != got[1].conn || got[0].conn == 0 {
		t.Errorf("connection ids %d and %d", got[0].conn, got[1].conn)
	}
}

// TestSnapshotIsZip: GetSnapshotFile answers a readable ZIP archive.
func TestSnapshotIsZip(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	c := dialRaw(t, addr)
	c.login()
	for _, tc := range []struct {
		req   []byte
		files int
	}{
		{[]byte{1, 1, 4}, 1},    // Stored, Test
		{[]byte{2, 2, 1, 3}, 2}, // Deflated, FilesystemOverview + ResourceUsage
		{[]byte{4, 1, 100}, 6},  // Zstd (falls back to Deflated), All
	} {
		st, payload := c.do(11, tc.req)
		if st != 0 {
			t.Fatalf("snapshot %x: status %d", tc.req, st)
		}
		zr, err := zip.NewReader(bytes.NewReader(payload), int64(len(payload)))
		if err != nil {
			t.Fatalf("snapshot %x: not a zip: %v", tc.req, err)
		}
		if len(zr.File) != tc.files {
			t.Errorf("snapshot %x: %d files, want %d", tc.req, len(zr.File), tc.files)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatalf("open %s: %v", f.Name, err)
			}
			if b, err := io.ReadAll(rc); err != nil || len(b) == 0 {
				t.Errorf("read %s: %d bytes, %v", f.Name, len(b), err)
			}
			_ = rc.Close()
		}
	}
	if st, _ := c.do(11, []byte{9, 1, 1}); st != 3 {
		t.Errorf("unknown compression: status %d, want 3", st)
	}
	if st, _ := c.do(11, []byte{1, 1, 42}); st != 3 {
		t.Errorf("unknown snapshot type: status %d, want 3", st)
	}
}

// TestRawOnlyCommands covers the commands the SDK lacks: GetMe,
// FlushUnsavedBuffer, PurgeStream, PurgeTopic, DeleteSegments, and GetClient
// for an unknown id (empty OK).
func TestRawOnlyCommands(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	cli := rootClient(t, addr)
	s := must[*iggcon.StreamDetails](t, "create stream")(cli.CreateStream("raw"))
	tp := must[*iggcon.TopicDetails](t, "create topic")(cli.CreateTopic(num(s.Id), "t", 2, 1, 0, 0, nil))
	sendN(t, cli, s.Id, tp.Id, 0, 3)

	c := dialRaw(t, addr)
	c.login()
	st, me := c.do(20, nil)
	if st != 0 || len(me) < 17 {
		t.Fatalf("GetMe: status %d, %d bytes", st, len(me))
	}
	if uid := binary.LittleEndian.Uint32(me[4:8]); uid != 0 {
		t.Errorf("GetMe user id %d, want 0", uid)
	}
	if addrLen := binary.LittleEndian.Uint32(me[9:13]); string(me[13:13+addrLen]) != c.LocalAddr().String() {
		t.Errorf("GetMe address %q, want %q", me[13:13+addrLen], c.LocalAddr())
	}
	st, notFound := c.do(21, binary.LittleEndian.AppendUint32(nil, 777))
	if st != 0 || len(notFound) != 0 {
		t.Errorf("GetClient(777): status %d, %d bytes, want empty OK", st, len(notFound))
	}
	ids := append(numIDBytes(s.Id), numIDBytes(tp.Id)...)
	if st, _ := c.do(102, append(append(ids, 0, 0, 0, 0), 1)); st != 0 {
		t.Errorf("FlushUnsavedBuffer: status %d", st)
	}
	if st, _ := c.do(102, append(append(ids, 9, 0, 0, 0), 0)); st != 3007 {
		t.Errorf("FlushUnsavedBuffer partition 9: status %d, want 3007", st)
	}
	if st, _ := c.do(503, append(ids, 0, 0, 0, 0, 1, 0, 0, 0)); st != 0 {
		t.Errorf("DeleteSegments: status %d", st)
	}
	if st, _ := c.do(503, append(ids, 0, 0, 0, 0, 9, 0, 0, 0)); st != 4030 {
		t.Errorf("DeleteSegments of 9 segments: status %d, want 4030", st)
	}
	if st, _ := c.do(305, ids); st != 0 {
		t.Errorf("PurgeTopic: status %d", st)
	}
	topic := must[*iggcon.TopicDetails](t, "get topic")(cli.GetTopic(num(s.Id), num(tp.Id)))
	if topic.MessagesCount != 0 || topic.Partitions[0].CurrentOffset != 0 {
		t.Errorf("after purge: %d messages, current offset %d", topic.MessagesCount, topic.Partitions[0].CurrentOffset)
	}
	sendN(t, cli, s.Id, tp.Id, 1, 2)
	if st, _ := c.do(205, numIDBytes(s.Id)); st != 0 {
		t.Errorf("PurgeStream: status %d", st)
	}
	if st, _ := c.do(205, numIDBytes(99)); st != 1009 {
		t.Errorf("PurgeStream missing: status %d, want 1009", st)
	}
	stream := must[*iggcon.StreamDetails](t, "get stream")(cli.GetStream(num(s.Id)))
	if stream.MessagesCount != 0 {
		t.Errorf("after stream purge: %d messages", stream.MessagesCount)
	}
}

// TestCloseSendsDisconnected: Close sends the unsolicited status-8 frame to
// idle clients and closes them.
func TestCloseSendsDisconnected(t *testing.T) {
	srv, addr, err := testserver.Start(context.Background(), testserver.Config{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr.String())
	if st, _ := c.do(1, nil); st != 0 {
		t.Fatalf("ping: %d", st)
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
}

// TestServeConnOverPipe drives ServeConn over net.Pipe, the path a non-TCP
// transport would use, and checks that cancelling ctx ends it.
func TestServeConnOverPipe(t *testing.T) {
	srv := testserver.New(testserver.Config{RootPassword: rootPassword})
	defer srv.Close()
	client, server := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		srv.ServeConn(ctx, server, "pipe:1")
		close(done)
	}()
	c := &rawConn{t: t, Conn: client}
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	c.login()
	if st, _ := c.do(202, str8("piped")); st != 0 {
		t.Fatalf("create stream over pipe: status %d", st)
	}
	st, me := c.do(20, nil)
	if st != 0 || !bytes.Contains(me, []byte("pipe:1")) {
		t.Fatalf("GetMe over pipe: status %d, payload %q lacks the remote name", st, me)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return after cancel")
	}
}

// TestServeStopsOnCancel: Serve returns nil when its context ends.
func TestServeStopsOnCancel(t *testing.T) {
	srv := testserver.New(testserver.Config{})
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
