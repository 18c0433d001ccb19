package protocol_test

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	iggcon "github.com/apache/iggy/foreign/go/contracts"

	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// TestSDKBytes proves the decoder on bytes the official Go SDK v0.8.0 made
// (and the answers of the in-memory 0.8 test server): workload.Full drives
// every SDK method, plus the commands the SDK lacks through its raw client,
// and every exchange is decoded with one auto-detecting Decoder per
// connection. For each classic command code one subtest asserts, field by
// field, the decoded request against what the SDK was asked to do
// (Call.Args) and the decoded response against what the SDK made of it
// (Call.Result), the Summary of both, and the status word of every error
// path against Call.Status.
func TestSDKBytes(t *testing.T) {
	run := runSDKWorkload(t)

	byCode := map[uint32][]*sdkExchange{}
	for _, e := range run.exchanges {
		byCode[e.code] = append(byCode[e.code], e)
	}
	codes := make([]uint32, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)

	asserted := map[uint32]bool{}
	for _, code := range codes {
		name := "Unknown" + strconv.Itoa(int(code))
		if cmd, ok := protocol.Lookup(protocol.Code(code)); ok {
			name = cmd.Name
		}
		t.Run(name, func(t *testing.T) {
			check, known := sdkChecks[code]
			ok := 0
			for _, e := range byCode[code] {
				commonChecks(t, e)
				if !known {
					unknownCommand(t, e)
					continue
				}
				check(t, run, e)
				if e.status == 0 {
					ok++
				}
			}
			if known && ok == 0 {
				t.Errorf("no exchange of code %d was answered OK", code)
			}
			if known && ok > 0 {
				asserted[code] = true
			}
		})
	}

	t.Run("Secrets", func(t *testing.T) { checkSecrets(t, run) })
	t.Run("Version", func(t *testing.T) {
		for i, d := range run.decoders {
			if v, _ := d.Version(); v != protocol.V08 {
				t.Errorf("connection %d decoded as %v, want 0.8", i, v)
			}
		}
		// Connection 0 asks for Stats, the one payload that tells 0.8 apart.
		if v, detected := run.decoders[0].Version(); v != protocol.V08 || !detected {
			t.Errorf("connection 0: version %v, detected %v; want 0.8 detected from GetStats", v, detected)
		}
	})
	t.Run("Coverage", func(t *testing.T) {
		var got []uint32
		for c := range asserted {
			got = append(got, c)
		}
		slices.Sort(got)
		if !slices.Equal(got, classicCodes) {
			t.Errorf("codes asserted on SDK bytes:\n got %v\nwant %v", got, classicCodes)
		}
		// Every classic command of the table is among them, and every
		// checker is used.
		var table []uint32
		for _, c := range protocol.Commands() {
			if !c.VSROnly {
				table = append(table, uint32(c.Code))
			}
		}
		if !slices.Equal(table, classicCodes) {
			t.Errorf("classic commands of the table %v, want %v", table, classicCodes)
		}
		if len(sdkChecks) != len(classicCodes) {
			t.Errorf("%d checkers for %d codes", len(sdkChecks), len(classicCodes))
		}
	})
}

// classicCodes are the 47 command codes of the classic protocol.
var classicCodes = []uint32{
	1, 10, 11, 12, 20, 21, 22, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43, 44,
	100, 101, 102, 120, 121, 122, 200, 201, 202, 203, 204, 205,
	300, 301, 302, 303, 304, 305, 402, 403, 503, 600, 601, 602, 603, 604, 605,
}

type sdkCheck func(t *testing.T, run *sdkRun, e *sdkExchange)

// sdkChecks holds one checker per classic command code.
var sdkChecks = map[uint32]sdkCheck{
	1: checkEmpty, 39: checkEmpty,
	10: checkGetStats, 11: checkGetSnapshot, 12: checkClusterMetadata,
	20: checkGetMe, 21: checkGetClient, 22: checkGetClients,
	31: checkGetUser, 32: checkGetUsers, 33: checkCreateUser, 34: checkUserOnly, 35: checkUpdateUser,
	36: checkUpdatePermissions, 37: checkChangePassword, 38: checkLoginUser,
	41: checkGetTokens, 42: checkCreateToken, 43: checkDeleteToken, 44: checkLoginToken,
	100: checkPoll, 101: checkSend, 102: checkFlush,
	120: checkGetOffset, 121: checkStoreOffset, 122: checkDeleteOffset,
	200: checkGetStream, 201: checkGetStreams, 202: checkCreateStream, 203: checkStreamOnly,
	204: checkUpdateStream, 205: checkStreamOnly,
	300: checkGetTopic, 301: checkGetTopics, 302: checkCreateTopic, 303: checkStreamTopic,
	304: checkUpdateTopic, 305: checkStreamTopic,
	402: checkPartitions, 403: checkPartitions, 503: checkDeleteSegments,
	600: checkGetGroup, 601: checkGetGroups, 602: checkCreateGroup,
	603: checkGroupOp, 604: checkGroupOp, 605: checkGroupOp,
}

// commonChecks applies to every exchange: the status word of the response
// frame is the one the SDK reported, both payloads decode without error into
// well-bracketed Values, and switching payloads on changes nothing but the
// bytes of payloads and user-header values.
func commonChecks(t *testing.T, e *sdkExchange) {
	t.Helper()
	if e.code != e.call.Code {
		t.Errorf("%v: logged code %d", e, e.call.Code)
	}
	if want := e.call.Status(); want == workload.NoStatus {
		t.Errorf("%v: the call failed without an Iggy status: %v", e, e.call.Err)
	} else if e.status != want {
		t.Errorf("%v: response status %d, the SDK saw %d (%v)", e, e.status, want, e.call.Err)
	}
	if _, known := protocol.Lookup(protocol.Code(e.code)); !known {
		return
	}
	for _, d := range []struct {
		what string
		dec  *decoded
		decP *decoded
	}{{"request", e.req, e.reqP}, {"response", e.resp, e.respP}} {
		if d.dec == nil {
			continue
		}
		if d.dec.err != nil || d.decP.err != nil {
			t.Errorf("%v: %s does not decode: %v / with payloads: %v", e, d.what, d.dec.err, d.decP.err)
		}
		if err := balanced(d.dec.vals); err != nil {
			t.Errorf("%v: %s: %v", e, d.what, err)
		}
		if !slices.Equal(d.dec.flat.order, d.decP.flat.order) || d.dec.sum != d.decP.sum {
			t.Errorf("%v: %s decodes to other fields with payloads on", e, d.what)
			continue
		}
		for _, p := range d.dec.flat.order {
			a, b := d.dec.flat.vals[p], d.decP.flat.vals[p]
			// Without payloads, payload bytes and user-header values are
			// KindBytes holding only their length; with payloads, header
			// values are rendered by their kind.
			hidden := a.Kind == protocol.KindBytes && a.Str == "" &&
				(b.Kind == protocol.KindBytes && b.Num == a.Num || strings.HasSuffix(p, ".value") && strings.Contains(p, ".user_headers["))
			if a != b && !hidden {
				t.Errorf("%v: %s %s = %+v, with payloads %+v", e, d.what, p, a, b)
			}
		}
	}
}

