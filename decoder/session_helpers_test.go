package decoder_test

// Helpers for the fault-injection tests: the real capture as segments, an
// independent ground truth of its frames, a tracker run, and comparisons of
// a faulty run's events with the clean run's.

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

const sessionPath = "../testdata/session.pcapng"

var knownBugs = flag.Bool("known-bugs", false, "run the tests that fail on known bugs outside the decoder package (see knownBug)")

// knownBug skips a case that fails on a reported bug in a package this
// package's tests do not own, unless -known-bugs is given.
func knownBug(t *testing.T, why string) {
	t.Helper()
	if why != "" && !*knownBugs {
		t.Skip("known bug: " + why + " (run with -known-bugs)")
	}
}

var (
	sessionOnce sync.Once
	sessionSegs []decoder.Segment
	sessionErr  error
)

// session returns the segments of testdata/session.pcapng, each with its
// own copy of Data. The slice is shared: callers build new slices and new
// Data instead of writing to it (see the mutators below).
func session(t testing.TB) []decoder.Segment {
	t.Helper()
	sessionOnce.Do(func() { sessionSegs, sessionErr = readCapture(sessionPath) })
	if sessionErr != nil {
		t.Fatal(sessionErr)
	}
	return sessionSegs
}

func readCapture(path string) ([]decoder.Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := pcapfile.NewReader(f, pcapfile.Config{})
	if err != nil {
		return nil, err
	}
	var out []decoder.Segment
	var seg decoder.Segment
	for {
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		s := seg
		s.Data = slices.Clone(seg.Data)
		out = append(out, s)
	}
}

// ---------------------------------------------------------------------------
// Ground truth: the frames of the capture, found by following the length
// fields of the reassembled streams, independently of the decoder.

// rawFrame is one frame of one direction.
type rawFrame struct {
	code    uint32 // request: command code; response: status
	plen    uint32 // payload length
	start   uint64 // stream offset of the first header byte
	end     uint64 // stream offset just past the payload
	payload []byte
}

// truthConn is one connection of the capture.
type truthConn struct {
	key    decoder.ConnKey
	id     uint64 // the ConnID the tracker gives it: order of first sight
	isn    [2]uint32
	stream [2][]byte
	frames [2][]rawFrame
}

// offset returns the stream offset of a data segment of the connection.
func (c *truthConn) offset(s *decoder.Segment) uint64 { return uint64(s.Seq - c.isn[s.Dir]) }

type truth struct {
	conns []*truthConn // in order of first sight
	byKey map[decoder.ConnKey]*truthConn
}

func buildTruth(t testing.TB, segs []decoder.Segment) *truth {
	t.Helper()
	tr := &truth{byKey: map[decoder.ConnKey]*truthConn{}}
	for i := range segs {
		s := &segs[i]
		c := tr.byKey[s.Key]
		if c == nil {
			if s.Flags&decoder.SYN == 0 {
				t.Fatalf("segment %d: connection %v starts without SYN", i, s.Key)
			}
			c = &truthConn{key: s.Key, id: uint64(len(tr.conns) + 1)}
			tr.conns = append(tr.conns, c)
			tr.byKey[s.Key] = c
		}
		if s.Flags&decoder.SYN != 0 {
			c.isn[s.Dir] = s.Seq + 1
			continue
		}
		if s.Len == 0 {
			continue
		}
		if int(s.Len) != len(s.Data) {
			t.Fatalf("segment %d: %d of %d bytes captured", i, len(s.Data), s.Len)
		}
		if off := c.offset(s); off != uint64(len(c.stream[s.Dir])) {
			t.Fatalf("segment %d: offset %d, stream has %d bytes: the capture is not in order", i, off, len(c.stream[s.Dir]))
		}
		c.stream[s.Dir] = append(c.stream[s.Dir], s.Data...)
	}
	for _, c := range tr.conns {
		for dir := range 2 {
			b := c.stream[dir]
			for off := 0; off < len(b); {
				if len(b)-off < 8 {
					t.Fatalf("conn %d dir %d: stream ends inside a header", c.id, dir)
				}
				first, second := binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])
				f := rawFrame{code: first, plen: second}
				if dir == int(decoder.ToServer) {
					f.code, f.plen = second, first-4
				}
				f.start, f.end = uint64(off), uint64(off)+8+uint64(f.plen)
				if f.end > uint64(len(b)) {
					t.Fatalf("conn %d dir %d: frame at %d runs past the stream", c.id, dir, off)
				}
				f.payload = b[off+8 : f.end]
				c.frames[dir] = append(c.frames[dir], f)
				off = int(f.end)
			}
		}
		if len(c.frames[0]) != len(c.frames[1]) {
			t.Fatalf("conn %d: %d requests, %d responses", c.id, len(c.frames[0]), len(c.frames[1]))
		}
	}
	return tr
}

