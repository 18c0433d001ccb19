package main

// Live kernel capture, end to end: the test server runs as a child process
// in a cgroup of its own, the eBPF capture is attached to that cgroup, the
// official Go SDK drives the server, and the decoded events are compared
// with what the SDK did. These tests need root and a kernel that allows
// BPF: they skip without, except in CI (CI=true), where they fail.
//
// Issue "Live kernel capture": 1 and 3 TestLiveSDK (full and header-only,
// plain and io_uring server), 2 TestLiveConcurrent, 4 TestLiveRingTooSmall,
// 5 TestLiveMidStream, 6 TestLiveWritePcap, 7 TestLiveSignals. The test
// binary acts as `iggytrace` when re-executed (TestMain), so the server
// child and the signalled trace process are the real commands.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/internal/workload"
	"github.com/iggytrace/iggytrace/loader"
)

// fullSession is one run of workload.Full under a live trace.
type fullSession struct {
	calls  []workload.Call
	events []*decoder.Event
	stats  loader.Stats
	budget int // -1 in full mode
}

// traceFull runs workload.Full against a fresh test server in a fresh
// cgroup while tracing it in mode, and returns once every connection has
// been reported closed and the trace has stopped.
func traceFull(t *testing.T, mode loader.Mode, ioUring bool, pcapPath string) *fullSession {
	t.Helper()
	cg := newCgroup(t)
	addr, port := startTestServer(t, cg, ioUring)
	lt := startTrace(t, loader.Config{CgroupPath: cg, Ports: []uint16{port}, Mode: mode}, pcapPath)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	calls, err := workload.Full(ctx, addr)
	if err != nil {
		t.Fatalf("workload.Full: %v", err)
	}
	t1 := time.Now()
	conns := len(callsByConn(calls))
	lt.waitClosed(conns, 15*time.Second)
	t2 := time.Now()
	lt.stop()
	t.Logf("workload %v, close events %v later, trace stopped %v later", t1.Sub(t0).Round(time.Millisecond),
		t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
	s := &fullSession{calls: calls, events: lt.events.all(), stats: lt.stats, budget: -1}
	if mode == loader.HeaderOnly {
		s.budget = lt.tr.Config().MetaBudget
	}
	return s
}

// check compares the session's events with its workload log.
func (s *fullSession) check(t *testing.T) {
	t.Helper()
	kernelClean(t, s.stats, s.budget < 0)
	sc := compareSession(t, s.events, s.calls, s.budget)
	if sc.pairs < 100 {
		t.Errorf("only %d exchanges compared", sc.pairs)
	}
	if s.budget >= 0 && (sc.partialReq == 0 || sc.partial == 0) {
		t.Errorf("header-only: %d requests and %d responses beyond the budget; the workload should have both", sc.partialReq, sc.partial)
	}
	t.Logf("%d events; %d connections, %d exchanges compared with the SDK log (%d fields); %d requests and %d responses cut by the budget; kernel: %d records, %d bytes on the wire, %d captured, %d skipped",
		len(s.events), sc.conns, sc.pairs, sc.fields, sc.partialReq, sc.partial,
		s.stats.Records, s.stats.BytesWire, s.stats.BytesCaptured, s.stats.BytesSkipped)
}

// TestLiveSDK is tests 1 and 3 of "Live kernel capture": the whole SDK
// workload traced in full and header-only mode, with the server doing its
// I/O through ordinary syscalls and through io_uring; the io_uring runs must
// decode to the same exchanges as the ordinary ones.
func TestLiveSDK(t *testing.T) {
	modes := []loader.Mode{loader.Full, loader.HeaderOnly}
	plain := map[loader.Mode]*fullSession{}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			s := traceFull(t, mode, false, "")
			s.check(t)
			plain[mode] = s
		})
	}
	for _, mode := range modes {
		t.Run("io_uring-"+mode.String(), func(t *testing.T) {
			s := traceFull(t, mode, true, "")
			s.check(t)
			ref := plain[mode]
			if ref == nil {
				ref = traceFull(t, mode, false, "")
			}
			a, b := normalize(ref.events), normalize(s.events)
			if !slices.Equal(a, b) {
				t.Errorf("io_uring and plain servers decode differently:\n%s", firstDiff(a, b))
			}
			t.Logf("%d normalized events identical across transports", len(a))
		})
	}
}

