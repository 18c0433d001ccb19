package protocol

import (
	"errors"
	"testing"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
)

// Byte-level vectors of iggy-wire.md §11.1. Literal vectors are copied from
// the upstream tests named in each comment (Go SDK v0.8.0 under
// foreign/go, Rust crates at server-0.8.0); request bytes are produced by
// the Go SDK's exported contracts marshallers where the SDK has one.

func mustID[T uint32 | string](t *testing.T, v T) []byte {
	t.Helper()
	id, err := iggcon.NewIdentifier(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// foreign/go/internal/command/message_test.go TestSerialize_TcpFetchMessagesRequest.
func TestVectorGoPollMessagesRequest(t *testing.T) {
	literal := []byte{
		0x01,                 // Consumer Kind
		0x01,                 // ConsumerId Kind (NumericId)
		0x04,                 // ConsumerId Length (4)
		0x2A, 0x00, 0x0, 0x0, // ConsumerId
		0x02, 0x0E, 0x74, 0x65, 0x73, 0x74, 0x5F, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6D, 0x5F, 0x69, 0x64,
		0x02, 0x0D, 0x74, 0x65, 0x73, 0x74, 0x5F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x69, 0x64,
		0x01,                   // Partition present
		0x7B, 0x00, 0x00, 0x00, // PartitionId (123)
		0x03,                                           // PollingStrategy Kind
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // PollingStrategy Value (0)
		0x64, 0x00, 0x00, 0x00, // Count (100)
		0x01, // AutoCommit
	}
	// The same bytes from the SDK's contracts marshallers.
	cid, _ := iggcon.NewIdentifier(uint32(42))
	cons, err := iggcon.NewSingleConsumer(cid).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	built := append(cons, mustID(t, "test_stream_id")...)
	built = append(built, mustID(t, "test_topic_id")...)
	built = append(built, (&wb{}).u8(1).u32(123).u8(byte(iggcon.FirstPollingStrategy().Kind)).u64(0).u32(100).u8(1).b...)
	if string(built) != string(literal) {
		t.Fatalf("contracts bytes differ from the literal vector")
	}
	rec := decodeReq(t, V08, 100, literal)
	expect(t, rec.Values, map[string]string{
		"consumer.kind": "consumer", "consumer.id": "42", "stream_id": "test_stream_id",
		"topic_id": "test_topic_id", "partition_id": "123", "strategy.kind": "first",
		"strategy.value": "0", "count": "100", "auto_commit": "true",
	})
	if s := rec.Summary; s.Stream != "test_stream_id" || s.Topic != "test_topic_id" || !s.HasPartition || s.Partition != 123 {
		t.Errorf("summary %+v", s)
	}
	if v := flatten(rec.Values)["consumer.id"]; v.Num != 1 {
		t.Errorf("numeric identifier kind %d", v.Num)
	}
}

// foreign/go/internal/command/message_test.go TestSerialize_SendMessagesRequest:
// the literal metadata and index, then the header, payload and user headers
// the SDK's contracts produce.
func TestVectorGoSendMessagesRequest(t *testing.T) {
	headers := []iggcon.HeaderEntry{
		{Key: iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("HeaderKey1")}, Value: iggcon.HeaderValue{Kind: iggcon.String, Value: []byte("Value 1")}},
		{Key: iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("HeaderKey2")}, Value: iggcon.HeaderValue{Kind: iggcon.Uint32, Value: []byte{0x01, 0x02, 0x03, 0x04}}},
	}
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	m, err := iggcon.NewIggyMessage([]byte("data1"), iggcon.WithID(id), iggcon.WithUserHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte{
		0x29, 0x0, 0x0, 0x0, // metadataLength
		0x02, 0x0E, 0x74, 0x65, 0x73, 0x74, 0x5F, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6D, 0x5F, 0x69, 0x64,
		0x02, 0x0D, 0x74, 0x65, 0x73, 0x74, 0x5F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x69, 0x64,
		0x02,                   // PartitionIdKind
		0x04,                   // Partitioning Length
		0x01, 0x00, 0x00, 0x00, // PartitionId
		0x01, 0x0, 0x0, 0x0, // MessageCount
		0, 0, 0, 0, 120, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // Index (16*1) bytes
	}
	part, _ := iggcon.PartitionId(1).MarshalBinary()
	if string(part) != string(payload[35:41]) {
		t.Fatal("contracts partitioning differs from the literal vector")
	}
	payload = append(payload, m.Header.ToBytes()...)
	payload = append(payload, m.Payload...)
	payload = append(payload, m.UserHeaders...)

	rec := decodeReq(t, V08, 101, payload)
	expect(t, rec.Values, map[string]string{
		"metadata_length": "41", "stream_id": "test_stream_id", "topic_id": "test_topic_id",
		"partitioning.kind": "partition_id", "partitioning.partition_id": "1", "messages_count": "1",
		"messages[0].checksum":                   "0",
		"messages[0].id":                         "100f0e0d0c0b0a090807060504030201",
		"messages[0].offset":                     "0",
		"messages[0].timestamp":                  "0",
		"messages[0].origin_timestamp":           itoa(m.Header.OriginTimestamp),
		"messages[0].user_headers_length":        "51",
		"messages[0].payload_length":             "5",
		"messages[0].payload":                    "bytes(5)",
		"messages[0].user_headers[0].key_kind":   "string",
		"messages[0].user_headers[0].key":        "HeaderKey1",
		"messages[0].user_headers[0].value_kind": "string",
		"messages[0].user_headers[0].value":      "bytes(7)",
		"messages[0].user_headers[1].key":        "HeaderKey2",
		"messages[0].user_headers[1].value_kind": "uint32",
		"messages[0].user_headers[1].value":      "bytes(4)",
	})
	expectKind(t, rec.Values, "messages[0].timestamp", KindTime)
	if s := rec.Summary; s.MessageCount != 1 || s.PayloadBytes != 5 || s.Partition != 1 || s.Stream != "test_stream_id" {
		t.Errorf("summary %+v", s)
	}

	// With payloads, the bytes and typed header values appear.
	var full Record
	if err := NewDecoder(Options{Version: V08, Payloads: true}).Request(101, payload, len(payload), &full); err != nil {
		t.Fatal(err)
	}
	expect(t, full.Values, map[string]string{
		"messages[0].payload":               `bytes(5)"data1"`,
		"messages[0].user_headers[0].value": "Value 1",
		"messages[0].user_headers[1].value": "67305985", // 0x04030201
	})
}

// foreign/go/internal/command/session_test.go: LoginUser carries the SDK
// version as a Str32 after the password.
func TestVectorGoLoginUser(t *testing.T) {
	p := (&wb{}).str8("iggy").str8("iggy").str32(iggcon.Version).str32("").bytes()
	rec := decodeReq(t, V08, 38, p)
	expect(t, rec.Values, map[string]string{
		"username": "iggy", "password": "REDACTED", "version": iggcon.Version, "context": "",
	})
	if rec.Summary.Username != "iggy" {
		t.Errorf("summary %+v", rec.Summary)
	}
}

// foreign/go/internal/command/stream_test.go.
func TestVectorGoStreams(t *testing.T) {
	// TestSerialize_TcpCreateStreamRequest: name length at 0, name from 1.
	rec := decodeReq(t, V08, 202, append([]byte{11}, "test_stream"...))
	expect(t, rec.Values, map[string]string{"name": "test_stream"})
	if rec.Summary.Stream != "test_stream" {
		t.Errorf("summary %+v", rec.Summary)
	}
	// TestSerialize_UpdateStream.
	literal := []byte{
		0x02, 0x06, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6D, // StreamId "stream"
		0x0D, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x5F, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6D, // "update_stream"
	}
	rec = decodeReq(t, V08, 204, literal)
	expect(t, rec.Values, map[string]string{"stream_id": "stream", "name": "update_stream"})
	if v := flatten(rec.Values)["stream_id"]; v.Num != 2 {
		t.Errorf("string identifier kind %d", v.Num)
	}
}

// foreign/go/internal/command/topic_test.go TestSerialize_UpdateTopic. The
// compression byte 0 is no algorithm; it decodes as an unnamed enum.
func TestVectorGoUpdateTopic(t *testing.T) {
	literal := []byte{
		0x02, 0x06, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6D, // StreamId "stream"
		0x01, 0x04, 0x01, 0x00, 0x00, 0x00, // TopicId 1
		0x00,                                           // compression algorithm
		0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Message Expiry (100)
		0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Max Topic Size (100)
		0x00,                                                                         // Replication factor
		0x0C, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x5F, 0x74, 0x6F, 0x70, 0x69, 0x63, // "update_topic"
	}
	rec := decodeReq(t, V08, 304, literal)
	expect(t, rec.Values, map[string]string{
		"stream_id": "stream", "topic_id": "1", "compression_algorithm": "?0",
		"message_expiry": "100", "max_topic_size": "100", "replication_factor": "0", "name": "update_topic",
	})
	expectKind(t, rec.Values, "message_expiry", KindDuration)
}

// foreign/go/internal/command/user_test.go.
func TestVectorGoUsers(t *testing.T) {
	// TestSerialize_CreateUser_NilPermissions.
	rec := decodeReq(t, V08, 33, []byte{0x01, 0x75, 0x01, 0x70, 0x01, 0x00})
	expect(t, rec.Values, map[string]string{"username": "u", "password": "REDACTED", "status": "active"})
	if _, ok := flatten(rec.Values)["permissions"]; ok {
		t.Error("permissions decoded from has_permissions = 0")
	}

	// TestSerialize_CreateUser_WithPermissions.
	perms := &iggcon.Permissions{Global: iggcon.GlobalPermissions{ManageServers: true}}
	pb, err := perms.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := (&wb{}).str8("user").str8("pass").u8(2).u8(1).u32(uint32(len(pb))).raw(pb...).bytes()
	rec = decodeReq(t, V08, 33, p)
	expect(t, rec.Values, map[string]string{
		"username": "user", "password": "REDACTED", "status": "inactive", "permissions_len": itoa(uint64(len(pb))),
		"permissions.global.manage_servers": "true", "permissions.global.read_servers": "false",
		"permissions.global.send_messages": "false",
	})
	expectKind(t, rec.Values, "permissions.streams", KindList)

	// TestSerialize_UpdatePermissions_NilPermissions.
	rec = decodeReq(t, V08, 36, append(mustID(t, uint32(42)), 0))
	expect(t, rec.Values, map[string]string{"user_id": "42"})
	if len(rec.Values) != 1 {
		t.Errorf("values %v", rec.Values)
	}

	// TestSerialize_UpdatePermissions_WithPermissions.
	perms = &iggcon.Permissions{Global: iggcon.GlobalPermissions{ManageServers: true, ReadUsers: true}}
	pb, _ = perms.MarshalBinary()
	p = append(mustID(t, uint32(7)), (&wb{}).u8(1).u32(uint32(len(pb))).raw(pb...).b...)
	rec = decodeReq(t, V08, 36, p)
	expect(t, rec.Values, map[string]string{
		"user_id": "7", "permissions.global.manage_servers": "true", "permissions.global.read_users": "true",
		"permissions.global.manage_users": "false",
	})
}

// foreign/go/contracts/identifier_test.go: "Hello" and 123, empty rejected.
func TestVectorGoIdentifiers(t *testing.T) {
	str := []byte{0x02, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F}
	num := []byte{0x01, 0x04, 0x7B, 0x00, 0x00, 0x00}
	if string(mustID(t, "Hello")) != string(str) || string(mustID(t, uint32(123))) != string(num) {
		t.Fatal("contracts identifiers differ from the literal vectors")
	}
	rec := decodeReq(t, V08, 200, str)
	expect(t, rec.Values, map[string]string{"stream_id": "Hello"})
	rec = decodeReq(t, V08, 200, num)
	expect(t, rec.Values, map[string]string{"stream_id": "123"})
	if _, err := iggcon.NewIdentifier(""); err == nil {
		t.Fatal("SDK accepted an empty identifier")
	}
	assertInvalid(t, 200, []byte{0x02, 0x00}, "empty string identifier")
}

func assertInvalid(t *testing.T, code Code, p []byte, reason string) {
	t.Helper()
	var rec Record
	err := NewDecoder(Options{Version: V08, Messages: true}).Request(code, p, len(p), &rec)
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind != ErrInvalid || de.Reason != reason {
		t.Errorf("% x: err = %v, want %q", p, err, reason)
	}
	if err := checkBalanced(rec.Values); err != nil {
		t.Error(err)
	}
}

// foreign/go/contracts/users_test.go: the permissions linked list. The SDK
// walks Go maps, so stream and topic order varies; the decoder keeps wire
// order and the test finds entries by id.
func TestVectorGoPermissionsTree(t *testing.T) {
	perms := &iggcon.Permissions{
		Global: iggcon.GlobalPermissions{ManageServers: true, ReadUsers: true, ManageStreams: true, ReadStreams: true, PollMessages: true},
		Streams: map[int]*iggcon.StreamPermissions{
			1: {ManageStream: true, ReadStream: true, PollMessages: true, Topics: map[int]*iggcon.TopicPermissions{
				10: {ManageTopic: true, SendMessages: true},
				20: {PollMessages: true, SendMessages: true},
			}},
			2: {ReadStream: true, ManageTopics: true, SendMessages: true},
		},
	}
	pb, err := perms.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := append(mustID(t, uint32(5)), (&wb{}).u8(1).u32(uint32(len(pb))).raw(pb...).b...)
	rec := decodeReq(t, V08, 36, p)
	vals := flatten(rec.Values)
	global := []string{"true", "false", "false", "true", "true", "true", "false", "false", "true", "false"}
	for i, n := range globalPermissionNames {
		if got := render(vals["permissions.global."+n]); got != global[i] {
			t.Errorf("global %s = %s", n, got)
		}
	}
	streams := map[string]string{}
	topics := map[string]string{}
	for si := 0; si < 2; si++ {
		sp := "permissions.streams[" + itoa(uint64(si)) + "]"
		id := render(vals[sp+".stream_id"])
		var flags string
		for _, n := range streamPermissionNames {
			flags += render(vals[sp+"."+n])[:1]
		}
		streams[id] = flags
		for ti := 0; ti < 2; ti++ {
			tp := sp + ".topics[" + itoa(uint64(ti)) + "]"
			if v, ok := vals[tp+".topic_id"]; ok {
				var tf string
				for _, n := range topicPermissionNames {
					tf += render(vals[tp+"."+n])[:1]
				}
				topics[id+"/"+render(v)] = tf
			}
		}
	}
	wantStreams := map[string]string{"1": "ttfftf", "2": "fttfft"}
	wantTopics := map[string]string{"1/10": "tfft", "1/20": "fftt"}
	for k, v := range wantStreams {
		if streams[k] != v {
			t.Errorf("stream %s flags %s, want %s", k, streams[k], v)
		}
	}
	for k, v := range wantTopics {
		if topics[k] != v {
			t.Errorf("topic %s flags %s, want %s", k, topics[k], v)
		}
	}
	if len(streams) != 2 || len(topics) != 2 {
		t.Errorf("streams %v topics %v", streams, topics)
	}

	// TestPermissions_MarshalBinary_WithEmptyStreamsMap: has_streams = 0.
	pb, _ = (&iggcon.Permissions{Streams: map[int]*iggcon.StreamPermissions{}}).MarshalBinary()
	rec = decodeReq(t, V08, 36, append(mustID(t, uint32(5)), (&wb{}).u8(1).u32(uint32(len(pb))).raw(pb...).b...))
	if v := flatten(rec.Values); len(pb) != 11 || v["permissions.streams"].Kind != KindList || v["permissions.streams[0]"].Kind != KindInvalid {
		t.Errorf("empty streams: %d bytes, %v", len(pb), rec.Values)
	}
}

// The pre-0.6.1 encoder's dangling has_streams = 1 / has_topics = 1 with
// nothing after them (§4.7) decodes as empty lists.
func TestPermissionsDanglingFlags(t *testing.T) {
	for _, blob := range [][]byte{
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		append(append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, (&wb{}).u32(3).raw(1, 1, 1, 1, 1, 1).b...), 1),
	} {
		p := append(mustID(t, uint32(5)), (&wb{}).u8(1).u32(uint32(len(blob))).raw(blob...).b...)
		rec := decodeReq(t, V06, 36, p)
		if len(blob) > 11 {
			expect(t, rec.Values, map[string]string{"permissions.streams[0].stream_id": "3"})
		}
	}
}

