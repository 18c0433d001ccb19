package testserver

import (
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	"sort"

	"github.com/zeebo/xxh3"
)

// Offsets inside the 64-byte message header (§6.1).
const (
	hdrChecksum        = 0
	hdrID              = 8
	hdrOffset          = 24
	hdrTimestamp       = 32
	hdrOriginTimestamp = 40
	hdrUserHeadersLen  = 48
	hdrPayloadLen      = 52
	hdrReserved        = 56
)

// Partitioning kinds (§4.6).
const (
	partitioningBalanced   = 1
	partitioningPartition  = 2
	partitioningMessageKey = 3
)

// Polling strategy kinds (§4.5).
const (
	pollOffset    = 1
	pollTimestamp = 2
	pollFirst     = 3
	pollLast      = 4
	pollNext      = 5
)

// sendBatch is a decoded and validated SendMessages payload.
type sendBatch struct {
	sid, tid     ident
	partitioning uint8
	key          []byte
	records      [][]byte // slices of the request frame; copied before storing
	bytes        int
}

// handleSendMessages (101): metadata, index table, then the records (§6.2).
// The server stamps id (when zero), offset, timestamp (one per batch) and the
// XXH3-64 checksum over bytes 8.. of each record, and stores the records so
// that PollMessages returns them verbatim.
func handleSendMessages(q *request) ([]byte, error) {
	b, err := decodeSendBatch(q.r)
	if err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(b.sid, b.tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canSend(s.id, t.id)); err != nil {
		return nil, err
	}
	p, err := t.pick(b.partitioning, b.key)
	if err != nil {
		return nil, err
	}
	p.append(b)
	return nil, nil
}

func decodeSendBatch(r *reader) (*sendBatch, error) {
	metaLen := r.u32()
	if r.err() != nil || uint64(metaLen) > uint64(r.remaining()) {
		return nil, statusError(statusInvalidCommand)
	}
	meta := newReader(r.take(int(metaLen)))
	b := &sendBatch{}
	b.sid = meta.ident()
	b.tid = meta.ident()
	b.partitioning = meta.u8()
	b.key = meta.take(int(meta.u8()))
	count := meta.u32()
	if err := meta.err(); err != nil {
		return nil, statusOfDecode(err)
	}
	if meta.remaining() != 0 {
		return nil, statusError(statusInvalidFormat)
	}
	switch {
	case b.partitioning == partitioningBalanced && len(b.key) == 0:
	case b.partitioning == partitioningPartition && len(b.key) == 4:
	case b.partitioning == partitioningMessageKey && len(b.key) > 0:
	case b.partitioning < partitioningBalanced || b.partitioning > partitioningMessageKey:
		return nil, statusError(statusInvalidCommand)
	default:
		return nil, statusError(statusInvalidFormat)
	}
	if count == 0 {
		return nil, statusError(statusInvalidMessagesCount)
	}
	if uint64(count)*indexEntrySize > uint64(r.remaining()) {
		return nil, statusError(statusInvalidIndexesCount)
	}
	index := r.take(int(count) * indexEntrySize)
	body := r.take(r.remaining())

	b.records = make([][]byte, 0, count)
	start := uint32(0)
	for i := range int(count) {
		e := index[i*indexEntrySize : (i+1)*indexEntrySize]
		if binary.LittleEndian.Uint32(e[0:4]) != 0 {
			return nil, statusError(statusNonZeroOffset)
		}
		if binary.LittleEndian.Uint64(e[8:16]) != 0 {
			return nil, statusError(statusNonZeroTimestamp)
		}
		end := binary.LittleEndian.Uint32(e[4:8])
		if end < start || uint64(end) > uint64(len(body)) {
			return nil, statusError(statusInvalidMessagesSize)
		}
		rec := body[start:end]
		if err := validateRecord(rec); err != nil {
			return nil, err
		}
		b.records = append(b.records, rec)
		start = end
	}
	if int(start) != len(body) {
		return nil, statusError(statusInvalidMessagesSize)
	}
	b.bytes = len(body)
	return b, nil
}

// validateRecord applies the per-message checks of §2.1 item 6 and §6.1.
func validateRecord(rec []byte) error {
	if len(rec) < messageHeaderSize {
		return statusError(statusTooSmallMessage)
	}
	headers := binary.LittleEndian.Uint32(rec[hdrUserHeadersLen:])
	payload := binary.LittleEndian.Uint32(rec[hdrPayloadLen:])
	switch {
	case binary.LittleEndian.Uint64(rec[hdrReserved:]) != 0:
		return statusError(statusInvalidReservedField)
	case payload == 0:
		return statusError(statusEmptyMessagePayload)
	case payload > maxPayloadSize:
		return statusError(statusTooBigMessagePayload)
	case headers > maxUserHeadersSize:
		return statusError(statusTooBigUserHeaders)
	case uint64(messageHeaderSize)+uint64(payload)+uint64(headers) != uint64(len(rec)):
		return statusError(statusInvalidMessagesSize)
	}
	return nil
}

