package testserver_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"testing"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"
	"github.com/zeebo/xxh3"

	"github.com/iggytrace/iggytrace/internal/testserver"
)

// sendN sends n messages "m-<i>" to one partition.
func sendN(t *testing.T, cli iggcon.Client, stream, topic, partition uint32, n int) {
	t.Helper()
	msgs := make([]iggcon.IggyMessage, n)
	for i := range msgs {
		msgs[i] = must[iggcon.IggyMessage](t, "message")(iggcon.NewIggyMessage([]byte(fmt.Sprintf("m-%d", i))))
	}
	ok(t, "send", cli.SendMessages(num(stream), num(topic), iggcon.PartitionId(partition), msgs))
}

// TestStreamsAndTopics checks stream/topic/partition records as the SDK
// decodes them, 0-based ids, server defaults and the error codes.
func TestStreamsAndTopics(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	cli := rootClient(t, addr)

	a := must[*iggcon.StreamDetails](t, "create a")(cli.CreateStream("alpha"))
	b := must[*iggcon.StreamDetails](t, "create b")(cli.CreateStream("beta"))
	if a.Id != 0 || b.Id != 1 || a.Name != "alpha" || a.TopicsCount != 0 || len(a.Topics) != 0 || a.CreatedAt == 0 {
		t.Fatalf("created streams %+v %+v", a.Stream, b.Stream)
	}
	_, err := cli.CreateStream("alpha")
	wantCode(t, "duplicate stream", err, ierror.StreamNameAlreadyExistsCode)
	wantCode(t, "rename onto existing", cli.UpdateStream(num(b.Id), "alpha"), ierror.StreamNameAlreadyExistsCode)
	ok(t, "rename", cli.UpdateStream(name("beta"), "gamma"))
	wantCode(t, "rename missing by name", cli.UpdateStream(name("nope"), "x"), ierror.StreamNameNotFoundCode)

	streams := must[[]iggcon.Stream](t, "list")(cli.GetStreams())
	if len(streams) != 2 || streams[0].Name != "alpha" || streams[1].Name != "gamma" {
		t.Fatalf("streams %+v", streams)
	}

	events := must[*iggcon.TopicDetails](t, "create topic")(cli.CreateTopic(num(a.Id), "events", 3, iggcon.CompressionAlgorithmNone, 0, 0, nil))
	if events.Id != 0 || events.PartitionsCount != 3 || len(events.Partitions) != 3 ||
		events.MessageExpiry != iggcon.Duration(math.MaxUint64) || events.MaxTopicSize != math.MaxUint64 ||
		events.ReplicationFactor != 1 || events.CompressionAlgorithm != 1 {
		t.Fatalf("topic defaults %+v", events.Topic)
	}
	for i, p := range events.Partitions {
		if p.Id != uint32(i) || p.SegmentsCount != 1 || p.MessagesCount != 0 || p.CreatedAt == 0 {
			t.Errorf("partition %d: %+v", i, p)
		}
	}
	rf := uint8(3)
	logs := must[*iggcon.TopicDetails](t, "create logs")(cli.CreateTopic(name("alpha"), "logs", 1, iggcon.CompressionAlgorithmGzip, 5_000_000, 3<<30, &rf))
	if logs.Id != 1 || logs.CompressionAlgorithm != 2 || logs.MessageExpiry != 5_000_000 || logs.MaxTopicSize != 3<<30 || logs.ReplicationFactor != 3 {
		t.Fatalf("topic settings %+v", logs.Topic)
	}
	_, err = cli.CreateTopic(num(a.Id), "events", 1, iggcon.CompressionAlgorithmNone, 0, 0, nil)
	wantCode(t, "duplicate topic", err, ierror.TopicNameAlreadyExistsCode)
	_, err = cli.CreateTopic(num(a.Id), "tiny", 1, iggcon.CompressionAlgorithmNone, 0, 1<<20, nil)
	wantCode(t, "max size below segment size", err, ierror.InvalidTopicSizeCode)
	_, err = cli.CreateTopic(num(9), "x", 1, iggcon.CompressionAlgorithmNone, 0, 0, nil)
	wantCode(t, "topic in missing stream", err, ierror.StreamIdNotFoundCode)

	sd := must[*iggcon.StreamDetails](t, "get stream")(cli.GetStream(name("alpha")))
	if sd.TopicsCount != 2 || len(sd.Topics) != 2 || sd.Topics[0].Name != "events" || sd.Topics[1].Name != "logs" {
		t.Fatalf("stream details %+v", sd)
	}
	topics := must[[]iggcon.Topic](t, "topics")(cli.GetTopics(num(a.Id)))
	if len(topics) != 2 {
		t.Fatalf("topics %+v", topics)
	}
	if empty := must[[]iggcon.Topic](t, "topics of missing stream")(cli.GetTopics(num(42))); len(empty) != 0 {
		t.Fatalf("topics of missing stream: %+v", empty)
	}

	ok(t, "update topic", cli.UpdateTopic(num(a.Id), name("logs"), "audit", iggcon.CompressionAlgorithmNone, 7, 0, nil))
	audit := must[*iggcon.TopicDetails](t, "get audit")(cli.GetTopic(num(a.Id), name("audit")))
	if audit.Id != 1 || audit.MessageExpiry != 7 || audit.CompressionAlgorithm != 1 || audit.MaxTopicSize != math.MaxUint64 {
		t.Fatalf("updated topic %+v", audit.Topic)
	}
	wantCode(t, "update missing topic", cli.UpdateTopic(num(a.Id), name("nope"), "x", 1, 0, 0, nil), ierror.TopicNameNotFoundCode)

	ok(t, "create partitions", cli.CreatePartitions(num(a.Id), num(events.Id), 2))
	ok(t, "delete partitions", cli.DeletePartitions(num(a.Id), num(events.Id), 1))
	// 2019 InvalidPartitionsCount is a 0.6+ code the SDK v0.8.0 does not
	// know (it would report code 1), so these go over a raw connection.
	raw := dialRaw(t, addr)
	raw.login()
	ids := append(numIDBytes(a.Id), numIDBytes(events.Id)...)
	if st, _ := raw.do(403, binary.LittleEndian.AppendUint32(ids, 9)); st != 2019 {
		t.Errorf("delete 9 of 4 partitions: status %d, want 2019", st)
	}
	if st, _ := raw.do(402, binary.LittleEndian.AppendUint32(ids, 0)); st != 2019 {
		t.Errorf("create 0 partitions: status %d, want 2019", st)
	}
	got := must[*iggcon.TopicDetails](t, "get events")(cli.GetTopic(num(a.Id), num(events.Id)))
	if got.PartitionsCount != 4 || got.Partitions[3].Id != 3 {
		t.Fatalf("after 3+2-1 partitions: %+v", got.Partitions)
	}

	ok(t, "delete topic", cli.DeleteTopic(num(a.Id), num(events.Id)))
	wantCode(t, "delete topic twice", cli.DeleteTopic(num(a.Id), num(events.Id)), ierror.TopicIdNotFoundCode)
	_, err = cli.GetTopic(num(a.Id), num(events.Id))
	wantCode(t, "get deleted topic (SDK maps the empty answer)", err, ierror.TopicIdNotFoundCode)
	ok(t, "delete stream", cli.DeleteStream(num(b.Id)))
	wantCode(t, "delete stream twice", cli.DeleteStream(num(b.Id)), ierror.StreamIdNotFoundCode)
	c := must[*iggcon.StreamDetails](t, "create c")(cli.CreateStream("gamma"))
	if c.Id != 2 {
		t.Errorf("new stream id %d, want 2 (ids are not reused)", c.Id)
	}
}

