package testserver

import "strconv"

// consumerKey is how a single consumer's identifier is keyed in offsetKey.
func consumerKey(id ident) string {
	if id.numeric {
		return "n" + strconv.FormatUint(uint64(id.id), 10)
	}
	return "s" + id.name
}

func groupOffsetKey(groupID uint32) string {
	return "g" + strconv.FormatUint(uint64(groupID), 10)
}

// target is a resolved (consumer, partition) pair for polls and offsets.
type target struct {
	key       offsetKey
	partition *partition
}

// resolveConsumer picks the partition and offset key for a consumer. A single
// consumer without a partition id uses partition 0. A consumer group uses the
// given partition or else the calling member's next assigned partition
// (round-robin over its assignment, advanced only when advance is set).
// ok is false when the member has no partition assigned.
func (q *request) resolveConsumer(t *topic, c consumerRef, pid uint32, hasPID, advance bool) (tg target, ok bool, err error) {
	switch c.kind {
	case consumerSingle:
		if !hasPID {
			pid = 0
		}
		tg.key = offsetKey{kind: consumerSingle, consumer: consumerKey(c.id)}
	case consumerGroup:
		g, err := t.findGroup(c.id)
		if err != nil {
			return tg, false, err
		}
		tg.key = offsetKey{kind: consumerGroup, consumer: groupOffsetKey(g.id)}
		if !hasPID {
			m, isMember := g.members[q.c.id]
			if !isMember {
				return tg, false, statusError(statusConsumerGroupMemberNotFound)
			}
			if len(m.partitions) == 0 {
				return tg, false, nil
			}
			pid = m.partitions[m.cursor%len(m.partitions)]
			if advance {
				m.cursor = (m.cursor + 1) % len(m.partitions)
			}
		}
	default:
		return tg, false, statusError(statusInvalidCommand)
	}
	p, err := t.partition(pid)
	if err != nil {
		return tg, false, err
	}
	tg.key.partition = pid
	tg.partition = p
	return tg, true, nil
}

// offsetRequest decodes [Consumer][stream Id][topic Id][OptPart], the prefix
// shared by the three consumer-offset commands.
type offsetRequest struct {
	consumer consumerRef
	sid, tid ident
	pid      uint32
	hasPID   bool
}

func (r *reader) offsetRequest() offsetRequest {
	var o offsetRequest
	o.consumer = r.consumer()
	o.sid = r.ident()
	o.tid = r.ident()
	o.pid, o.hasPID = r.optPartition()
	return o
}

// handleGetConsumerOffset (120) answers [partition_id u32][current_offset u64]
// [stored_offset u64], or an empty OK when nothing is stored or the topic is
// unknown.
func handleGetConsumerOffset(q *request) ([]byte, error) {
	o := q.r.offsetRequest()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(o.sid, o.tid)
	if err != nil {
		return nil, nil
	}
	if err := allow(q.u.perms.canPoll(s.id, t.id)); err != nil {
		return nil, err
	}
	tg, ok, err := q.resolveConsumer(t, o.consumer, o.pid, o.hasPID, false)
	if err != nil || !ok {
		return nil, err
	}
	stored, ok := t.offsets[tg.key]
	if !ok {
		return nil, nil
	}
	var w writer
	w.u32(tg.partition.id)
	w.u64(tg.partition.currentOffset())
	w.u64(stored)
	return w.b, nil
}

// handleStoreConsumerOffset (121): the offset prefix + [offset u64].
func handleStoreConsumerOffset(q *request) ([]byte, error) {
	o := q.r.offsetRequest()
	offset := q.r.u64()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(o.sid, o.tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canPoll(s.id, t.id)); err != nil {
		return nil, err
	}
	tg, ok, err := q.resolveConsumer(t, o.consumer, o.pid, o.hasPID, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, statusError(statusPartitionNotFound)
	}
	t.offsets[tg.key] = offset
	return nil, nil
}

// handleDeleteConsumerOffset (122): deleting an offset that was never stored
// is ConsumerOffsetNotFound.
func handleDeleteConsumerOffset(q *request) ([]byte, error) {
	o := q.r.offsetRequest()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(o.sid, o.tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canPoll(s.id, t.id)); err != nil {
		return nil, err
	}
	tg, ok, err := q.resolveConsumer(t, o.consumer, o.pid, o.hasPID, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, statusError(statusPartitionNotFound)
	}
	if _, stored := t.offsets[tg.key]; !stored {
		return nil, statusError(statusConsumerOffsetNotFound)
	}
	delete(t.offsets, tg.key)
	return nil, nil
}