func unknownCommand(t *testing.T, e *sdkExchange) {
	t.Helper()
	var uc protocol.UnknownCommandError
	if !errors.As(e.req.err, &uc) || uint32(uc.Code) != e.code {
		t.Errorf("%v: request error %v, want UnknownCommandError", e, e.req.err)
	}
	if e.status != 3 { // InvalidCommand
		t.Errorf("%v: status %d, want 3", e, e.status)
	}
}

// ---- helpers shared by the checkers ----

func arg[T any](t *testing.T, e *sdkExchange, key string) T {
	t.Helper()
	v, ok := e.call.Args[key].(T)
	if !ok {
		var zero T
		t.Fatalf("%v: Args[%q] = %#v, want a %T", e, key, e.call.Args[key], zero)
	}
	return v
}

// result returns the Call's Result as a T; ok is false when there is none
// (an error, or a typed nil).
func result[T any](t *testing.T, e *sdkExchange) (T, bool) {
	t.Helper()
	var zero T
	if e.call.Result == nil {
		return zero, false
	}
	v, ok := e.call.Result.(T)
	if !ok {
		t.Fatalf("%v: Result is a %T, want a %T", e, e.call.Result, zero)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return zero, false
	}
	return v, true
}

func reqView(t *testing.T, e *sdkExchange) view { return e.req.view(t, e.String()+" request") }

// respView returns the response view, or false for an error status.
func respView(t *testing.T, e *sdkExchange) (view, bool) {
	t.Helper()
	if e.resp == nil {
		return view{}, false
	}
	return e.resp.view(t, e.String()+" response"), true
}

// listOf decodes each element of v's list name with from.
func listOf[T any](v view, name string, from func(view) T) []T {
	var out []T
	for i := range v.count(name) {
		out = append(out, from(v.at(fmt.Sprintf("%s[%d]", name, i))))
	}
	return out
}

// respList checks a response that is the list name, against the SDK's
// []T result; such responses have no summary.
func respList[T any](t *testing.T, e *sdkExchange, name string, from func(view) T) {
	t.Helper()
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[[]T](t, e)
	sameAs(t, r.what, listOf(r, name, from), want)
	respSum(t, e, protocol.Summary{})
}

// idString is how a Summary shows an identifier from Args.
func idString(a any) string { return fmt.Sprint(a) }

func sumEq(t *testing.T, what string, got, want protocol.Summary) {
	t.Helper()
	if got != want {
		t.Errorf("%s summary\n got %+v\nwant %+v", what, got, want)
	}
}

func reqSum(t *testing.T, e *sdkExchange, want protocol.Summary) {
	t.Helper()
	sumEq(t, e.String()+" request", e.req.sum, want)
}

func respSum(t *testing.T, e *sdkExchange, want protocol.Summary) {
	t.Helper()
	if e.resp != nil {
		sumEq(t, e.String()+" response", e.resp.sum, want)
	}
}

// identEq compares a decoded identifier with an Args identifier (uint32 or
// string), kind included.
func identEq(t *testing.T, v view, path string, want any) {
	t.Helper()
	if got := v.ident(path); got != want {
		t.Errorf("%s: %s = %#v, want %#v", v.what, path, got, want)
	}
}

// sameAs compares a structure rebuilt from decoded values with the SDK's,
// treating nil and empty slices and maps alike.
func sameAs(t *testing.T, what string, got, want any) {
	t.Helper()
	if !looseEqual(reflect.ValueOf(got), reflect.ValueOf(want)) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s differs from the SDK's\n decoded %s\n     SDK %s", what, g, w)
	}
}