// TestMessages checks stamping, checksums, user headers, partitioning and
// every polling strategy through the SDK's decoders.
func TestMessages(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	cli := rootClient(t, addr)
	s := must[*iggcon.StreamDetails](t, "stream")(cli.CreateStream("m"))
	tp := must[*iggcon.TopicDetails](t, "topic")(cli.CreateTopic(num(s.Id), "t", 3, 1, 0, 0, nil))
	sid, tid := num(s.Id), num(tp.Id)

	headers := []iggcon.HeaderEntry{{
		Key:   iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("k")},
		Value: iggcon.HeaderValue{Kind: iggcon.Int32, Value: []byte{1, 2, 3, 4}},
	}}
	var sent []iggcon.IggyMessage
	for i := range 5 {
		var id [16]byte
		id[0] = byte(i + 1)
		m := must[iggcon.IggyMessage](t, "message")(iggcon.NewIggyMessage([]byte("payload-"+strconv.Itoa(i)), iggcon.WithID(id), iggcon.WithUserHeaders(headers)))
		sent = append(sent, m)
	}
	ok(t, "send", cli.SendMessages(sid, tid, iggcon.PartitionId(0), sent))
	p0 := uint32(0)
	single := iggcon.NewSingleConsumer(num(1))
	polled := must[*iggcon.PolledMessage](t, "poll")(cli.PollMessages(sid, tid, single, iggcon.OffsetPollingStrategy(0), 10, false, &p0))
	if polled.PartitionId != 0 || polled.CurrentOffset != 4 || polled.MessageCount != 5 || len(polled.Messages) != 5 {
		t.Fatalf("poll header %+v with %d messages", polled, len(polled.Messages))
	}
	for i, m := range polled.Messages {
		h := m.Header
		if h.Offset != uint64(i) || h.Id != sent[i].Header.Id || h.Timestamp == 0 ||
			h.OriginTimestamp != sent[i].Header.OriginTimestamp || !bytes.Equal(m.Payload, sent[i].Payload) {
			t.Errorf("message %d: header %+v payload %q", i, h, m.Payload)
		}
		rec := append(append(h.ToBytes(), m.Payload...), m.UserHeaders...)
		if want := xxh3.Hash(rec[8:]); h.Checksum != want {
			t.Errorf("message %d: checksum %x, want XXH3 %x", i, h.Checksum, want)
		}
		hs, err := iggcon.DeserializeHeaders(m.UserHeaders)
		if err != nil || !reflect.DeepEqual(hs, headers) {
			t.Errorf("message %d: user headers %+v, %v", i, hs, err)
		}
	}

	offsets := func(p *iggcon.PolledMessage) []uint64 {
		var out []uint64
		for _, m := range p.Messages {
			out = append(out, m.Header.Offset)
		}
		return out
	}
	poll := func(s iggcon.PollingStrategy, count uint32, auto bool) []uint64 {
		t.Helper()
		return offsets(must[*iggcon.PolledMessage](t, "poll")(cli.PollMessages(sid, tid, single, s, count, auto, &p0)))
	}
	if got := poll(iggcon.LastPollingStrategy(), 2, false); !reflect.DeepEqual(got, []uint64{3, 4}) {
		t.Errorf("last 2: %v", got)
	}
	if got := poll(iggcon.FirstPollingStrategy(), 2, false); !reflect.DeepEqual(got, []uint64{0, 1}) {
		t.Errorf("first 2: %v", got)
	}
	if got := poll(iggcon.OffsetPollingStrategy(3), 10, false); !reflect.DeepEqual(got, []uint64{3, 4}) {
		t.Errorf("offset 3: %v", got)
	}
	if got := poll(iggcon.OffsetPollingStrategy(50), 10, false); len(got) != 0 {
		t.Errorf("offset past the end: %v", got)
	}
	ts := polled.Messages[0].Header.Timestamp
	if got := poll(iggcon.TimestampPollingStrategy(ts), 10, false); len(got) != 5 {
		t.Errorf("timestamp %d: %v", ts, got)
	}
	if got := poll(iggcon.TimestampPollingStrategy(ts+1), 10, false); len(got) != 0 {
		t.Errorf("timestamp after the batch: %v", got)
	}
	if got := poll(iggcon.NextPollingStrategy(), 3, true); !reflect.DeepEqual(got, []uint64{0, 1, 2}) {
		t.Errorf("next 3: %v", got)
	}
	off := must[*iggcon.ConsumerOffsetInfo](t, "offset")(cli.GetConsumerOffset(single, sid, tid, &p0))
	if off == nil || off.StoredOffset != 2 || off.CurrentOffset != 4 || off.PartitionId != 0 {
		t.Fatalf("auto-committed offset %+v", off)
	}
	if got := poll(iggcon.NextPollingStrategy(), 3, true); !reflect.DeepEqual(got, []uint64{3, 4}) {
		t.Errorf("next after commit: %v", got)
	}

	// Balanced: one batch per partition in turn. MessagesKey: stable.
	for range 3 {
		m := must[iggcon.IggyMessage](t, "m")(iggcon.NewIggyMessage([]byte("b")))
		ok(t, "balanced", cli.SendMessages(sid, tid, iggcon.None(), []iggcon.IggyMessage{m}))
	}
	key, _ := iggcon.EntityIdString("customer")
	for range 2 {
		m := must[iggcon.IggyMessage](t, "m")(iggcon.NewIggyMessage([]byte("k")))
		ok(t, "keyed", cli.SendMessages(sid, tid, key, []iggcon.IggyMessage{m}))
	}
	td := must[*iggcon.TopicDetails](t, "topic")(cli.GetTopic(sid, tid))
	var counts []uint64
	keyed := 0
	for _, p := range td.Partitions {
		counts = append(counts, p.MessagesCount)
		if (p.Id == 0 && p.MessagesCount == 8) || (p.Id != 0 && p.MessagesCount == 3) {
			keyed++
		}
	}
	if td.MessagesCount != 10 || keyed != 1 {
		t.Errorf("partition counts %v: want 5+1 / 1 / 1 plus both keyed messages on one partition", counts)
	}
	// A zero id is replaced by a random UUID v4 (little-endian u128).
	p1 := uint32(1)
	got := must[*iggcon.PolledMessage](t, "poll p1")(cli.PollMessages(sid, tid, single, iggcon.FirstPollingStrategy(), 1, false, &p1))
	if id := got.Messages[0].Header.Id; id == (iggcon.MessageID{}) || id[9]>>4 != 4 {
		t.Errorf("server-assigned id %x is not a UUID v4", id)
	}

	p9 := uint32(9)
	_, err := cli.PollMessages(sid, tid, single, iggcon.FirstPollingStrategy(), 1, false, &p9)
	wantCode(t, "poll missing partition", err, ierror.PartitionNotFoundCode)
	empty := must[*iggcon.TopicDetails](t, "topic")(cli.CreateTopic(sid, "empty", 0, 1, 0, 0, nil))
	m := must[iggcon.IggyMessage](t, "m")(iggcon.NewIggyMessage([]byte("x")))
	wantCode(t, "send to topic without partitions", cli.SendMessages(sid, num(empty.Id), iggcon.None(), []iggcon.IggyMessage{m}), ierror.NoPartitionsCode)
}

