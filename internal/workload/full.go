package workload

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"
)

// Names of the entities Full creates.
const (
	FullStream        = "iggytrace-orders"
	FullScratchStream = "iggytrace-scratch"
	FullScratchRename = "iggytrace-scratch-2"
	FullTopic         = "events"
	FullAuditTopic    = "audit"
	FullAuditRename   = "audit-log"
	FullGroup         = "iggytrace-group"
	FullMessageKey    = "customer-42"
)

// Sizes of the large SendMessages of Full: 200 messages of 8 KiB, about
// 1.6 MB in one request frame, which spans many TCP segments.
const (
	LargeBatchCount = 200
	LargeBatchSize  = 8 << 10
)

// missing is an id no entity in a Full run has.
const missing = 4242

func st(c ierror.Code) uint32 { return uint32(c) }

// Full exercises every SDK method at least once, on the success path and on
// error paths (unauthenticated call before login, wrong password, bogus
// token, missing entities, duplicates, forbidden calls), over three
// connections: 0 = root via the SDK, 1 = a restricted user and then a
// personal-access-token login via the SDK, 2 = RawConn for the commands the
// SDK lacks. It expects a fresh server whose root password is RootPassword.
// The returned error lists every call whose status differed from the
// expected one; the log is returned in any case.
func Full(ctx context.Context, addr string) ([]Call, error) {
	rec := &recorder{}
	chk := &checker{}
	f := &fullRun{ctx: ctx, addr: addr, rec: rec, chk: chk}
	err := f.run()
	if err == nil {
		err = chk.err()
	}
	return rec.snapshot(), err
}

type fullRun struct {
	ctx  context.Context
	addr string
	rec  *recorder
	chk  *checker

	admin, user *sdkConn
	raw         *rawConn

	stream, scratch, topic, audit, group uint32
	userID                               uint32
	token                                string
}

func (f *fullRun) run() error {
	var err error
	if f.admin, err = openSDK(f.ctx, f.addr, 0, f.rec, f.chk); err != nil {
		return err
	}
	defer f.admin.close()
	f.adminSetup()
	if err := f.ctx.Err(); err != nil {
		return err
	}
	f.adminMessages()
	f.adminOffsetsAndGroups()
	f.adminUsersAndTokens()

	if f.user, err = openSDK(f.ctx, f.addr, 1, f.rec, f.chk); err != nil {
		return err
	}
	defer f.user.close()
	f.userSession()

	rc, err := DialRaw(f.ctx, f.addr)
	if err != nil {
		return err
	}
	f.raw = &rawConn{RawConn: rc, idx: 2, rec: f.rec, chk: f.chk}
	defer rc.Close()
	me := f.rawSession()

	f.adminInspect(me)
	f.cleanup()
	return f.ctx.Err()
}

