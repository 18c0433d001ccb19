package testserver

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Decoding errors. The 0.8 server maps a truncated payload or an unknown
// discriminant to 3 InvalidCommand and a payload that is complete but fails
// validation (empty name, bad UTF-8, malformed identifier) to 4 InvalidFormat
// (iggy-wire.md §2.1 item 5); statusOfDecode applies the same mapping.
var (
	errTruncated = errors.New("payload truncated")
	errMalformed = errors.New("payload malformed")
)

// reader decodes a request payload. It never panics: the first failure is
// remembered, later reads return zero values, and the handler checks err()
// once after decoding every field.
type reader struct {
	b   []byte
	off int
	bad error
}

func newReader(b []byte) *reader { return &reader{b: b} }

func (r *reader) err() error { return r.bad }

func (r *reader) fail(err error) {
	if r.bad == nil {
		r.bad = err
	}
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) take(n int) []byte {
	if r.bad != nil {
		return nil
	}
	if n < 0 || n > r.remaining() {
		r.fail(errTruncated)
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) u8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// boolean reads a flag byte; like the Rust decoders any non-zero value is true.
func (r *reader) boolean() bool { return r.u8() != 0 }

// str8 reads a "WireName" ([len u8][UTF-8]). allowEmpty is for passwords,
// which the wire tolerates empty; names must be 1..255 bytes.
func (r *reader) str8(allowEmpty bool) string {
	n := int(r.u8())
	b := r.take(n)
	if r.bad != nil {
		return ""
	}
	if (n == 0 && !allowEmpty) || !utf8.Valid(b) {
		r.fail(errMalformed)
		return ""
	}
	return string(b)
}

// str32 reads a [len u32][UTF-8] string (LoginUser version/context).
func (r *reader) str32() string {
	n := r.u32()
	if r.bad != nil {
		return ""
	}
	if uint64(n) > uint64(r.remaining()) {
		r.fail(errTruncated)
		return ""
	}
	b := r.take(int(n))
	if !utf8.Valid(b) {
		r.fail(errMalformed)
		return ""
	}
	return string(b)
}

// ident is a decoded Identifier (§4.2): numeric or string.
type ident struct {
	numeric bool
	id      uint32
	name    string
}

func (i ident) String() string {
	if i.numeric {
		return "#" + strconv.FormatUint(uint64(i.id), 10)
	}
	return i.name
}

func (r *reader) ident() ident {
	kind := r.u8()
	n := int(r.u8())
	v := r.take(n)
	if r.bad != nil {
		return ident{}
	}
	switch kind {
	case 1:
		if n != 4 {
			r.fail(errMalformed)
			return ident{}
		}
		return ident{numeric: true, id: binary.LittleEndian.Uint32(v)}
	case 2:
		if n == 0 || !utf8.Valid(v) {
			r.fail(errMalformed)
			return ident{}
		}
		return ident{name: string(v)}
	default:
		r.fail(errTruncated) // unknown discriminant: 3 in 0.8
		return ident{}
	}
}

// consumerKind values of §4.3.
const (
	consumerSingle uint8 = 1
	consumerGroup  uint8 = 2
)

// consumerRef is a decoded Consumer: kind + identifier.
type consumerRef struct {
	kind uint8
	id   ident
}

func (r *reader) consumer() consumerRef {
	kind := r.u8()
	id := r.ident()
	if r.bad == nil && kind != consumerSingle && kind != consumerGroup {
		r.fail(errTruncated)
	}
	return consumerRef{kind: kind, id: id}
}

// optPartition reads the G2+ optional partition id: [has u8][id u32].
func (r *reader) optPartition() (id uint32, ok bool) {
	has := r.u8()
	id = r.u32()
	return id, has != 0
}

// statusOfDecode converts a decoding failure into the status a 0.8 server
// answers with.
func statusOfDecode(err error) error {
	if errors.Is(err, errMalformed) {
		return statusError(statusInvalidFormat)
	}
	return statusError(statusInvalidCommand)
}