// normalize renders events without what legitimately differs between two
// runs of the same workload: times, ports, process and memory figures,
// server-assigned message ids and checksums.
// Events of different connections interleave as timing has it: the result
// is ordered by connection, each connection's events in their order.
func normalize(evs []*decoder.Event) []string {
	var out []string
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b *decoder.Event) int { return int(a.ConnID) - int(b.ConnID) })
	for _, ev := range evs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s conn=%d code=%d status=%d flags=%v req=%d resp=%d nf=%v", ev.Kind, ev.ConnID, ev.Code, ev.Status,
			ev.Flags.Names(), ev.ReqBytes, ev.RespBytes, ev.NotFound)
		for _, side := range [][]protocol.Value{ev.Request, ev.Response} {
			var toks []string
			perms := false
			for _, v := range side {
				toks = append(toks, v.Name+":"+volatile(ev, v))
				perms = perms || v.Name == "permissions"
			}
			if perms {
				// The SDK writes permissions from Go maps, in random order.
				slices.Sort(toks)
			}
			b.WriteString(" | " + strings.Join(toks, " "))
		}
		if ev.Stats != nil {
			// TCP retransmits now and then on a loaded machine, even over
			// loopback: count the stream bytes, not the bytes on the wire.
			st := *ev.Stats
			bytes := st.BytesIn + st.BytesOut - st.Retransmitted
			st.BytesIn, st.BytesOut, st.Retransmitted = 0, 0, 0
			fmt.Fprintf(&b, " stats=%+v stream_bytes=%d", st, bytes)
		}
		out = append(out, b.String())
	}
	return out
}

func volatile(ev *decoder.Event, v protocol.Value) string {
	switch v.Kind {
	case protocol.KindTime, protocol.KindU128:
		return "*"
	}
	switch v.Name {
	case "checksum", "address", "ip", "tcp_port", "process_id", "memory_usage", "run_time", "read_bytes",
		"written_bytes", "cpu_usage", "total_cpu_usage", "threads_count", "total_memory", "available_memory",
		"free_disk_space", "total_disk_space", "messages_size_bytes", "len", "size_bytes":
		return "*"
	}
	if ev.Code == 11 { // GetSnapshotFile: a zip of live figures
		return "*"
	}
	return fmt.Sprintf("%s/%q/%d/%d", v.Kind, v.Str, v.Num, v.Hi)
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("event %d (of %d and %d):\n plain:    %s\n io_uring: %s", i+1, len(a), len(b), x, y)
		}
	}
	return ""
}

// TestLiveConcurrent is test 2: sixteen SDK clients at once, each with its
// own stream and a different number of calls; every exchange is paired and
// each connection decodes to exactly what its client did.
func TestLiveConcurrent(t *testing.T) {
	for _, mode := range []loader.Mode{loader.HeaderOnly, loader.Full} {
		t.Run(mode.String(), func(t *testing.T) {
			cg := newCgroup(t)
			addr, port := startTestServer(t, cg, false)
			lt := startTrace(t, loader.Config{CgroupPath: cg, Ports: []uint16{port}, Mode: mode}, "")

			const clients = 16
			logs := make([]*sdkLog, clients)
			errs := make([]error, clients)
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := openSDK(addr, i)
					if err != nil {
						errs[i] = err
						return
					}
					defer s.cli.Close()
					logs[i] = s
					s.login()
					sid := s.createStream(fmt.Sprintf("e2e-conc-%02d", i))
					tid := s.createTopic(sid, "t", 1)
					for k := range 8 + i {
						switch k % 4 {
						case 0:
							s.ping()
						case 1:
							s.getStream(sid)
						case 2:
							s.send(sid, tid, 0, fmt.Sprintf("c%d-%d", i, k), k+1, 200)
						default:
							s.poll(sid, tid, 0, uint32(i), 0, 3)
						}
					}
					s.logout()
				}()
			}
			wg.Wait()
			var calls []workload.Call
			for i, s := range logs {
				if errs[i] != nil {
					t.Fatalf("client %d: %v", i, errs[i])
				}
				for _, c := range s.failed() {
					t.Errorf("client %d: %v: %v", i, c, c.Err)
				}
				calls = append(calls, s.calls...)
			}
			lt.waitClosed(clients, 20*time.Second)
			lt.stop()
			kernelClean(t, lt.stats, mode == loader.Full)
			budget := -1
			if mode == loader.HeaderOnly {
				budget = lt.tr.Config().MetaBudget
			}
			evs := lt.events.all()
			sc := compareSession(t, evs, calls, budget)
			if sc.conns != clients || sc.pairs != len(calls) {
				t.Errorf("%d connections and %d exchanges compared, want %d and %d", sc.conns, sc.pairs, clients, len(calls))
			}
			t.Logf("%d events; %d connections, %d exchanges compared with the SDK logs (%d fields), %d requests cut by the budget",
				len(evs), sc.conns, sc.pairs, sc.fields, sc.partialReq)
		})
	}
}