// adminSetup: pre-login rules, login, streams and topics.
func (f *fullRun) adminSetup() {
	a := f.admin
	sdkExec(a, "Ping", codePing, nil, 0, func(c iggcon.Client) error { return c.Ping() })
	sdkDo(a, "GetStreams", codeGetStreams, nil, st(ierror.UnauthenticatedCode),
		func(c iggcon.Client) ([]iggcon.Stream, error) { return c.GetStreams() })
	a.login(RootUsername, WrongPassword, st(ierror.InvalidCredentialsCode))
	a.login(RootUsername, RootPassword, 0)
	sdkDo(a, "GetClusterMetadata", codeGetClusterMetadata, nil, 0,
		func(c iggcon.Client) (*iggcon.ClusterMetadata, error) { return c.GetClusterMetadata() })
	sdkDo(a, "GetStats", codeGetStats, nil, 0, func(c iggcon.Client) (*iggcon.Stats, error) { return c.GetStats() })

	createStream := func(name string, want uint32) *iggcon.StreamDetails {
		return sdkDo(a, "CreateStream", codeCreateStream, map[string]any{"name": name}, want,
			func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.CreateStream(name) })
	}
	if s := createStream(FullStream, 0); s != nil {
		f.stream = s.Id
	}
	createStream(FullStream, st(ierror.StreamNameAlreadyExistsCode))
	if s := createStream(FullScratchStream, 0); s != nil {
		f.scratch = s.Id
	}
	sdkDo(a, "GetStreams", codeGetStreams, nil, 0, func(c iggcon.Client) ([]iggcon.Stream, error) { return c.GetStreams() })
	for _, id := range []iggcon.Identifier{numID(f.stream), nameID(FullStream), numID(missing)} {
		sdkDo(a, "GetStream", codeGetStream, map[string]any{"stream": idArg(id)}, 0,
			func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.GetStream(id) })
	}
	updateStream := func(id iggcon.Identifier, name string, want uint32) {
		sdkExec(a, "UpdateStream", codeUpdateStream, map[string]any{"stream": idArg(id), "name": name}, want,
			func(c iggcon.Client) error { return c.UpdateStream(id, name) })
	}
	updateStream(numID(f.scratch), FullScratchRename, 0)
	updateStream(numID(missing), FullScratchRename, st(ierror.StreamIdNotFoundCode))

	type topicSpec struct {
		stream      iggcon.Identifier
		name        string
		partitions  uint32
		compression iggcon.CompressionAlgorithm
		expiry      iggcon.Duration
		maxSize     uint64
		replication *uint8
		want        uint32
	}
	createTopic := func(t topicSpec) *iggcon.TopicDetails {
		args := map[string]any{
			"stream": idArg(t.stream), "name": t.name, "partitions": t.partitions,
			"compression": uint8(t.compression), "message_expiry": uint64(t.expiry), "max_topic_size": t.maxSize,
		}
		return sdkDo(a, "CreateTopic", codeCreateTopic, args, t.want, func(c iggcon.Client) (*iggcon.TopicDetails, error) {
			return c.CreateTopic(t.stream, t.name, t.partitions, t.compression, t.expiry, t.maxSize, t.replication)
		})
	}
	if t := createTopic(topicSpec{stream: numID(f.stream), name: FullTopic, partitions: 3, compression: iggcon.CompressionAlgorithmNone}); t != nil {
		f.topic = t.Id
	}
	createTopic(topicSpec{stream: numID(f.stream), name: FullTopic, partitions: 3, compression: iggcon.CompressionAlgorithmNone,
		want: st(ierror.TopicNameAlreadyExistsCode)})
	if t := createTopic(topicSpec{stream: nameID(FullStream), name: FullAuditTopic, partitions: 1, compression: iggcon.CompressionAlgorithmGzip,
		expiry: iggcon.Duration(time.Hour.Microseconds()), maxSize: 2 << 30, replication: ptr(uint8(1))}); t != nil {
		f.audit = t.Id
	}
	createTopic(topicSpec{stream: numID(missing), name: "nowhere", partitions: 1, compression: iggcon.CompressionAlgorithmNone,
		want: st(ierror.StreamIdNotFoundCode)})

	sdkDo(a, "GetTopics", codeGetTopics, map[string]any{"stream": f.stream}, 0,
		func(c iggcon.Client) ([]iggcon.Topic, error) { return c.GetTopics(numID(f.stream)) })
	for _, tid := range []iggcon.Identifier{numID(f.topic), nameID(FullAuditTopic), numID(missing)} {
		sdkDo(a, "GetTopic", codeGetTopic, map[string]any{"stream": f.stream, "topic": idArg(tid)}, 0,
			func(c iggcon.Client) (*iggcon.TopicDetails, error) { return c.GetTopic(numID(f.stream), tid) })
	}
	updateTopic := func(tid iggcon.Identifier, name string, want uint32) {
		expiry := iggcon.Duration((2 * time.Hour).Microseconds())
		args := map[string]any{"stream": f.stream, "topic": idArg(tid), "name": name,
			"compression": uint8(iggcon.CompressionAlgorithmGzip), "message_expiry": uint64(expiry)}
		sdkExec(a, "UpdateTopic", codeUpdateTopic, args, want, func(c iggcon.Client) error {
			return c.UpdateTopic(numID(f.stream), tid, name, iggcon.CompressionAlgorithmGzip, expiry, 0, nil)
		})
	}
	updateTopic(numID(f.audit), FullAuditRename, 0)
	updateTopic(numID(missing), FullAuditRename, st(ierror.TopicIdNotFoundCode))

	partitions := func(method string, code uint32, tid iggcon.Identifier, n uint32, want uint32) {
		sdkExec(a, method, code, map[string]any{"stream": f.stream, "topic": idArg(tid), "count": n}, want,
			func(c iggcon.Client) error {
				if code == codeCreatePartitions {
					return c.CreatePartitions(numID(f.stream), tid, n)
				}
				return c.DeletePartitions(numID(f.stream), tid, n)
			})
	}
	partitions("CreatePartitions", codeCreatePartitions, numID(f.topic), 2, 0)
	partitions("DeletePartitions", codeDeletePartitions, numID(f.topic), 1, 0)
	partitions("DeletePartitions", codeDeletePartitions, numID(missing), 1, st(ierror.TopicIdNotFoundCode))
}