func looseEqual(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !looseEqual(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); !bv.IsValid() || !looseEqual(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return looseEqual(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !looseEqual(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.String:
		return a.String() == b.String()
	}
	panic("looseEqual: unsupported kind " + a.Kind().String())
}

// enumIs asserts an enum's number and name.
func enumIs(t *testing.T, v view, path string, num uint64, name string) {
	t.Helper()
	if n, s := v.enum(path); n != num || s != name {
		t.Errorf("%s: %s = %d %q, want %d %q", v.what, path, n, s, num, name)
	}
}

// compressionNames names the SDK's CompressionAlgorithm constants.
var compressionNames = map[uint8]string{
	uint8(iggcon.CompressionAlgorithmNone): "none",
	uint8(iggcon.CompressionAlgorithmGzip): "gzip",
}

func str8(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// ---- decoded values → SDK structures ----

func streamFrom(v view) iggcon.Stream {
	return iggcon.Stream{
		Id: v.u32("id"), CreatedAt: v.time("created_at"), TopicsCount: v.u32("topics_count"),
		SizeBytes: v.num("size_bytes"), MessagesCount: v.num("messages_count"), Name: v.str("name"),
	}
}

func streamDetailsFrom(v view) *iggcon.StreamDetails {
	d := &iggcon.StreamDetails{Stream: streamFrom(v)}
	n := v.count("topics")
	eq(v.t, v.what, "topics_count vs topics", int(d.TopicsCount), n)
	for i := range n {
		d.Topics = append(d.Topics, topicFrom(v.at(fmt.Sprintf("topics[%d]", i))))
	}
	sort.Slice(d.Topics, func(i, j int) bool { return d.Topics[i].Id < d.Topics[j].Id }) // as the SDK does
	return d
}

func topicFrom(v view) iggcon.Topic {
	comp, name := v.enum("compression_algorithm")
	if want := compressionNames[uint8(comp)]; name != want {
		v.t.Errorf("%s: compression %d named %q, want %q", v.what, comp, name, want)
	}
	return iggcon.Topic{
		Id: v.u32("id"), CreatedAt: v.time("created_at"), PartitionsCount: v.u32("partitions_count"),
		MessageExpiry: iggcon.Duration(v.expiry("message_expiry")), CompressionAlgorithm: uint8(comp),
		MaxTopicSize: v.topicSize("max_topic_size"), ReplicationFactor: uint8(v.num("replication_factor")),
		Size: v.num("size_bytes"), MessagesCount: v.num("messages_count"), Name: v.str("name"),
	}
}

func topicDetailsFrom(v view) *iggcon.TopicDetails {
	d := &iggcon.TopicDetails{Topic: topicFrom(v)}
	n := v.count("partitions")
	eq(v.t, v.what, "partitions_count vs partitions", int(d.PartitionsCount), n)
	for i := range n {
		p := v.at(fmt.Sprintf("partitions[%d]", i))
		d.Partitions = append(d.Partitions, iggcon.PartitionContract{
			Id: p.u32("id"), CreatedAt: p.time("created_at"), SegmentsCount: p.u32("segments_count"),
			CurrentOffset: p.num("current_offset"), SizeBytes: p.num("size_bytes"), MessagesCount: p.num("messages_count"),
		})
	}
	return d
}

func groupFrom(v view) iggcon.ConsumerGroup {
	return iggcon.ConsumerGroup{
		Id: v.u32("id"), Name: v.str("name"), PartitionsCount: v.u32("partitions_count"), MembersCount: v.u32("members_count"),
	}
}

func groupDetailsFrom(v view) *iggcon.ConsumerGroupDetails {
	d := &iggcon.ConsumerGroupDetails{ConsumerGroup: groupFrom(v)}
	n := v.count("members")
	eq(v.t, v.what, "members_count vs members", int(d.MembersCount), n)
	for i := range n {
		m := v.at(fmt.Sprintf("members[%d]", i))
		cm := iggcon.ConsumerGroupMember{ID: m.u32("id"), PartitionsCount: m.u32("partitions_count")}
		k := m.count("partitions")
		eq(v.t, v.what, fmt.Sprintf("members[%d] partitions_count vs partitions", i), int(cm.PartitionsCount), k)
		for j := range k {
			cm.Partitions = append(cm.Partitions, m.u32(fmt.Sprintf("partitions[%d]", j)))
		}
		d.Members = append(d.Members, cm)
	}
	sort.Slice(d.Members, func(i, j int) bool { return d.Members[i].ID < d.Members[j].ID }) // as the SDK does
	return d
}

// userStatus maps the wire status (1 active, 2 inactive) to the SDK's
// UserStatus (Active = 0, Inactive = 1) and checks its name.
func userStatus(v view, p string) iggcon.UserStatus {
	n, name := v.enum(p)
	switch {
	case n == 1 && name == "active":
		return iggcon.Active
	case n == 2 && name == "inactive":
		return iggcon.Inactive
	}
	v.t.Errorf("%s: %s = %d %q", v.what, v.path(p), n, name)
	return -1
}

func userFrom(v view) iggcon.UserInfo {
	return iggcon.UserInfo{Id: v.u32("id"), CreatedAt: v.time("created_at"), Status: userStatus(v, "status"), Username: v.str("username")}
}

func userDetailsFrom(v view) *iggcon.UserInfoDetails {
	d := &iggcon.UserInfoDetails{UserInfo: userFrom(v)}
	if v.has("permissions") {
		d.Permissions = permissionsFrom(v.at("permissions"))
	}
	return d
}

func permissionsFrom(v view) *iggcon.Permissions {
	g := v.at("global")
	p := &iggcon.Permissions{
		Global: iggcon.GlobalPermissions{
			ManageServers: g.boolean("manage_servers"), ReadServers: g.boolean("read_servers"),
			ManageUsers: g.boolean("manage_users"), ReadUsers: g.boolean("read_users"),
			ManageStreams: g.boolean("manage_streams"), ReadStreams: g.boolean("read_streams"),
			ManageTopics: g.boolean("manage_topics"), ReadTopics: g.boolean("read_topics"),
			PollMessages: g.boolean("poll_messages"), SendMessages: g.boolean("send_messages"),
		},
		Streams: map[int]*iggcon.StreamPermissions{},
	}
	for i := range v.count("streams") {
		s := v.at(fmt.Sprintf("streams[%d]", i))
		sp := &iggcon.StreamPermissions{
			ManageStream: s.boolean("manage_stream"), ReadStream: s.boolean("read_stream"),
			ManageTopics: s.boolean("manage_topics"), ReadTopics: s.boolean("read_topics"),
			PollMessages: s.boolean("poll_messages"), SendMessages: s.boolean("send_messages"),
			Topics: map[int]*iggcon.TopicPermissions{},
		}
		for j := range s.count("topics") {
			tp := s.at(fmt.Sprintf("topics[%d]", j))
			id := int(tp.u32("topic_id"))
			if sp.Topics[id] != nil {
				v.t.Errorf("%s: topic %d listed twice", v.what, id)
			}
			sp.Topics[id] = &iggcon.TopicPermissions{
				ManageTopic: tp.boolean("manage_topic"), ReadTopic: tp.boolean("read_topic"),
				PollMessages: tp.boolean("poll_messages"), SendMessages: tp.boolean("send_messages"),
			}
		}
		id := int(s.u32("stream_id"))
		if p.Streams[id] != nil {
			v.t.Errorf("%s: stream %d listed twice", v.what, id)
		}
		p.Streams[id] = sp
	}
	return p
}

// sdkTransport is the SDK's name for a transport byte (MapClientInfo).
func sdkTransport(v view, p string) string {
	n, name := v.enum(p)
	if want := map[uint64]string{1: "tcp", 2: "quic", 3: "http", 4: "websocket"}[n]; name != want {
		v.t.Errorf("%s: transport %d named %q, want %q", v.what, n, name, want)
	}
	switch n {
	case 1:
		return string(iggcon.Tcp)
	case 2:
		return string(iggcon.Quic)
	}
	return "Unknown"
}

func clientFrom(v view) iggcon.ClientInfo {
	return iggcon.ClientInfo{
		ID: v.u32("client_id"), UserID: v.u32("user_id"), Transport: sdkTransport(v, "transport"),
		Address: v.str("address"), ConsumerGroupsCount: v.u32("consumer_groups_count"),
	}
}

func clientGroupsFrom(v view) [][3]uint32 {
	var out [][3]uint32
	n := v.count("consumer_groups")
	eq(v.t, v.what, "consumer_groups_count vs consumer_groups", int(v.u32("consumer_groups_count")), n)
	for i := range n {
		g := v.at(fmt.Sprintf("consumer_groups[%d]", i))
		out = append(out, [3]uint32{g.u32("stream_id"), g.u32("topic_id"), g.u32("group_id")})
	}
	return out
}

// ---- per-command checkers ----

// checkEmpty: Ping and LogoutUser carry nothing either way.
func checkEmpty(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
	reqSum(t, e, protocol.Summary{})
	respSum(t, e, protocol.Summary{})
}

func checkGetStats(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	v, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.Stats](t, e)
	got := &iggcon.Stats{
		ProcessId:           v.u32("process_id"),
		CpuUsage:            float32(v.float("cpu_usage")),
		TotalCpuUsage:       float32(v.float("total_cpu_usage")),
		MemoryUsage:         v.num("memory_usage"),
		TotalMemory:         v.num("total_memory"),
		AvailableMemory:     v.num("available_memory"),
		StartTime:           v.time("start_time"),
		ReadBytes:           v.num("read_bytes"),
		WrittenBytes:        v.num("written_bytes"),
		MessagesSizeBytes:   v.num("messages_size_bytes"),
		StreamsCount:        v.u32("streams_count"),
		TopicsCount:         v.u32("topics_count"),
		PartitionsCount:     v.u32("partitions_count"),
		SegmentsCount:       v.u32("segments_count"),
		MessagesCount:       v.num("messages_count"),
		ClientsCount:        v.u32("clients_count"),
		ConsumerGroupsCount: v.u32("consumer_groups_count"),
		Hostname:            v.str("hostname"),
		OsName:              v.str("os_name"),
		OsVersion:           v.str("os_version"),
		KernelVersion:       v.str("kernel_version"),
		IggyServerVersion:   v.str("iggy_server_version"),
		IggyServerSemver:    v.u32("iggy_server_semver"),
		ThreadsCount:        v.u32("threads_count"),
		FreeDiskSpace:       v.num("free_disk_space"),
		TotalDiskSpace:      v.num("total_disk_space"),
	}
	if rt, ok := v.get("run_time", protocol.KindDuration); ok {
		got.RunTime = rt.Num
	}
	n := v.count("cache_metrics")
	eq(t, v.what, "cache_metrics_count vs cache_metrics", int(v.u32("cache_metrics_count")), n)
	for i := range n {
		m := v.at(fmt.Sprintf("cache_metrics[%d]", i))
		got.CacheMetrics = append(got.CacheMetrics, iggcon.CacheMetrics{
			StreamId: m.u32("stream_id"), TopicId: m.u32("topic_id"), PartitionId: m.u32("partition_id"),
			Hits: m.num("hits"), Misses: m.num("misses"), HitRatio: float32(m.float("hit_ratio")),
		})
	}
	sameAs(t, v.what, got, want)
	respSum(t, e, protocol.Summary{})
}

func checkGetSnapshot(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	names := map[string]uint64{"stored": 1, "deflated": 2, "bzip2": 3, "zstd": 4, "lzma": 5, "xz": 6}
	comp := arg[string](t, e, "compression")
	enumIs(t, v, "compression", names[comp], comp)
	types := arg[[]string](t, e, "types")
	eq(t, v.what, "types_count", v.num("types_count"), uint64(len(types)))
	if n := v.count("types"); n != len(types) {
		t.Errorf("%s: %d types, want %d", v.what, n, len(types))
	}
	typeCodes := map[string]uint64{"filesystem_overview": 1, "process_list": 2, "resource_usage": 3, "test": 4,
		"server_logs": 5, "server_config": 6, "all": 100}
	for i, ty := range types {
		enumIs(t, v, fmt.Sprintf("types[%d]", i), typeCodes[ty], ty)
	}
	reqSum(t, e, protocol.Summary{})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	archive, _ := result[[]byte](t, e)
	a, _ := r.get("archive", protocol.KindBytes)
	eq(t, r.what, "archive length", a.Num, uint64(len(archive)))
	eq(t, r.what, "archive bytes without payloads", a.Str, "")
	if ap := e.respP.view(t, r.what); ap.has("archive") {
		if b, _ := ap.get("archive"); b.Str != string(archive) {
			t.Errorf("%s: archive with payloads differs from the SDK's bytes", r.what)
		}
	}
	respSum(t, e, protocol.Summary{})
}

func checkClusterMetadata(t *testing.T, run *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	v, ok := respView(t, e)
	if !ok {
		return
	}
	want, explicit := result[*iggcon.ClusterMetadata](t, e)
	if !explicit {
		// The SDK's own GetClusterMetadata after each login leaves no
		// Result; the server answers it as it answered the explicit call.
		if e.call.Args["implicit"] != true {
			t.Fatalf("%v: no result", e)
		}
		for _, o := range run.exchanges {
			if m, ok := o.call.Result.(*iggcon.ClusterMetadata); ok && o.code == 12 {
				want = m
			}
		}
		if want == nil {
			t.Fatalf("%v: no explicit GetClusterMetadata result to compare with", e)
		}
	}
	got := &iggcon.ClusterMetadata{Name: v.str("name")}
	n := v.count("nodes")
	eq(t, v.what, "nodes_count vs nodes", int(v.u32("nodes_count")), n)
	for i := range n {
		nv := v.at(fmt.Sprintf("nodes[%d]", i))
		role, roleName := nv.enum("role")
		status, statusName := nv.enum("status")
		eq(t, v.what, "role name", roleName, map[uint64]string{0: "leader", 1: "follower"}[role])
		eq(t, v.what, "status name", statusName, map[uint64]string{0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance"}[status])
		got.Nodes = append(got.Nodes, iggcon.ClusterNode{
			Name: nv.str("name"), IP: nv.str("ip"),
			Endpoints: iggcon.TransportEndpoints{
				Tcp: uint16(nv.num("tcp_port")), Quic: uint16(nv.num("quic_port")),
				Http: uint16(nv.num("http_port")), WebSocket: uint16(nv.num("websocket_port")),
			},
			Role: iggcon.ClusterNodeRole(role), Status: iggcon.ClusterNodeStatus(status),
		})
	}
	sameAs(t, v.what, got, want)
	respSum(t, e, protocol.Summary{})
}

func checkGetMe(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	v, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*workload.RawClient](t, e)
	tr, _ := v.enum("transport")
	got := &workload.RawClient{
		ID: v.u32("client_id"), UserID: v.u32("user_id"), Transport: uint8(tr), Address: v.str("address"),
		ConsumerGroups: clientGroupsFrom(v),
	}
	sameAs(t, v.what, got, want)
	respSum(t, e, protocol.Summary{})
}

func checkGetClient(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	eq(t, v.what, "client_id", v.u32("client_id"), arg[uint32](t, e, "client"))
	reqSum(t, e, protocol.Summary{})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	respSum(t, e, protocol.Summary{})
	if len(e.resp.payload) == 0 {
		// Not found: an empty OK, which the raw client answers with no Result.
		e.resp.none(t, r.what)
		if e.call.Result != nil {
			t.Errorf("%v: empty answer but Result %#v", e, e.call.Result)
		}
		return
	}
	groups := clientGroupsFrom(r)
	switch want := e.call.Result.(type) {
	case *workload.RawClient:
		tr, _ := r.enum("transport")
		sameAs(t, r.what, &workload.RawClient{ID: r.u32("client_id"), UserID: r.u32("user_id"), Transport: uint8(tr),
			Address: r.str("address"), ConsumerGroups: groups}, want)
	case *iggcon.ClientInfoDetails:
		got := &iggcon.ClientInfoDetails{ClientInfo: clientFrom(r)}
		for _, g := range groups {
			got.ConsumerGroups = append(got.ConsumerGroups, iggcon.ConsumerGroupInfo{StreamId: g[0], TopicId: g[1], GroupId: g[2]})
		}
		// The SDK's DeserializeClient makes count zero entries and then
		// appends the real ones: compare with the real ones.
		w := *want
		if n := int(w.ConsumerGroupsCount); n <= len(w.ConsumerGroups) {
			w.ConsumerGroups = w.ConsumerGroups[len(w.ConsumerGroups)-n:]
		}
		sameAs(t, r.what, got, &w)
	default:
		t.Errorf("%v: Result %T", e, e.call.Result)
	}
}

func checkGetClients(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	respList(t, e, "clients", clientFrom)
}

func checkGetUser(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	user := e.call.Args["user"]
	identEq(t, v, "user_id", user)
	reqSum(t, e, protocol.Summary{Username: idString(user)})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, found := result[*iggcon.UserInfoDetails](t, e)
	if !found {
		e.resp.none(t, r.what) // not found: the SDK turns the empty OK into an error
		respSum(t, e, protocol.Summary{})
		return
	}
	sameAs(t, r.what, userDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Username: want.Username})
}

func checkGetUsers(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	respList(t, e, "users", userFrom)
}

// redacted asserts that a secret field decoded as KindRedacted and that the
// raw payload does hold the secret from Args there, so the redaction hid
// something real.
func redacted(t *testing.T, v view, path string, payload []byte, secret string) {
	t.Helper()
	if k := v.kind(path); k != protocol.KindRedacted {
		t.Errorf("%s: %s is a %v, want redacted", v.what, path, k)
	}
	if !bytes.Contains(payload, str8(secret)) {
		t.Errorf("%s: the payload does not carry the secret of %s", v.what, path)
	}
}

func checkCreateUser(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	name := arg[string](t, e, "username")
	eq(t, v.what, "username", v.str("username"), name)
	redacted(t, v, "password", e.req.payload, arg[string](t, e, "password"))
	status := arg[string](t, e, "status")
	enumIs(t, v, "status", map[string]uint64{"active": 1, "inactive": 2}[status], status)
	sameAs(t, v.what+" permissions", permissionsFrom(v.at("permissions")), arg[*iggcon.Permissions](t, e, "permissions"))
	reqSum(t, e, protocol.Summary{Username: name})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.UserInfoDetails](t, e)
	sameAs(t, r.what, userDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Username: want.Username})
}

