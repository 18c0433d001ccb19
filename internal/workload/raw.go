package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"
)

// maxRawResponse caps what RawConn will buffer for one response.
const maxRawResponse = 64 << 20

// StatusError is a non-zero status answered to a RawConn request.
type StatusError struct {
	Code   uint32 // command code of the request
	Status uint32 // Iggy error code
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("command %d: iggy status %d (%v)", e.Code, e.Status, ierror.FromCode(ierror.Code(e.Status)))
}

// RawConn is a minimal classic-protocol client: it writes
// [length u32][code u32][payload] and reads [status u32][length u32][payload].
// It stands in for the SDK v0.8.0 where the SDK has no method for a command
// (GetSnapshotFile, GetMe, FlushUnsavedBuffer, PurgeStream, PurgeTopic,
// DeleteSegments) or cannot decode a legal answer (GetClient's empty "not
// found"), and lets tests send arbitrary frames.
type RawConn struct {
	mu sync.Mutex
	c  net.Conn
}

// DialRaw connects a RawConn to addr.
func DialRaw(ctx context.Context, addr string) (*RawConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("workload: raw connect to %s: %w", addr, err)
	}
	return &RawConn{c: c}, nil
}

// Close closes the connection.
func (r *RawConn) Close() error { return r.c.Close() }

// LocalAddr is the client side of the connection.
func (r *RawConn) LocalAddr() net.Addr { return r.c.LocalAddr() }

// Do sends one request and waits for its response. A non-zero status is
// returned as a *StatusError together with the status.
func (r *RawConn) Do(code uint32, payload []byte) (status uint32, body []byte, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	frame := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(payload)+4))
	binary.LittleEndian.PutUint32(frame[4:8], code)
	frame = append(frame, payload...)
	if _, err := r.c.Write(frame); err != nil {
		return 0, nil, fmt.Errorf("workload: raw write of command %d: %w", code, err)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(r.c, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("workload: raw read of response to command %d: %w", code, err)
	}
	status = binary.LittleEndian.Uint32(hdr[0:4])
	n := binary.LittleEndian.Uint32(hdr[4:8])
	if n > maxRawResponse {
		return status, nil, fmt.Errorf("workload: response to command %d claims %d bytes", code, n)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r.c, body); err != nil {
		return status, nil, fmt.Errorf("workload: raw read of %d-byte payload for command %d: %w", n, code, err)
	}
	if status != 0 {
		return status, body, &StatusError{Code: code, Status: status}
	}
	return 0, body, nil
}

// RawClient is a decoded ClientDetails answer (GetMe, GetClient).
type RawClient struct {
	ID             uint32
	UserID         uint32
	Transport      uint8
	Address        string
	ConsumerGroups [][3]uint32 // {stream_id, topic_id, group_id}
}

// decodeClientDetails decodes [client_id u32][user_id u32][transport u8]
// [address Str32][groups_count u32] then groups_count × 12 bytes.
func decodeClientDetails(b []byte) (*RawClient, error) {
	errShort := errors.New("workload: ClientDetails truncated")
	if len(b) < 13 {
		return nil, errShort
	}
	c := &RawClient{
		ID:        binary.LittleEndian.Uint32(b[0:4]),
		UserID:    binary.LittleEndian.Uint32(b[4:8]),
		Transport: b[8],
	}
	n := uint64(binary.LittleEndian.Uint32(b[9:13]))
	if uint64(len(b)) < 13+n+4 {
		return nil, errShort
	}
	c.Address = string(b[13 : 13+n])
	rest := b[13+n:]
	count := uint64(binary.LittleEndian.Uint32(rest[0:4]))
	rest = rest[4:]
	if uint64(len(rest)) != count*12 {
		return nil, errShort
	}
	for i := uint64(0); i < count; i++ {
		e := rest[i*12:]
		c.ConsumerGroups = append(c.ConsumerGroups, [3]uint32{
			binary.LittleEndian.Uint32(e[0:4]),
			binary.LittleEndian.Uint32(e[4:8]),
			binary.LittleEndian.Uint32(e[8:12]),
		})
	}
	return c, nil
}

// Payload builders for the commands RawConn sends (iggy-wire.md §5).

func appendStr8(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func appendStr32(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendID encodes an Identifier (§4.2).
func appendID(b []byte, id iggcon.Identifier) []byte {
	b, _ = id.AppendBinary(b) // never fails
	return b
}

func loginPayload(username, password string) []byte {
	b := appendStr8(nil, username)
	b = appendStr8(b, password)
	b = appendStr32(b, "iggytrace-raw")
	return appendStr32(b, "")
}

// rawConn is a RawConn whose calls are logged like sdkConn's.
type rawConn struct {
	*RawConn
	idx int
	rec *recorder
	chk *checker
}

// call sends one logged request; decode turns an OK body into the Result.
func (r *rawConn) call(method string, code uint32, args map[string]any, payload []byte, want uint32, decode func([]byte) (any, error)) any {
	_, body, err := r.Do(code, payload)
	c := Call{Method: method, Code: code, Args: args, Err: err, ConnIndex: r.idx}
	if err == nil && decode != nil && len(body) > 0 {
		res, derr := decode(body)
		if derr != nil {
			c.Err = derr
		} else {
			c.Result = res
		}
	}
	r.rec.add(c)
	r.chk.expect(c, want)
	return c.Result
}