// TestConsumerOffsetsAndGroups checks offsets, group membership, partition
// assignment, GetClient's group list and clean-up on disconnect.
func TestConsumerOffsetsAndGroups(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	a := rootClient(t, addr)
	s := must[*iggcon.StreamDetails](t, "stream")(a.CreateStream("g"))
	tp := must[*iggcon.TopicDetails](t, "topic")(a.CreateTopic(num(s.Id), "t", 4, 1, 0, 0, nil))
	sid, tid := num(s.Id), num(tp.Id)
	for p := range uint32(4) {
		sendN(t, a, s.Id, tp.Id, p, 3)
	}

	named := iggcon.NewSingleConsumer(name("reader"))
	p2 := uint32(2)
	if off := must[*iggcon.ConsumerOffsetInfo](t, "offset before store")(a.GetConsumerOffset(named, sid, tid, &p2)); off != nil {
		t.Fatalf("offset before store: %+v", off)
	}
	ok(t, "store", a.StoreConsumerOffset(named, sid, tid, 1, &p2))
	if off := must[*iggcon.ConsumerOffsetInfo](t, "offset")(a.GetConsumerOffset(named, sid, tid, &p2)); off == nil || off.StoredOffset != 1 || off.PartitionId != 2 || off.CurrentOffset != 2 {
		t.Fatalf("stored offset %+v", off)
	}
	ok(t, "delete offset", a.DeleteConsumerOffset(named, sid, tid, &p2))
	wantCode(t, "delete offset twice", a.DeleteConsumerOffset(named, sid, tid, &p2), ierror.ConsumerOffsetNotFoundCode)

	g := must[*iggcon.ConsumerGroupDetails](t, "group")(a.CreateConsumerGroup(sid, tid, "workers"))
	if g.Id != 0 || g.Name != "workers" || g.PartitionsCount != 4 || g.MembersCount != 0 {
		t.Fatalf("created group %+v", g)
	}
	_, err := a.CreateConsumerGroup(sid, tid, "workers")
	wantCode(t, "duplicate group", err, ierror.ConsumerGroupNameAlreadyExistsCode)
	gid := num(g.Id)
	group := iggcon.NewGroupConsumer(gid)
	_, err = a.PollMessages(sid, tid, group, iggcon.NextPollingStrategy(), 1, true, nil)
	wantCode(t, "group poll by non-member", err, ierror.ConsumerGroupMemberNotFoundCode)

	ok(t, "join a", a.JoinConsumerGroup(sid, tid, gid))
	b := rootClient(t, addr)
	ok(t, "join b", b.JoinConsumerGroup(sid, tid, name("workers")))
	gd := must[*iggcon.ConsumerGroupDetails](t, "get group")(a.GetConsumerGroup(sid, tid, gid))
	if gd.MembersCount != 2 || len(gd.Members) != 2 ||
		!reflect.DeepEqual(gd.Members[0].Partitions, []uint32{0, 2}) || !reflect.DeepEqual(gd.Members[1].Partitions, []uint32{1, 3}) {
		t.Fatalf("members %+v", gd.Members)
	}
	aID := gd.Members[0].ID
	ci := must[*iggcon.ClientInfoDetails](t, "get client")(a.GetClient(aID))
	if ci.ConsumerGroupsCount != 1 || !containsGroup(ci.ConsumerGroups, iggcon.ConsumerGroupInfo{StreamId: s.Id, TopicId: tp.Id, GroupId: g.Id}) {
		t.Fatalf("client groups %+v", ci)
	}

	// Member a polls its partitions in turn, committing the group offset.
	first := must[*iggcon.PolledMessage](t, "group poll")(a.PollMessages(sid, tid, group, iggcon.NextPollingStrategy(), 2, true, nil))
	second := must[*iggcon.PolledMessage](t, "group poll")(a.PollMessages(sid, tid, group, iggcon.NextPollingStrategy(), 2, true, nil))
	if first.PartitionId != 0 || second.PartitionId != 2 || len(first.Messages) != 2 {
		t.Fatalf("group polls on partitions %d and %d", first.PartitionId, second.PartitionId)
	}
	p0 := uint32(0)
	if off := must[*iggcon.ConsumerOffsetInfo](t, "group offset")(a.GetConsumerOffset(group, sid, tid, &p0)); off == nil || off.StoredOffset != 1 {
		t.Fatalf("group offset %+v", off)
	}

	groups := must[[]iggcon.ConsumerGroup](t, "groups")(a.GetConsumerGroups(sid, tid))
	if len(groups) != 1 || groups[0].MembersCount != 2 {
		t.Fatalf("groups %+v", groups)
	}
	_ = b.Close() // disconnecting leaves the group
	waitFor(t, func() bool {
		gd := must[*iggcon.ConsumerGroupDetails](t, "group")(a.GetConsumerGroup(sid, tid, gid))
		return gd.MembersCount == 1 && len(gd.Members[0].Partitions) == 4
	})
	ok(t, "leave", a.LeaveConsumerGroup(sid, tid, gid))
	wantCode(t, "leave twice", a.LeaveConsumerGroup(sid, tid, gid), ierror.ConsumerGroupMemberNotFoundCode)
	ok(t, "delete group", a.DeleteConsumerGroup(sid, tid, gid))
	wantCode(t, "delete group twice", a.DeleteConsumerGroup(sid, tid, name("workers")), ierror.ConsumerGroupNameNotFoundCode)
	_, err = a.GetConsumerGroup(sid, tid, gid)
	wantCode(t, "get deleted group (SDK maps the empty answer)", err, ierror.ConsumerGroupIdNotFoundCode)
}

