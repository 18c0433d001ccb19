package testserver

import (
	"errors"
	"fmt"
)

// request is what a command handler works with. Handlers run with Server.mu
// held, so they may read and change st freely.
type request struct {
	s    *Server
	st   *state
	c    *session
	u    *user // the logged-in user; nil only for public commands
	r    *reader
	code uint32
}

// handler executes one command and returns the OK payload (nil or empty for
// "empty OK") or an error, normally a statusError.
type handler func(q *request) ([]byte, error)

// route maps a command code to its handler. public commands skip the
// authentication check: in 0.8 only Ping, LoginUser and
// LoginWithPersonalAccessToken do (wire doc §2.1 item 8).
func route(code uint32) (h handler, public, ok bool) {
	switch code {
	case cmdPing:
		return handlePing, true, true
	case cmdLoginUser:
		return handleLoginUser, true, true
	case cmdLoginWithPersonalAccess:
		return handleLoginWithToken, true, true
	case cmdGetStats:
		return handleGetStats, false, true
	case cmdGetSnapshotFile:
		return handleGetSnapshot, false, true
	case cmdGetClusterMetadata:
		return handleGetClusterMetadata, false, true
	case cmdGetMe:
		return handleGetMe, false, true
	case cmdGetClient:
		return handleGetClient, false, true
	case cmdGetClients:
		return handleGetClients, false, true
	case cmdGetUser:
		return handleGetUser, false, true
	case cmdGetUsers:
		return handleGetUsers, false, true
	case cmdCreateUser:
		return handleCreateUser, false, true
	case cmdDeleteUser:
		return handleDeleteUser, false, true
	case cmdUpdateUser:
		return handleUpdateUser, false, true
	case cmdUpdatePermissions:
		return handleUpdatePermissions, false, true
	case cmdChangePassword:
		return handleChangePassword, false, true
	case cmdLogoutUser:
		return handleLogout, false, true
	case cmdGetPersonalAccessTokens:
		return handleGetTokens, false, true
	case cmdCreatePersonalAccessTok:
		return handleCreateToken, false, true
	case cmdDeletePersonalAccessTok:
		return handleDeleteToken, false, true
	case cmdPollMessages:
		return handlePollMessages, false, true
	case cmdSendMessages:
		return handleSendMessages, false, true
	case cmdFlushUnsavedBuffer:
		return handleFlushUnsavedBuffer, false, true
	case cmdGetConsumerOffset:
		return handleGetConsumerOffset, false, true
	case cmdStoreConsumerOffset:
		return handleStoreConsumerOffset, false, true
	case cmdDeleteConsumerOffset:
		return handleDeleteConsumerOffset, false, true
	case cmdGetStream:
		return handleGetStream, false, true
	case cmdGetStreams:
		return handleGetStreams, false, true
	case cmdCreateStream:
		return handleCreateStream, false, true
	case cmdDeleteStream:
		return handleDeleteStream, false, true
	case cmdUpdateStream:
		return handleUpdateStream, false, true
	case cmdPurgeStream:
		return handlePurgeStream, false, true
	case cmdGetTopic:
		return handleGetTopic, false, true
	case cmdGetTopics:
		return handleGetTopics, false, true
	case cmdCreateTopic:
		return handleCreateTopic, false, true
	case cmdDeleteTopic:
		return handleDeleteTopic, false, true
	case cmdUpdateTopic:
		return handleUpdateTopic, false, true
	case cmdPurgeTopic:
		return handlePurgeTopic, false, true
	case cmdCreatePartitions:
		return handleCreatePartitions, false, true
	case cmdDeletePartitions:
		return handleDeletePartitions, false, true
	case cmdDeleteSegments:
		return handleDeleteSegments, false, true
	case cmdGetConsumerGroup:
		return handleGetConsumerGroup, false, true
	case cmdGetConsumerGroups:
		return handleGetConsumerGroups, false, true
	case cmdCreateConsumerGroup:
		return handleCreateConsumerGroup, false, true
	case cmdDeleteConsumerGroup:
		return handleDeleteConsumerGroup, false, true
	case cmdJoinConsumerGroup:
		return handleJoinConsumerGroup, false, true
	case cmdLeaveConsumerGroup:
		return handleLeaveConsumerGroup, false, true
	}
	return nil, false, false
}

// dispatch runs one command and returns the complete response frame. The
// order of checks is the 0.8 one: unknown code (3), then authentication
// (40), then decoding and the command itself.
func (s *Server) dispatch(sess *session, code uint32, payload []byte) []byte {
	h, public, ok := route(code)
	if !ok {
		s.log.Debug("unknown command", "client_id", sess.id, "code", code)
		return errorFrame(statusInvalidCommand)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	q := &request{s: s, st: &s.st, c: sess, u: s.st.users[sess.userID], r: newReader(payload), code: code}
	if q.u == nil && !public {
		return errorFrame(statusUnauthenticated)
	}
	out, err := s.run(h, q)
	if err != nil {
		var se statusError
		if !errors.As(err, &se) {
			s.log.Error("command failed", "client_id", sess.id, "code", code, "err", err)
			se = statusError(statusInvalidCommand)
		}
		s.log.Debug("command rejected", "client_id", sess.id, "code", code, "status", uint32(se), "name", se.Error())
		return errorFrame(uint32(se))
	}
	s.log.Debug("command ok", "client_id", sess.id, "code", code, "response_bytes", len(out))
	return okFrame(out)
}

// run calls h and converts a panic into an error, so that a bug in one
// handler costs one InvalidCommand answer rather than the whole process.
func (s *Server) run(h handler, q *request) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler for command %d panicked: %v", q.code, p)
		}
	}()
	return h(q)
}

// decoded finishes decoding: it maps a decoding failure to its status and
// logs (but accepts) trailing bytes, as 0.8 does.
func (q *request) decoded() error {
	if err := q.r.err(); err != nil {
		return statusOfDecode(err)
	}
	if n := q.r.remaining(); n > 0 {
		q.s.log.Debug("trailing bytes after payload", "client_id", q.c.id, "code", q.code, "bytes", n)
	}
	return nil
}