// TestLiveMidStream is test 5: the capture attaches to a server whose
// connection is already open and has been used. The tracer decodes that
// connection from the next frame on: exactly the later calls, flagged
// mid_stream where it matters, nothing invented; a connection opened after
// the attach is decoded as usual.
func TestLiveMidStream(t *testing.T) {
	for _, mode := range []loader.Mode{loader.HeaderOnly, loader.Full} {
		t.Run(mode.String(), func(t *testing.T) {
			cg := newCgroup(t)
			addr, port := startTestServer(t, cg, false)
			old, err := openSDK(addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer old.cli.Close()
			old.login()
			sid := old.createStream("e2e-mid")
			tid := old.createTopic(sid, "t", 1)
			old.send(sid, tid, 0, "before", 5, 300)
			old.poll(sid, tid, 0, 1, 0, 5)
			before := len(old.calls)

			lt := startTrace(t, loader.Config{CgroupPath: cg, Ports: []uint16{port}, Mode: mode}, "")
			old.ping()
			old.getStream(sid)
			old.send(sid, tid, 0, "after", 3, 300)
			old.poll(sid, tid, 0, 1, 0, 8)
			old.getStreams()
			old.storeOffset(sid, tid, 0, 1, 4)
			old.getOffset(sid, tid, 0, 1)
			old.logout()

			fresh, err := openSDK(addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			fresh.login()
			fresh.ping()
			fresh.getStreams()
			fresh.cli.Close()
			old.cli.Close()
			for _, c := range append(old.failed(), fresh.failed()...) {
				t.Errorf("%v: %v", c, c.Err)
			}
			lt.waitClosed(2, 10*time.Second)
			lt.stop()
			kernelClean(t, lt.stats, mode == loader.Full)
			budget := -1
			if mode == loader.HeaderOnly {
				budget = lt.tr.Config().MetaBudget
			}

			evs := lt.events.all()
			conns := groupByConn(evs)
			if len(conns) != 2 {
				t.Fatalf("%d connections traced, want 2:\n%s", len(conns), jsonLines(evs))
			}
			mid, newer := conns[0], conns[1]
			if len(mid.opens) != 1 || mid.opens[0].Flags&decoder.FlagMidStream == 0 {
				t.Errorf("open events of the old connection %v, want one flagged mid_stream", flagsOf(mid.opens))
			}
			later := old.calls[before:]
			if len(mid.pairs) != len(later) {
				t.Errorf("old connection: %d pairs, %d calls after the attach:\n%s", len(mid.pairs), len(later), jsonLines(mid.all))
			}
			for _, ev := range mid.other {
				t.Errorf("old connection: unexpected %s event: %s", ev.Kind, stdout.AppendJSON(nil, ev))
			}
			var flagged int
			for i := range min(len(mid.pairs), len(later)) {
				ev, call := mid.pairs[i], later[i]
				// The first exchange may be paired in causal order (no
				// earlier frame was seen to prove FIFO order).
				extra := ev.Flags & (decoder.FlagMidStream | decoder.FlagAfterGap)
				if extra != 0 {
					flagged++
					t.Logf("old connection exchange %d %s flagged %v", i+1, ev.Command, extra.Names())
				}
				errs := checkPair(&decoder.Event{Code: ev.Code, Status: ev.Status, ReqBytes: ev.ReqBytes, RespBytes: ev.RespBytes,
					Flags: ev.Flags &^ extra}, call, budget)
				if i > 0 && extra&decoder.FlagAfterGap != 0 {
					errs = append(errs, "after_gap on an exchange after the first")
				}
				errs = append(errs, checkArgs(ev, call).errs...)
				if call.Status() == 0 {
					errs = append(errs, checkResult(ev, call).errs...)
				}
				for _, e := range errs {
					t.Errorf("old connection exchange %d %v: %s\n  event: %s", i+1, call, e, stdout.AppendJSON(nil, ev))
				}
			}
			if len(mid.closes) != 1 {
				t.Errorf("old connection: %d close events", len(mid.closes))
			} else if st := mid.closes[0].Stats; st.Pairs != uint64(len(later)) || st.Unanswered != 0 || st.Unmatched != 0 || st.GapBytes != 0 || st.DesyncBytes != 0 {
				t.Errorf("old connection: close stats %+v, want %d pairs and nothing lost", *st, len(later))
			}
			// The connection opened after the attach: a normal session.
			sc := compareSession(t, newer.all, fresh.calls, budget)
			t.Logf("old connection: %d exchanges before the attach, %d after, %d pairs decoded (%d flagged mid_stream/after_gap); new connection: %d exchanges compared",
				before, len(later), len(mid.pairs), flagged, sc.pairs)
		})
	}
}

// TestLiveRingTooSmall is test 4: a 16 KiB ring in full mode cannot hold
// the records of large SendMessages and PollMessages packets (a full chunk
// record alone is bigger), so the kernel drops records. The losses must be
// counted and reported as gaps with their byte counts, and no response may
// ever be paired with the wrong request: every request event is matched to
// the call the client made (by an argument unique to each call), in order,
// and every pair's status and response content are those of that call.
func TestLiveRingTooSmall(t *testing.T) {
	cg := newCgroup(t)
	addr, port := startTestServer(t, cg, false)
	lt := startTrace(t, loader.Config{CgroupPath: cg, Ports: []uint16{port}, Mode: loader.Full, RingSize: 16 << 10}, "")

	s, err := openSDK(addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.login()
	sid := s.createStream("e2e-ring")
	tid := s.createTopic(sid, "t", 1)
	const rounds = 30
	for k := range rounds {
		s.send(sid, tid, 0, fmt.Sprintf("r%d", k), k+1, 4<<10) // k+1 messages: up to 120 KiB
		s.getStream(fmt.Sprintf("nope-%d", k))                 // not found
		s.storeOffset(sid, tid, 0, uint32(100+k), uint64(k))
		s.getOffset(sid, tid, 0, uint32(100+k))
		s.poll(sid, tid, 0, uint32(100+k), uint64(k), 3) // about 12 KiB
	}
	s.logout()
	s.cli.Close()
	for _, c := range s.failed() {
		t.Errorf("%v: %v", c, c.Err)
	}
	// The close records may be among the lost ones: the end of the trace
	// then closes the connection.
	deadline := time.Now().Add(3 * time.Second)
	for lt.events.count(decoder.EventClose) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lt.stop()
	st := lt.stats
	if st.DroppedRecords == 0 || st.DroppedBytes == 0 {
		t.Fatalf("kernel dropped %d records (%d bytes) with a 16 KiB ring", st.DroppedRecords, st.DroppedBytes)
	}
	if st.BytesWire != st.BytesCaptured+st.BytesSkipped+st.DroppedBytes {
		t.Errorf("kernel: wire %d != captured %d + skipped %d + dropped %d", st.BytesWire, st.BytesCaptured, st.BytesSkipped, st.DroppedBytes)
	}

	evs := lt.events.all()
	conns := groupByConn(evs)
	if len(conns) != 1 {
		t.Fatalf("%d connections traced, want 1", len(conns))
	}
	c := conns[0]
	if len(c.closes) != 1 {
		t.Fatalf("%d close events", len(c.closes))
	}
	var gaps int
	var gapBytes uint64
	var unmatched, desync int
	for _, ev := range c.other {
		switch ev.Kind {
		case decoder.EventGap:
			gaps++
			gapBytes += ev.Bytes
			if ev.Bytes == 0 {
				t.Errorf("gap event without a byte count: %s", stdout.AppendJSON(nil, ev))
			}
		case decoder.EventResponse:
			unmatched++
		case decoder.EventDesync:
			desync++
		}
	}
	if gaps == 0 {
		t.Errorf("no gap event though the kernel dropped %d bytes", st.DroppedBytes)
	}
	if cs := c.closes[0].Stats; cs.GapBytes != gapBytes {
		t.Errorf("close stats gap_bytes %d, the gap events add up to %d", cs.GapBytes, gapBytes)
	}
	// Usually every dropped byte is reported (later data or the close
	// record reveals it), but a dropped copy of a TCP retransmission loses
	// nothing from the stream: at most what the kernel dropped.
	if gapBytes == 0 || gapBytes > st.DroppedBytes {
		t.Errorf("%d bytes reported lost in gaps, the kernel dropped %d", gapBytes, st.DroppedBytes)
	}

	// Match every request-bearing event (pairs, unanswered requests) to the
	// call log, in order.
	tagOf := map[string]int{}
	for i, call := range s.calls {
		if tag := callTag(call); tag != "" {
			if _, dup := tagOf[tag]; dup {
				t.Fatalf("tag %s not unique", tag)
			}
			tagOf[tag] = i
		}
	}
	last := -1
	var pairs, afterGap, partial, byTag, checked, wrong int
	for _, ev := range c.all {
		if ev.Kind != decoder.EventPair && ev.Kind != decoder.EventRequest {
			continue
		}
		j := -1
		if tag := eventTag(ev); tag != "" {
			i, ok := tagOf[tag]
			if !ok {
				t.Errorf("a request the client never sent (%s): %s", tag, stdout.AppendJSON(nil, ev))
				continue
			}
			j = i
			byTag++
		} else {
			// Cut before its distinguishing field, or a command sent
			// once: the next call with that code.
			for i := last + 1; i < len(s.calls); i++ {
				if s.calls[i].Code == uint32(ev.Code) {
					j = i
					break
				}
			}
			if j < 0 {
				t.Errorf("request %d %s matches no later call of the client (last matched: call %d): %s", ev.Code, ev.Command, last, stdout.AppendJSON(nil, ev))
				continue
			}
		}
		if j <= last {
			t.Errorf("request %s is call %d, not after call %d: out of order or reported twice: %s", ev.Command, j, last, stdout.AppendJSON(nil, ev))
		}
		last = j
		if ev.Kind != decoder.EventPair {
			continue
		}
		pairs++
		call := s.calls[j]
		if ev.Flags&decoder.FlagAfterGap != 0 {
			afterGap++
		}
		cut := ev.Flags&(decoder.FlagRequestPartial|decoder.FlagResponsePartial) != 0
		if cut {
			partial++
		}
		var errs []string
		if uint32(ev.Code) != call.Code {
			errs = append(errs, fmt.Sprintf("command %d, the call is %d", ev.Code, call.Code))
		}
		if ev.Status != call.Status() {
			errs = append(errs, fmt.Sprintf("status %d, the call got %d", ev.Status, call.Status()))
		}
		// The response must be the answer to this call: same content.
		if ev.Flags&decoder.FlagResponsePartial == 0 && call.Status() == 0 {
			if want := expectedRespBytes(call); want != 0 && ev.RespBytes != want {
				errs = append(errs, fmt.Sprintf("response of %d bytes, the call's answer has %d", ev.RespBytes, want))
			}
			if ev.Flags&decoder.FlagDecodeError != 0 {
				errs = append(errs, "response does not decode as this command's: "+ev.Error)
			}
			errs = append(errs, checkResult(ev, call).errs...)
			checked++
		}
		if !cut && ev.Flags&decoder.FlagAfterGap == 0 {
			errs = append(errs, checkArgs(ev, call).errs...)
		}
		if len(errs) > 0 {
			wrong++
			t.Errorf("pair %s paired wrongly (call %d %v):\n  %s\n  event: %s", ev.Command, j, call, strings.Join(errs, "\n  "), stdout.AppendJSON(nil, ev))
		}
	}
	if wrong > 0 {
		t.Logf("events of the connection:\n%s", eventTrail(c.all))
	}
	if pairs < len(s.calls)/3 {
		t.Errorf("only %d of %d exchanges paired", pairs, len(s.calls))
	}
	t.Logf("kernel dropped %d records (%d bytes) of %d; %d gap events (%d bytes), %d desync, %d unmatched responses; %d pairs of %d calls (%d after a gap, %d partial, %d identified by argument), %d responses checked against the SDK's answer",
		st.DroppedRecords, st.DroppedBytes, st.Records+st.DroppedRecords, gaps, gapBytes, desync, unmatched, pairs, len(s.calls), afterGap, partial, byTag, checked)
}

// callTag and eventTag name a request by an argument unique to each call
// of TestLiveRingTooSmall ("" when there is none).
func callTag(c workload.Call) string {
	switch c.Code {
	case 101:
		return fmt.Sprintf("101/%d", c.Args["count"])
	case 200:
		return fmt.Sprintf("200/%v", c.Args["stream"])
	case 120, 121, 100:
		return fmt.Sprintf("%d/%s", c.Code, strings.TrimPrefix(c.Args["consumer"].(string), "consumer:"))
	}
	return ""
}

func eventTag(ev *decoder.Event) string {
	v := values(ev.Request)
	switch ev.Code {
	case 101:
		if n, ok := v["messages_count"]; ok {
			return fmt.Sprintf("101/%d", n.Num)
		}
	case 200:
		if id, ok := v["stream_id"]; ok && strings.HasPrefix(id.Str, "nope-") {
			return "200/" + id.Str
		}
	case 120, 121, 100:
		if id, ok := v["consumer.id"]; ok {
			return fmt.Sprintf("%d/%s", ev.Code, id.Str)
		}
	}
	return ""
}

// expectedRespBytes is the size of the answer to call, when fixed.
func expectedRespBytes(c workload.Call) uint32 {
	switch c.Code {
	case 101, 121, 39, 1:
		return 8
	case 200:
		if c.Result == nil {
			return 8 // not found: empty
		}
	case 120:
		return 8 + 20 // partition u32, current u64, stored u64
	}
	return 0
}

// eventTrail is a compact listing of events, for failure reports.
func eventTrail(evs []*decoder.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		switch ev.Kind {
		case decoder.EventGap, decoder.EventDesync:
			fmt.Fprintf(&b, "  %s %s %d bytes (%s)\n", ev.Kind, ev.Dir, ev.Bytes, ev.Reason)
		case decoder.EventPair, decoder.EventRequest, decoder.EventResponse:
			tag := eventTag(ev)
			fmt.Fprintf(&b, "  %s %d %s [%s] req %d resp %d status %d %v\n", ev.Kind, ev.Code, ev.Command, tag, ev.ReqBytes, ev.RespBytes, ev.Status, ev.Flags.Names())
		default:
			fmt.Fprintf(&b, "  %s %v\n", ev.Kind, ev.Flags.Names())
		}
	}
	return b.String()
}

// TestLiveWritePcap is test 6: a live trace with --write-pcap; `iggytrace
// read` of the file decodes to exactly the events the live trace printed,
// and tshark reads the file and counts, per connection and direction, the
// payload bytes the live trace counted.
func TestLiveWritePcap(t *testing.T) {
	for _, mode := range []loader.Mode{loader.HeaderOnly, loader.Full} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live.pcapng")
			s := traceFull(t, mode, false, path)
			s.check(t)
			if len(s.events) == 0 {
				t.Fatal("no events")
			}
			port := s.events[0].Server.Port()
			out, stderr := runCommand(t, "read", "--progress", "never", "-o", "json", "--messages", "-p", strconv.Itoa(int(port)), path)
			live := jsonLines(s.events)
			if out != live {
				a, b := strings.Split(live, "\n"), strings.Split(out, "\n")
				t.Errorf("read of the pcapng differs from the live trace:\n%s", firstDiff(a, b))
			}
			t.Logf("read: %d JSON lines identical to the live events; %s", strings.Count(out, "\n"), strings.TrimSpace(stderr))

			tshark, err := exec.LookPath("tshark")
			if err != nil {
				citest.Needf(t, "tshark not installed: %v", err)
			}
			cmd := exec.Command(tshark, "-r", path, "-n", "-T", "fields", "-E", "separator=,",
				"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len")
			var terr bytes.Buffer
			cmd.Stderr = &terr
			fields, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark -r: %v\n%s", err, terr.String())
			}
			if msg := strings.TrimSpace(strings.ReplaceAll(terr.String(), "Running as user \"root\" and group \"root\". This could be dangerous.", "")); msg != "" {
				t.Errorf("tshark complains:\n%s", msg)
			}
			type dirKey struct {
				client uint16
				in     bool
			}
			got := map[dirKey]uint64{}
			packets := 0
			for line := range strings.SplitSeq(strings.TrimSpace(string(fields)), "\n") {
				f := strings.Split(line, ",")
				if len(f) != 3 {
					t.Fatalf("tshark line %q", line)
				}
				sp, _ := strconv.Atoi(f[0])
				dp, _ := strconv.Atoi(f[1])
				n, _ := strconv.ParseUint(f[2], 10, 64)
				packets++
				if uint16(dp) == port {
					got[dirKey{uint16(sp), true}] += n
				} else {
					got[dirKey{uint16(dp), false}] += n
				}
			}
			conns := 0
			for _, c := range groupByConn(s.events) {
				if len(c.closes) != 1 {
					continue
				}
				conns++
				st := c.closes[0].Stats
				cp := c.closes[0].Client.Port()
				if got[dirKey{cp, true}] != st.BytesIn || got[dirKey{cp, false}] != st.BytesOut {
					t.Errorf("conn %d: tshark counts %d bytes in, %d out; the live trace %d and %d",
						c.id, got[dirKey{cp, true}], got[dirKey{cp, false}], st.BytesIn, st.BytesOut)
				}
			}
			t.Logf("tshark read %d packets; payload bytes per direction agree with the live trace on %d connections", packets, conns)
		})
	}
}

