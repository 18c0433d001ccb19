package testserver

import "sort"

// globalPerms is the 10-flag global block of §4.7, in wire order.
type globalPerms struct {
	manageServers, readServers, manageUsers, readUsers   bool
	manageStreams, readStreams, manageTopics, readTopics bool
	pollMessages, sendMessages                           bool
}

type streamPerms struct {
	manageStream, readStream, manageTopics, readTopics bool
	pollMessages, sendMessages                         bool
	topics                                             map[uint32]*topicPerms
}

type topicPerms struct {
	manageTopic, readTopic, pollMessages, sendMessages bool
}

// permissions is a user's permission set (WirePermissions, §4.7).
type permissions struct {
	global  globalPerms
	streams map[uint32]*streamPerms
}

// rootPermissions is what the root user gets: every global flag set.
func rootPermissions() *permissions {
	return &permissions{global: globalPerms{
		manageServers: true, readServers: true, manageUsers: true, readUsers: true,
		manageStreams: true, readStreams: true, manageTopics: true, readTopics: true,
		pollMessages: true, sendMessages: true,
	}}
}

// readPermissions decodes the linked-list permissions blob. Like upstream
// decoders from 0.6.1 on, it stops at end-of-buffer instead of failing when an
// older encoder left a dangling has_streams/has_topics = 1 (§4.7).
func readPermissions(r *reader) *permissions {
	p := &permissions{streams: map[uint32]*streamPerms{}}
	g := &p.global
	for _, f := range []*bool{
		&g.manageServers, &g.readServers, &g.manageUsers, &g.readUsers,
		&g.manageStreams, &g.readStreams, &g.manageTopics, &g.readTopics,
		&g.pollMessages, &g.sendMessages,
	} {
		*f = r.boolean()
	}
	more := r.boolean()
	for more && r.err() == nil && r.remaining() > 0 {
		id := r.u32()
		sp := &streamPerms{topics: map[uint32]*topicPerms{}}
		for _, f := range []*bool{
			&sp.manageStream, &sp.readStream, &sp.manageTopics,
			&sp.readTopics, &sp.pollMessages, &sp.sendMessages,
		} {
			*f = r.boolean()
		}
		moreTopics := r.boolean()
		for moreTopics && r.err() == nil && r.remaining() > 0 {
			tid := r.u32()
			tp := &topicPerms{}
			for _, f := range []*bool{&tp.manageTopic, &tp.readTopic, &tp.pollMessages, &tp.sendMessages} {
				*f = r.boolean()
			}
			sp.topics[tid] = tp
			moreTopics = r.boolean()
		}
		p.streams[id] = sp
		if r.remaining() == 0 {
			break
		}
		more = r.boolean()
	}
	return p
}