// foreign/go/contracts/stats_test.go, with the payload laid out as its
// buildStatsPayload does (0.8 layout).
func TestVectorGoStats(t *testing.T) {
	build := func(strs [5]string, cache int) *wb {
		w := &wb{}
		w.u32(1234).f32(25.5).f32(50.0).u64(1_073_741_824).u64(8_589_934_592).u64(4_294_967_296)
		w.u64(3600).u64(1_710_000_000_000).u64(1_000_000).u64(500_000).u64(2_000_000)
		w.u32(3).u32(10).u32(30).u32(90).u64(50_000).u32(5).u32(2)
		for _, s := range strs {
			w.str32(s)
		}
		w.u32(600).u32(uint32(cache))
		if cache > 0 {
			w.u32(1).u32(1).u32(0).u64(1000).u64(50).f32(0.95238095)
			w.u32(2).u32(3).u32(1).u64(0).u64(100).f32(0)
		}
		return w.u32(16).u64(107_374_182_400).u64(512_110_190_592)
	}
	sample := [5]string{"node-1", "Linux", "6.1", "6.1.0", "0.6.0"}

	// TestUnmarshalBinary and _withCacheMetrics.
	rec := decodeResp(t, V08, 10, build(sample, 2).bytes())
	expect(t, rec.Values, map[string]string{
		"process_id": "1234", "cpu_usage": "25.5", "total_cpu_usage": "50", "memory_usage": "1073741824",
		"total_memory": "8589934592", "available_memory": "4294967296", "run_time": "3600",
		"start_time": "1710000000000", "read_bytes": "1000000", "written_bytes": "500000",
		"messages_size_bytes": "2000000", "streams_count": "3", "topics_count": "10",
		"partitions_count": "30", "segments_count": "90", "messages_count": "50000", "clients_count": "5",
		"consumer_groups_count": "2", "hostname": "node-1", "os_name": "Linux", "os_version": "6.1",
		"kernel_version": "6.1.0", "iggy_server_version": "0.6.0", "iggy_server_semver": "600",
		"cache_metrics_count": "2", "cache_metrics[0].stream_id": "1", "cache_metrics[0].hits": "1000",
		"cache_metrics[0].hit_ratio": "0.9523809552192688", "cache_metrics[1].topic_id": "3",
		"cache_metrics[1].misses": "100", "threads_count": "16", "free_disk_space": "107374182400",
		"total_disk_space": "512110190592",
	})
	expectKind(t, rec.Values, "run_time", KindDuration)
	expectKind(t, rec.Values, "start_time", KindTime)

	// TestUnmarshalBinary_emptyStrings.
	rec = decodeResp(t, V08, 10, build([5]string{}, 0).bytes())
	expect(t, rec.Values, map[string]string{"hostname": "", "iggy_server_version": "", "threads_count": "16"})

	// TestUnmarshalBinary_maliciousCacheCount: count u32 max with no entries.
	p := build([5]string{"h", "o", "s", "t", "v"}, 0).bytes()
	copy(p[len(p)-24:], []byte{0xff, 0xff, 0xff, 0xff})
	var r Record
	err := NewDecoder(Options{Version: V08}).Response(10, p, len(p), &r)
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind != ErrShort {
		t.Errorf("malicious cache count: %v", err)
	}

	// TestUnmarshalBinary_truncatedFixedFields and _truncatedAfterStrings.
	for _, p := range [][]byte{make([]byte, 10), p[:len(p)-24]} {
		if err := NewDecoder(Options{Version: V08}).Response(10, p, len(p), &r); !errors.As(err, &de) || de.Kind != ErrShort {
			t.Errorf("truncated stats (%d bytes): %v", len(p), err)
		}
	}
}

