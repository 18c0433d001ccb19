package testserver

// handleGetTopic (300) answers TopicHeader plus its PartitionResponse records;
// an unknown stream or topic is an empty OK.
func handleGetTopic(q *request) ([]byte, error) {
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
	w.topicDetails(t)
	return w.b, nil
}

func (w *writer) topicDetails(t *topic) {
	w.topicRecord(t)
	for _, p := range t.partitions {
		w.partitionRecord(p)
	}
}

// handleGetTopics (301) lists TopicHeaders sorted by id; an unknown stream is
// an empty OK.
func handleGetTopics(q *request) ([]byte, error) {
	sid := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(sid)
	if err != nil {
		return nil, nil
	}
	if err := allow(q.u.perms.canReadTopics(s.id)); err != nil {
		return nil, err
	}
	var w writer
	for _, id := range sortedKeys(s.topics) {
		w.topicRecord(s.topics[id])
	}
	return w.b, nil
}

// topicSettings are the fields CreateTopic and UpdateTopic share.
type topicSettings struct {
	compression       uint8
	messageExpiry     uint64
	maxTopicSize      uint64
	replicationFactor uint8
	name              string
}

func (r *reader) topicSettings() topicSettings {
	var ts topicSettings
	ts.compression = r.u8()
	ts.messageExpiry = r.u64()
	ts.maxTopicSize = r.u64()
	ts.replicationFactor = r.u8()
	ts.name = r.str8(false)
	return ts
}

// validate checks the settings and resolves the "server default" encodings:
// expiry 0 and max size 0 become "never"/"unlimited" (the defaults of a stock
// 0.8 config) and replication factor 0 (None) becomes 1.
func (ts *topicSettings) validate() error {
	if ts.compression != compressionNone && ts.compression != compressionGzip {
		return statusError(statusInvalidCommand) // unknown discriminant
	}
	if ts.messageExpiry == 0 {
		ts.messageExpiry = expiryNever
	}
	if ts.maxTopicSize == 0 {
		ts.maxTopicSize = maxTopicSizeNone
	}
	if ts.maxTopicSize < segmentSize {
		return statusError(statusInvalidTopicSize)
	}
	if ts.replicationFactor == 0 {
		ts.replicationFactor = 1
	}
	return nil
}

func (t *topic) apply(ts topicSettings) {
	t.name = ts.name
	t.compression = ts.compression
	t.messageExpiry = ts.messageExpiry
	t.maxTopicSize = ts.maxTopicSize
	t.replicationFactor = ts.replicationFactor
}

// handleCreateTopic (302) answers the new topic in the GetTopic layout.
func handleCreateTopic(q *request) ([]byte, error) {
	sid := q.r.ident()
	count := q.r.u32()
	ts := q.r.topicSettings()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(sid)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canCreateTopic(s.id)); err != nil {
		return nil, err
	}
	if err := ts.validate(); err != nil {
		return nil, err
	}
	if count > maxPartitions {
		return nil, statusError(statusTooManyPartitions)
	}
	if s.topicByName(ts.name) != nil {
		return nil, statusError(statusTopicNameAlreadyExists)
	}
	t := &topic{
		id:        s.nextTopicID,
		createdAt: nowMicros(),
		groups:    map[uint32]*group{},
		offsets:   map[offsetKey]uint64{},
	}
	t.apply(ts)
	t.addPartitions(count)
	s.nextTopicID++
	s.topics[t.id] = t
	var w writer
	w.topicDetails(t)
	return w.b, nil
}

// handleUpdateTopic (304): same settings as CreateTopic, for an existing topic.
func handleUpdateTopic(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	ts := q.r.topicSettings()
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
	if err := ts.validate(); err != nil {
		return nil, err
	}
	if other := s.topicByName(ts.name); other != nil && other.id != t.id {
		return nil, statusError(statusTopicNameAlreadyExists)
	}
	t.apply(ts)
	return nil, nil
}

// handleDeleteTopic (303).
func handleDeleteTopic(q *request) ([]byte, error) {
	s, t, err := q.manageTopic()
	if err != nil {
		return nil, err
	}
	delete(s.topics, t.id)
	return nil, nil
}

// handlePurgeTopic (305) deletes the topic's messages and consumer offsets.
func handlePurgeTopic(q *request) ([]byte, error) {
	_, t, err := q.manageTopic()
	if err != nil {
		return nil, err
	}
	t.purge()
	return nil, nil
}

// manageTopic decodes [stream Id][topic Id], resolves both and checks the
// manage-topic permission.
func (q *request) manageTopic() (*stream, *topic, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, nil, err
	}
	s, t, err := q.st.findTopic(sid, tid)
	if err != nil {
		return nil, nil, err
	}
	if err := allow(q.u.perms.canManageTopic(s.id, t.id)); err != nil {
		return nil, nil, err
	}
	return s, t, nil
}

// purge empties every partition and restarts offsets at 0.
func (t *topic) purge() {
	for _, p := range t.partitions {
		p.messages = nil
		p.sizeBytes = 0
		p.nextOffset = 0
	}
	clear(t.offsets)
}

func (t *topic) addPartitions(n uint32) {
	now := nowMicros()
	for range n {
		t.partitions = append(t.partitions, &partition{id: uint32(len(t.partitions)), createdAt: now})
	}
	for _, g := range t.groups {
		g.rebalance(len(t.partitions))
	}
}

// handleCreatePartitions (402) appends partitions to a topic.
func handleCreatePartitions(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	count := q.r.u32()
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
	if count == 0 {
		return nil, statusError(statusInvalidPartitionsCount)
	}
	if uint64(len(t.partitions))+uint64(count) > maxPartitions {
		return nil, statusError(statusTooManyPartitions)
	}
	t.addPartitions(count)
	return nil, nil
}

// handleDeletePartitions (403) removes the last N partitions with their
// messages and offsets.
func handleDeletePartitions(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	count := q.r.u32()
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
	if count == 0 || uint64(count) > uint64(len(t.partitions)) {
		return nil, statusError(statusInvalidPartitionsCount)
	}
	keep := len(t.partitions) - int(count)
	t.partitions = t.partitions[:keep]
	for k := range t.offsets {
		if int64(k.partition) >= int64(keep) {
			delete(t.offsets, k)
		}
	}
	for _, g := range t.groups {
		g.rebalance(keep)
	}
	return nil, nil
}

// handleDeleteSegments (503): [stream Id][topic Id][partition_id u32]
// [segments_count u32]. Segments are not modelled, so this only checks that
// the partition exists and has that many segments.
func handleDeleteSegments(q *request) ([]byte, error) {
	sid := q.r.ident()
	tid := q.r.ident()
	pid := q.r.u32()
	count := q.r.u32()
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
	p, err := t.partition(pid)
	if err != nil {
		return nil, err
	}
	if count > p.segmentsCount() {
		return nil, statusError(statusInvalidSegmentsCount)
	}
	return nil, nil
}