// permissions encodes the blob with streams and topics sorted by id, as the
// Rust encoder does, and without dangling flags for empty maps.
func (w *writer) permissions(p *permissions) {
	g := p.global
	for _, f := range []bool{
		g.manageServers, g.readServers, g.manageUsers, g.readUsers,
		g.manageStreams, g.readStreams, g.manageTopics, g.readTopics,
		g.pollMessages, g.sendMessages,
	} {
		w.boolean(f)
	}
	sids := sortedKeys(p.streams)
	w.boolean(len(sids) > 0)
	for i, sid := range sids {
		sp := p.streams[sid]
		w.u32(sid)
		for _, f := range []bool{
			sp.manageStream, sp.readStream, sp.manageTopics,
			sp.readTopics, sp.pollMessages, sp.sendMessages,
		} {
			w.boolean(f)
		}
		tids := sortedKeys(sp.topics)
		w.boolean(len(tids) > 0)
		for j, tid := range tids {
			tp := sp.topics[tid]
			w.u32(tid)
			for _, f := range []bool{tp.manageTopic, tp.readTopic, tp.pollMessages, tp.sendMessages} {
				w.boolean(f)
			}
			w.boolean(j < len(tids)-1)
		}
		w.boolean(i < len(sids)-1)
	}
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// The checks below approximate the real server's permissioner: a global flag
// grants the right everywhere, a stream entry grants it for that stream and a
// topic entry for that topic; "manage" implies "read" at the same level. They
// exist so that a restricted user produces genuine 41 Unauthorized answers.

func (p *permissions) stream(id uint32) *streamPerms {
	if p == nil || p.streams == nil {
		return nil
	}
	return p.streams[id]
}

func (p *permissions) topic(stream, topic uint32) *topicPerms {
	sp := p.stream(stream)
	if sp == nil || sp.topics == nil {
		return nil
	}
	return sp.topics[topic]
}

func (p *permissions) canReadServers() bool {
	return p != nil && (p.global.readServers || p.global.manageServers)
}

func (p *permissions) canReadUsers() bool {
	return p != nil && (p.global.readUsers || p.global.manageUsers)
}

func (p *permissions) canManageUsers() bool { return p != nil && p.global.manageUsers }

func (p *permissions) canReadStreams() bool {
	return p != nil && (p.global.readStreams || p.global.manageStreams)
}

func (p *permissions) canManageStreams() bool { return p != nil && p.global.manageStreams }

func (p *permissions) canReadStream(stream uint32) bool {
	if p.canReadStreams() {
		return true
	}
	sp := p.stream(stream)
	return sp != nil && (sp.readStream || sp.manageStream)
}

func (p *permissions) canManageStream(stream uint32) bool {
	if p.canManageStreams() {
		return true
	}
	sp := p.stream(stream)
	return sp != nil && sp.manageStream
}

func (p *permissions) canReadTopic(stream, topic uint32) bool {
	if p == nil {
		return false
	}
	if p.canReadStreams() || p.global.readTopics || p.global.manageTopics {
		return true
	}
	if sp := p.stream(stream); sp != nil && (sp.readStream || sp.manageStream || sp.readTopics || sp.manageTopics) {
		return true
	}
	tp := p.topic(stream, topic)
	return tp != nil && (tp.readTopic || tp.manageTopic)
}

// canReadTopics is the stream-wide variant used by GetTopics.
func (p *permissions) canReadTopics(stream uint32) bool {
	if p == nil {
		return false
	}
	if p.canReadStreams() || p.global.readTopics || p.global.manageTopics {
		return true
	}
	sp := p.stream(stream)
	return sp != nil && (sp.readStream || sp.manageStream || sp.readTopics || sp.manageTopics)
}

func (p *permissions) canManageTopic(stream, topic uint32) bool {
	if p == nil {
		return false
	}
	if p.global.manageStreams || p.global.manageTopics {
		return true
	}
	if sp := p.stream(stream); sp != nil && (sp.manageStream || sp.manageTopics) {
		return true
	}
	tp := p.topic(stream, topic)
	return tp != nil && tp.manageTopic
}

// canCreateTopic has no topic id yet, so only global and stream grants count.
func (p *permissions) canCreateTopic(stream uint32) bool {
	if p == nil {
		return false
	}
	if p.global.manageStreams || p.global.manageTopics {
		return true
	}
	sp := p.stream(stream)
	return sp != nil && (sp.manageStream || sp.manageTopics)
}

func (p *permissions) canPoll(stream, topic uint32) bool {
	if p == nil {
		return false
	}
	if p.global.pollMessages || p.canReadStreams() {
		return true
	}
	if sp := p.stream(stream); sp != nil && (sp.pollMessages || sp.readStream || sp.manageStream) {
		return true
	}
	tp := p.topic(stream, topic)
	return tp != nil && (tp.pollMessages || tp.readTopic || tp.manageTopic)
}

func (p *permissions) canSend(stream, topic uint32) bool {
	if p == nil {
		return false
	}
	if p.global.sendMessages || p.global.manageStreams {
		return true
	}
	if sp := p.stream(stream); sp != nil && (sp.sendMessages || sp.manageStream) {
		return true
	}
	tp := p.topic(stream, topic)
	return tp != nil && (tp.sendMessages || tp.manageTopic)
}

// allow turns a permission decision into the status the server answers.
func allow(ok bool) error {
	if ok {
		return nil
	}
	return statusError(statusUnauthorized)
}