// adminMessages: every partitioning kind, a large batch, every polling
// strategy and the error paths of both commands. Topic "events" has 4
// partitions at this point.
func (f *fullRun) adminMessages() {
	a := f.admin
	s, t := numID(f.stream), numID(f.topic)
	f.sendBatch(a, s, t, iggcon.PartitionId(0), "order", 10, 48, 1, true, 0)
	f.sendBatch(a, s, t, iggcon.None(), "balanced", 4, 32, 0, false, 0)
	key, _ := iggcon.EntityIdString(FullMessageKey)
	f.sendBatch(a, s, nameID(FullTopic), key, "keyed", 3, 40, 100, true, 0)
	f.sendBatch(a, s, t, iggcon.PartitionId(1), "large", LargeBatchCount, LargeBatchSize, 1000, false, 0)
	f.sendBatch(a, numID(missing), t, iggcon.PartitionId(0), "lost", 1, 16, 0, false, st(ierror.StreamIdNotFoundCode))
	f.sendBatch(a, s, t, iggcon.PartitionId(99), "lost", 1, 16, 0, false, st(ierror.PartitionNotFoundCode))

	single := iggcon.NewSingleConsumer(numID(1))
	p0, p1 := ptr(uint32(0)), ptr(uint32(1))
	a.poll(s, t, single, iggcon.OffsetPollingStrategy(0), 10, false, p0, 0)
	a.poll(s, t, single, iggcon.FirstPollingStrategy(), 3, false, p0, 0)
	a.poll(s, t, single, iggcon.LastPollingStrategy(), 2, false, p0, 0)
	a.poll(s, t, single, iggcon.TimestampPollingStrategy(0), 5, false, p0, 0)
	a.poll(s, t, single, iggcon.NextPollingStrategy(), 4, true, p0, 0)
	a.poll(s, t, single, iggcon.NextPollingStrategy(), 4, true, p0, 0)
	a.poll(s, t, single, iggcon.FirstPollingStrategy(), LargeBatchCount, false, p1, 0)
	a.poll(s, numID(missing), single, iggcon.FirstPollingStrategy(), 1, false, p0, st(ierror.TopicIdNotFoundCode))
}

func (f *fullRun) sendBatch(c *sdkConn, s, t iggcon.Identifier, part iggcon.Partitioning, label string, n, size int, firstID uint64, headers bool, want uint32) {
	b, err := makeBatch(label, n, size, firstID, headers)
	if err != nil {
		f.chk.fail(err)
		return
	}
	_ = c.send(s, t, part, b, want)
}

