package testserver

import "sort"

// rebalance assigns partitions round-robin to members in member-id order, as
// the real server's cooperative assignment does for a stable membership.
// With more members than partitions some members get none.
func (g *group) rebalance(partitions int) {
	ids := make([]uint32, 0, len(g.members))
	for id, m := range g.members {
		ids = append(ids, id)
		m.partitions = m.partitions[:0]
		m.cursor = 0
	}
	if len(ids) == 0 {
		return
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for p := 0; p < partitions; p++ {
		m := g.members[ids[p%len(ids)]]
		m.partitions = append(m.partitions, uint32(p))
	}
}

// groupPath decodes [stream Id][topic Id][group Id] and resolves all three;
// the error is the decoding or not-found status.
func (q *request) groupPath() (*stream, *topic, *group, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	gid := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, nil, nil, err
	}
	return q.st.findGroup(sid, tid, gid)
}

func (st *state) findGroup(sid, tid, gid ident) (*stream, *topic, *group, error) {
	s, t, err := st.findTopic(sid, tid)
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := t.findGroup(gid)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, t, g, nil
}

func (w *writer) groupDetails(g *group, partitions int) {
	w.groupRecord(g, partitions)
	for _, id := range sortedKeys(g.members) {
		w.memberRecord(g.members[id])
	}
}

// handleGetConsumerGroup (600): group header and members; anything unknown
// is an empty OK.
func handleGetConsumerGroup(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	gid := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, g, err := q.st.findGroup(sid, tid, gid)
	if err != nil {
		return nil, nil
	}
	if err := allow(q.u.perms.canReadTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	var w writer
	w.groupDetails(g, len(t.partitions))
	return w.b, nil
}

// handleGetConsumerGroups (601) lists group headers sorted by id; an unknown
// stream or topic is an explicit empty OK in 0.8.
func handleGetConsumerGroups(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(sid, tid)
	if err != nil {
		return nil, nil
	}
	if err := allow(q.u.perms.canReadTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	var w writer
	for _, id := range sortedKeys(t.groups) {
		w.groupRecord(t.groups[id], len(t.partitions))
	}
	return w.b, nil
}

// handleCreateConsumerGroup (602) answers the new group with no members.
func handleCreateConsumerGroup(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	name := q.r.str8(false)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(sid, tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	for _, g := range t.groups {
		if g.name == name {
			return nil, statusError(statusConsumerGroupNameAlreadyExists)
		}
	}
	g := &group{id: t.nextGroupID, name: name, members: map[uint32]*member{}}
	t.nextGroupID++
	t.groups[g.id] = g
	var w writer
	w.groupDetails(g, len(t.partitions))
	return w.b, nil
}

// handleDeleteConsumerGroup (603) also drops the group's stored offsets.
func handleDeleteConsumerGroup(q *request) ([]byte, error) {
	s, t, g, err := q.groupPath()
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	delete(t.groups, g.id)
	key := groupOffsetKey(g.id)
	for k := range t.offsets {
		if k.kind == consumerGroup && k.consumer == key {
			delete(t.offsets, k)
		}
	}
	return nil, nil
}

// handleJoinConsumerGroup (604) makes the calling client a member; joining
// twice is harmless.
func handleJoinConsumerGroup(q *request) ([]byte, error) {
	s, t, g, err := q.groupPath()
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	if _, ok := g.members[q.c.id]; !ok {
		g.members[q.c.id] = &member{id: q.c.id}
		g.rebalance(len(t.partitions))
	}
	return nil, nil
}

// handleLeaveConsumerGroup (605): leaving a group the client is not in is
// ConsumerGroupMemberNotFound.
func handleLeaveConsumerGroup(q *request) ([]byte, error) {
	s, t, g, err := q.groupPath()
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadTopic(s.id, t.id)); err != nil {
		return nil, err
	}
	if _, ok := g.members[q.c.id]; !ok {
		return nil, statusError(statusConsumerGroupMemberNotFound)
	}
	delete(g.members, q.c.id)
	g.rebalance(len(t.partitions))
	return nil, nil
}