func containsGroup(gs []iggcon.ConsumerGroupInfo, want iggcon.ConsumerGroupInfo) bool {
	for _, g := range gs {
		if g == want {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		sleep()
	}
	t.Fatal("condition not reached")
}

// TestUsersAndPermissions checks user records, the permissions round trip
// and that permissions, passwords and status are enforced.
func TestUsersAndPermissions(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	root := rootClient(t, addr)
	s := must[*iggcon.StreamDetails](t, "stream")(root.CreateStream("shared"))
	hidden := must[*iggcon.StreamDetails](t, "stream")(root.CreateStream("hidden"))
	tp := must[*iggcon.TopicDetails](t, "topic")(root.CreateTopic(num(s.Id), "t", 1, 1, 0, 0, nil))

	perms := &iggcon.Permissions{
		Global: iggcon.GlobalPermissions{PollMessages: true},
		Streams: map[int]*iggcon.StreamPermissions{
			int(s.Id): {ReadStream: true, Topics: map[int]*iggcon.TopicPermissions{
				int(tp.Id): {ReadTopic: true, SendMessages: true},
			}},
		},
	}
	u := must[*iggcon.UserInfoDetails](t, "create user")(root.CreateUser("alice", "alice-pw", iggcon.Active, perms))
	if u.Id != 1 || u.Username != "alice" || u.Status != iggcon.Active || !reflect.DeepEqual(u.Permissions, perms) {
		t.Fatalf("created user %+v perms %+v", u.UserInfo, u.Permissions)
	}
	rootInfo := must[*iggcon.UserInfoDetails](t, "get root")(root.GetUser(num(0)))
	if rootInfo.Username != "iggy" || rootInfo.Permissions == nil || !rootInfo.Permissions.Global.ManageServers {
		t.Fatalf("root %+v %+v", rootInfo.UserInfo, rootInfo.Permissions)
	}
	bare := must[*iggcon.UserInfoDetails](t, "create bare")(root.CreateUser("bob", "bob-pw", iggcon.Inactive, nil))
	if bare.Permissions != nil || bare.Status != iggcon.Inactive {
		t.Fatalf("user without permissions %+v %+v", bare.UserInfo, bare.Permissions)
	}
	_, err := root.CreateUser("alice", "x-pw", iggcon.Active, nil)
	wantCode(t, "duplicate user", err, ierror.UserAlreadyExistsCode)
	_, err = root.CreateUser("al", "x-pw", iggcon.Active, nil)
	wantCode(t, "short username", err, ierror.InvalidUsernameCode)
	users := must[[]iggcon.UserInfo](t, "users")(root.GetUsers())
	if len(users) != 3 || users[0].Username != "iggy" || users[2].Username != "bob" {
		t.Fatalf("users %+v", users)
	}

	alice := sdkClient(t, addr)
	id := must[*iggcon.IdentityInfo](t, "alice login")(alice.LoginUser("alice", "alice-pw"))
	if id.UserId != u.Id {
		t.Fatalf("alice identity %d", id.UserId)
	}
	must[*iggcon.StreamDetails](t, "alice reads shared")(alice.GetStream(num(s.Id)))
	_, err = alice.GetStream(num(hidden.Id))
	wantCode(t, "alice reads hidden", err, ierror.UnauthorizedCode)
	_, err = alice.CreateStream("mine")
	wantCode(t, "alice creates stream", err, ierror.UnauthorizedCode)
	_, err = alice.GetUsers()
	wantCode(t, "alice lists users", err, ierror.UnauthorizedCode)
	must[*iggcon.UserInfoDetails](t, "alice reads herself")(alice.GetUser(name("alice")))
	sendN(t, alice, s.Id, tp.Id, 0, 1)
	ok(t, "alice changes her password", alice.ChangePassword(num(u.Id), "alice-pw", "alice-pw2"))
	wantCode(t, "wrong current password", alice.ChangePassword(num(u.Id), "alice-pw", "x-pw"), ierror.InvalidCredentialsCode)

	perms.Streams[int(hidden.Id)] = &iggcon.StreamPermissions{ReadStream: true, Topics: map[int]*iggcon.TopicPermissions{}}
	ok(t, "update permissions", root.UpdatePermissions(num(u.Id), perms))
	got := must[*iggcon.UserInfoDetails](t, "get alice")(root.GetUser(num(u.Id)))
	if !reflect.DeepEqual(got.Permissions, perms) {
		t.Fatalf("permissions after update %+v", got.Permissions)
	}
	must[*iggcon.StreamDetails](t, "alice reads hidden now")(alice.GetStream(num(hidden.Id)))
	wantCode(t, "root permissions", root.UpdatePermissions(num(0), nil), ierror.CannotChangePermissionsCode)

	_, err = sdkClient(t, addr).LoginUser("bob", "bob-pw")
	wantCode(t, "inactive login", err, ierror.UserInactiveCode)
	active := iggcon.Active
	newName := "robert"
	ok(t, "activate and rename bob", root.UpdateUser(num(bare.Id), &newName, &active))
	must[*iggcon.IdentityInfo](t, "robert login")(sdkClient(t, addr).LoginUser("robert", "bob-pw"))
	taken := "alice"
	wantCode(t, "rename onto alice", root.UpdateUser(num(bare.Id), &taken, nil), ierror.UserAlreadyExistsCode)

	ok(t, "delete alice", root.DeleteUser(name("alice")))
	_, err = alice.GetStreams()
	wantCode(t, "deleted user's session", err, ierror.UnauthenticatedCode)
	wantCode(t, "delete root", root.DeleteUser(num(0)), ierror.CannotDeleteUserCode)
	_, err = root.GetUser(num(u.Id))
	wantCode(t, "get deleted user (SDK maps the empty answer)", err, ierror.ResourceNotFoundCode)
}

// TestPersonalAccessTokens: the raw token is returned once, logs in, and
// stops working once deleted.
func TestPersonalAccessTokens(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	root := rootClient(t, addr)
	_, err := root.GetPersonalAccessTokens()
	wantCode(t, "no tokens (the SDK maps the empty answer)", err, ierror.EmptyMessagePayloadCode)
	raw := must[*iggcon.RawPersonalAccessToken](t, "create")(root.CreatePersonalAccessToken("ci-token", 0))
	if len(raw.Token) != 68 {
		t.Fatalf("raw token %q: %d chars, want 68", raw.Token, len(raw.Token))
	}
	_, err = root.CreatePersonalAccessToken("ci-token", 0)
	wantCode(t, "duplicate", err, ierror.PersonalAccessTokenAlreadyExistsCode)
	_, err = root.CreatePersonalAccessToken("ci", 0)
	wantCode(t, "short name", err, ierror.InvalidPersonalAccessTokenNameCode)
	list := must[[]iggcon.PersonalAccessTokenInfo](t, "list")(root.GetPersonalAccessTokens())
	if len(list) != 1 || list[0].Name != "ci-token" {
		t.Fatalf("tokens %+v", list)
	}
	other := sdkClient(t, addr)
	id := must[*iggcon.IdentityInfo](t, "token login")(other.LoginWithPersonalAccessToken(raw.Token))
	if id.UserId != 0 {
		t.Fatalf("token identity %d", id.UserId)
	}
	must[[]iggcon.Stream](t, "token session works")(other.GetStreams())
	ok(t, "delete", root.DeletePersonalAccessToken("ci-token"))
	wantCode(t, "delete twice", root.DeletePersonalAccessToken("ci-token"), ierror.ResourceNotFoundCode)
	_, err = sdkClient(t, addr).LoginWithPersonalAccessToken(raw.Token)
	wantCode(t, "deleted token", err, ierror.InvalidPersonalAccessTokenCode)
}

// TestClientsStatsAndCluster checks GetClients, GetClient, GetStats counts
// and the one-node cluster answer.
func TestClientsStatsAndCluster(t *testing.T) {
	_, addr := start(t, testserver.Config{})
	root := rootClient(t, addr)
	anon := dialRaw(t, addr)
	if st, _ := anon.do(1, nil); st != 0 {
		t.Fatalf("ping: %d", st)
	}

	clients := must[[]iggcon.ClientInfo](t, "clients")(root.GetClients())
	if len(clients) != 2 {
		t.Fatalf("clients %+v", clients)
	}
	var anonInfo *iggcon.ClientInfo
	for i := range clients {
		if clients[i].Address == anon.LocalAddr().String() {
			anonInfo = &clients[i]
		}
		if clients[i].Transport != "tcp" || clients[i].ID == 0 {
			t.Errorf("client %+v", clients[i])
		}
	}
	if anonInfo == nil || anonInfo.UserID != math.MaxUint32 {
		t.Fatalf("anonymous client %+v in %+v", anonInfo, clients)
	}
	detail := must[*iggcon.ClientInfoDetails](t, "client")(root.GetClient(anonInfo.ID))
	if detail.Address != anonInfo.Address || detail.UserID != math.MaxUint32 {
		t.Fatalf("client details %+v", detail)
	}
	_, err := root.GetClient(0)
	wantCode(t, "client 0", err, ierror.InvalidClientIdCode)

	s := must[*iggcon.StreamDetails](t, "stream")(root.CreateStream("stats"))
	tp := must[*iggcon.TopicDetails](t, "topic")(root.CreateTopic(num(s.Id), "t", 3, 1, 0, 0, nil))
	must[*iggcon.ConsumerGroupDetails](t, "group")(root.CreateConsumerGroup(num(s.Id), num(tp.Id), "g"))
	sendN(t, root, s.Id, tp.Id, 1, 7)
	stats := must[*iggcon.Stats](t, "stats")(root.GetStats())
	if stats.StreamsCount != 1 || stats.TopicsCount != 1 || stats.PartitionsCount != 3 || stats.SegmentsCount != 3 ||
		stats.MessagesCount != 7 || stats.ClientsCount != 2 || stats.ConsumerGroupsCount != 1 ||
		stats.IggyServerSemver != 8000 || stats.IggyServerVersion != "0.8.0" || stats.ThreadsCount == 0 ||
		stats.MessagesSizeBytes != 7*(64+3) || stats.StartTime == 0 || stats.ReadBytes == 0 || stats.WrittenBytes == 0 {
		t.Fatalf("stats %+v", stats)
	}

	meta := must[*iggcon.ClusterMetadata](t, "cluster")(root.GetClusterMetadata())
	_, port, _ := net.SplitHostPort(addr)
	if len(meta.Nodes) != 1 || meta.Name != "iggy-cluster" || strconv.Itoa(int(meta.Nodes[0].Endpoints.Tcp)) != port ||
		meta.Nodes[0].IP != "127.0.0.1" || meta.Nodes[0].Role != iggcon.RoleLeader || meta.Nodes[0].Status != iggcon.Healthy {
		t.Fatalf("cluster %+v", meta)
	}
}