// checkUserOnly: DeleteUser names a user and answers nothing.
func checkUserOnly(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "user_id", e.call.Args["user"])
	eq(t, v.what, "values", len(v.f.order), 1)
	reqSum(t, e, protocol.Summary{Username: idString(e.call.Args["user"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkUpdateUser(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "user_id", e.call.Args["user"])
	if v.has("username") {
		t.Errorf("%s: a username, but the SDK was given none", v.what)
	}
	status := arg[string](t, e, "status")
	enumIs(t, v, "status", map[string]uint64{"active": 1, "inactive": 2}[status], status)
	reqSum(t, e, protocol.Summary{Username: idString(e.call.Args["user"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkUpdatePermissions(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "user_id", e.call.Args["user"])
	sameAs(t, v.what+" permissions", permissionsFrom(v.at("permissions")), arg[*iggcon.Permissions](t, e, "permissions"))
	reqSum(t, e, protocol.Summary{Username: idString(e.call.Args["user"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkChangePassword(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "user_id", e.call.Args["user"])
	redacted(t, v, "current_password", e.req.payload, arg[string](t, e, "current_password"))
	redacted(t, v, "new_password", e.req.payload, arg[string](t, e, "new_password"))
	reqSum(t, e, protocol.Summary{Username: idString(e.call.Args["user"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkLoginUser(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	name := arg[string](t, e, "username")
	eq(t, v.what, "username", v.str("username"), name)
	redacted(t, v, "password", e.req.payload, arg[string](t, e, "password"))
	// The SDK sends its own version; the workload's raw client (connection
	// 2) sends "iggytrace-raw" (workload.loginPayload). Both send no context.
	wantVersion := iggcon.Version
	if e.conn == 2 {
		wantVersion = "iggytrace-raw"
	}
	eq(t, v.what, "version", v.str("version"), wantVersion)
	eq(t, v.what, "context", v.str("context"), "")
	reqSum(t, e, protocol.Summary{Username: name})
	loginResponse(t, e)
}

// loginResponse checks the [user_id u32] answer of both logins.
func loginResponse(t *testing.T, e *sdkExchange) {
	t.Helper()
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.IdentityInfo](t, e)
	eq(t, r.what, "user_id", r.u32("user_id"), want.UserId)
	eq(t, r.what, "values", len(r.f.order), 1)
	respSum(t, e, protocol.Summary{UserID: want.UserId, HasUserID: true})
}

func checkGetTokens(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	v, ok := respView(t, e)
	if !ok {
		return
	}
	respSum(t, e, protocol.Summary{})
	want, _ := result[[]iggcon.PersonalAccessTokenInfo](t, e)
	// No tokens: an empty list, which the SDK reports as EmptyMessagePayload.
	if n := v.count("tokens"); n != len(want) {
		t.Fatalf("%s: %d tokens, the SDK has %d", v.what, n, len(want))
	}
	for i, w := range want {
		tv := v.at(fmt.Sprintf("tokens[%d]", i))
		eq(t, v.what, "name", tv.str("name"), w.Name)
		// The SDK reads the µs timestamp as nanoseconds (time.Unix(0, µs));
		// compare the raw numbers.
		if w.Expiry == nil {
			t.Errorf("%s: the SDK read no expiry", v.what)
			continue
		}
		eq(t, v.what, "expiry_at", tv.expiryAt("expiry_at"), uint64(w.Expiry.UnixNano()))
	}
}

func checkCreateToken(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	eq(t, v.what, "name", v.str("name"), arg[string](t, e, "name"))
	eq(t, v.what, "expiry", v.expiry("expiry"), uint64(arg[uint32](t, e, "expiry")))
	reqSum(t, e, protocol.Summary{})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.RawPersonalAccessToken](t, e)
	redacted(t, r, "token", e.resp.payload, want.Token)
	eq(t, r.what, "values", len(r.f.order), 1)
	respSum(t, e, protocol.Summary{})
}

func checkDeleteToken(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	eq(t, v.what, "name", v.str("name"), arg[string](t, e, "name"))
	reqSum(t, e, protocol.Summary{})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkLoginToken(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	redacted(t, v, "token", e.req.payload, arg[string](t, e, "token"))
	eq(t, v.what, "values", len(v.f.order), 1)
	reqSum(t, e, protocol.Summary{})
	loginResponse(t, e)
}

// ---- messages ----

// sentBatches mirrors the batches workload.Full sends (full.go,
// adminMessages and userSession), by payload label: the id of the first
// message (0: ids are left zero for the server to assign) and whether each
// message carries the two user headers of workload's userHeaders. Args hold
// the payloads but neither of these.
var sentBatches = map[string]struct {
	firstID uint64
	headers bool
}{
	"order": {1, true}, "balanced": {0, false}, "keyed": {100, true},
	"large": {1000, false}, "lost": {0, false}, "user": {0, false},
}

// sentHeaders are the user headers of message i of a batch, as workload
// builds them: "source" = label (string) and "seq" = i (uint32).
func sentHeaders(label string, i int) []iggcon.HeaderEntry {
	seq := binary.LittleEndian.AppendUint32(nil, uint32(i))
	return []iggcon.HeaderEntry{
		{Key: iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("source")}, Value: iggcon.HeaderValue{Kind: iggcon.String, Value: []byte(label)}},
		{Key: iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("seq")}, Value: iggcon.HeaderValue{Kind: iggcon.Uint32, Value: seq}},
	}
}

// headersEq compares a decoded user_headers list (with and without
// payloads) with header entries.
func headersEq(t *testing.T, m, mp view, want []iggcon.HeaderEntry) {
	t.Helper()
	if len(want) == 0 {
		if m.has("user_headers") {
			t.Errorf("%s: user headers decoded where there are none", m.what)
		}
		return
	}
	if n := m.count("user_headers"); n != len(want) {
		t.Errorf("%s: %d user headers, want %d", m.what, n, len(want))
		return
	}
	for j, h := range want {
		p := fmt.Sprintf("user_headers[%d]", j)
		kk, _ := m.enum(p + ".key_kind")
		vk, _ := m.enum(p + ".value_kind")
		eq(t, m.what, p+".key_kind", kk, uint64(h.Key.Kind))
		eq(t, m.what, p+".value_kind", vk, uint64(h.Value.Kind))
		if h.Key.Kind == iggcon.String {
			eq(t, m.what, p+".key", m.str(p+".key"), string(h.Key.Value)) // keys are shown, values are not
		}
		val, _ := m.get(p+".value", protocol.KindBytes)
		eq(t, m.what, p+".value length", val.Num, uint64(len(h.Value.Value)))
		eq(t, m.what, p+".value bytes", val.Str, "")
		switch h.Value.Kind {
		case iggcon.String:
			eq(t, mp.what, p+".value", mp.str(p+".value"), string(h.Value.Value))
		case iggcon.Uint32:
			eq(t, mp.what, p+".value", mp.num(p+".value"), uint64(binary.LittleEndian.Uint32(h.Value.Value)))
		default:
			t.Errorf("%s: header kind %d not expected in this workload", m.what, h.Value.Kind)
		}
	}
}

// payloadEq checks a message's payload: its length without payloads, its
// bytes with them.
func payloadEq(t *testing.T, m, mp view, want []byte) {
	t.Helper()
	eq(t, m.what, "payload_length", m.num("payload_length"), uint64(len(want)))
	pv, _ := m.get("payload", protocol.KindBytes)
	eq(t, m.what, "payload length", pv.Num, uint64(len(want)))
	eq(t, m.what, "payload bytes without payloads", pv.Str, "")
	if pp, _ := mp.get("payload", protocol.KindBytes); pp.Str != string(want) {
		t.Errorf("%s: payload with payloads on differs from the SDK's bytes", m.what)
	}
}

func checkSend(t *testing.T, run *sdkRun, e *sdkExchange) {
	v, vp := reqView(t, e), e.reqP.view(t, e.String()+" request (payloads)")
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)

	want := protocol.Summary{Stream: idString(stream), Topic: idString(topic)}
	switch part := arg[string](t, e, "partitioning"); {
	case part == "balanced":
		enumIs(t, v, "partitioning.kind", 1, "balanced")
		eq(t, v.what, "partitioning values", v.has("partitioning.partition_id") || v.has("partitioning.key"), false)
	case strings.HasPrefix(part, "partition:"):
		id, _ := strconv.ParseUint(strings.TrimPrefix(part, "partition:"), 10, 32)
		enumIs(t, v, "partitioning.kind", 2, "partition_id")
		eq(t, v.what, "partitioning.partition_id", v.num("partitioning.partition_id"), id)
		want.Partition, want.HasPartition = uint32(id), true
	case strings.HasPrefix(part, "key:"):
		enumIs(t, v, "partitioning.kind", 3, "messages_key")
		key, _ := v.get("partitioning.key", protocol.KindBytes)
		eq(t, v.what, "partitioning.key", key.Str, strings.TrimPrefix(part, "key:"))
	default:
		t.Errorf("%v: partitioning %q", e, part)
	}

	payloads := arg[[][]byte](t, e, "payloads")
	count := arg[int](t, e, "count")
	eq(t, v.what, "messages_count", int(v.num("messages_count")), count)
	if n := v.count("messages"); n != len(payloads) || n != count {
		t.Fatalf("%s: %d messages, the SDK sent %d (%d payloads)", v.what, n, count, len(payloads))
	}
	metaLen := v.u32("metadata_length")
	eq(t, v.what, "metadata_length", int(metaLen), len(e.req.payload[4:])-16*count-recordsSize(payloads))

	var total uint64
	for i, p := range payloads {
		path := fmt.Sprintf("messages[%d]", i)
		m, mp := v.at(path), vp.at(path)
		label, _, _ := strings.Cut(string(p), "-")
		b, ok := sentBatches[label]
		if !ok {
			t.Fatalf("%s: payload label %q unknown to this test", m.what, label)
		}
		var id [16]byte
		if b.firstID > 0 {
			binary.LittleEndian.PutUint64(id[:8], b.firstID+uint64(i))
		}
		eq(t, m.what, "id", m.id128("id"), id)
		// The SDK leaves checksum, offset and timestamp for the server and
		// stamps origin_timestamp with its clock.
		eq(t, m.what, "checksum", m.num("checksum"), 0)
		eq(t, m.what, "offset", m.num("offset"), 0)
		eq(t, m.what, "timestamp", m.time("timestamp"), 0)
		if ot := m.time("origin_timestamp"); ot < run.began || ot > run.ended {
			t.Errorf("%s: origin_timestamp %d outside the run [%d, %d]", m.what, ot, run.began, run.ended)
		}
		var headers []iggcon.HeaderEntry
		if b.headers {
			headers = sentHeaders(label, i)
		}
		eq(t, m.what, "user_headers_length", m.num("user_headers_length"), uint64(len(iggcon.GetHeadersBytes(headers))))
		payloadEq(t, m, mp, p)
		headersEq(t, m, mp, headers)
		total += uint64(len(p))
	}
	want.MessageCount, want.PayloadBytes = uint32(count), total
	reqSum(t, e, want)
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
		respSum(t, e, protocol.Summary{})
	}
}

// recordsSize is the size of the message records of a SendMessages request
// as the SDK lays them out (64-byte headers).
func recordsSize(payloads [][]byte) int {
	n := 0
	for i, p := range payloads {
		n += iggcon.MessageHeaderSize + len(p)
		label, _, _ := strings.Cut(string(p), "-")
		if sentBatches[label].headers {
			n += len(iggcon.GetHeadersBytes(sentHeaders(label, i)))
		}
	}
	return n
}

// consumerEq compares a decoded consumer with workload's "consumer:<id>" or
// "group:<id>" and returns the Summary's consumer group ("" for a single
// consumer).
func consumerEq(t *testing.T, v view, consumer string) string {
	t.Helper()
	kind, id, _ := strings.Cut(consumer, ":")
	switch kind {
	case "consumer":
		enumIs(t, v, "consumer.kind", 1, "consumer")
	case "group":
		enumIs(t, v, "consumer.kind", 2, "consumer_group")
	default:
		t.Fatalf("consumer %q", consumer)
	}
	var want any = id
	if n, err := strconv.ParseUint(id, 10, 32); err == nil {
		want = uint32(n)
	}
	identEq(t, v, "consumer.id", want)
	if kind == "group" {
		return id
	}
	return ""
}

func checkPoll(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	want := protocol.Summary{Stream: idString(stream), Topic: idString(topic)}
	want.ConsumerGroup = consumerEq(t, v, arg[string](t, e, "consumer"))
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	if p, ok := e.call.Args["partition"].(uint32); ok {
		eq(t, v.what, "partition_id", v.u32("partition_id"), p)
		want.Partition, want.HasPartition = p, true
	} else if v.has("partition_id") {
		t.Errorf("%s: a partition the SDK was not given", v.what)
	}
	kind, value, _ := strings.Cut(arg[string](t, e, "strategy"), ":")
	kinds := map[string]uint64{"offset": 1, "timestamp": 2, "first": 3, "last": 4, "next": 5}
	enumIs(t, v, "strategy.kind", kinds[kind], kind)
	wantValue, _ := strconv.ParseUint(cmp.Or(value, "0"), 10, 64)
	valueKind := protocol.KindUint
	if kind == "timestamp" {
		valueKind = protocol.KindTime
	}
	if sv, ok := v.get("strategy.value", valueKind); ok {
		eq(t, v.what, "strategy.value", sv.Num, wantValue)
	}
	eq(t, v.what, "count", v.u32("count"), arg[uint32](t, e, "count"))
	eq(t, v.what, "auto_commit", v.boolean("auto_commit"), arg[bool](t, e, "auto_commit"))
	reqSum(t, e, want)

	r, ok := respView(t, e)
	if !ok {
		return
	}
	rp := e.respP.view(t, r.what+" (payloads)")
	polled, _ := result[*iggcon.PolledMessage](t, e)
	eq(t, r.what, "partition_id", r.u32("partition_id"), polled.PartitionId)
	eq(t, r.what, "current_offset", r.num("current_offset"), polled.CurrentOffset)
	eq(t, r.what, "messages_count", r.u32("messages_count"), polled.MessageCount)
	if n := r.count("messages"); n != len(polled.Messages) {
		t.Fatalf("%s: %d messages, the SDK got %d", r.what, n, len(polled.Messages))
	}
	var total uint64
	for i, msg := range polled.Messages {
		path := fmt.Sprintf("messages[%d]", i)
		m, mp := r.at(path), rp.at(path)
		h := msg.Header
		eq(t, m.what, "checksum", m.num("checksum"), h.Checksum)
		eq(t, m.what, "id", m.id128("id"), [16]byte(h.Id))
		eq(t, m.what, "offset", m.num("offset"), h.Offset)
		eq(t, m.what, "timestamp", m.time("timestamp"), h.Timestamp)
		eq(t, m.what, "origin_timestamp", m.time("origin_timestamp"), h.OriginTimestamp)
		eq(t, m.what, "user_headers_length", m.u32("user_headers_length"), h.UserHeaderLength)
		eq(t, m.what, "payload_length (header)", m.u32("payload_length"), h.PayloadLength)
		payloadEq(t, m, mp, msg.Payload)
		var headers []iggcon.HeaderEntry
		if len(msg.UserHeaders) > 0 {
			var err error
			if headers, err = iggcon.DeserializeHeaders(msg.UserHeaders); err != nil {
				t.Fatalf("%s: the SDK cannot read the user headers: %v", m.what, err)
			}
		}
		headersEq(t, m, mp, headers)
		total += uint64(len(msg.Payload))
	}
	respSum(t, e, protocol.Summary{Partition: polled.PartitionId, HasPartition: true, MessageCount: polled.MessageCount, PayloadBytes: total})
}

func checkFlush(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic, part := e.call.Args["stream"], e.call.Args["topic"], arg[uint32](t, e, "partition")
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "partition_id", v.u32("partition_id"), part)
	eq(t, v.what, "fsync", v.boolean("fsync"), arg[bool](t, e, "fsync"))
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic), Partition: part, HasPartition: true})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

// ---- consumer offsets ----

// offsetRequest checks consumer, stream, topic and partition and returns
// the expected request Summary.
func offsetRequest(t *testing.T, e *sdkExchange) (view, protocol.Summary) {
	t.Helper()
	v := reqView(t, e)
	stream, topic, part := e.call.Args["stream"], e.call.Args["topic"], arg[uint32](t, e, "partition")
	group := consumerEq(t, v, arg[string](t, e, "consumer"))
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "partition_id", v.u32("partition_id"), part)
	return v, protocol.Summary{Stream: idString(stream), Topic: idString(topic), ConsumerGroup: group, Partition: part, HasPartition: true}
}

func checkGetOffset(t *testing.T, _ *sdkRun, e *sdkExchange) {
	_, sum := offsetRequest(t, e)
	reqSum(t, e, sum)
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, found := result[*iggcon.ConsumerOffsetInfo](t, e)
	if !found {
		e.resp.none(t, r.what) // no stored offset: an empty OK
		respSum(t, e, protocol.Summary{})
		return
	}
	sameAs(t, r.what, &iggcon.ConsumerOffsetInfo{
		PartitionId: r.u32("partition_id"), CurrentOffset: r.num("current_offset"), StoredOffset: r.num("stored_offset"),
	}, want)
	respSum(t, e, protocol.Summary{Partition: want.PartitionId, HasPartition: true})
}

func checkStoreOffset(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v, sum := offsetRequest(t, e)
	eq(t, v.what, "offset", v.num("offset"), arg[uint64](t, e, "offset"))
	reqSum(t, e, sum)
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkDeleteOffset(t *testing.T, _ *sdkRun, e *sdkExchange) {
	_, sum := offsetRequest(t, e)
	reqSum(t, e, sum)
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

// ---- streams ----

func checkGetStream(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream := e.call.Args["stream"]
	identEq(t, v, "stream_id", stream)
	reqSum(t, e, protocol.Summary{Stream: idString(stream)})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, found := result[*iggcon.StreamDetails](t, e)
	if !found {
		e.resp.none(t, r.what) // not found: the SDK turns the empty OK into an error
		respSum(t, e, protocol.Summary{})
		return
	}
	sameAs(t, r.what, streamDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Stream: want.Name})
}

func checkGetStreams(t *testing.T, _ *sdkRun, e *sdkExchange) {
	e.req.none(t, e.String()+" request")
	reqSum(t, e, protocol.Summary{})
	respList(t, e, "streams", streamFrom)
}

func checkCreateStream(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	name := arg[string](t, e, "name")
	eq(t, v.what, "name", v.str("name"), name)
	eq(t, v.what, "values", len(v.f.order), 1)
	reqSum(t, e, protocol.Summary{Stream: name})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.StreamDetails](t, e)
	sameAs(t, r.what, streamDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Stream: want.Name})
}

// checkStreamOnly: DeleteStream and PurgeStream name a stream and answer
// nothing.
func checkStreamOnly(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "stream_id", e.call.Args["stream"])
	eq(t, v.what, "values", len(v.f.order), 1)
	reqSum(t, e, protocol.Summary{Stream: idString(e.call.Args["stream"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkUpdateStream(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "stream_id", e.call.Args["stream"])
	eq(t, v.what, "name", v.str("name"), arg[string](t, e, "name"))
	reqSum(t, e, protocol.Summary{Stream: idString(e.call.Args["stream"])})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

// ---- topics ----

// topicSettings checks compression, expiry, max size and replication.
func topicSettings(t *testing.T, v view, e *sdkExchange, maxSize uint64, replication uint8) {
	t.Helper()
	comp := arg[uint8](t, e, "compression")
	enumIs(t, v, "compression_algorithm", uint64(comp), compressionNames[comp])
	eq(t, v.what, "message_expiry", v.expiry("message_expiry"), arg[uint64](t, e, "message_expiry"))
	eq(t, v.what, "max_topic_size", v.topicSize("max_topic_size"), maxSize)
	eq(t, v.what, "replication_factor", v.num("replication_factor"), uint64(replication))
}

func checkCreateTopic(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, name := e.call.Args["stream"], arg[string](t, e, "name")
	identEq(t, v, "stream_id", stream)
	eq(t, v.what, "partitions_count", v.u32("partitions_count"), arg[uint32](t, e, "partitions"))
	// Args do not carry the replication factor: full.go passes 1 for the
	// audit topic and nil (sent as 0) for the others.
	var replication uint8
	if name == workload.FullAuditTopic {
		replication = 1
	}
	topicSettings(t, v, e, arg[uint64](t, e, "max_topic_size"), replication)
	eq(t, v.what, "name", v.str("name"), name)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: name})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.TopicDetails](t, e)
	sameAs(t, r.what, topicDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Topic: want.Name})
}

func checkGetTopic(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic)})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, found := result[*iggcon.TopicDetails](t, e)
	if !found {
		e.resp.none(t, r.what)
		respSum(t, e, protocol.Summary{})
		return
	}
	sameAs(t, r.what, topicDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{Topic: want.Name})
}

func checkGetTopics(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	identEq(t, v, "stream_id", e.call.Args["stream"])
	reqSum(t, e, protocol.Summary{Stream: idString(e.call.Args["stream"])})
	respList(t, e, "topics", topicFrom)
}

// checkStreamTopic: DeleteTopic and PurgeTopic name a topic and answer
// nothing.
func checkStreamTopic(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "values", len(v.f.order), 2)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic)})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkUpdateTopic(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	// full.go's UpdateTopic passes max size 0 and a nil replication factor
	// (sent as 0); Args carry neither.
	topicSettings(t, v, e, 0, 0)
	eq(t, v.what, "name", v.str("name"), arg[string](t, e, "name"))
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic)})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