// TestLiveSignals is test 7: `iggytrace trace -o json` as a process gets
// SIGTERM (or SIGINT) while a request is in flight and a client is busy.
// It exits 0 and its output holds every exchange completed before the
// signal, the request in flight as unanswered, and a close event for
// every connection.
func TestLiveSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cg := newCgroup(t)
			addr, port := startTestServer(t, cg, false)
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			var out, errb syncBuffer
			cmd := exec.Command(self, "trace", "--cgroup", cg, "--port", strconv.Itoa(int(port)), "-o", "json", "--log-level", "info")
			cmd.Env = append(os.Environ(), execEnv+"=1")
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			gone := make(chan struct{})
			go func() { exited <- cmd.Wait(); close(gone) }()
			t.Cleanup(func() {
				select {
				case <-gone:
				default:
					cmd.Process.Kill()
					<-gone
				}
			})
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(errb.String(), "capture attached") {
				select {
				case err := <-exited:
					err = fmt.Errorf("iggytrace trace exited before attaching (%v):\n%s", err, errb.String())
					if !strings.Contains(errb.String(), "loader:") {
						t.Fatal(err) // not a capture set-up failure
					}
					citest.Need(t, err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("iggytrace trace did not attach within 30s:\n%s", errb.String())
				}
				time.Sleep(10 * time.Millisecond)
			}

			// Connection 1: SDK calls, all complete; the connection stays open.
			s, err := openSDK(addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.cli.Close()
			s.login()
			sid := s.createStream("e2e-signal")
			tid := s.createTopic(sid, "t", 1)
			s.send(sid, tid, 0, "sig", 4, 100)
			s.getStreams()

			// Connection 2: a client storing offsets 0, 1, 2, ... until told
			// to stop; the offsets acknowledged before the signal must all
			// be in the output.
			busy, err := openSDK(addr, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer busy.cli.Close()
			busy.login()
			var acked atomic.Int64 // offsets < acked were answered
			stopBusy := make(chan struct{})
			busyDone := make(chan struct{})
			go func() {
				defer close(busyDone)
				for k := uint64(0); ; k++ {
					select {
					case <-stopBusy:
						return
					default:
					}
					p := uint32(0)
					if err := busy.cli.StoreConsumerOffset(iggcon.NewSingleConsumer(e2eID(9)), e2eID(sid), e2eID(tid), k, &p); err != nil {
						return
					}
					acked.Store(int64(k + 1))
					time.Sleep(time.Millisecond) // busy, not hogging a shared machine
				}
			}()
			waitUntil(t, 10*time.Second, "busy client progress", func() bool { return acked.Load() >= 20 })

			// Connection 3: a raw client logs in, then sends half of a
			// CreateStream frame: the server waits for the rest.
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			rawFrame := func(code uint32, payload []byte) []byte {
				f := binary.LittleEndian.AppendUint32(nil, uint32(4+len(payload)))
				f = binary.LittleEndian.AppendUint32(f, code)
				return append(f, payload...)
			}
			login := []byte{byte(len(workload.RootUsername))}
			login = append(login, workload.RootUsername...)
			login = append(login, byte(len(workload.RootPassword)))
			login = append(login, workload.RootPassword...)
			login = append(login, 0, 0, 0, 0, 0, 0, 0, 0) // no version, no context
			if _, err := raw.Write(rawFrame(38, login)); err != nil {
				t.Fatal(err)
			}
			var hdr [8]byte
			if _, err := io.ReadFull(raw, hdr[:]); err != nil {
				t.Fatal(err)
			}
			if st := binary.LittleEndian.Uint32(hdr[:]); st != 0 {
				t.Fatalf("raw login: status %d", st)
			}
			if _, err := io.CopyN(io.Discard, raw, int64(binary.LittleEndian.Uint32(hdr[4:]))); err != nil {
				t.Fatal(err)
			}
			name := "e2e-in-flight"
			half := rawFrame(202, append([]byte{byte(len(name))}, name...))[:8+6]
			if _, err := raw.Write(half); err != nil {
				t.Fatal(err)
			}
			// The server's TCP has acknowledged those bytes once the
			// client's send queue is empty: they passed the capture.
			sc, _ := raw.(*net.TCPConn).SyscallConn()
			waitUntil(t, 5*time.Second, "the half frame to be acknowledged", func() bool {
				n := -1
				sc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
				return n == 0
			})

			ackedBefore := acked.Load()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("iggytrace trace after %v: %v (want exit status 0)\nstderr:\n%s", sig, err, errb.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("iggytrace trace still running 20s after %v", sig)
			}
			close(stopBusy)
			<-busyDone
			t.Logf("stderr:\n%s", strings.TrimSpace(errb.String()))

			evs := parseJSONEvents(t, out.String())
			byClient := map[string][]jsonEvent{}
			var order []string
			for _, ev := range evs {
				if _, ok := byClient[ev.Client]; !ok {
					order = append(order, ev.Client)
				}
				byClient[ev.Client] = append(byClient[ev.Client], ev)
			}
			if len(order) != 3 {
				t.Fatalf("events of %d connections, want 3:\n%s", len(order), out.String())
			}
			for _, client := range order {
				evs := byClient[client]
				if evs[0].Event != "open" || evs[len(evs)-1].Event != "close" {
					t.Errorf("%s: events from %s to %s, want open ... close", client, evs[0].Event, evs[len(evs)-1].Event)
				}
			}
			// Connection 1: exactly the SDK calls.
			c1 := pairsOf(byClient[order[0]])
			if len(c1) != len(s.calls) {
				t.Errorf("SDK connection: %d pairs, %d calls", len(c1), len(s.calls))
			}
			for i := range min(len(c1), len(s.calls)) {
				if c1[i].Code != s.calls[i].Code || c1[i].Status != s.calls[i].Status() {
					t.Errorf("SDK connection exchange %d: %d → %d, the SDK did %v", i+1, c1[i].Code, c1[i].Status, s.calls[i])
				}
			}
			// Connection 2: every offset acknowledged before the signal, in
			// order; at most one more request, unanswered.
			var offsets []uint64
			var unanswered int
			for _, ev := range byClient[order[1]] {
				switch {
				case ev.Event == "pair" && ev.Code == 121:
					offsets = append(offsets, ev.Request.Offset)
				case ev.Event == "request":
					unanswered++
					if !slices.Contains(ev.Flags, "no_response") {
						t.Errorf("busy connection: unanswered request without no_response: %+v", ev)
					}
				case ev.Event == "pair" && (ev.Code == 38 || ev.Code == 12):
				case ev.Event == "open" || ev.Event == "close":
				default:
					t.Errorf("busy connection: unexpected %+v", ev)
				}
			}
			if int64(len(offsets)) < ackedBefore {
				t.Errorf("busy connection: %d StoreConsumerOffset pairs, %d were answered before the signal", len(offsets), ackedBefore)
			}
			for i, o := range offsets {
				if o != uint64(i) {
					t.Errorf("busy connection: pair %d stored offset %d", i, o)
					break
				}
			}
			if unanswered > 1 {
				t.Errorf("busy connection: %d unanswered requests; the client keeps one in flight", unanswered)
			}
			// Connection 3: the login, then the half frame as unanswered.
			c3 := byClient[order[2]]
			var kinds []string
			for _, ev := range c3 {
				kinds = append(kinds, fmt.Sprintf("%s %d %v", ev.Event, ev.Code, ev.Flags))
			}
			// A cut payload may not tell the protocol versions apart.
			want := []string{"open 0 []", "pair 38 []", "request 202 [no_response request_partial version_assumed]", "close 0 []"}
			if !slices.Equal(kinds, want) {
				t.Errorf("raw connection: events %q, want %q", kinds, want)
			}
			if cl := c3[len(c3)-1]; cl.Stats.Requests != 2 || cl.Stats.Pairs != 1 || cl.Stats.Unanswered != 1 {
				t.Errorf("raw connection: close stats %+v", cl.Stats)
			}
			if strings.Contains(out.String(), workload.RootPassword) {
				t.Errorf("the root password appears in the output")
			}
			t.Logf("%d events: SDK connection %d pairs; busy connection %d offsets stored (%d acknowledged before the signal), %d unanswered; raw connection %q",
				len(evs), len(c1), len(offsets), ackedBefore, unanswered, kinds)
		})
	}
}

// jsonEvent is the part of a JSON output line the tests read.
type jsonEvent struct {
	Event   string
	Client  string
	Code    uint32
	Command string
	Status  uint32
	Flags   []string
	Request struct {
		Offset uint64
	}
	Stats decoder.ConnStats
}

func parseJSONEvents(t *testing.T, out string) []jsonEvent {
	t.Helper()
	var evs []jsonEvent
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var raw struct {
			jsonEvent
			Stats map[string]uint64
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		ev := raw.jsonEvent
		st := raw.Stats
		ev.Stats = decoder.ConnStats{Requests: st["requests"], Responses: st["responses"], Pairs: st["pairs"],
			Unanswered: st["unanswered"], Unmatched: st["unmatched"]}
		if ev.Flags == nil {
			ev.Flags = []string{}
		}
		evs = append(evs, ev)
	}
	return evs
}

func pairsOf(evs []jsonEvent) []jsonEvent {
	var out []jsonEvent
	for _, ev := range evs {
		if ev.Event == "pair" {
			out = append(out, ev)
		}
	}
	return out
}
