package protocol

import (
	"encoding/binary"
	"math"
	"slices"
)

// Message batches (iggy-wire.md §6): the SendMessages request body after its
// metadata, and the PollMessages response body after its 16-byte prefix.
// This is the hot path, so it is written by hand: one bounds check per
// header, values appended in one go, payload bytes never touched unless
// Options.Payloads asks for them, and no Value per message unless
// Options.Messages does.

const (
	featHeader64 uint8 = 1 << iota // 64-byte message header (0.7+); 56 before
	featKeyKind                    // user-header keys carry a kind byte (0.7+)
)

func messageFeatures(v Version) uint8 {
	if v >= V07 {
		return featHeader64 | featKeyKind
	}
	return 0
}

func headerSize(feat uint8) int {
	if feat&featHeader64 != 0 {
		return 64
	}
	return 56
}

// messageDoc describes the values a message record decodes to.
const messageDoc = "Every record is checked; only with `--messages` (or `--payloads`) does each decode to " +
	"`message {checksum, id (u128), offset, timestamp, origin_timestamp, " +
	"user_headers_length, payload_length, payload, user_headers}`: payload is its length, with the bytes " +
	"only when payloads are enabled; user_headers (only when non-empty) is a list of " +
	"`header {key_kind, key, value_kind, value}` (value bytes only with payloads; before 0.7 keys have no kind byte " +
	"and key_kind is reported as string), " +
	"or opaque bytes when the blob is not valid TLV (e.g. encrypted). A 64-byte header's reserved u64 must be 0."

// valuesPerMessage is what one message without user headers decodes to:
// the object, seven header fields, the payload and the end.
const valuesPerMessage = 10

var customSentMessages = &custom{
	name: "send_messages",
	doc: "index table of messages_count × 16 bytes `[0 u32][cumulative end u32][0 u64]`, then the message records (§6.1). " +
		"Each record must be as long as its index entry says; that pins the header size (56 bytes before 0.7, 64 from 0.7). " +
		messageDoc,
	key:    messageFeatures,
	decode: (*state).sentMessages,
}

var customPolledMessages = &custom{
	name:   "polled_messages",
	doc:    "messages_count message records (§6.1) back to back. " + messageDoc,
	key:    messageFeatures,
	decode: (*state).polledMessages,
}

func (s *state) sentMessages(o *op) error {
	// metadata_length (offset 0) counts everything between itself and the
	// index table.
	if ml := binary.LittleEndian.Uint32(s.b); uint64(ml) != uint64(s.off-4) {
		return invalidValue("metadata_length", "does not match the size of the metadata:", uint64(ml))
	}
	count := s.regs[o.count]
	idxLen := count * 16
	if idxLen > uint64(s.left()) {
		return s.shortName("index", false, int(min(idxLen, math.MaxInt32)))
	}
	index := s.b[s.off : s.off+int(idxLen)]
	s.off += int(idxLen)
	hsize := headerSize(o.feat)
	s.beginBatch(o.name, count, hsize)
	var prev uint32
	for i := 0; i < len(index); i += 16 {
		e := index[i : i+16]
		end := binary.LittleEndian.Uint32(e[4:])
		if end < prev {
			return invalidValue("index", "cumulative end goes backwards:", uint64(end))
		}
		if s.strict && (binary.LittleEndian.Uint32(e) != 0 || binary.LittleEndian.Uint64(e[8:]) != 0) {
			return invalid("index", "reserved words are not zero")
		}
		if err := s.message(hsize, o.feat, int64(end-prev)); err != nil {
			return err
		}
		prev = end
	}
	s.endBatch()
	return nil
}

func (s *state) polledMessages(o *op) error {
	count := s.regs[o.count]
	hsize := headerSize(o.feat)
	s.beginBatch(o.name, count, hsize)
	for i := uint64(0); i < count; i++ {
		if err := s.message(hsize, o.feat, -1); err != nil {
			return err
		}
	}
	s.endBatch()
	return nil
}

// beginBatch opens the list of a batch's messages when they are decoded one
// by one (Options.Messages). It grows Values for count messages, but never
// for more than the payload can hold, whatever count claims.
func (s *state) beginBatch(name string, count uint64, hsize int) {
	if !s.messages {
		return
	}
	n := int(min(count, uint64(s.left()/hsize))) * valuesPerMessage
	s.rec.Values = slices.Grow(s.rec.Values, n+2)
	s.begin(name, KindList)
}