// pick chooses the target partition: Balanced is round-robin per topic,
// PartitionId must exist, MessagesKey hashes the key (FNV-1a here; the real
// server uses murmur3, which only changes which partition a key lands on).
func (t *topic) pick(kind uint8, key []byte) (*partition, error) {
	if len(t.partitions) == 0 {
		return nil, statusError(statusNoPartitions)
	}
	n := uint32(len(t.partitions))
	switch kind {
	case partitioningPartition:
		return t.partition(binary.LittleEndian.Uint32(key))
	case partitioningMessageKey:
		h := fnv.New32a()
		h.Write(key)
		return t.partitions[h.Sum32()%n], nil
	default:
		p := t.partitions[t.balanced%n]
		t.balanced++
		return p, nil
	}
}

// append stamps and stores a validated batch. The records are copied into
// one fresh buffer so the request frame handed to OnExchange stays intact.
func (p *partition) append(b *sendBatch) {
	buf := make([]byte, 0, b.bytes)
	now := nowMicros()
	for _, src := range b.records {
		start := len(buf)
		buf = append(buf, src...)
		rec := buf[start:len(buf):len(buf)]
		if isZero(rec[hdrID : hdrID+16]) {
			newMessageID(rec[hdrID : hdrID+16])
		}
		offset := p.nextOffset
		p.nextOffset++
		binary.LittleEndian.PutUint64(rec[hdrOffset:], offset)
		binary.LittleEndian.PutUint64(rec[hdrTimestamp:], now)
		binary.LittleEndian.PutUint64(rec[hdrChecksum:], xxh3.Hash(rec[hdrID:]))
		p.messages = append(p.messages, storedMessage{offset: offset, timestamp: now, record: rec})
		p.sizeBytes += uint64(len(rec))
	}
}

func isZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// newMessageID fills dst (a little-endian u128) with a random UUID v4, as
// the server does for messages sent with id 0.
func newMessageID(dst []byte) {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails on supported platforms
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i := range u {
		dst[i] = u[15-i]
	}
}

// handlePollMessages (100) answers [partition_id u32][current_offset u64]
// [messages_count u32] and the stored records. auto_commit stores the offset
// of the last returned message for the consumer.
func handlePollMessages(q *request) ([]byte, error) {
	c := q.r.consumer()
	sid := q.r.ident()
	tid := q.r.ident()
	pid, hasPID := q.r.optPartition()
	kind := q.r.u8()
	value := q.r.u64()
	count := q.r.u32()
	autoCommit := q.r.boolean()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if kind < pollOffset || kind > pollNext {
		return nil, statusError(statusInvalidCommand)
	}
	s, t, err := q.st.findTopic(sid, tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canPoll(s.id, t.id)); err != nil {
		return nil, err
	}
	tg, ok, err := q.resolveConsumer(t, c, pid, hasPID, true)
	if err != nil {
		return nil, err
	}
	var w writer
	if !ok {
		// A group member without partitions gets an empty answer for "no
		// partition" (partition_id 0, current_offset 0, 0 messages).
		w.u32(0)
		w.u64(0)
		w.u32(0)
		return w.b, nil
	}
	p := tg.partition
	msgs := p.selectMessages(kind, value, count, t.offsets, tg.key)
	if autoCommit && len(msgs) > 0 {
		t.offsets[tg.key] = msgs[len(msgs)-1].offset
	}
	size := 16
	for _, m := range msgs {
		size += len(m.record)
	}
	w.b = make([]byte, 0, size)
	w.u32(p.id)
	w.u64(p.currentOffset())
	w.u32(uint32(len(msgs)))
	for _, m := range msgs {
		w.raw(m.record)
	}
	return w.b, nil
}

// selectMessages applies a polling strategy. Offsets in a partition are
// contiguous from the first stored message, so an offset maps to an index.
func (p *partition) selectMessages(kind uint8, value uint64, count uint32, offsets map[offsetKey]uint64, key offsetKey) []storedMessage {
	n := len(p.messages)
	if n == 0 || count == 0 {
		return nil
	}
	base := p.messages[0].offset
	start := 0
	switch kind {
	case pollOffset:
		if value < base {
			start = 0
		} else if value-base >= uint64(n) {
			return nil
		} else {
			start = int(value - base)
		}
	case pollTimestamp:
		start = sort.Search(n, func(i int) bool { return p.messages[i].timestamp >= value })
	case pollFirst:
		start = 0
	case pollLast:
		start = max(0, n-int(min(count, uint32(n))))
	case pollNext:
		if stored, ok := offsets[key]; ok {
			if stored+1 < base {
				start = 0
			} else if stored+1-base >= uint64(n) {
				return nil
			} else {
				start = int(stored + 1 - base)
			}
		}
	}
	end := min(n, start+int(min(count, uint32(n))))
	return p.messages[start:end]
}

// handleFlushUnsavedBuffer (102): [stream Id][topic Id][partition_id u32]
// [fsync u8]. Everything is in memory, so it only checks its arguments.
func handleFlushUnsavedBuffer(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	pid := q.r.u32()
	_ = q.r.boolean() // fsync
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, t, err := q.st.findTopic(sid, tid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canSend(s.id, t.id)); err != nil {
		return nil, err
	}
	if _, err := t.partition(pid); err != nil {
		return nil, err
	}
	return nil, nil
}
