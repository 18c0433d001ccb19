package workload_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	iggcon "github.com/apache/iggy/foreign/go/contracts"

	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// exchange is one request/response pair seen by the server.
type exchange struct {
	conn      uint64
	req, resp []byte
}

// wire records every exchange of a test server.
type wire struct {
	mu  sync.Mutex
	all []exchange
}

func (w *wire) hook(conn uint64, req, resp []byte) {
	w.mu.Lock()
	w.all = append(w.all, exchange{conn, req, resp})
	w.mu.Unlock()
}

func (w *wire) byConn() map[uint64][]exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[uint64][]exchange{}
	for _, e := range w.all {
		out[e.conn] = append(out[e.conn], e)
	}
	return out
}

// serve starts a test server with the workload's root password. The
// returned wire must be read only after stop, which closes the server and
// so waits until every OnExchange call has returned.
func serve(t *testing.T) (string, *wire, func()) {
	t.Helper()
	w := &wire{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, addr, err := testserver.Start(ctx, testserver.Config{RootPassword: workload.RootPassword, OnExchange: w.hook}, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	}
	t.Cleanup(stop)
	return addr.String(), w, stop
}

func runFull(t *testing.T) ([]workload.Call, string, *wire) {
	t.Helper()
	addr, w, stop := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls, err := workload.Full(ctx, addr)
	stop()
	if err != nil {
		t.Fatalf("Full: %v", err)
	}
	return calls, addr, w
}

// pick returns the calls of a method, optionally filtered.
func pick(calls []workload.Call, method string, keep func(workload.Call) bool) []workload.Call {
	var out []workload.Call
	for _, c := range calls {
		if c.Method == method && (keep == nil || keep(c)) {
			out = append(out, c)
		}
	}
	return out
}

func okCalls(c workload.Call) bool { return c.Err == nil }

func one[T any](t *testing.T, calls []workload.Call, method string, keep func(workload.Call) bool) T {
	t.Helper()
	got := pick(calls, method, keep)
	if len(got) == 0 {
		t.Fatalf("no %s call matches", method)
	}
	v, ok := got[0].Result.(T)
	if !ok {
		t.Fatalf("%s result is %T", method, got[0].Result)
	}
	return v
}

func arg(key string, want any) func(workload.Call) bool {
	return func(c workload.Call) bool { return c.Err == nil && reflect.DeepEqual(c.Args[key], want) }
}

// TestFullCoversEverySDKMethod: every method of the SDK's Client interface
// (except the local Close/GetConnectionInfo) and every raw-only command is
// called and succeeds at least once, over at least three connections, and
// the error paths the brief asks for are there.
func TestFullCoversEverySDKMethod(t *testing.T) {
	calls, _, _ := runFull(t)
	iface := reflect.TypeFor[iggcon.Client]()
	for i := range iface.NumMethod() {
		m := iface.Method(i).Name
		if m == "Close" || m == "GetConnectionInfo" {
			continue
		}
		if len(pick(calls, m, func(c workload.Call) bool { return c.Status() == 0 && c.Args["implicit"] == nil })) == 0 {
			t.Errorf("SDK method %s never succeeded", m)
		}
	}
	for _, m := range []string{"GetMe", "GetSnapshotFile", "FlushUnsavedBuffer", "PurgeStream", "PurgeTopic", "DeleteSegments"} {
		if len(pick(calls, m, okCalls)) == 0 {
			t.Errorf("raw command %s never succeeded", m)
		}
	}
	conns := map[int]bool{}
	statuses := map[uint32]bool{}
	for _, c := range calls {
		conns[c.ConnIndex] = true
		statuses[c.Status()] = true
	}
	if len(conns) < 3 {
		t.Errorf("%d connections", len(conns))
	}
	for _, st := range []uint32{3, 20, 40, 41, 42, 46, 48, 49, 51, 53, 101, 1009, 1012, 2010, 2013, 3007, 3021, 5000, 5004, 5006} {
		if !statuses[st] {
			t.Errorf("no call answered with status %d", st)
		}
	}
	if statuses[workload.NoStatus] {
		t.Errorf("a call failed without an Iggy status")
	}
	// The unauthenticated call comes before any login on connection 0.
	if c := calls[1]; c.ConnIndex != 0 || c.Status() != 40 || calls[0].Method != "Ping" {
		t.Errorf("first calls: %v, %v", calls[0], calls[1])
	}
}

// TestFullResults asserts on the values the SDK decoded from the server's
// answers during Full.
func TestFullResults(t *testing.T) {
	calls, addr, _ := runFull(t)

	// Streams and topics.
	s := one[*iggcon.StreamDetails](t, calls, "CreateStream", arg("name", workload.FullStream))
	if s.Id != 0 || s.Name != workload.FullStream || s.TopicsCount != 0 {
		t.Errorf("created stream %+v", s.Stream)
	}
	streams := pick(calls, "GetStreams", okCalls)
	if list := streams[0].Result.([]iggcon.Stream); len(list) != 2 || list[1].Name != workload.FullScratchStream {
		t.Errorf("streams %+v", list)
	}
	byName := one[*iggcon.StreamDetails](t, calls, "GetStream", arg("stream", workload.FullStream))
	if byName.Id != s.Id {
		t.Errorf("stream by name %+v", byName.Stream)
	}
	notFound := pick(calls, "GetStream", func(c workload.Call) bool { return c.Args["stream"] == uint32(4242) })
	if len(notFound) != 1 || notFound[0].Err == nil || notFound[0].Result != nil || notFound[0].Status() != 0 {
		t.Errorf("missing stream call %+v", notFound)
	}
	events := one[*iggcon.TopicDetails](t, calls, "CreateTopic", arg("name", workload.FullTopic))
	if events.Id != 0 || len(events.Partitions) != 3 || events.MessageExpiry != iggcon.Duration(math.MaxUint64) ||
		events.MaxTopicSize != math.MaxUint64 || events.ReplicationFactor != 1 || events.CompressionAlgorithm != 1 {
		t.Errorf("events topic %+v", events.Topic)
	}
	audit := one[*iggcon.TopicDetails](t, calls, "CreateTopic", arg("name", workload.FullAuditTopic))
	if audit.Id != 1 || audit.CompressionAlgorithm != 2 || audit.MessageExpiry != iggcon.Duration(time.Hour.Microseconds()) || audit.MaxTopicSize != 2<<30 {
		t.Errorf("audit topic %+v", audit.Topic)
	}
	if got := one[*iggcon.TopicDetails](t, calls, "GetTopic", arg("topic", workload.FullAuditTopic)); got.Name != workload.FullAuditTopic {
		t.Errorf("topic by name %+v", got.Topic)
	}

	// Messages: what was sent comes back, in order, with offsets.
	sent := map[string][][]byte{}
	for _, c := range pick(calls, "SendMessages", okCalls) {
		key := c.Args["partitioning"].(string)
		sent[key] = append(sent[key], c.Args["payloads"].([][]byte)...)
	}
	first10 := one[*iggcon.PolledMessage](t, calls, "PollMessages", arg("strategy", "offset:0"))
	assertPayloads(t, "offset 0", first10, sent["partition:0"][:10], 0)
	last2 := one[*iggcon.PolledMessage](t, calls, "PollMessages", arg("strategy", "last"))
	if len(last2.Messages) != 2 || last2.Messages[1].Header.Offset != last2.CurrentOffset {
		t.Errorf("last 2: current %d, %d messages", last2.CurrentOffset, len(last2.Messages))
	}
	nexts := pick(calls, "PollMessages", func(c workload.Call) bool {
		return c.Err == nil && c.Args["strategy"] == "next" && c.ConnIndex == 0
	})
	if len(nexts) != 2 || offsets(nexts[0].Result) != "0,1,2,3" || offsets(nexts[1].Result) != "4,5,6,7" {
		t.Errorf("next polls with auto-commit: %v / %v", offsets(nexts[0].Result), offsets(nexts[1].Result))
	}
	large := one[*iggcon.PolledMessage](t, calls, "PollMessages", func(c workload.Call) bool {
		return c.Err == nil && c.Args["partition"] == uint32(1) && c.Args["count"] == uint32(workload.LargeBatchCount)
	})
	assertPayloads(t, "large batch", large, sent["partition:1"], 0)
	for _, m := range large.Messages {
		if id := binary.LittleEndian.Uint64(m.Header.Id[:8]); id != 1000+m.Header.Offset {
			t.Fatalf("large message %d has id %d", m.Header.Offset, id)
		}
	}
	groupPolls := pick(calls, "PollMessages", func(c workload.Call) bool { return c.Err == nil && c.ConnIndex == 1 })
	if len(groupPolls) != 2 || len(groupPolls[0].Result.(*iggcon.PolledMessage).Messages) != 5 {
		t.Errorf("group polls %+v", groupPolls)
	}

	// Offsets.
	offs := pick(calls, "GetConsumerOffset", okCalls)
	if o := offs[0].Result.(*iggcon.ConsumerOffsetInfo); o == nil || o.StoredOffset != 5 || o.PartitionId != 0 {
		t.Errorf("stored offset %+v", o)
	}
	if o := offs[1].Result.(*iggcon.ConsumerOffsetInfo); o != nil {
		t.Errorf("offset after delete %+v", o)
	}

	// Groups.
	g := one[*iggcon.ConsumerGroupDetails](t, calls, "CreateConsumerGroup", okCalls)
	if g.Name != workload.FullGroup || g.PartitionsCount != 4 || g.MembersCount != 0 {
		t.Errorf("group %+v", g.ConsumerGroup)
	}
	two := one[*iggcon.ConsumerGroupDetails](t, calls, "GetConsumerGroup", func(c workload.Call) bool { return c.Err == nil && c.ConnIndex == 1 })
	var assigned []uint32
	for _, m := range two.Members {
		assigned = append(assigned, m.Partitions...)
	}
	slices.Sort(assigned)
	if two.MembersCount != 2 || !reflect.DeepEqual(assigned, []uint32{0, 1, 2, 3}) {
		t.Errorf("two members %+v", two.Members)
	}

	// Users and permissions round trip.
	u := one[*iggcon.UserInfoDetails](t, calls, "CreateUser", okCalls)
	if u.Username != workload.UserName || u.Status != iggcon.Active || !reflect.DeepEqual(u.Permissions, workload.UserPermissions(s.Id, events.Id)) {
		t.Errorf("created user %+v perms %+v", u.UserInfo, u.Permissions)
	}
	userGets := pick(calls, "GetUser", func(c workload.Call) bool { return c.Err == nil && c.Args["user"] == u.Id })
	if got := userGets[len(userGets)-1].Result.(*iggcon.UserInfoDetails); !reflect.DeepEqual(got.Permissions, workload.UpdatedUserPermissions(s.Id, events.Id, audit.Id)) {
		t.Errorf("permissions after update %+v", got.Permissions)
	}
	if users := one[[]iggcon.UserInfo](t, calls, "GetUsers", okCalls); len(users) != 2 || users[0].Username != workload.RootUsername {
		t.Errorf("users %+v", users)
	}
	userLogin := one[*iggcon.IdentityInfo](t, calls, "LoginUser", arg("username", workload.UserName))
	if userLogin.UserId != u.Id {
		t.Errorf("user login identity %d, want %d", userLogin.UserId, u.Id)
	}

	// Personal access token: created, listed, and it logs in as root.
	tok := one[*iggcon.RawPersonalAccessToken](t, calls, "CreatePersonalAccessToken", okCalls)
	if len(tok.Token) != 68 {
		t.Errorf("token %q", tok.Token)
	}
	if list := pick(calls, "GetPersonalAccessTokens", okCalls); len(list) != 1 || list[0].Result.([]iggcon.PersonalAccessTokenInfo)[0].Name != workload.TokenName {
		t.Errorf("token list %+v", list)
	}
	patLogin := one[*iggcon.IdentityInfo](t, calls, "LoginWithPersonalAccessToken", arg("token", tok.Token))
	if patLogin.UserId != 0 {
		t.Errorf("PAT login identity %d", patLogin.UserId)
	}

	// Clients: the three connections, with real addresses and ids.
	me := one[*workload.RawClient](t, calls, "GetMe", okCalls)
	clients := one[[]iggcon.ClientInfo](t, calls, "GetClients", okCalls)
	if len(clients) != 3 {
		t.Fatalf("clients %+v", clients)
	}
	found := false
	for _, c := range clients {
		if c.UserID != 0 || c.Transport != "tcp" {
			t.Errorf("client %+v", c)
		}
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			t.Errorf("client address %q: %v", c.Address, err)
		}
		found = found || (c.ID == me.ID && c.Address == me.Address)
	}
	if !found || me.UserID != 0 {
		t.Errorf("GetMe %+v not among clients %+v", me, clients)
	}
	if d := one[*iggcon.ClientInfoDetails](t, calls, "GetClient", func(c workload.Call) bool { return c.Err == nil && c.ConnIndex == 0 }); d.ID != me.ID || d.Address != me.Address {
		t.Errorf("GetClient %+v, want %+v", d, me)
	}

	// Stats at the end of Full: 2 streams, events (4 partitions) + audit (1).
	stats := pick(calls, "GetStats", okCalls)
	final := stats[len(stats)-1].Result.(*iggcon.Stats)
	if final.StreamsCount != 2 || final.TopicsCount != 2 || final.PartitionsCount != 5 ||
		final.MessagesCount != 10+4+3+workload.LargeBatchCount+2 || final.ClientsCount != 3 ||
		final.ConsumerGroupsCount != 1 || final.IggyServerSemver != 8000 {
		t.Errorf("final stats %+v", final)
	}

	// Cluster metadata and snapshot.
	meta := one[*iggcon.ClusterMetadata](t, calls, "GetClusterMetadata", func(c workload.Call) bool { return c.Err == nil && c.Args["implicit"] == nil })
	_, port, _ := net.SplitHostPort(addr)
	if len(meta.Nodes) != 1 || strconv.Itoa(int(meta.Nodes[0].Endpoints.Tcp)) != port {
		t.Errorf("cluster metadata %+v", meta)
	}
	snap := one[[]byte](t, calls, "GetSnapshotFile", okCalls)
	if zr, err := zip.NewReader(bytes.NewReader(snap), int64(len(snap))); err != nil || len(zr.File) != 6 {
		t.Errorf("snapshot: %v", err)
	}
}

