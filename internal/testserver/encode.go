package testserver

import (
	"encoding/binary"
	"math"
)

// writer builds response payloads. Every record encoder below is written from
// the tables of iggy-wire.md §5 (field order, widths, string conventions) and
// cross-checked by the tests against the Go SDK's decoders.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *writer) f32(v float32) {
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(v))
}
func (w *writer) raw(p []byte) { w.b = append(w.b, p...) }

func (w *writer) boolean(v bool) {
	if v {
		w.u8(1)
		return
	}
	w.u8(0)
}

// str8 writes a WireName. Callers only pass names that were validated to be
// at most 255 bytes on the way in.
func (w *writer) str8(s string) {
	w.u8(uint8(len(s)))
	w.b = append(w.b, s...)
}

// str32 writes a [len u32][bytes] string.
func (w *writer) str32(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}

// streamRecord is "StreamResponse" (§5.3, 33 + name bytes):
// [id u32][created_at u64][topics_count u32][size_bytes u64][messages_count u64][name Str8].
func (w *writer) streamRecord(s *stream) {
	size, count := s.totals()
	w.u32(s.id)
	w.u64(s.createdAt)
	w.u32(uint32(len(s.topics)))
	w.u64(size)
	w.u64(count)
	w.str8(s.name)
}

// topicRecord is "TopicHeader" (§5.3, 51 + name bytes).
func (w *writer) topicRecord(t *topic) {
	size, count := t.totals()
	w.u32(t.id)
	w.u64(t.createdAt)
	w.u32(uint32(len(t.partitions)))
	w.u64(t.messageExpiry)
	w.u8(t.compression)
	w.u64(t.maxTopicSize)
	w.u8(t.replicationFactor)
	w.u64(size)
	w.u64(count)
	w.str8(t.name)
}

// partitionRecord is "PartitionResponse" (§5.4, 40 bytes):
// [id u32][created_at u64][segments_count u32][current_offset u64][size_bytes u64][messages_count u64].
func (w *writer) partitionRecord(p *partition) {
	w.u32(p.id)
	w.u64(p.createdAt)
	w.u32(p.segmentsCount())
	w.u64(p.currentOffset())
	w.u64(p.sizeBytes)
	w.u64(uint64(len(p.messages)))
}

// groupRecord is "ConsumerGroupResponse" (§5.6, 13 + name bytes):
// [id u32][partitions_count u32][members_count u32][name Str8].
func (w *writer) groupRecord(g *group, partitions int) {
	w.u32(g.id)
	w.u32(uint32(partitions))
	w.u32(uint32(len(g.members)))
	w.str8(g.name)
}

// memberRecord is [member_id u32][partitions_count u32][partition_id u32 × n].
func (w *writer) memberRecord(m *member) {
	w.u32(m.id)
	w.u32(uint32(len(m.partitions)))
	for _, p := range m.partitions {
		w.u32(p)
	}
}

// userRecord is the User header of §5.2: [id u32][created_at u64][status u8][username Str8].
func (w *writer) userRecord(u *user) {
	w.u32(u.id)
	w.u64(u.createdAt)
	w.u8(u.status)
	w.str8(u.username)
}

// userDetails is GetUser/CreateUser: the user header, then the permissions
// marker: four zero bytes without permissions, [1][len u32][Perms] with.
func (w *writer) userDetails(u *user) {
	w.userRecord(u)
	if u.perms == nil {
		w.u32(0)
		return
	}
	var pw writer
	pw.permissions(u.perms)
	w.u8(1)
	w.u32(uint32(len(pw.b)))
	w.raw(pw.b)
}

// clientRecord is the Client header of §5.1 (17 + address bytes):
// [client_id u32][user_id u32][transport u8][address Str32][consumer_groups_count u32].
func (w *writer) clientRecord(c *session, groups []groupRef) {
	w.u32(c.id)
	w.u32(c.userID)
	w.u8(transportTCP)
	w.str32(c.remote)
	w.u32(uint32(len(groups)))
}

// clientDetails is GetMe/GetClient: the client header followed by
// consumer_groups_count × {stream_id u32, topic_id u32, group_id u32}.
func (w *writer) clientDetails(c *session, groups []groupRef) {
	w.clientRecord(c, groups)
	for _, g := range groups {
		w.u32(g.stream)
		w.u32(g.topic)
		w.u32(g.group)
	}
}