// core/binary_protocol/src/requests/users/login_user.rs wire_layout_no_optionals.
func TestVectorRustLoginUser(t *testing.T) {
	rec := decodeReq(t, V08, 38, []byte{1, 'u', 1, 'p', 0, 0, 0, 0, 0, 0, 0, 0})
	expect(t, rec.Values, map[string]string{"username": "u", "password": "REDACTED", "version": "", "context": ""})
	// Pre-0.3 clients sent username and password only (§5.2).
	rec = decodeReq(t, V08, 38, []byte{1, 'u', 1, 'p'})
	if len(rec.Values) != 2 {
		t.Errorf("short login: %v", rec.Values)
	}
}

// core/binary_protocol/src/requests/users/create_user.rs none_permissions_wire_layout.
func TestVectorRustCreateUser(t *testing.T) {
	rec := decodeReq(t, V08, 33, []byte{1, 'u', 1, 'p', 0, 0})
	expect(t, rec.Values, map[string]string{"username": "u", "password": "REDACTED", "status": "?0"})
	if len(rec.Values) != 3 {
		t.Errorf("values %v", rec.Values)
	}
}

// core/binary_protocol/src/requests/streams/create_stream.rs wire_compat_byte_layout.
func TestVectorRustCreateStream(t *testing.T) {
	rec := decodeReq(t, V08, 202, []byte{4, 't', 'e', 's', 't'})
	expect(t, rec.Values, map[string]string{"name": "test"})
	// empty_name_rejected: shown leniently, but not a valid request.
	rec = decodeReq(t, V08, 202, []byte{0})
	expect(t, rec.Values, map[string]string{"name": ""})
	if NewDecoder(Options{}).ValidRequest(202, []byte{0}) {
		t.Error("empty stream name is a valid request")
	}
}

