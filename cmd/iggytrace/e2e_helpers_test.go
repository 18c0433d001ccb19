package main

// Helpers of the live end-to-end tests (e2e_test.go): the test binary acting
// as iggytrace, cgroups, the test server in a cgroup, a live trace collecting
// events in memory, and the comparison of decoded events with what the
// official Go SDK did.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iggy/foreign/go/client"
	"github.com/apache/iggy/foreign/go/client/tcp"
	iggcon "github.com/apache/iggy/foreign/go/contracts"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
	"github.com/iggytrace/iggytrace/internal/childserver"
	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/internal/workload"
	"github.com/iggytrace/iggytrace/loader"
)

// execEnv makes the test binary act as the iggytrace command: startServerIn
// re-executes os.Executable() (the test binary, in tests) as `iggytrace
// serve-test`, and TestLiveSignals runs `iggytrace trace` that way.
const execEnv = "IGGYTRACE_E2E_EXEC"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		main() // exits 1 on error
		os.Exit(0)
	}
	// Children this process starts from its own executable (startServerIn)
	// inherit the environment, and so run as iggytrace.
	os.Setenv(execEnv, "1")
	// The SDK logs its leader detection at every login on the standard logger.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

var cgroupSeq atomic.Int64

// newCgroup creates a fresh cgroup v2 directory, removed when the test ends
// (after the processes in it, which are stopped by later cleanups).
func newCgroup(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		citest.Need(t, errors.New("not root: creating a cgroup and loading BPF programs need root"))
	}
	root, err := loader.CgroupV2Root()
	if err != nil {
		citest.Need(t, err)
	}
	dir := filepath.Join(root, fmt.Sprintf("iggytrace-e2e-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		citest.Need(t, fmt.Errorf("create cgroup: %w", err))
	}
	t.Cleanup(func() {
		for i := 0; ; i++ {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if i == 100 {
				t.Errorf("remove cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return dir
}

// startTestServer starts `iggytrace serve-test` (the test binary) inside
// cgroup dir on a free loopback port, stopped when the test ends.
func startTestServer(t *testing.T, dir string, ioUring bool) (addr string, port uint16) {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := childserver.Start(context.Background(), self, dir, addr, ioUring)
	switch {
	case err != nil && strings.Contains(err.Error(), "did not start"):
		t.Fatal(err) // the server itself failed, not the kernel
	case err != nil:
		citest.Need(t, err) // cgroup or clone3(CLONE_INTO_CGROUP)
	}
	t.Cleanup(srv.Stop)
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.ParseUint(p, 10, 16)
	return addr, uint16(n)
}

// eventLog is the events sink of a live trace: it keeps every event.
type eventLog struct {
	mu  sync.Mutex
	evs []*decoder.Event
}

func (l *eventLog) Write(ev *decoder.Event) error {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
	return nil
}

func (l *eventLog) Flush() error { return nil }

func (l *eventLog) Close() error { return nil }

func (l *eventLog) all() []*decoder.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func (l *eventLog) count(kind decoder.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// liveTrace is runTrace (the trace command's pipeline) running in the
// background with its events kept in memory.
type liveTrace struct {
	t      *testing.T
	events *eventLog
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
	tr     *loader.Tracer
	stats  loader.Stats // kernel counters, after stop
	once   sync.Once
}

// startTrace attaches a capture per lcfg and returns once it is attached.
// pcapPath, if not empty, is the --write-pcap file.
func startTrace(t *testing.T, lcfg loader.Config, pcapPath string) *liveTrace {
	t.Helper()
	lt := &liveTrace{t: t, events: &eventLog{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	lcfg.Logger = slog.New(slog.NewTextHandler(lt.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	lt.cancel = cancel
	ready := make(chan *loader.Tracer, 1)
	go func() {
		// Every message of a batch decoded: the checks compare them with
		// what the SDK sent and received (the summary-only default is
		// checked against this decode in decoder/protocol).
		p := newPipelineWith(decoder.Config{Protocol: protocol.Options{Messages: true}}, lt.events)
		lt.done <- runTrace(ctx, lcfg, p, pcapPath, lt.stderr, func(tr *loader.Tracer) { ready <- tr })
	}()
	select {
	case lt.tr = <-ready:
	case err := <-lt.done:
		cancel()
		citest.Need(t, fmt.Errorf("start tracing: %v", err))
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the capture did not attach within 30s")
	}
	if !lt.tr.StateEvents() {
		t.Logf("connection state events unavailable: close events come from FIN/RST segments only")
	}
	t.Cleanup(func() { lt.stop() })
	return lt
}

// stop ends the trace (as SIGINT does), waits for runTrace to return and
// reads the final kernel counters.
func (lt *liveTrace) stop() {
	lt.once.Do(func() {
		lt.cancel()
		select {
		case err := <-lt.done:
			if err != nil {
				lt.t.Errorf("runTrace: %v", err)
			}
		case <-time.After(20 * time.Second):
			lt.t.Errorf("runTrace did not return 20s after cancel")
			return
		}
		lt.stats = lt.tr.Stats()
		lt.t.Logf("trace summary:\n%s", strings.TrimSpace(lt.stderr.String()))
	})
}

// waitClosed waits until n connections have been reported closed.
func (lt *liveTrace) waitClosed(n int, within time.Duration) {
	lt.t.Helper()
	waitUntil(lt.t, within, fmt.Sprintf("%d close events", n), func() bool {
		return lt.events.count(decoder.EventClose) >= n
	})
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connEvents are one connection's events.
type connEvents struct {
	id     uint64
	opens  []*decoder.Event
	closes []*decoder.Event
	pairs  []*decoder.Event
	other  []*decoder.Event // lone requests and responses, gaps, desyncs
	all    []*decoder.Event
}

// groupByConn splits events by connection, in order of ConnID.
func groupByConn(evs []*decoder.Event) []*connEvents {
	by := map[uint64]*connEvents{}
	var out []*connEvents
	for _, ev := range evs {
		c := by[ev.ConnID]
		if c == nil {
			c = &connEvents{id: ev.ConnID}
			by[ev.ConnID] = c
			out = append(out, c)
		}
		c.all = append(c.all, ev)
		switch ev.Kind {
		case decoder.EventOpen:
			c.opens = append(c.opens, ev)
		case decoder.EventClose:
			c.closes = append(c.closes, ev)
		case decoder.EventPair:
			c.pairs = append(c.pairs, ev)
		default:
			c.other = append(c.other, ev)
		}
	}
	slices.SortFunc(out, func(a, b *connEvents) int { return int(a.id) - int(b.id) })
	return out
}

func (c *connEvents) codes() []uint32 {
	out := make([]uint32, len(c.pairs))
	for i, ev := range c.pairs {
		out[i] = uint32(ev.Code)
	}
	return out
}

func callCodes(calls []workload.Call) []uint32 {
	out := make([]uint32, len(calls))
	for i, c := range calls {
		out[i] = c.Code
	}
	return out
}

// callsByConn splits a workload log by connection index.
func callsByConn(calls []workload.Call) [][]workload.Call {
	var out [][]workload.Call
	for _, c := range calls {
		for len(out) <= c.ConnIndex {
			out = append(out, nil)
		}
		out[c.ConnIndex] = append(out[c.ConnIndex], c)
	}
	return out
}

// mapConns pairs each workload connection with the traced connection
// that carried the same sequence of commands (connections opened one after
// the other also appear in ConnID order; that order breaks ties).
func mapConns(t *testing.T, conns []*connEvents, byIdx [][]workload.Call) []*connEvents {
	t.Helper()
	out := make([]*connEvents, len(byIdx))
	used := map[*connEvents]bool{}
	for i, calls := range byIdx {
		want := callCodes(calls)
		for _, c := range conns {
			if !used[c] && slices.Equal(c.codes(), want) {
				out[i], used[c] = c, true
				break
			}
		}
	}
	// Whatever did not match exactly goes by order, for the diff.
	for i := range out {
		if out[i] != nil {
			continue
		}
		for _, c := range conns {
			if !used[c] {
				out[i], used[c] = c, true
				break
			}
		}
	}
	return out
}

// values flattens decoded Values into dotted paths ("consumer.id",
// "streams[1].name"); a list's length is at "path#".
func values(vals []protocol.Value) map[string]protocol.Value {
	out := map[string]protocol.Value{}
	type frame struct {
		prefix string
		list   bool
		n      int
	}
	var st []*frame
	for _, v := range vals {
		if v.Kind == protocol.KindEnd {
			if len(st) > 0 {
				top := st[len(st)-1]
				if top.list {
					out[top.prefix+"#"] = protocol.Value{Kind: protocol.KindUint, Num: uint64(top.n)}
				}
				st = st[:len(st)-1]
			}
			continue
		}
		key := v.Name
		if len(st) > 0 {
			top := st[len(st)-1]
			if top.list {
				key = fmt.Sprintf("%s[%d]", top.prefix, top.n)
				top.n++
			} else {
				key = top.prefix + "." + v.Name
			}
		}
		switch v.Kind {
		case protocol.KindObject:
			st = append(st, &frame{prefix: key})
		case protocol.KindList:
			st = append(st, &frame{prefix: key, list: true})
		default:
			out[key] = v
		}
	}
	// Lists cut short by a partial payload: their length so far.
	for _, f := range st {
		if f.list {
			out[f.prefix+"#"] = protocol.Value{Kind: protocol.KindUint, Num: uint64(f.n)}
		}
	}
	return out
}

func toU64(v any) uint64 {
	switch w := v.(type) {
	case int:
		return uint64(w)
	case uint32:
		return uint64(w)
	case uint64:
		return w
	}
	return 0
}

// valueEq compares a decoded Value with a Go value from the workload log.
func valueEq(v protocol.Value, want any) bool {
	switch w := want.(type) {
	case string:
		return v.Str == w
	case bool:
		return v.Kind == protocol.KindBool && (v.Num != 0) == w
	case int:
		return v.Num == uint64(w)
	case uint8:
		return v.Num == uint64(w)
	case uint32:
		return v.Num == uint64(w)
	case uint64:
		return v.Num == w
	}
	return false
}

func fmtValue(v protocol.Value) string {
	if v.Kind == protocol.KindString || v.Kind == protocol.KindEnum {
		return fmt.Sprintf("%s %q (%d)", v.Kind, v.Str, v.Num)
	}
	return fmt.Sprintf("%s %d", v.Kind, v.Num)
}

// fieldChecker collects the mismatches of one event.
type fieldChecker struct {
	vals    map[string]protocol.Value
	partial bool // the payload was not all captured: absent fields are fine
	side    string
	errs    []string
	checked int
}

func (f *fieldChecker) eq(path string, want any) {
	v, ok := f.vals[path]
	if !ok {
		if !f.partial {
			f.errs = append(f.errs, fmt.Sprintf("%s.%s missing (want %v)", f.side, path, want))
		}
		return
	}
	f.checked++
	if !valueEq(v, want) {
		f.errs = append(f.errs, fmt.Sprintf("%s.%s = %s, want %v", f.side, path, fmtValue(v), want))
	}
}

func (f *fieldChecker) redacted(path string) {
	v, ok := f.vals[path]
	if !ok {
		if !f.partial {
			f.errs = append(f.errs, fmt.Sprintf("%s.%s missing (want redacted)", f.side, path))
		}
		return
	}
	f.checked++
	if v.Kind != protocol.KindRedacted || v.Str != "" || v.Num != 0 {
		f.errs = append(f.errs, fmt.Sprintf("%s.%s = %s, want redacted", f.side, path, fmtValue(v)))
	}
}

// sentinelOr checks a u64 setting whose 0 means "server default".
func (f *fieldChecker) sentinelOr(path string, want uint64) {
	if want == 0 {
		f.eq(path, "server_default")
	} else {
		f.eq(path, want)
	}
}

func (f *fieldChecker) fail(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// checkArgs compares a request's decoded fields with the arguments the SDK
// was called with. It returns the mismatches and the number of fields compared.
func checkArgs(ev *decoder.Event, call workload.Call) *fieldChecker {
	f := &fieldChecker{vals: values(ev.Request), partial: ev.Flags&decoder.FlagRequestPartial != 0, side: "request"}
	for key, want := range call.Args {
		switch key {
		case "implicit", "types", "permissions_len":
		case "stream":
			f.eq("stream_id", fmt.Sprint(want))
		case "topic":
			f.eq("topic_id", fmt.Sprint(want))
		case "group":
			f.eq("group_id", fmt.Sprint(want))
		case "user":
			f.eq("user_id", fmt.Sprint(want))
		case "client":
			f.eq("client_id", want)
		case "partition":
			f.eq("partition_id", want)
		case "name", "username", "offset", "auto_commit", "fsync":
			f.eq(key, want)
		case "status":
			f.eq("status", want)
		case "password", "current_password", "new_password", "token":
			f.redacted(key)
		case "partitions":
			f.eq("partitions_count", want)
		case "count":
			switch call.Code {
			case 402, 403:
				f.eq("partitions_count", want)
			case 101:
				f.eq("messages_count", want)
				if ev.Summary.MessageCount != uint32(want.(int)) {
					f.fail("summary messages %d, want %v", ev.Summary.MessageCount, want)
				}
			case 503:
				f.eq("segments_count", want)
			default:
				f.eq("count", want)
			}
		case "compression":
			if call.Code == 11 { // GetSnapshotFile: "deflated", ...
				f.eq("compression", want)
			} else {
				f.eq("compression_algorithm", want)
			}
		case "message_expiry", "max_topic_size":
			f.sentinelOr(key, want.(uint64))
		case "expiry":
			f.sentinelOr("expiry", uint64(want.(uint32)))
		case "consumer":
			kind, id, _ := strings.Cut(want.(string), ":")
			f.eq("consumer.id", id)
			if v, ok := f.vals["consumer.kind"]; ok && strings.Contains(v.Str, "group") != (kind == "group") {
				f.fail("request.consumer.kind %q for a %s consumer", v.Str, kind)
			}
		case "strategy":
			kind, val, hasVal := strings.Cut(want.(string), ":")
			f.eq("strategy.kind", kind)
			if hasVal {
				n, _ := strconv.ParseUint(val, 10, 64)
				f.eq("strategy.value", n)
			}
		case "partitioning":
			kind, val, _ := strings.Cut(want.(string), ":")
			switch kind {
			case "partition":
				f.eq("partitioning.kind", "partition_id")
				n, _ := strconv.ParseUint(val, 10, 32)
				f.eq("partitioning.partition_id", n)
			case "key":
				f.eq("partitioning.kind", "messages_key")
			default:
				f.eq("partitioning.kind", "balanced")
			}
		case "payloads":
			var total uint64
			for _, p := range want.([][]byte) {
				total += uint64(len(p))
			}
			if !f.partial {
				if ev.Summary.PayloadBytes != total {
					f.fail("summary payload_bytes %d, want %d", ev.Summary.PayloadBytes, total)
				}
				f.eq("messages#", len(want.([][]byte)))
			}
		case "permissions":
			p := want.(*iggcon.Permissions)
			f.eq("permissions.global.read_streams", p.Global.ReadStreams)
			f.eq("permissions.global.poll_messages", p.Global.PollMessages)
		default:
			f.fail("no check for argument %q = %v", key, want)
		}
	}
	return f
}

// checkResult compares a response's decoded fields with what the SDK
// decoded from the same answer.
func checkResult(ev *decoder.Event, call workload.Call) *fieldChecker {
	f := &fieldChecker{vals: values(ev.Response), partial: ev.Flags&decoder.FlagResponsePartial != 0, side: "response"}
	if call.Err != nil && call.Status() == 0 {
		// An empty OK the SDK turned into a "not found" error.
		if call.Code != 41 && !ev.NotFound {
			f.fail("the SDK got a not-found answer; the event is not flagged not_found (%d bytes)", ev.RespBytes)
		}
		return f
	}
	if rv := reflect.ValueOf(call.Result); rv.Kind() == reflect.Pointer && rv.IsNil() {
		// The SDK decoded an empty OK as "nothing" (GetConsumerOffset).
		if !ev.NotFound || ev.RespBytes != 8 {
			f.fail("the SDK got an empty answer; the event has %d bytes, not_found %v", ev.RespBytes, ev.NotFound)
		}
		f.checked++
		return f
	}
	count := func(path string, n int) { f.eq(path+"#", n) }
	switch r := call.Result.(type) {
	case nil:
	case *iggcon.StreamDetails:
		f.eq("id", r.Id)
		f.eq("name", r.Name)
		f.eq("topics_count", r.TopicsCount)
		f.eq("messages_count", r.MessagesCount)
	case []iggcon.Stream:
		count("streams", len(r))
		for i, s := range r {
			f.eq(fmt.Sprintf("streams[%d].name", i), s.Name)
		}
	case *iggcon.TopicDetails:
		f.eq("id", r.Id)
		f.eq("name", r.Name)
		f.eq("partitions_count", r.PartitionsCount)
		f.eq("replication_factor", r.ReplicationFactor)
	case []iggcon.Topic:
		count("topics", len(r))
	case *iggcon.IdentityInfo:
		if !ev.Summary.HasUserID || ev.Summary.UserID != r.UserId {
			f.fail("summary user_id %d (set %v), want %d", ev.Summary.UserID, ev.Summary.HasUserID, r.UserId)
		}
		f.checked++
	case *iggcon.PolledMessage:
		f.eq("partition_id", r.PartitionId)
		f.eq("current_offset", r.CurrentOffset)
		f.eq("messages_count", len(r.Messages))
		if !f.partial {
			count("messages", len(r.Messages))
			for i, m := range r.Messages {
				f.eq(fmt.Sprintf("messages[%d].offset", i), m.Header.Offset)
			}
		}
		if len(r.Messages) > 0 && ev.Summary.MessageCount != uint32(len(r.Messages)) {
			f.fail("summary messages %d, want %d", ev.Summary.MessageCount, len(r.Messages))
		}
	case *iggcon.ConsumerOffsetInfo:
		f.eq("partition_id", r.PartitionId)
		f.eq("current_offset", r.CurrentOffset)
		f.eq("stored_offset", r.StoredOffset)
	case *iggcon.ConsumerGroupDetails:
		f.eq("id", r.Id)
		f.eq("name", r.Name)
		f.eq("members_count", r.MembersCount)
	case []iggcon.ConsumerGroup:
		count("consumer_groups", len(r))
	case *iggcon.UserInfoDetails:
		f.eq("id", r.Id)
		f.eq("username", r.Username)
	case []iggcon.UserInfo:
		count("users", len(r))
		for i, u := range r {
			f.eq(fmt.Sprintf("users[%d].username", i), u.Username)
		}
	case *iggcon.RawPersonalAccessToken:
		f.redacted("token")
	case []iggcon.PersonalAccessTokenInfo:
		count("tokens", len(r))
	case *iggcon.Stats:
		f.eq("process_id", r.ProcessId)
		f.eq("streams_count", r.StreamsCount)
		f.eq("topics_count", r.TopicsCount)
		f.eq("partitions_count", r.PartitionsCount)
		f.eq("clients_count", r.ClientsCount)
		f.eq("hostname", r.Hostname)
	case *iggcon.ClusterMetadata:
		f.eq("name", r.Name)
		count("nodes", len(r.Nodes))
	case []iggcon.ClientInfo:
		count("clients", len(r))
	case *iggcon.ClientInfoDetails:
		f.eq("client_id", r.ID)
		f.eq("user_id", r.UserID)
		f.eq("address", r.Address)
	case *workload.RawClient:
		f.eq("client_id", r.ID)
		f.eq("address", r.Address)
	case []byte:
		f.eq("archive", len(r))
	default:
		f.fail("no check for result %T", r)
	}
	return f
}

// sessionCheck is what compareSession counted.
type sessionCheck struct {
	conns, pairs, fields int
	partialReq, partial  int // pairs with a request / a response cut by the budget
}

// compareSession compares every decoded exchange of a live trace with the
// workload log: per connection the same exchanges in the same order, the
// same statuses, the arguments and results, secrets redacted, nothing lost
// or left unpaired, a close event per connection with consistent counters.
// budget is the header-only metadata budget, or -1 in full mode.
func compareSession(t *testing.T, evs []*decoder.Event, calls []workload.Call, budget int) sessionCheck {
	t.Helper()
	var sc sessionCheck
	byIdx := callsByConn(calls)
	conns := groupByConn(evs)
	if len(conns) != len(byIdx) {
		t.Errorf("%d connections traced, the workload used %d", len(conns), len(byIdx))
	}
	sc.conns = len(conns)
	mapped := mapConns(t, conns, byIdx)
	for idx, c := range mapped {
		if c == nil {
			t.Errorf("workload connection %d: not traced", idx)
			continue
		}
		want := byIdx[idx]
		name := fmt.Sprintf("conn %d (workload connection %d)", c.id, idx)
		if len(c.opens) != 1 || c.opens[0].Flags != 0 {
			t.Errorf("%s: open events %v, want one without flags", name, flagsOf(c.opens))
		}
		if len(c.closes) != 1 {
			t.Fatalf("%s: %d close events, want 1", name, len(c.closes))
		}
		for _, ev := range c.other {
			t.Errorf("%s: unexpected %s event: %s", name, ev.Kind, stdout.AppendJSON(nil, ev))
		}
		if len(c.pairs) != len(want) {
			t.Errorf("%s: %d pairs, the SDK made %d calls", name, len(c.pairs), len(want))
		}
		var reqBytes, respBytes, skipped uint64
		for i := range min(len(c.pairs), len(want)) {
			ev, call := c.pairs[i], want[i]
			sc.pairs++
			reqBytes += uint64(ev.ReqBytes)
			respBytes += uint64(ev.RespBytes)
			errs := checkPair(ev, call, budget)
			if budget >= 0 {
				reqCut := max(0, int(ev.ReqBytes)-8-budget)
				respCut := max(0, int(ev.RespBytes)-8-budget)
				skipped += uint64(reqCut + respCut)
				if reqCut > 0 {
					sc.partialReq++
				}
				if respCut > 0 {
					sc.partial++
				}
			}
			fcs := []*fieldChecker{checkArgs(ev, call)}
			if call.Status() == 0 && ev.Status == 0 {
				fcs = append(fcs, checkResult(ev, call))
			}
			for _, f := range fcs {
				errs = append(errs, f.errs...)
				sc.fields += f.checked
			}
			for _, e := range errs {
				t.Errorf("%s exchange %d %s: %s\n  event: %s", name, i+1, call, e, stdout.AppendJSON(nil, ev))
			}
		}
		st := c.closes[0].Stats
		n := uint64(len(want))
		if st.Requests != n || st.Responses != n || st.Pairs != n || st.Unanswered != 0 || st.Unmatched != 0 ||
			st.GapBytes != 0 || st.DesyncBytes != 0 {
			t.Errorf("%s: close stats %+v, want %d requests, responses and pairs and no loss", name, *st, n)
		}
		if st.BytesIn+st.BytesOut != reqBytes+respBytes+st.Retransmitted {
			t.Errorf("%s: %d+%d bytes on the wire (%d retransmitted), the frames add up to %d+%d",
				name, st.BytesIn, st.BytesOut, st.Retransmitted, reqBytes, respBytes)
		}
		if budget < 0 && st.SkippedBytes != 0 {
			t.Errorf("%s: %d bytes skipped in full mode", name, st.SkippedBytes)
		}
		// A retransmitted packet is captured from its start whatever the
		// frames: it may change what is skipped, by at most its length.
		if budget >= 0 && (st.SkippedBytes < skipped || st.SkippedBytes > skipped+st.Retransmitted) {
			t.Errorf("%s: close stats skipped_bytes %d, the frames beyond header+%d bytes add up to %d (%d bytes retransmitted)",
				name, st.SkippedBytes, budget, skipped, st.Retransmitted)
		}
	}
	checkNoSecrets(t, evs, workload.Secrets(calls))
	return sc
}

// checkPair checks a pair's command, status and flags against the call.
func checkPair(ev *decoder.Event, call workload.Call, budget int) []string {
	var errs []string
	if uint32(ev.Code) != call.Code {
		errs = append(errs, fmt.Sprintf("command %d %s, want %d", ev.Code, ev.Command, call.Code))
	}
	if ev.Status != call.Status() {
		errs = append(errs, fmt.Sprintf("status %d %s, want %d", ev.Status, ev.StatusName, call.Status()))
	}
	var want decoder.Flags
	if _, known := protocol.Lookup(protocol.Code(call.Code)); !known {
		want |= decoder.FlagUnknownCommand
	}
	if budget >= 0 {
		if int(ev.ReqBytes)-8 > budget {
			want |= decoder.FlagRequestPartial
		}
		if ev.Status == 0 && int(ev.RespBytes)-8 > budget && want&decoder.FlagUnknownCommand == 0 {
			want |= decoder.FlagResponsePartial
		}
	}
	if budget >= 0 && want&(decoder.FlagRequestPartial|decoder.FlagResponsePartial) != 0 {
		// A cut payload may not tell the protocol versions apart
		// (SendMessages, GetStats): the decoder says it assumed one.
		want |= ev.Flags & decoder.FlagVersionAssumed
	}
	if ev.Flags != want {
		errs = append(errs, fmt.Sprintf("flags %v, want %v", ev.Flags.Names(), want.Names()))
	}
	return errs
}

func flagsOf(evs []*decoder.Event) [][]string {
	var out [][]string
	for _, ev := range evs {
		out = append(out, ev.Flags.Names())
	}
	return out
}

// checkNoSecrets renders every event in both output formats and looks for
// the secrets that went over the wire.
func checkNoSecrets(t *testing.T, evs []*decoder.Event, secrets []string) {
	t.Helper()
	var b []byte
	for _, ev := range evs {
		b = stdout.AppendJSON(b, ev)
		b = append(b, '\n')
		b = stdout.AppendText(b, ev)
		b = append(b, '\n')
	}
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("a secret (%d bytes, %q...) appears in the output", len(s), s[:3])
		}
	}
	if !bytes.Contains(b, []byte("[REDACTED]")) {
		t.Errorf("no [REDACTED] field in the output of a session with logins")
	}
}

// kernelClean checks the kernel counters of a capture that must lose nothing.
func kernelClean(t *testing.T, st loader.Stats, full bool) {
	t.Helper()
	if st.Lost() != 0 || st.RecordsMissing != 0 || st.RecordsBad != 0 || st.SyncLost != 0 {
		t.Errorf("kernel: lost %d records, %d missing, %d bad, sync lost %d times", st.Lost(), st.RecordsMissing, st.RecordsBad, st.SyncLost)
	}
	if st.BytesWire != st.BytesCaptured+st.BytesSkipped {
		t.Errorf("kernel: wire %d != captured %d + skipped %d", st.BytesWire, st.BytesCaptured, st.BytesSkipped)
	}
	if full && st.BytesSkipped != 0 {
		t.Errorf("kernel: %d bytes skipped in full mode", st.BytesSkipped)
	}
	if !full && st.BytesSkipped == 0 {
		t.Errorf("kernel: nothing skipped in header-only mode")
	}
}

// jsonLines renders events as the trace command's JSON output would.
func jsonLines(evs []*decoder.Event) string {
	var b []byte
	for _, ev := range evs {
		b = stdout.AppendJSON(b, ev)
		b = append(b, '\n')
	}
	return string(b)
}

// runCommand runs iggytrace in-process and returns its stdout and stderr.
func runCommand(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("iggytrace %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// sdkLog is one official Go SDK connection whose calls are logged as
// workload.Calls (one per request frame, the SDK's implicit
// GetClusterMetadata after a login included), so that compareSession can
// check them. Its methods may run in any goroutine (one per sdkLog).
type sdkLog struct {
	cli   iggcon.Client
	idx   int
	calls []workload.Call
}

func openSDK(addr string, idx int) (*sdkLog, error) {
	cli, err := client.NewIggyClient(func(o *client.Options) { *o = client.Options{} },
		client.WithTcp(tcp.WithServerAddress(addr)))
	if err != nil {
		return nil, fmt.Errorf("SDK connect to %s: %w", addr, err)
	}
	return &sdkLog{cli: cli, idx: idx}, nil
}

func (s *sdkLog) add(method string, code uint32, args map[string]any, res any, err error) workload.Call {
	c := workload.Call{Method: method, Code: code, Args: args, Err: err, ConnIndex: s.idx}
	if err == nil {
		c.Result = res
	}
	s.calls = append(s.calls, c)
	return c
}

// failed lists the calls answered with a status other than want (0, or a
// not-found answer the SDK turns into an error).
func (s *sdkLog) failed() []workload.Call {
	var out []workload.Call
	for _, c := range s.calls {
		if c.Status() != 0 {
			out = append(out, c)
		}
	}
	return out
}

func (s *sdkLog) login() {
	id, err := s.cli.LoginUser(workload.RootUsername, workload.RootPassword)
	s.add("LoginUser", 38, map[string]any{"username": workload.RootUsername, "password": workload.RootPassword}, id, err)
	if err == nil {
		s.add("GetClusterMetadata", 12, map[string]any{"implicit": true}, nil, nil)
	}
}

func (s *sdkLog) logout() {
	s.add("LogoutUser", 39, nil, nil, s.cli.LogoutUser())
}

func (s *sdkLog) ping() { s.add("Ping", 1, nil, nil, s.cli.Ping()) }

func (s *sdkLog) createStream(name string) uint32 {
	sd, err := s.cli.CreateStream(name)
	s.add("CreateStream", 202, map[string]any{"name": name}, sd, err)
	if err != nil {
		return 0
	}
	return sd.Id
}

func (s *sdkLog) createTopic(stream uint32, name string, partitions uint32) uint32 {
	td, err := s.cli.CreateTopic(e2eID(stream), name, partitions, iggcon.CompressionAlgorithmNone, 0, 0, nil)
	s.add("CreateTopic", 302, map[string]any{"stream": stream, "name": name, "partitions": partitions,
		"compression": uint8(iggcon.CompressionAlgorithmNone), "message_expiry": uint64(0), "max_topic_size": uint64(0)}, td, err)
	if err != nil {
		return 0
	}
	return td.Id
}

func (s *sdkLog) getStream(id any) {
	var ident iggcon.Identifier
	switch v := id.(type) {
	case uint32:
		ident = e2eID(v)
	case string:
		ident, _ = iggcon.NewIdentifier(v)
	}
	sd, err := s.cli.GetStream(ident)
	s.add("GetStream", 200, map[string]any{"stream": id}, sd, err)
}

func (s *sdkLog) getStreams() {
	l, err := s.cli.GetStreams()
	s.add("GetStreams", 201, nil, l, err)
}

// send sends n messages of size bytes to one partition.
func (s *sdkLog) send(stream, topic, partition uint32, label string, n, size int) {
	var msgs []iggcon.IggyMessage
	var payloads [][]byte
	for i := range n {
		p := []byte(fmt.Sprintf("%s-%04d:", label, i))
		for len(p) < size {
			p = append(p, byte('a'+len(p)%26))
		}
		m, err := iggcon.NewIggyMessage(p)
		if err != nil {
			panic(err)
		}
		msgs = append(msgs, m)
		payloads = append(payloads, p)
	}
	err := s.cli.SendMessages(e2eID(stream), e2eID(topic), iggcon.PartitionId(partition), msgs)
	s.add("SendMessages", 101, map[string]any{"stream": stream, "topic": topic, "partitioning": fmt.Sprintf("partition:%d", partition),
		"count": n, "payloads": payloads}, nil, err)
}

// poll polls count messages from offset of one partition as consumer.
func (s *sdkLog) poll(stream, topic, partition, consumer uint32, offset uint64, count uint32) {
	pm, err := s.cli.PollMessages(e2eID(stream), e2eID(topic), iggcon.NewSingleConsumer(e2eID(consumer)),
		iggcon.OffsetPollingStrategy(offset), count, false, &partition)
	s.add("PollMessages", 100, map[string]any{"stream": stream, "topic": topic, "consumer": fmt.Sprintf("consumer:%d", consumer),
		"strategy": fmt.Sprintf("offset:%d", offset), "count": count, "auto_commit": false, "partition": partition}, pm, err)
}

func (s *sdkLog) storeOffset(stream, topic, partition, consumer uint32, offset uint64) {
	err := s.cli.StoreConsumerOffset(iggcon.NewSingleConsumer(e2eID(consumer)), e2eID(stream), e2eID(topic), offset, &partition)
	s.add("StoreConsumerOffset", 121, map[string]any{"stream": stream, "topic": topic, "consumer": fmt.Sprintf("consumer:%d", consumer),
		"partition": partition, "offset": offset}, nil, err)
}

func (s *sdkLog) getOffset(stream, topic, partition, consumer uint32) {
	info, err := s.cli.GetConsumerOffset(iggcon.NewSingleConsumer(e2eID(consumer)), e2eID(stream), e2eID(topic), &partition)
	s.add("GetConsumerOffset", 120, map[string]any{"stream": stream, "topic": topic, "consumer": fmt.Sprintf("consumer:%d", consumer),
		"partition": partition}, info, err)
}

func e2eID(v uint32) iggcon.Identifier {
	id, _ := iggcon.NewIdentifier(v)
	return id
}