// ---- partitions and segments ----

func checkPartitions(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "partitions_count", v.u32("partitions_count"), arg[uint32](t, e, "count"))
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic)})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkDeleteSegments(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic, part := e.call.Args["stream"], e.call.Args["topic"], arg[uint32](t, e, "partition")
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "partition_id", v.u32("partition_id"), part)
	eq(t, v.what, "segments_count", v.u32("segments_count"), arg[uint32](t, e, "count"))
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic), Partition: part, HasPartition: true})
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

// ---- consumer groups ----

// groupRequest checks stream, topic and group of the group commands.
func groupRequest(t *testing.T, e *sdkExchange) {
	t.Helper()
	v := reqView(t, e)
	stream, topic, group := e.call.Args["stream"], e.call.Args["topic"], e.call.Args["group"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	identEq(t, v, "group_id", group)
	eq(t, v.what, "values", len(v.f.order), 3)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic), ConsumerGroup: idString(group)})
}

func checkGroupOp(t *testing.T, _ *sdkRun, e *sdkExchange) {
	groupRequest(t, e)
	if e.resp != nil {
		e.resp.none(t, e.String()+" response")
	}
}

func checkGetGroup(t *testing.T, _ *sdkRun, e *sdkExchange) {
	groupRequest(t, e)
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, found := result[*iggcon.ConsumerGroupDetails](t, e)
	if !found {
		e.resp.none(t, r.what)
		respSum(t, e, protocol.Summary{})
		return
	}
	sameAs(t, r.what, groupDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{ConsumerGroup: want.Name})
}