func (s *state) endBatch() {
	if s.messages {
		s.end()
	}
}

// message decodes one record at s.off. expect is its size from the index
// table, or -1 when there is none. Without Options.Messages the record is
// checked exactly as with it (sizes, reserved word, user-header TLV, which
// version detection weighs) but adds no Values, only to the summary.
func (s *state) message(hsize int, feat uint8, expect int64) error {
	b := s.b[s.off:]
	// The lengths sit at the same offsets in both header sizes: check the
	// record size against the index as soon as they are in, so that even a
	// short captured prefix tells the header sizes apart.
	if len(b) < 56 {
		return s.shortName("message", false, hsize)
	}
	uh := binary.LittleEndian.Uint32(b[48:])
	pl := binary.LittleEndian.Uint32(b[52:])
	if expect >= 0 && int64(hsize)+int64(pl)+int64(uh) != expect {
		return invalidValue("message", "record size does not match the index entry:", uint64(expect))
	}
	if len(b) < hsize {
		return s.shortName("message", false, hsize)
	}
	h := b[:hsize]
	if hsize == 64 {
		if r := binary.LittleEndian.Uint64(h[56:]); r != 0 {
			return invalidValue("reserved", "is not zero:", r)
		}
	}
	if s.messages {
		s.rec.Values = append(s.rec.Values,
			Value{Name: "message", Kind: KindObject},
			Value{Name: "checksum", Num: binary.LittleEndian.Uint64(h), Kind: KindUint},
			Value{Name: "id", Num: binary.LittleEndian.Uint64(h[8:]), Hi: binary.LittleEndian.Uint64(h[16:]), Kind: KindU128},
			Value{Name: "offset", Num: binary.LittleEndian.Uint64(h[24:]), Kind: KindUint},
			Value{Name: "timestamp", Num: binary.LittleEndian.Uint64(h[32:]), Kind: KindTime},
			Value{Name: "origin_timestamp", Num: binary.LittleEndian.Uint64(h[40:]), Kind: KindTime},
			Value{Name: "user_headers_length", Num: uint64(uh), Kind: KindUint},
			Value{Name: "payload_length", Num: uint64(pl), Kind: KindUint},
		)
		s.depth++
	}
	s.rec.Summary.PayloadBytes += uint64(pl)
	s.off += hsize

	rest := s.b[s.off:]
	pv := Value{Name: "payload", Num: uint64(pl), Kind: KindBytes}
	if uint64(len(rest)) < uint64(pl) {
		if !s.partial {
			return s.shortName("payload", false, int(min(pl, math.MaxInt32)))
		}
		if s.messages {
			if s.payloads {
				pv.Str = s.rec.str(rest)
			}
			s.emit(pv)
		}
		return errStop
	}
	if s.messages {
		if s.payloads {
			pv.Str = s.rec.str(rest[:pl])
		}
		s.emit(pv)
	}
	s.off += int(pl)

	if uh > 0 {
		rest = s.b[s.off:]
		if uint64(len(rest)) < uint64(uh) {
			if !s.partial {
				return s.shortName("user_headers", false, int(min(uh, math.MaxInt32)))
			}
			if s.messages {
				s.opaqueHeaders(rest, uh)
			}
			return errStop
		}
		if s.messages {
			s.userHeaders(rest[:uh], feat&featKeyKind != 0)
		} else if !validHeaders(rest[:uh], feat&featKeyKind != 0) {
			s.soft++
		}
		s.off += int(uh)
	}
	if s.messages {
		s.end()
	}
	return nil
}

// userHeaders decodes a user-headers blob (§4.9). A blob that is not valid
// TLV — encrypted headers (0.8 client-side encryption), or a wrong version
// guess — is kept as opaque bytes and counted as a soft failure, which
// version detection weighs.
func (s *state) userHeaders(blob []byte, keyKind bool) {
	mark, amark, dmark := len(s.rec.Values), len(s.rec.arena), s.depth
	if s.headerEntries(blob, keyKind) {
		return
	}
	s.rec.Values, s.rec.arena, s.depth = s.rec.Values[:mark], s.rec.arena[:amark], dmark
	s.soft++
	s.opaqueHeaders(blob, uint32(len(blob)))
}

func (s *state) opaqueHeaders(b []byte, declared uint32) {
	v := Value{Name: "user_headers", Num: uint64(declared), Kind: KindBytes}
	if s.payloads {
		v.Str = s.rec.str(b)
	}
	s.emit(v)
}

