package testserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Frame limits.
const (
	headerSize = 8
	// maxControlPayload is MAX_CONTROL_FRAME_PAYLOAD of the 0.8 server: any
	// non-SendMessages payload above it is answered with InvalidCommand
	// without being read.
	maxControlPayload = 10 << 20
	// MaxSendMessagesPayload caps a SendMessages payload. The real server has
	// no such cap; this double answers InvalidCommand and closes the
	// connection instead of buffering an arbitrary claimed length.
	MaxSendMessagesPayload = 256 << 20
	// readChunk bounds how much buffer is grown ahead of the bytes actually
	// received, so a huge length field that is never followed by data costs
	// at most this much memory.
	readChunk = 1 << 20
)

// session is one client connection ("client" in Iggy's terms).
type session struct {
	id     uint32
	remote string
	local  net.Addr // nil when the transport has no address
	rwc    io.ReadWriteCloser

	// userID is guarded by Server.mu; noUser until a login succeeds.
	userID uint32

	wmu       sync.Mutex // serialises writes: responses and the shutdown notice
	closeOnce sync.Once
}

// register assigns the next client id and records the session.
func (s *Server) register(c io.ReadWriteCloser, remote string) *session {
	sess := &session{remote: remote, rwc: c, userID: noUser}
	if la, ok := c.(interface{ LocalAddr() net.Addr }); ok {
		sess.local = la.LocalAddr()
	}
	s.mu.Lock()
	sess.id = s.st.nextClientID
	s.st.nextClientID++
	s.st.sessions[sess.id] = sess
	s.mu.Unlock()
	return sess
}

// unregister forgets the session and removes it from its consumer groups,
// as the real server does when a client disconnects.
func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	delete(s.st.sessions, sess.id)
	s.st.leaveAllGroups(sess.id)
	s.mu.Unlock()
}

func (c *session) close() {
	c.closeOnce.Do(func() { _ = c.rwc.Close() })
}

// shutdown sends the unsolicited Disconnected frame, then closes the
// connection. With a transport that supports write deadlines, a response
// still being written gets 100 ms to finish before the notice follows it;
// without deadlines the notice is skipped if a write is in progress, so
// shutdown can never hang on a client that stopped reading.
func (c *session) shutdown() {
	var locked bool
	if d, ok := c.rwc.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.wmu.Lock()
		locked = true
	} else {
		locked = c.wmu.TryLock()
	}
	if locked {
		_, _ = c.rwc.Write(errorFrame(statusDisconnected))
		c.wmu.Unlock()
	}
	c.close()
}

func (c *session) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.rwc.Write(frame)
	return err
}

// serveFrames is the request loop of one connection. Requests are handled
// strictly one after the other, like the real server, so responses come back
// in request order. It returns why the loop ended.
func (s *Server) serveFrames(sess *session) error {
	br := bufio.NewReaderSize(sess.rwc, 64<<10)
	for {
		var hdr [headerSize]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return fmt.Errorf("read header: %w", err)
		}
		s.readBytes.Add(headerSize)
		length := binary.LittleEndian.Uint32(hdr[0:4])
		code := binary.LittleEndian.Uint32(hdr[4:8])

		request := hdr[:]
		var response []byte
		closeAfter := false
		switch {
		case length < 4:
			// 0.8: InvalidCommand, and the stream is not drained.
			response = errorFrame(statusInvalidCommand)
		case code == cmdSendMessages && !s.authenticated(sess):
			// 0.7/0.8 check authentication before reading the body; the
			// unread body is then parsed as further frames (wire doc §2.1.7).
			response = errorFrame(statusUnauthenticated)
		case code != cmdSendMessages && length-4 > maxControlPayload:
			response = errorFrame(statusInvalidCommand)
		case code == cmdSendMessages && length-4 > MaxSendMessagesPayload:
			response = errorFrame(statusInvalidCommand)
			closeAfter = true
		default:
			frame, err := readFrame(br, hdr, length-4)
			s.readBytes.Add(uint64(len(frame) - headerSize))
			if err != nil {
				return fmt.Errorf("read %d-byte payload of command %d: %w", length-4, code, err)
			}
			request = frame
			response = s.dispatch(sess, code, frame[headerSize:])
		}
		if err := sess.write(response); err != nil {
			return fmt.Errorf("write response to command %d: %w", code, err)
		}
		s.writtenBytes.Add(uint64(len(response)))
		if s.cfg.OnExchange != nil {
			s.cfg.OnExchange(uint64(sess.id), request, response)
		}
		if closeAfter {
			return errors.New("oversized SendMessages frame")
		}
	}
}

// readFrame reads an n-byte payload and returns header+payload in one slice.
// The buffer grows by at most readChunk ahead of the data received.
func readFrame(r io.Reader, hdr [headerSize]byte, n uint32) ([]byte, error) {
	buf := make([]byte, headerSize, headerSize+int(min(n, readChunk)))
	copy(buf, hdr[:])
	for remaining := int(n); remaining > 0; {
		chunk := min(remaining, readChunk)
		start := len(buf)
		if cap(buf)-start < chunk {
			grown := make([]byte, start, max(2*cap(buf), start+chunk))
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:start+chunk]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			return buf[:start], err
		}
		remaining -= chunk
	}
	return buf, nil
}

// errorFrame is [status u32][0 u32]: error responses never carry a payload.
func errorFrame(status uint32) []byte {
	f := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(f[0:4], status)
	return f
}

// okFrame is [0 u32][len u32][payload].
func okFrame(payload []byte) []byte {
	f := make([]byte, headerSize, headerSize+len(payload))
	binary.LittleEndian.PutUint32(f[4:8], uint32(len(payload)))
	return append(f, payload...)
}

func (s *Server) authenticated(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.users[sess.userID] != nil
}