// adminOffsetsAndGroups: consumer offsets and consumer groups.
func (f *fullRun) adminOffsetsAndGroups() {
	a := f.admin
	s, t := numID(f.stream), numID(f.topic)
	consumer := iggcon.NewSingleConsumer(numID(7))
	p0 := ptr(uint32(0))
	offArgs := func() map[string]any {
		return map[string]any{"consumer": consumerArg(consumer), "stream": f.stream, "topic": f.topic, "partition": uint32(0)}
	}
	getOffset := func() {
		sdkDo(a, "GetConsumerOffset", codeGetConsumerOffset, offArgs(), 0,
			func(c iggcon.Client) (*iggcon.ConsumerOffsetInfo, error) {
				return c.GetConsumerOffset(consumer, s, t, p0)
			})
	}
	deleteOffset := func(want uint32) {
		sdkExec(a, "DeleteConsumerOffset", codeDeleteConsumerOff, offArgs(), want,
			func(c iggcon.Client) error { return c.DeleteConsumerOffset(consumer, s, t, p0) })
	}
	storeArgs := offArgs()
	storeArgs["offset"] = uint64(5)
	sdkExec(a, "StoreConsumerOffset", codeStoreConsumerOff, storeArgs, 0,
		func(c iggcon.Client) error { return c.StoreConsumerOffset(consumer, s, t, 5, p0) })
	getOffset()
	deleteOffset(0)
	getOffset()
	deleteOffset(st(ierror.ConsumerOffsetNotFoundCode))

	createGroup := func(want uint32) *iggcon.ConsumerGroupDetails {
		return sdkDo(a, "CreateConsumerGroup", codeCreateConsumerGrp, map[string]any{"stream": f.stream, "topic": f.topic, "name": FullGroup}, want,
			func(c iggcon.Client) (*iggcon.ConsumerGroupDetails, error) {
				return c.CreateConsumerGroup(s, t, FullGroup)
			})
	}
	if g := createGroup(0); g != nil {
		f.group = g.Id
	}
	createGroup(st(ierror.ConsumerGroupNameAlreadyExistsCode))
	sdkDo(a, "GetConsumerGroups", codeGetConsumerGroups, map[string]any{"stream": f.stream, "topic": f.topic}, 0,
		func(c iggcon.Client) ([]iggcon.ConsumerGroup, error) { return c.GetConsumerGroups(s, t) })
	for _, gid := range []iggcon.Identifier{numID(f.group), nameID(FullGroup), numID(missing)} {
		f.getGroup(a, gid)
	}
	f.groupOp(a, "JoinConsumerGroup", codeJoinConsumerGroup, 0)
}

func (f *fullRun) getGroup(c *sdkConn, gid iggcon.Identifier) *iggcon.ConsumerGroupDetails {
	return sdkDo(c, "GetConsumerGroup", codeGetConsumerGroup, map[string]any{"stream": f.stream, "topic": f.topic, "group": idArg(gid)}, 0,
		func(cli iggcon.Client) (*iggcon.ConsumerGroupDetails, error) {
			return cli.GetConsumerGroup(numID(f.stream), numID(f.topic), gid)
		})
}

// groupOp runs Join/Leave/DeleteConsumerGroup on the group Full created.
func (f *fullRun) groupOp(c *sdkConn, method string, code uint32, want uint32) {
	s, t, g := numID(f.stream), numID(f.topic), numID(f.group)
	sdkExec(c, method, code, map[string]any{"stream": f.stream, "topic": f.topic, "group": f.group}, want,
		func(cli iggcon.Client) error {
			switch code {
			case codeJoinConsumerGroup:
				return cli.JoinConsumerGroup(s, t, g)
			case codeLeaveConsumerGroup:
				return cli.LeaveConsumerGroup(s, t, g)
			default:
				return cli.DeleteConsumerGroup(s, t, g)
			}
		})
}

// UserPermissions is what Full creates UserName with: read access to all
// streams and topics, and polling/sending on the Full stream and topic.
func UserPermissions(stream, topic uint32) *iggcon.Permissions {
	return &iggcon.Permissions{
		Global: iggcon.GlobalPermissions{ReadStreams: true, ReadTopics: true},
		Streams: map[int]*iggcon.StreamPermissions{
			int(stream): {
				ReadStream: true, PollMessages: true,
				Topics: map[int]*iggcon.TopicPermissions{
					int(topic): {ReadTopic: true, PollMessages: true, SendMessages: true},
				},
			},
		},
	}
}

// UpdatedUserPermissions is what Full changes them to with UpdatePermissions.
func UpdatedUserPermissions(stream, topic, audit uint32) *iggcon.Permissions {
	p := UserPermissions(stream, topic)
	p.Global.PollMessages = true
	sp := p.Streams[int(stream)]
	sp.SendMessages = true
	sp.Topics[int(audit)] = &iggcon.TopicPermissions{ManageTopic: true, ReadTopic: true}
	return p
}