// requests is the number of request frames in the capture.
func (tr *truth) requests() int {
	n := 0
	for _, c := range tr.conns {
		n += len(c.frames[decoder.ToServer])
	}
	return n
}

// frameAt returns the index of the frame of c's direction dir holding
// stream offset off, or -1.
func (c *truthConn) frameAt(dir decoder.Direction, off uint64) int {
	for i, f := range c.frames[dir] {
		if f.start <= off && off < f.end {
			return i
		}
	}
	return -1
}

// findSeg returns the index of the data segment of conn c, direction dir,
// that carries stream offset off.
func findSeg(segs []decoder.Segment, c *truthConn, dir decoder.Direction, off uint64) int {
	for i := range segs {
		s := &segs[i]
		if s.Key == c.key && s.Dir == dir && s.Len > 0 && s.Flags&decoder.SYN == 0 {
			if o := c.offset(s); o <= off && off < o+uint64(s.Len) {
				return i
			}
		}
	}
	return -1
}

// ---------------------------------------------------------------------------
// Running a tracker.

type run struct {
	events []*decoder.Event
	// fed[i] is the number of events emitted once segment i was fed.
	fed   []int
	stats decoder.Stats
}

func track(cfg decoder.Config, segs []decoder.Segment) *run {
	r := &run{fed: make([]int, len(segs))}
	tr := decoder.NewTracker(cfg, func(ev *decoder.Event) { r.events = append(r.events, ev) })
	for i := range segs {
		tr.Feed(&segs[i])
		r.fed[i] = len(r.events)
	}
	tr.Flush()
	r.stats = tr.Stats()
	return r
}