// partition_none_encodes_zero_bytes (requests/messages/poll_messages.rs and
// consumer_offsets/get_consumer_offset.rs): flag 0 then four zero bytes.
func TestVectorRustPartitionNone(t *testing.T) {
	prefix := (&wb{}).u8(1).idNum(1).idNum(1).idNum(1).u8(0).u32(0)
	poll := decodeReq(t, V08, 100, (&wb{b: prefix.bytes()}).u8(3).u64(0).u32(1).u8(0).bytes())
	get := decodeReq(t, V08, 120, prefix.bytes())
	for _, rec := range []*Record{poll, get} {
		if _, ok := flatten(rec.Values)["partition_id"]; ok || rec.Summary.HasPartition {
			t.Errorf("partition decoded from flag 0: %v", rec.Values)
		}
	}
	expect(t, poll.Values, map[string]string{"count": "1", "auto_commit": "false", "strategy.kind": "first"})
}

// core/binary_protocol/src/responses/users/get_user.rs: no_permissions_wire_format
// (four zero bytes) and has_permissions_wire_flag, with its sample user.
func TestVectorRustGetUser(t *testing.T) {
	user := (&wb{}).u32(1).u64(1_710_000_000_000).u8(1).str8("admin")
	rec := decodeResp(t, V08, 31, (&wb{b: user.bytes()}).u32(0).bytes())
	expect(t, rec.Values, map[string]string{"id": "1", "created_at": "1710000000000", "status": "active", "username": "admin"})
	if _, ok := flatten(rec.Values)["permissions"]; ok {
		t.Error("permissions decoded from the no-permissions marker")
	}
	// has_permissions_wire_flag: global all false, no streams.
	perms := (&wb{}).raw(0, 0, 0, 0, 0, 0, 0, 0, 0, 0).u8(0).bytes()
	rec = decodeResp(t, V08, 31, (&wb{b: user.bytes()}).u8(1).u32(uint32(len(perms))).raw(perms...).bytes())
	expect(t, rec.Values, map[string]string{"permissions.global.manage_servers": "false", "permissions.global.send_messages": "false"})
	// roundtrip_with_permissions: all global, stream 1 with topic 10.
	perms = (&wb{}).raw(1, 1, 1, 1, 1, 1, 1, 1, 1, 1).u8(1).u32(1).raw(1, 1, 0, 1, 1, 0).u8(1).u32(10).raw(1, 1, 0, 1).u8(0).u8(0).bytes()
	rec = decodeResp(t, V08, 31, (&wb{b: user.bytes()}).u8(1).u32(uint32(len(perms))).raw(perms...).bytes())
	expect(t, rec.Values, map[string]string{
		"permissions.global.poll_messages":               "true",
		"permissions.streams[0].stream_id":               "1",
		"permissions.streams[0].manage_topics":           "false",
		"permissions.streams[0].read_topics":             "true",
		"permissions.streams[0].topics[0].topic_id":      "10",
		"permissions.streams[0].topics[0].poll_messages": "false",
		"permissions.streams[0].topics[0].send_messages": "true",
	})
	if rec.Summary.Username != "admin" {
		t.Errorf("summary %+v", rec.Summary)
	}
}