// adminUsersAndTokens: users, permissions, passwords and the PAT.
func (f *fullRun) adminUsersAndTokens() {
	a := f.admin
	createUser := func(want uint32) *iggcon.UserInfoDetails {
		perms := UserPermissions(f.stream, f.topic)
		args := map[string]any{"username": UserName, "password": UserPassword, "status": "active", "permissions": perms}
		return sdkDo(a, "CreateUser", codeCreateUser, args, want, func(c iggcon.Client) (*iggcon.UserInfoDetails, error) {
			return c.CreateUser(UserName, UserPassword, iggcon.Active, perms)
		})
	}
	if u := createUser(0); u != nil {
		f.userID = u.Id
	}
	createUser(st(ierror.UserAlreadyExistsCode))
	sdkDo(a, "GetUsers", codeGetUsers, nil, 0, func(c iggcon.Client) ([]iggcon.UserInfo, error) { return c.GetUsers() })
	getUser := func(id iggcon.Identifier) {
		sdkDo(a, "GetUser", codeGetUser, map[string]any{"user": idArg(id)}, 0,
			func(c iggcon.Client) (*iggcon.UserInfoDetails, error) { return c.GetUser(id) })
	}
	getUser(numID(f.userID))
	getUser(nameID(UserName))
	getUser(numID(missing))

	updatePerms := func(id uint32, perms *iggcon.Permissions, want uint32) {
		sdkExec(a, "UpdatePermissions", codeUpdatePermissions, map[string]any{"user": id, "permissions": perms}, want,
			func(c iggcon.Client) error { return c.UpdatePermissions(numID(id), perms) })
	}
	updatePerms(f.userID, UpdatedUserPermissions(f.stream, f.topic, f.audit), 0)
	getUser(numID(f.userID))
	updatePerms(0, UpdatedUserPermissions(f.stream, f.topic, f.audit), st(ierror.CannotChangePermissionsCode))

	updateUser := func(id uint32, status iggcon.UserStatus, want uint32) {
		name := map[iggcon.UserStatus]string{iggcon.Active: "active", iggcon.Inactive: "inactive"}[status]
		sdkExec(a, "UpdateUser", codeUpdateUser, map[string]any{"user": id, "status": name}, want,
			func(c iggcon.Client) error { return c.UpdateUser(numID(id), nil, &status) })
	}
	updateUser(f.userID, iggcon.Inactive, 0)
	updateUser(f.userID, iggcon.Active, 0)
	updateUser(missing, iggcon.Active, st(ierror.ResourceNotFoundCode))

	changePassword := func(current, next string, want uint32) {
		args := map[string]any{"user": f.userID, "current_password": current, "new_password": next}
		sdkExec(a, "ChangePassword", codeChangePassword, args, want,
			func(c iggcon.Client) error { return c.ChangePassword(numID(f.userID), current, next) })
	}
	changePassword(UserPassword, NewUserPassword, 0)
	changePassword(WrongPassword, UserPassword, st(ierror.InvalidCredentialsCode))

	getTokens := func() {
		sdkDo(a, "GetPersonalAccessTokens", codeGetTokens, nil, 0,
			func(c iggcon.Client) ([]iggcon.PersonalAccessTokenInfo, error) { return c.GetPersonalAccessTokens() })
	}
	getTokens()
	createToken := func(want uint32) *iggcon.RawPersonalAccessToken {
		return sdkDo(a, "CreatePersonalAccessToken", codeCreateToken, map[string]any{"name": TokenName, "expiry": uint32(0)}, want,
			func(c iggcon.Client) (*iggcon.RawPersonalAccessToken, error) {
				return c.CreatePersonalAccessToken(TokenName, 0)
			})
	}
	if tok := createToken(0); tok != nil {
		f.token = tok.Token
	}
	createToken(st(ierror.PersonalAccessTokenAlreadyExistsCode))
	getTokens()
}

