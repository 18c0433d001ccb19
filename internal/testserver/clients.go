package testserver

// handleGetMe (20) answers the caller's own ClientDetails.
func handleGetMe(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	var w writer
	w.clientDetails(q.c, q.st.groupsOf(q.c.id))
	return w.b, nil
}

// handleGetClient (21): id 0 is InvalidClientId in 0.8; an unknown id is an
// empty OK (not found), per wire doc §2.1 item 2.
func handleGetClient(q *request) ([]byte, error) {
	id := q.r.u32()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadServers()); err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, statusError(statusInvalidClientID)
	}
	c, ok := q.st.sessions[id]
	if !ok {
		return nil, nil
	}
	var w writer
	w.clientDetails(c, q.st.groupsOf(c.id))
	return w.b, nil
}

// handleGetClients (22) lists every connection, sorted by client id.
func handleGetClients(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadServers()); err != nil {
		return nil, err
	}
	var w writer
	for _, id := range sortedKeys(q.st.sessions) {
		c := q.st.sessions[id]
		w.clientRecord(c, q.st.groupsOf(id))
	}
	return w.b, nil
}
