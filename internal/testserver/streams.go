package testserver

// handleGetStream (200) answers StreamResponse plus its topics sorted by id;
// an unknown stream is an empty OK.
func handleGetStream(q *request) ([]byte, error) {
	id := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(id)
	if err != nil {
		return nil, nil
	}
	if err := allow(q.u.perms.canReadStream(s.id)); err != nil {
		return nil, err
	}
	var w writer
	w.streamRecord(s)
	for _, tid := range sortedKeys(s.topics) {
		w.topicRecord(s.topics[tid])
	}
	return w.b, nil
}

// handleGetStreams (201) lists StreamResponse records sorted by id.
func handleGetStreams(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadStreams()); err != nil {
		return nil, err
	}
	var w writer
	for _, id := range sortedKeys(q.st.streams) {
		w.streamRecord(q.st.streams[id])
	}
	return w.b, nil
}

// handleCreateStream (202): [name Str8] → the new stream (no topics).
func handleCreateStream(q *request) ([]byte, error) {
	name := q.r.str8(false)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageStreams()); err != nil {
		return nil, err
	}
	if q.st.streamByName(name) != nil {
		return nil, statusError(statusStreamNameAlreadyExists)
	}
	s := &stream{
		id:        q.st.nextStreamID,
		createdAt: nowMicros(),
		name:      name,
		topics:    map[uint32]*topic{},
	}
	q.st.nextStreamID++
	q.st.streams[s.id] = s
	var w writer
	w.streamRecord(s)
	return w.b, nil
}

// handleDeleteStream (203) removes a stream with its topics, messages,
// offsets and groups.
func handleDeleteStream(q *request) ([]byte, error) {
	id := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(id)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageStream(s.id)); err != nil {
		return nil, err
	}
	delete(q.st.streams, s.id)
	return nil, nil
}

// handleUpdateStream (204): Identifier + new name.
func handleUpdateStream(q *request) ([]byte, error) {
	id := q.r.ident()
	name := q.r.str8(false)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(id)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageStream(s.id)); err != nil {
		return nil, err
	}
	if other := q.st.streamByName(name); other != nil && other.id != s.id {
		return nil, statusError(statusStreamNameAlreadyExists)
	}
	s.name = name
	return nil, nil
}

// handlePurgeStream (205) deletes every message of every topic of the stream.
func handlePurgeStream(q *request) ([]byte, error) {
	id := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	s, err := q.st.findStream(id)
	if err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageStream(s.id)); err != nil {
		return nil, err
	}
	for _, t := range s.topics {
		t.purge()
	}
	return nil, nil
}