// userSession runs on connection 1: a bogus token, the restricted user's
// allowed and forbidden calls, logout, then a login with the root's PAT and
// consumer-group polling.
func (f *fullRun) userSession() {
	u := f.user
	s, t := numID(f.stream), numID(f.topic)
	u.loginToken(BogusToken, st(ierror.InvalidPersonalAccessTokenCode))
	u.login(UserName, NewUserPassword, 0)
	sdkDo(u, "GetStreams", codeGetStreams, nil, 0, func(c iggcon.Client) ([]iggcon.Stream, error) { return c.GetStreams() })
	sdkDo(u, "CreateStream", codeCreateStream, map[string]any{"name": "forbidden"}, st(ierror.UnauthorizedCode),
		func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.CreateStream("forbidden") })
	sdkDo(u, "GetStats", codeGetStats, nil, st(ierror.UnauthorizedCode), func(c iggcon.Client) (*iggcon.Stats, error) { return c.GetStats() })
	f.sendBatch(u, s, t, iggcon.PartitionId(2), "user", 2, 24, 0, false, 0)
	sdkExec(u, "LogoutUser", codeLogoutUser, nil, 0, func(c iggcon.Client) error { return c.LogoutUser() })
	u.loginToken(f.token, 0)
	f.groupOp(u, "JoinConsumerGroup", codeJoinConsumerGroup, 0)
	f.getGroup(u, numID(f.group))
	group := iggcon.NewGroupConsumer(numID(f.group))
	u.poll(s, t, group, iggcon.NextPollingStrategy(), 5, true, nil, 0)
	u.poll(s, t, group, iggcon.NextPollingStrategy(), 5, true, nil, 0)
	sdkExec(u, "Ping", codePing, nil, 0, func(c iggcon.Client) error { return c.Ping() })
}

// rawSession runs on connection 2 the commands the SDK v0.8.0 lacks, and
// returns the connection's own client details from GetMe.
func (f *fullRun) rawSession() *RawClient {
	r := f.raw
	s, t := numID(f.stream), numID(f.topic)
	decodeClient := func(b []byte) (any, error) { return decodeClientDetails(b) }
	r.call("GetMe", codeGetMe, nil, nil, st(ierror.UnauthenticatedCode), decodeClient)
	r.call("LoginUser", codeLoginUser, map[string]any{"username": RootUsername, "password": RootPassword},
		loginPayload(RootUsername, RootPassword), 0, func(b []byte) (any, error) {
			if len(b) != 4 {
				return nil, fmt.Errorf("workload: login answer of %d bytes", len(b))
			}
			return &iggcon.IdentityInfo{UserId: binary.LittleEndian.Uint32(b)}, nil
		})
	me, _ := r.call("GetMe", codeGetMe, nil, nil, 0, decodeClient).(*RawClient)

	// GetSnapshotFile: Deflated, all types.
	r.call("GetSnapshotFile", codeGetSnapshotFile, map[string]any{"compression": "deflated", "types": []string{"all"}},
		[]byte{2, 1, 100}, 0, func(b []byte) (any, error) { return b, nil })

	flush := func(pid uint32, want uint32) {
		p := binary.LittleEndian.AppendUint32(appendID(appendID(nil, s), t), pid)
		p = append(p, 1) // fsync
		r.call("FlushUnsavedBuffer", codeFlushUnsavedBuffer, map[string]any{"stream": f.stream, "topic": f.topic, "partition": pid, "fsync": true},
			p, want, nil)
	}
	flush(0, 0)
	flush(99, st(ierror.PartitionNotFoundCode))

	deleteSegments := func(tid iggcon.Identifier, want uint32) {
		p := appendID(appendID(nil, s), tid)
		p = append(p, 0, 0, 0, 0, 1, 0, 0, 0) // partition 0, 1 segment
		r.call("DeleteSegments", codeDeleteSegments, map[string]any{"stream": f.stream, "topic": idArg(tid), "partition": uint32(0), "count": uint32(1)},
			p, want, nil)
	}
	deleteSegments(t, 0)
	deleteSegments(numID(missing), st(ierror.TopicIdNotFoundCode))

	purgeTopic := func(tid iggcon.Identifier, want uint32) {
		r.call("PurgeTopic", codePurgeTopic, map[string]any{"stream": f.stream, "topic": idArg(tid)}, appendID(appendID(nil, s), tid), want, nil)
	}
	purgeTopic(nameID(FullAuditRename), 0)
	purgeTopic(numID(missing), st(ierror.TopicIdNotFoundCode))

	purgeStream := func(sid iggcon.Identifier, want uint32) {
		r.call("PurgeStream", codePurgeStream, map[string]any{"stream": idArg(sid)}, appendID(nil, sid), want, nil)
	}
	purgeStream(numID(f.scratch), 0)
	purgeStream(numID(missing), st(ierror.StreamIdNotFoundCode))

	// GetClient for an unknown id answers an empty OK, which the SDK's
	// decoder cannot handle.
	r.call("GetClient", codeGetClient, map[string]any{"client": uint32(missing)},
		binary.LittleEndian.AppendUint32(nil, missing), 0, decodeClient)
	r.call("Unknown", 999, nil, nil, st(ierror.InvalidCommandCode), nil)
	return me
}