// of returns the events of one kind, in order.
func (r *run) of(kind decoder.EventKind) []*decoder.Event {
	var out []*decoder.Event
	for _, ev := range r.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// conn returns the events of one connection other than open and close.
func (r *run) conn(id uint64) []*decoder.Event {
	var out []*decoder.Event
	for _, ev := range r.events {
		if ev.ConnID == id && ev.Kind != decoder.EventOpen && ev.Kind != decoder.EventClose {
			out = append(out, ev)
		}
	}
	return out
}

func (r *run) close(id uint64) *decoder.Event {
	for _, ev := range r.events {
		if ev.ConnID == id && ev.Kind == decoder.EventClose {
			return ev
		}
	}
	return nil
}

func (r *run) dump() string {
	var b strings.Builder
	for i, ev := range r.events {
		fmt.Fprintf(&b, "%3d %s\n", i, describe(ev))
	}
	return b.String()
}

// describe is a one-line summary of an event for failure messages.
func describe(ev *decoder.Event) string {
	s := fmt.Sprintf("#%d %s", ev.ConnID, ev.Kind)
	switch ev.Kind {
	case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
		s += fmt.Sprintf(" %s(%d)", ev.Command, ev.Code)
		if ev.Kind != decoder.EventRequest {
			s += fmt.Sprintf(" → %s(%d)", ev.StatusName, ev.Status)
		}
		s += fmt.Sprintf(" req=%dB@%d resp=%dB@%d", ev.ReqBytes, ev.ReqTime%1e9, ev.RespBytes, ev.RespTime%1e9)
	case decoder.EventGap, decoder.EventDesync:
		s += fmt.Sprintf(" %s %d bytes (%s)", ev.Dir, ev.Bytes, ev.Reason)
	case decoder.EventClose:
		s += fmt.Sprintf(" %+v", *ev.Stats)
	}
	if names := ev.Flags.Names(); len(names) > 0 {
		s += " [" + strings.Join(names, ",") + "]"
	}
	if ev.Error != "" {
		s += " error=" + ev.Error
	}
	return s
}

// sig is everything an event reports except its flags, its counters and
// its connection number: two events with the same sig decoded the same
// exchange the same way.
func sig(ev *decoder.Event) string {
	return fmt.Sprintf("%s %v→%v code=%d %q status=%d %q nf=%v req=%d@%d resp=%d@%d lat=%d dir=%v bytes=%d %q err=%q\nreq=%v\nresp=%v\nsum=%+v",
		ev.Kind, ev.Client, ev.Server, ev.Code, ev.Command, ev.Status, ev.StatusName, ev.NotFound,
		ev.ReqBytes, ev.ReqTime, ev.RespBytes, ev.RespTime, ev.Latency, ev.Dir, ev.Bytes, ev.Reason, ev.Error,
		ev.Request, ev.Response, ev.Summary)
}

// exchangeKey identifies a request across runs: its connection (by client
// address: connection numbers depend on what else the capture holds), the
// capture time of its first byte and its command.
type exchangeKey struct {
	client  netip.AddrPort
	reqTime int64
	code    protocol.Code
}

func keyOf(ev *decoder.Event) exchangeKey { return exchangeKey{ev.Client, ev.ReqTime, ev.Code} }

// cleanRun is the clean session's run with its pairs indexed.
type cleanRun struct {
	*run
	tr     *truth
	byKey  map[exchangeKey]*decoder.Event
	byConn map[uint64][]*decoder.Event // pairs per connection, in request order
}

var (
	cleanOnce sync.Once
	cleanVal  *cleanRun
)

// clean returns the clean session's run; checks on it are in TestCleanSession.
func clean(t testing.TB) *cleanRun {
	t.Helper()
	segs := session(t)
	cleanOnce.Do(func() {
		c := &cleanRun{run: track(decoder.Config{}, segs), tr: buildTruth(t, segs),
			byKey: map[exchangeKey]*decoder.Event{}, byConn: map[uint64][]*decoder.Event{}}
		for _, ev := range c.of(decoder.EventPair) {
			c.byKey[keyOf(ev)] = ev
			c.byConn[ev.ConnID] = append(c.byConn[ev.ConnID], ev)
		}
		cleanVal = c
	})
	if cleanVal == nil {
		t.Fatal("clean run failed")
	}
	return cleanVal
}

// pairOf returns the clean pair of request i of connection id.
func (c *cleanRun) pairOf(id uint64, i int) *decoder.Event { return c.byConn[id][i] }

// checkNoMispairing is the key property: every pair of a faulty run pairs
// a request of the clean run with that request's own response (same
// status, same response frame), and a pair with no partial frame decoded
// exactly as in the clean run. It returns the pairs that matched exactly.
//
// except lists requests whose response frame the test altered: only their
// status is compared.
func checkNoMispairing(t testing.TB, c *cleanRun, got *run, except ...exchangeKey) int {
	t.Helper()
	exact := 0
	for _, ev := range got.of(decoder.EventPair) {
		want := c.byKey[keyOf(ev)]
		if want != nil && slices.Contains(except, keyOf(ev)) {
			if ev.Status != want.Status {
				t.Errorf("WRONG PAIRING: %s\n  the clean run paired that request with: %s", describe(ev), describe(want))
			}
			continue
		}
		if want == nil {
			t.Errorf("pair of a request the clean run does not have: %s", describe(ev))
			continue
		}
		// A response whose end was lost ends when the loss was found: only
		// its size (from its header) and status identify it then.
		sameEnd := ev.RespTime == want.RespTime || ev.Flags&decoder.FlagResponsePartial != 0
		if ev.Status != want.Status || !sameEnd || ev.RespBytes != want.RespBytes {
			t.Errorf("WRONG PAIRING: %s\n  the clean run paired that request with: %s", describe(ev), describe(want))
			continue
		}
		if ev.Flags&(decoder.FlagRequestPartial|decoder.FlagResponsePartial) != 0 {
			continue
		}
		if sig(ev) != sig(want) {
			t.Errorf("pair decoded differently from the clean run:\n%s", sigDiff(sig(ev), sig(want)))
			continue
		}
		if extra := ev.Flags &^ want.Flags; extra&^decoder.FlagAfterGap != 0 {
			t.Errorf("pair has flags %v, clean %v: %s", ev.Flags.Names(), want.Flags.Names(), describe(ev))
			continue
		}
		exact++
	}
	return exact
}

// checkPairing checks the key property alone: every pair of a faulty run
// pairs a request of the clean run with that request's own response.
func checkPairing(t testing.TB, c *cleanRun, got *run) {
	t.Helper()
	for _, ev := range got.of(decoder.EventPair) {
		want := c.byKey[keyOf(ev)]
		if want == nil {
			t.Errorf("pair of a request the clean run does not have: %s", describe(ev))
			continue
		}
		sameEnd := ev.RespTime == want.RespTime || ev.Flags&decoder.FlagResponsePartial != 0
		if ev.Status != want.Status || !sameEnd || ev.RespBytes != want.RespBytes {
			t.Errorf("WRONG PAIRING: %s\n  the clean run paired that request with: %s", describe(ev), describe(want))
		}
	}
}

// expectExact checks that the clean pairs of the given requests (conn id,
// request index) appear in got, identical.
func expectExact(t testing.TB, c *cleanRun, got *run, id uint64, idx ...int) {
	t.Helper()
	have := map[exchangeKey]*decoder.Event{}
	for _, ev := range got.of(decoder.EventPair) {
		have[keyOf(ev)] = ev
	}
	for _, i := range idx {
		want := c.pairOf(id, i)
		ev := have[keyOf(want)]
		if ev == nil {
			t.Errorf("conn %d exchange %d missing: want %s", id, i, describe(want))
			continue
		}
		if sig(ev) != sig(want) {
			t.Errorf("conn %d exchange %d decoded differently:\n%s", id, i, sigDiff(sig(ev), sig(want)))
		}
	}
}

// checkConsistent checks what must hold of any event whatever the input:
// names match codes, flags match kinds.
func checkConsistent(t testing.TB, evs []*decoder.Event) {
	t.Helper()
	for _, ev := range evs {
		bad := func(why string) { t.Helper(); t.Errorf("%s: %s", why, describe(ev)) }
		switch ev.Kind {
		case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
			if ev.Kind != decoder.EventResponse {
				cmd, ok := protocol.Lookup(ev.Code)
				switch {
				case ok && (ev.Command != cmd.Name || ev.Cmd() != cmd || ev.Flags&decoder.FlagUnknownCommand != 0):
					bad("command name does not match its code")
				case !ok && (ev.Command != "" || ev.Flags&decoder.FlagUnknownCommand == 0):
					bad("unknown code not flagged")
				}
				if ev.ReqBytes < 8 {
					bad("request shorter than a header")
				}
			} else if ev.ReqBytes != 0 || ev.Command != "" || ev.Request != nil || ev.Flags&decoder.FlagNoRequest == 0 {
				bad("lone response with request fields or without no_request")
			}
			if ev.Kind != decoder.EventRequest {
				if ev.StatusName != protocol.StatusName(ev.Status) {
					bad("status name does not match the status")
				}
				if ev.RespBytes < 8 {
					bad("response shorter than a header")
				}
				if ev.Status != 0 && (ev.RespBytes != 8 || ev.Response != nil) {
					bad("error status with a payload")
				}
			} else {
				if ev.RespBytes != 0 || ev.Response != nil || ev.StatusName != "" {
					bad("lone request with response fields")
				}
				if ev.Flags&(decoder.FlagNoResponse|decoder.FlagResponseLost) == 0 {
					bad("lone request without no_response or response_lost")
				}
			}
			if ev.Kind == decoder.EventPair && ev.Flags&(decoder.FlagNoResponse|decoder.FlagResponseLost|decoder.FlagNoRequest) != 0 {
				bad("pair flagged as unpaired")
			}
			if ev.Flags&decoder.FlagDecodeError != 0 && ev.Error == "" {
				bad("decode_error without error")
			}
		case decoder.EventGap, decoder.EventDesync:
			if ev.Bytes == 0 || ev.Reason == "" {
				bad("empty gap or desync")
			}
		case decoder.EventClose:
			if ev.Stats == nil {
				bad("close without stats")
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Mutators: each returns a new slice and never writes to the input.

// without returns segs without the segments at the given indices.
func without(segs []decoder.Segment, idx ...int) []decoder.Segment {
	out := make([]decoder.Segment, 0, len(segs))
	for i := range segs {
		if !slices.Contains(idx, i) {
			out = append(out, segs[i])
		}
	}
	return out
}

// cutAt returns the capture as if it ended after b payload bytes of
// segment k.
func cutAt(segs []decoder.Segment, k, b int) []decoder.Segment {
	out := slices.Clone(segs[:k+1])
	s := &out[k]
	s.Data = s.Data[:min(b, len(s.Data))]
	s.Len = uint32(b)
	s.Flags &^= decoder.FIN | decoder.RST
	return out
}

// insertData inserts a data segment into direction dir of the connection
// key before segment at, and shifts the sequence numbers of that direction's
// later segments to make room: as if the peer had sent data there.
func insertData(segs []decoder.Segment, at int, key decoder.ConnKey, dir decoder.Direction, data []byte) []decoder.Segment {
	out := make([]decoder.Segment, 0, len(segs)+1)
	out = append(out, segs[:at]...)
	// The inserted bytes go where the next segment of that direction begins.
	var seq uint32
	found := false
	for i := at; i < len(segs); i++ {
		if s := segs[i]; s.Key == key && s.Dir == dir && s.Flags&decoder.SYN == 0 {
			seq, found = s.Seq, true
			break
		}
	}
	if !found {
		for i := at - 1; i >= 0; i-- {
			if s := segs[i]; s.Key == key && s.Dir == dir {
				seq = s.Seq + s.Len
				if s.Flags&decoder.SYN != 0 {
					seq = s.Seq + 1
				}
				break
			}
		}
	}
	tm := segs[min(at, len(segs)-1)].Time
	if at > 0 {
		tm = segs[at-1].Time + 1
	}
	out = append(out, decoder.Segment{Time: tm, Key: key, Dir: dir, Seq: seq, Len: uint32(len(data)), Data: data})
	for _, s := range segs[at:] {
		if s.Key == key && s.Dir == dir && s.Flags&decoder.SYN == 0 {
			s.Seq += uint32(len(data))
		}
		out = append(out, s)
	}
	return out
}

// replaceData returns segs with segment k's payload replaced by data
// (same length).
func replaceData(segs []decoder.Segment, k int, data []byte) []decoder.Segment {
	out := slices.Clone(segs)
	out[k].Data = data
	return out
}

// sigDiff shows the first line where two sigs differ, shortened.
func sigDiff(got, want string) string {
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			return " got: " + shorten(gl[i]) + "\nwant: " + shorten(wl[i])
		}
	}
	return " got: " + shorten(got) + "\nwant: " + shorten(want)
}

func shorten(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}