func checkGetGroups(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic := e.call.Args["stream"], e.call.Args["topic"]
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic)})
	respList(t, e, "consumer_groups", groupFrom)
}

func checkCreateGroup(t *testing.T, _ *sdkRun, e *sdkExchange) {
	v := reqView(t, e)
	stream, topic, name := e.call.Args["stream"], e.call.Args["topic"], arg[string](t, e, "name")
	identEq(t, v, "stream_id", stream)
	identEq(t, v, "topic_id", topic)
	eq(t, v.what, "name", v.str("name"), name)
	reqSum(t, e, protocol.Summary{Stream: idString(stream), Topic: idString(topic), ConsumerGroup: name})
	r, ok := respView(t, e)
	if !ok {
		return
	}
	want, _ := result[*iggcon.ConsumerGroupDetails](t, e)
	sameAs(t, r.what, groupDetailsFrom(r), want)
	respSum(t, e, protocol.Summary{ConsumerGroup: want.Name})
}

// ---- secrets ----

// checkSecrets: every secret field of every decoded payload is redacted,
// and no decoded string, error or Summary holds any secret that went over
// the wire (each of which really is in the captured bytes).
func checkSecrets(t *testing.T, run *sdkRun) {
	secrets := workload.Secrets(run.calls)
	var wire []byte
	redactedSeen := 0
	for _, e := range run.exchanges {
		wire = append(wire, e.req.payload...)
		if e.resp != nil {
			wire = append(wire, e.resp.payload...)
		}
		cmd, known := protocol.Lookup(protocol.Code(e.code))
		for _, d := range []*decoded{e.req, e.reqP, e.resp, e.respP} {
			if d == nil {
				continue
			}
			leak := func(where, s string) {
				for _, sec := range secrets {
					if strings.Contains(s, sec) {
						t.Errorf("%v: %s holds a secret", e, where)
					}
				}
			}
			for _, v := range d.vals {
				leak("value "+v.Name, v.Str)
			}
			if d.err != nil {
				leak("the error", d.err.Error())
			}
			leak("the summary", fmt.Sprintf("%+v", d.sum))
		}
		if !known {
			continue
		}
		for _, s := range cmd.Secrets {
			d, path := e.req, s
			if p, ok := strings.CutPrefix(s, "response."); ok {
				d, path = e.resp, p
			}
			if d == nil {
				continue
			}
			if k := d.flat.vals[path].Kind; k != protocol.KindRedacted {
				t.Errorf("%v: secret %s decodes as %v", e, s, k)
			} else {
				redactedSeen++
			}
		}
	}
	for _, sec := range secrets {
		if !bytes.Contains(wire, []byte(sec)) {
			t.Errorf("secret %q never went over the wire: the test proves nothing for it", sec)
		}
	}
	if redactedSeen == 0 || len(secrets) < 6 {
		t.Errorf("%d redacted fields seen, %d secrets", redactedSeen, len(secrets))
	}
}