func assertPayloads(t *testing.T, what string, p *iggcon.PolledMessage, want [][]byte, firstOffset uint64) {
	t.Helper()
	if len(p.Messages) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(p.Messages), len(want))
	}
	for i, m := range p.Messages {
		if !bytes.Equal(m.Payload, want[i]) || m.Header.Offset != firstOffset+uint64(i) {
			t.Fatalf("%s: message %d (offset %d) differs", what, i, m.Header.Offset)
		}
	}
}

func offsets(r any) string {
	p, _ := r.(*iggcon.PolledMessage)
	if p == nil {
		return "<nil>"
	}
	var s []string
	for _, m := range p.Messages {
		s = append(s, strconv.FormatUint(m.Header.Offset, 10))
	}
	return fmt.Sprint(joinComma(s))
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// TestFullMatchesWire checks the log against the frames the server saw: per
// connection, calls and request frames correspond one to one, with the same
// codes and statuses; the large SendMessages frame is as big as promised;
// every secret really is on the wire (so grepping decoder output for them is
// a meaningful test).
func TestFullMatchesWire(t *testing.T) {
	calls, _, w := runFull(t)
	logged := map[int][]string{}
	for _, c := range calls {
		logged[c.ConnIndex] = append(logged[c.ConnIndex], fmt.Sprintf("%d:%d", c.Code, c.Status()))
	}
	var onWire [][]string
	var everything []byte
	largest := 0
	for _, ex := range w.byConn() {
		var seq []string
		for _, e := range ex {
			seq = append(seq, fmt.Sprintf("%d:%d", binary.LittleEndian.Uint32(e.req[4:8]), binary.LittleEndian.Uint32(e.resp[0:4])))
			everything = append(append(everything, e.req...), e.resp...)
			largest = max(largest, len(e.req))
		}
		onWire = append(onWire, seq)
	}
	if len(onWire) != len(logged) {
		t.Fatalf("%d connections on the wire, %d in the log", len(onWire), len(logged))
	}
	for idx, seq := range logged {
		if !slices.ContainsFunc(onWire, func(s []string) bool { return slices.Equal(s, seq) }) {
			t.Errorf("connection %d: logged sequence %v not found on the wire %v", idx, seq, onWire)
		}
	}
	if largest < workload.LargeBatchCount*workload.LargeBatchSize {
		t.Errorf("largest request frame %d bytes", largest)
	}
	for _, secret := range workload.Secrets(calls) {
		if !bytes.Contains(everything, []byte(secret)) {
			t.Errorf("secret %q never on the wire", secret)
		}
	}
	if len(workload.Secrets(calls)) != 6 {
		t.Errorf("secrets %q: want the 5 fixed ones and the raw token", workload.Secrets(calls))
	}
}

// TestDemo runs a short demo and checks its mix and its bounds.
func TestDemo(t *testing.T) {
	addr, w, stop := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	calls, err := workload.Demo(ctx, addr, 1500*time.Millisecond)
	stop()
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("demo took %v", took)
	}
	conns := map[int]bool{}
	methods := map[string]int{}
	failed := 0
	for _, c := range calls {
		conns[c.ConnIndex] = true
		methods[c.Method]++
		if c.Err != nil {
			failed++
		}
	}
	if len(conns) != 7 {
		t.Errorf("%d connections, want 7", len(conns))
	}
	for _, m := range []string{"LoginUser", "CreateStream", "CreateTopic", "CreateConsumerGroup", "SendMessages",
		"PollMessages", "JoinConsumerGroup", "LeaveConsumerGroup", "LogoutUser"} {
		if methods[m] == 0 {
			t.Errorf("demo never called %s", m)
		}
	}
	if failed < 2 {
		t.Errorf("demo has %d failed calls, want a couple", failed)
	}
	consumed := 0
	for _, c := range pick(calls, "PollMessages", okCalls) {
		consumed += len(c.Result.(*iggcon.PolledMessage).Messages)
	}
	if consumed == 0 {
		t.Errorf("consumers received nothing")
	}
	requests := 0
	for _, ex := range w.byConn() {
		requests += len(ex)
	}
	if requests != len(calls) {
		t.Errorf("%d request frames on the wire, %d calls logged", requests, len(calls))
	}
}

// TestBenchmarkLoads runs both benchmark loads at a small size and checks
// their effect.
func TestBenchmarkLoads(t *testing.T) {
	addr, w, stop := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := workload.Produce(ctx, addr, 3, 4, 10, 100); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if err := workload.SmallCommands(ctx, addr, 2, 25); err != nil {
		t.Fatalf("SmallCommands: %v", err)
	}
	if err := workload.Produce(ctx, addr, 0, 1, 1, 1); err == nil {
		t.Errorf("Produce with 0 connections succeeded")
	}
	stop()
	var sends, small int
	for _, ex := range w.byConn() {
		for _, e := range ex {
			switch code := binary.LittleEndian.Uint32(e.req[4:8]); code {
			case 101:
				sends++
			case 1, 120, 121, 200, 300:
				small++
			}
		}
	}
	// SmallCommands' setup finds the stream and topic Produce created with
	// one GetStream and one GetTopic.
	if sends != 3*4 || small != 2*25+2 {
		t.Errorf("%d SendMessages (want 12) and %d small commands (want 52)", sends, small)
	}
}