// adminInspect: clients, group membership, leaving, final stats.
func (f *fullRun) adminInspect(me *RawClient) {
	a := f.admin
	sdkDo(a, "GetClients", codeGetClients, nil, 0, func(c iggcon.Client) ([]iggcon.ClientInfo, error) { return c.GetClients() })
	if me != nil {
		sdkDo(a, "GetClient", codeGetClient, map[string]any{"client": me.ID}, 0,
			func(c iggcon.Client) (*iggcon.ClientInfoDetails, error) { return c.GetClient(me.ID) })
	}
	sdkDo(a, "GetClient", codeGetClient, map[string]any{"client": uint32(0)}, st(ierror.InvalidClientIdCode),
		func(c iggcon.Client) (*iggcon.ClientInfoDetails, error) { return c.GetClient(0) })
	f.getGroup(a, numID(f.group))
	f.groupOp(a, "LeaveConsumerGroup", codeLeaveConsumerGroup, 0)
	f.groupOp(a, "LeaveConsumerGroup", codeLeaveConsumerGroup, st(ierror.ConsumerGroupMemberNotFoundCode))
	f.groupOp(f.user, "LeaveConsumerGroup", codeLeaveConsumerGroup, 0)
	sdkDo(a, "GetStats", codeGetStats, nil, 0, func(c iggcon.Client) (*iggcon.Stats, error) { return c.GetStats() })
}

// cleanup deletes what Full created except the main stream, each delete
// also repeated to get the not-found answer, then logs out.
func (f *fullRun) cleanup() {
	a := f.admin
	deleteToken := func(want uint32) {
		sdkExec(a, "DeletePersonalAccessToken", codeDeleteToken, map[string]any{"name": TokenName}, want,
			func(c iggcon.Client) error { return c.DeletePersonalAccessToken(TokenName) })
	}
	deleteToken(0)
	deleteToken(st(ierror.ResourceNotFoundCode))
	f.groupOp(a, "DeleteConsumerGroup", codeDeleteConsumerGrp, 0)
	f.groupOp(a, "DeleteConsumerGroup", codeDeleteConsumerGrp, st(ierror.ConsumerGroupIdNotFoundCode))
	deleteTopic := func(want uint32) {
		sdkExec(a, "DeleteTopic", codeDeleteTopic, map[string]any{"stream": f.stream, "topic": f.audit}, want,
			func(c iggcon.Client) error { return c.DeleteTopic(numID(f.stream), numID(f.audit)) })
	}
	deleteTopic(0)
	deleteTopic(st(ierror.TopicIdNotFoundCode))
	deleteUser := func(id uint32, want uint32) {
		sdkExec(a, "DeleteUser", codeDeleteUser, map[string]any{"user": id}, want,
			func(c iggcon.Client) error { return c.DeleteUser(numID(id)) })
	}
	deleteUser(f.userID, 0)
	deleteUser(f.userID, st(ierror.ResourceNotFoundCode))
	deleteUser(0, st(ierror.CannotDeleteUserCode))
	deleteStream := func(want uint32) {
		sdkExec(a, "DeleteStream", codeDeleteStream, map[string]any{"stream": f.scratch}, want,
			func(c iggcon.Client) error { return c.DeleteStream(numID(f.scratch)) })
	}
	deleteStream(0)
	deleteStream(st(ierror.StreamIdNotFoundCode))
	sdkExec(a, "LogoutUser", codeLogoutUser, nil, 0, func(c iggcon.Client) error { return c.LogoutUser() })
	sdkDo(a, "GetStreams", codeGetStreams, nil, st(ierror.UnauthenticatedCode),
		func(c iggcon.Client) ([]iggcon.Stream, error) { return c.GetStreams() })
}