func (s *state) headerEntries(blob []byte, keyKind bool) bool {
	s.begin("user_headers", KindList)
	for p := 0; p < len(blob); {
		e, ok := nextHeader(blob, p, keyKind)
		if !ok {
			return false
		}
		p = e.next
		s.begin("header", KindObject)
		s.emitEnum("key_kind", enumHeaderKind, uint64(e.keyKind))
		s.emit(s.headerValue("key", e.keyKind, e.key, true))
		s.emitEnum("value_kind", enumHeaderKind, uint64(e.valueKind))
		s.emit(s.headerValue("value", e.valueKind, e.value, s.payloads))
		s.end()
	}
	s.end()
	return true
}

// validHeaders tells whether a user-headers blob is valid TLV, as
// headerEntries would find it, without decoding it.
func validHeaders(blob []byte, keyKind bool) bool {
	for p := 0; p < len(blob); {
		e, ok := nextHeader(blob, p, keyKind)
		if !ok {
			return false
		}
		p = e.next
	}
	return true
}

// header is one user-header entry (§4.9): [key_kind u8, from 0.7][key
// TLV][value_kind u8][value TLV].
type header struct {
	keyKind, valueKind byte
	key, value         []byte
	next               int // offset after the entry
}

// nextHeader reads the entry at p; kinds are never 0.
func nextHeader(blob []byte, p int, keyKind bool) (header, bool) {
	e := header{keyKind: 2} // before 0.7 every key is a string
	if keyKind {
		if e.keyKind = blob[p]; e.keyKind == 0 {
			return e, false
		}
		p++
	}
	key, p2, ok := headerTLV(blob, p)
	if !ok || p2 >= len(blob) {
		return e, false
	}
	if e.valueKind = blob[p2]; e.valueKind == 0 {
		return e, false
	}
	val, p3, ok := headerTLV(blob, p2+1)
	if !ok {
		return e, false
	}
	e.key, e.value, e.next = key, val, p3
	return e, true
}

// headerTLV reads [len u32][bytes] at p; every length is 1..255.
func headerTLV(b []byte, p int) (v []byte, next int, ok bool) {
	if p+4 > len(b) {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b[p:])
	if n == 0 || n > 255 || uint64(p)+4+uint64(n) > uint64(len(b)) {
		return nil, 0, false
	}
	return b[p+4 : p+4+int(n)], p + 4 + int(n), true
}

// headerValue renders a header key or value by its kind. Without show,
// only the length is kept (values are user data).
func (s *state) headerValue(name string, kind byte, b []byte, show bool) Value {
	v := Value{Name: name, Num: uint64(len(b)), Kind: KindBytes}
	if !show {
		return v
	}
	if size := headerKindSize(kind); size != 0 && size != len(b) {
		v.Str = s.rec.str(b)
		return v
	}
	switch kind {
	case 2:
		v.Kind, v.Str, v.Num = KindString, s.rec.str(b), 0
	case 3:
		v.Kind, v.Num = KindBool, uint64(min(b[0], 1))
	case 4:
		v.Kind, v.Num = KindInt, uint64(int64(int8(b[0])))
	case 5:
		v.Kind, v.Num = KindInt, uint64(int64(int16(binary.LittleEndian.Uint16(b))))
	case 6:
		v.Kind, v.Num = KindInt, uint64(int64(int32(binary.LittleEndian.Uint32(b))))
	case 7:
		v.Kind, v.Num = KindInt, binary.LittleEndian.Uint64(b)
	case 9:
		v.Kind, v.Num = KindUint, uint64(b[0])
	case 10:
		v.Kind, v.Num = KindUint, uint64(binary.LittleEndian.Uint16(b))
	case 11:
		v.Kind, v.Num = KindUint, uint64(binary.LittleEndian.Uint32(b))
	case 12:
		v.Kind, v.Num = KindUint, binary.LittleEndian.Uint64(b)
	case 8, 13:
		v.Kind, v.Num, v.Hi = KindU128, binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	case 14:
		v.Kind, v.Num = KindFloat, math.Float64bits(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case 15:
		v.Kind, v.Num = KindFloat, binary.LittleEndian.Uint64(b)
	default: // raw, or a kind newer than this table
		v.Str = s.rec.str(b)
	}
	return v
}