// core/binary_protocol/src/primitives/identifier.rs invalid encodings.
func TestVectorRustIdentifierInvalid(t *testing.T) {
	assertInvalid(t, 200, []byte{0xFF, 0x04, 0x01, 0x00, 0x00, 0x00}, "invalid identifier kind")
	assertInvalid(t, 200, []byte{1, 0x03, 0x01, 0x00, 0x00}, "invalid numeric identifier length")
	assertInvalid(t, 200, []byte{2, 0x00}, "empty string identifier")
	// invalid_utf8_bytes_rejected: shown leniently, but not a valid request.
	bad := []byte{2, 0x02, 0xFF, 0xFE}
	decodeReq(t, V08, 200, bad)
	if NewDecoder(Options{}).ValidRequest(200, bad) {
		t.Error("invalid UTF-8 identifier is a valid request")
	}
}

// core/binary_protocol/src/primitives/partitioning.rs.
func TestVectorRustPartitioning(t *testing.T) {
	send := func(part []byte) []byte {
		return sendMessages(V08, (&wb{}).idNum(1).b, (&wb{}).idNum(1).b, part)
	}
	rec := decodeReq(t, V08, 101, send([]byte{1, 0})) // wire_compat_balanced_layout
	expect(t, rec.Values, map[string]string{"partitioning.kind": "balanced", "messages_count": "0"})
	rec = decodeReq(t, V08, 101, send([]byte{2, 0x04, 0x01, 0x00, 0x00, 0x00})) // wire_compat_partition_id_layout
	expect(t, rec.Values, map[string]string{"partitioning.kind": "partition_id", "partitioning.partition_id": "1"})
	rec = decodeReq(t, V08, 101, send(append([]byte{3, 8}, "user-123"...))) // roundtrip_messages_key
	expect(t, rec.Values, map[string]string{"partitioning.kind": "messages_key", "partitioning.key": `bytes(8)"user-123"`})
	for _, c := range []struct {
		part   []byte
		reason string
	}{
		{[]byte{3, 0}, "empty messages key"},
		{[]byte{0xFF, 0}, "invalid partitioning kind"},
		{[]byte{1, 1, 0}, "balanced partitioning with value length"},
		{[]byte{2, 3, 0, 0, 0}, "partition id length"},
	} {
		assertInvalid(t, 101, send(c.part), c.reason)
	}
}

// core/binary_protocol/src/primitives/polling_strategy.rs: 9 bytes, kind
// then u64; unknown kinds are not valid requests.
func TestVectorRustPollingStrategy(t *testing.T) {
	prefix := (&wb{}).u8(1).idNum(1).idNum(1).idNum(1).u8(1).u32(0).bytes()
	rec := decodeReq(t, V08, 100, (&wb{b: prefix}).u8(1).u64(1).u32(10).u8(0).bytes())
	expect(t, rec.Values, map[string]string{"strategy.kind": "offset", "strategy.value": "1"})
	rec = decodeReq(t, V08, 100, (&wb{b: prefix}).u8(2).u64(1_700_000_000_000).u32(10).u8(0).bytes())
	expect(t, rec.Values, map[string]string{"strategy.kind": "timestamp", "strategy.value": "1700000000000"})
	expectKind(t, rec.Values, "strategy.value", KindTime)
	for _, kind := range []byte{0, 0xFF} {
		if NewDecoder(Options{}).ValidRequest(100, (&wb{b: prefix}).u8(kind).u64(0).u32(10).u8(0).bytes()) {
			t.Errorf("strategy kind %d valid", kind)
		}
	}
}

// core/binary_protocol/src/primitives/user_headers.rs (G3 TLV) and
// core/common/src/types/message/user_headers.rs.
func TestVectorRustUserHeaders(t *testing.T) {
	poll := func(blob []byte) *Record {
		t.Helper()
		var rec Record
		p := polledMessages(V08, 1, 0, msg{payload: []byte("x"), headers: blob})
		if err := NewDecoder(Options{Version: V08, Payloads: true}).Response(100, p, len(p), &rec); err != nil {
			t.Fatal(err)
		}
		if err := checkBalanced(rec.Values); err != nil {
			t.Fatal(err)
		}
		return &rec
	}
	tlv := func(entries ...hdr) []byte { return headersBlob(V08, entries...) }

	// single_pair_round_trip: key kind 6 (int32) "test", value kind 2 "val".
	rec := poll(tlv(hdr{6, "test", 2, []byte("val")}))
	expect(t, rec.Values, map[string]string{
		"messages[0].user_headers[0].key_kind": "int32", "messages[0].user_headers[0].key": "1953719668",
		"messages[0].user_headers[0].value_kind": "string", "messages[0].user_headers[0].value": "val",
	})
	// multiple_pairs.
	rec = poll(tlv(hdr{1, "k1", 2, []byte("v1")}, hdr{6, string([]byte{42, 0, 0, 0}), 12, []byte{99, 0, 0, 0, 0, 0, 0, 0}},
		hdr{3, string([]byte{1}), 9, []byte{255}}))
	expect(t, rec.Values, map[string]string{
		"messages[0].user_headers[0].key": `bytes(2)"k1"`, "messages[0].user_headers[1].key": "42",
		"messages[0].user_headers[1].value": "99", "messages[0].user_headers[2].key": "true",
		"messages[0].user_headers[2].value": "255",
	})
	// unknown_kind_codes_pass_validation: 16 and 255.
	rec = poll(tlv(hdr{16, "a", 255, []byte("b")}))
	expect(t, rec.Values, map[string]string{
		"messages[0].user_headers[0].key_kind": "?16", "messages[0].user_headers[0].value_kind": "?255",
		"messages[0].user_headers[0].key": `bytes(1)"a"`,
	})
	// zero_length_rejected, length_exceeds_max_rejected, kind_zero_rejected,
	// trailing_bytes_rejected, odd_tlv_count_rejected: not TLV, kept opaque.
	long := (&wb{}).u8(1).u32(256).raw(make([]byte, 256)...).bytes()
	for name, blob := range map[string][]byte{
		"zero length": {1, 0, 0, 0, 0},
		"too long":    long,
		"kind zero":   (&wb{}).u8(0).u32(1).u8(42).bytes(),
		"trailing":    append(tlv(hdr{1, "k", 2, []byte("v")}), 0xFF),
		"odd count":   (&wb{}).u8(1).u32(2).raw('a', 'b').bytes(),
	} {
		rec = poll(blob)
		v := flatten(rec.Values)["messages[0].user_headers"]
		if v.Kind != KindBytes || v.Num != uint64(len(blob)) {
			t.Errorf("%s: user_headers = %v", name, v)
		}
	}
}

// core/common/src/types/message/message_header.rs: the 64-byte header round
// trip, and a non-zero reserved field rejected.
func TestVectorMessageHeader(t *testing.T) {
	m := msg{id: 1, offset: 2, timestamp: 3, origin: 4, checksum: 5, payload: []byte("p")}
	rec := decodeResp(t, V08, 100, polledMessages(V08, 0, 2, m))
	expect(t, rec.Values, map[string]string{
		"messages[0].checksum": "5", "messages[0].id": "01000000000000010000000000000001", "messages[0].offset": "2",
		"messages[0].timestamp": "3", "messages[0].origin_timestamp": "4", "messages[0].payload_length": "1",
		"messages[0].user_headers_length": "0",
	})
	p := polledMessages(V08, 0, 2, m)
	p[16+56] = 1
	var r Record
	err := NewDecoder(Options{Version: V08, Messages: true}).Response(100, p, len(p), &r)
	var de *DecodeError
	if !errors.As(err, &de) || de.Field != "reserved" {
		t.Errorf("non-zero reserved: %v", err)
	}
}

func itoa(v uint64) string {
	return render(Value{Kind: KindUint, Num: v})
}
