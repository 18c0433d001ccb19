package protocol

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// state is one run of a plan over one payload. A Decoder owns one and
// reuses it, so a decode allocates nothing once the Record is warm.
type state struct {
	b   []byte
	off int
	rec *Record
	// wire is the payload's length on the wire, len(b) or more.
	wire int
	// partial: b is only a captured prefix (wire > len(b)); running out of
	// bytes ends the decode without an error.
	partial bool
	// strict: reject what a lenient display would accept (invalid UTF-8,
	// impossible flags), for ValidRequest.
	strict   bool
	payloads bool
	// messages: a Value per message of a batch (Options.Messages).
	messages bool
	// depth counts the open KindObject/KindList values; roles apply only at
	// depth 0, and an early stop closes what is open.
	depth int
	// soft counts parts that failed to parse but were kept as opaque bytes
	// (user headers); version detection prefers a plan without any.
	soft int
	// hint is a version named by the payload itself (a server version
	// string), VersionUnknown if none.
	hint Version
	regs [maxRegs]uint64
}

// decode runs p over s.b and checks that the payload is consumed exactly.
// Whatever happens, the Values it leaves are well bracketed.
func (s *state) decode(p *plan) error {
	err := s.run(p.ops)
	for s.depth > 0 {
		s.end()
	}
	if err == errStop {
		return nil
	}
	if err != nil {
		return err
	}
	if s.off != len(s.b) {
		return &DecodeError{Kind: ErrTrailing, Trailing: len(s.b) - s.off}
	}
	return nil
}

func (s *state) run(ops []op) error {
	for i := range ops {
		o := &ops[i]
		if o.tail && s.off == len(s.b) {
			return nil
		}
		if err := s.exec(o); err != nil {
			return err
		}
	}
	return nil
}

// short reports that field o needs need bytes from the current offset. In
// a partial decode that is the normal end. For a secret, no length is given.
func (s *state) short(o *op, need int) error {
	return s.shortName(o.name, o.code == opSecret8, need)
}

func (s *state) shortName(name string, secret bool, need int) error {
	if s.partial {
		return errStop
	}
	if secret {
		return &DecodeError{Kind: ErrShort, Field: name}
	}
	return &DecodeError{Kind: ErrShort, Field: name, Need: need, Have: len(s.b) - s.off}
}

func (s *state) left() int { return len(s.b) - s.off }

func (s *state) emit(v Value) { s.rec.Values = append(s.rec.Values, v) }

func (s *state) begin(name string, k Kind) {
	s.rec.Values = append(s.rec.Values, Value{Name: name, Kind: k})
	s.depth++
}

func (s *state) end() {
	s.rec.Values = append(s.rec.Values, Value{Kind: KindEnd})
	s.depth--
}

// emitNum appends a numeric value and applies its role.
func (s *state) emitNum(o *op, k Kind, v uint64) {
	s.rec.Values = append(s.rec.Values, Value{Name: o.name, Num: v, Kind: k})
	if o.store >= 0 {
		s.regs[o.store] = v
	}
	if o.role != RoleNone && s.depth == 0 {
		s.numRole(o.role, v)
	}
}

func (s *state) numRole(r Role, v uint64) {
	sum := &s.rec.Summary
	switch r {
	case RolePartition:
		sum.Partition, sum.HasPartition = uint32(v), true
	case RoleUserID:
		sum.UserID, sum.HasUserID = uint32(v), true
	case RoleMessageCount:
		sum.MessageCount = uint32(v)
	}
}

// emitStr appends a string value and applies its role.
func (s *state) emitStr(name string, r Role, str string, num uint64) {
	s.rec.Values = append(s.rec.Values, Value{Name: name, Str: str, Num: num, Kind: KindString})
	if r != RoleNone && s.depth == 0 {
		s.strRole(r, str, len(s.rec.Values)-1)
	}
}

// strRole puts str, the Str of Values[idx], into the summary field of r.
func (s *state) strRole(r Role, str string, idx int) {
	i := -1
	switch r {
	case RoleStream:
		i = sumStream
	case RoleTopic:
		i = sumTopic
	case RoleGroup:
		i = sumGroup
	case RoleUsername:
		i = sumUsername
	case RoleServerVersion:
		if v, ok := versionFromRelease(str); ok {
			s.hint = v
		}
		return
	default:
		return
	}
	*s.rec.summaryString(i) = str
	s.rec.sumIdx[i] = int32(idx + 1)
}

func (s *state) exec(o *op) error {
	b := s.b[s.off:]
	switch o.code {
	case opU8, opBool, opEnum8:
		if len(b) < 1 {
			return s.short(o, 1)
		}
		v := uint64(b[0])
		s.off++
		switch o.code {
		case opU8:
			s.emitNum(o, KindUint, v)
		case opBool:
			if s.strict && v > 1 {
				return invalidValue(o.name, "invalid boolean", v)
			}
			s.emitNum(o, KindBool, min(v, 1))
		default:
			s.emitEnum(o.name, o.enum, v)
			if o.store >= 0 {
				s.regs[o.store] = v
			}
		}
	case opU16:
		if len(b) < 2 {
			return s.short(o, 2)
		}
		s.off += 2
		s.emitNum(o, KindUint, uint64(binary.LittleEndian.Uint16(b)))
	case opU32:
		if len(b) < 4 {
			return s.short(o, 4)
		}
		s.off += 4
		s.emitNum(o, KindUint, uint64(binary.LittleEndian.Uint32(b)))
	case opF32:
		if len(b) < 4 {
			return s.short(o, 4)
		}
		s.off += 4
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		s.emit(Value{Name: o.name, Num: math.Float64bits(float64(f)), Kind: KindFloat})
	case opU64, opTime, opDuration, opExpiry, opExpiryAt, opTopicSize:
		if len(b) < 8 {
			return s.short(o, 8)
		}
		s.off += 8
		s.emitU64(o, binary.LittleEndian.Uint64(b))
	case opStr8, opStr32, opBytes32:
		return s.str(o, b)
	case opSecret8:
		// The secret's bytes are skipped, never copied: only its presence
		// is recorded (iggy-wire.md §9).
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			if s.partial && len(b) > 0 {
				s.emit(Value{Name: o.name, Kind: KindRedacted}) // present, but cut
			}
			return s.short(o, 0)
		}
		s.off += 1 + int(b[0])
		s.emit(Value{Name: o.name, Kind: KindRedacted})
	case opIdentifier:
		return s.identifier(o.name, o.role)
	case opConsumer:
		return s.consumer(o)
	case opOptPartFlag:
		if len(b) < 5 {
			return s.short(o, 5)
		}
		s.off += 5
		if s.strict && b[0] > 1 {
			return invalidValue(o.name, "invalid partition flag", uint64(b[0]))
		}
		if b[0] != 0 {
			s.emitNum(o, KindUint, uint64(binary.LittleEndian.Uint32(b[1:])))
		}
	case opOptPartBare:
		if len(b) < 4 {
			return s.short(o, 4)
		}
		s.off += 4
		if v := binary.LittleEndian.Uint32(b); v != 0 {
			s.emitNum(o, KindUint, uint64(v))
		}
	case opStrategy:
		if len(b) < 9 {
			return s.short(o, 9)
		}
		s.off += 9
		kind, v := b[0], binary.LittleEndian.Uint64(b[1:])
		if s.strict && (kind < 1 || kind > 5) {
			return invalidValue(o.name, "invalid polling strategy kind", uint64(kind))
		}
		s.begin(o.name, KindObject)
		s.emitEnum("kind", enumPolling, uint64(kind))
		k := KindUint
		if kind == 2 {
			k = KindTime
		}
		s.emit(Value{Name: "value", Num: v, Kind: k})
		s.end()
	case opPartitioning:
		return s.partitioning(o)
	case opRest:
		// The length on the wire, also when only a prefix was captured.
		v := Value{Name: o.name, Num: uint64(s.wire - s.off), Kind: KindBytes}
		if s.payloads {
			v.Str = s.rec.str(b)
		}
		s.off = len(s.b)
		s.emit(v)
	case opObject:
		s.begin(o.name, KindObject)
		if err := s.run(o.sub); err != nil {
			return err
		}
		s.end()
	case opOptional:
		if len(b) < 1 {
			return s.short(o, 1)
		}
		s.off++
		if s.strict && b[0] > 1 {
			return invalidValue(o.name, "invalid flag", uint64(b[0]))
		}
		if b[0] != 0 {
			return s.run(o.sub)
		}
	case opList:
		return s.list(o, s.regs[o.count], false)
	case opRestList:
		return s.list(o, 0, true)
	case opCustom:
		return o.custom.decode(s, o)
	}
	return nil
}

func (s *state) emitEnum(name string, e *Enum, v uint64) {
	s.emit(Value{Name: name, Str: e.Lookup(v), Num: v, Kind: KindEnum})
}

// emitU64 renders the u64-based types, with their sentinels as enums.
func (s *state) emitU64(o *op, v uint64) {
	k, sentinel := KindUint, ""
	switch o.code {
	case opTime:
		k = KindTime
	case opDuration:
		k = KindDuration
	case opExpiry:
		k = KindDuration
		switch v {
		case 0:
			sentinel = sentinelServerDefault
		case math.MaxUint64:
			sentinel = sentinelNeverExpire
		}
	case opExpiryAt:
		k = KindTime
		if v == 0 {
			sentinel = sentinelNeverExpire
		}
	case opTopicSize:
		switch v {
		case 0:
			sentinel = sentinelServerDefault
		case math.MaxUint64:
			sentinel = sentinelUnlimited
		}
	}
	if sentinel != "" {
		s.emit(Value{Name: o.name, Str: sentinel, Num: v, Kind: KindEnum})
		return
	}
	s.emitNum(o, k, v)
}

// str decodes Str8, Str32 and Bytes32.
func (s *state) str(o *op, b []byte) error {
	hdr := 1
	if o.code != opStr8 {
		hdr = 4
	}
	if len(b) < hdr {
		return s.short(o, hdr)
	}
	var n int
	if hdr == 1 {
		n = int(b[0])
	} else {
		n64 := uint64(binary.LittleEndian.Uint32(b))
		if n64 > uint64(len(b)) {
			return s.short(o, int(min(n64+4, math.MaxInt32)))
		}
		n = int(n64)
	}
	if len(b) < hdr+n {
		return s.short(o, hdr+n)
	}
	raw := b[hdr : hdr+n]
	s.off += hdr + n
	if o.code == opBytes32 {
		s.emit(Value{Name: o.name, Str: s.rec.str(raw), Num: uint64(n), Kind: KindBytes})
		return nil
	}
	if s.strict && !utf8.Valid(raw) {
		return invalid(o.name, "invalid UTF-8")
	}
	if s.strict && n == 0 && o.code == opStr8 {
		return invalid(o.name, "empty name") // Str8 names are 1..255 bytes
	}
	s.emitStr(o.name, o.role, s.rec.str(raw), 0)
	return nil
}

// identifier decodes §4.2 into one KindString: the number in decimal or the
// name, with the kind in Num.
func (s *state) identifier(name string, r Role) error {
	b := s.b[s.off:]
	if len(b) < 2 {
		return s.shortName(name, false, 2)
	}
	kind, n := b[0], int(b[1])
	switch kind {
	case 1:
		if n != 4 {
			return invalidValue(name, "invalid numeric identifier length", uint64(n))
		}
	case 2:
		if n == 0 {
			return invalid(name, "empty string identifier")
		}
	default:
		return invalidValue(name, "invalid identifier kind", uint64(kind))
	}
	if len(b) < 2+n {
		return s.shortName(name, false, 2+n)
	}
	s.off += 2 + n
	if kind == 1 {
		s.emitStr(name, r, s.rec.uintStr(uint64(binary.LittleEndian.Uint32(b[2:]))), 1)
		return nil
	}
	raw := b[2 : 2+n]
	if s.strict && !utf8.Valid(raw) {
		return invalid(name, "invalid UTF-8")
	}
	s.emitStr(name, r, s.rec.str(raw), 2)
	return nil
}

// consumer decodes §4.3. A consumer-group consumer names the group, so it
// also fills the summary's group.
func (s *state) consumer(o *op) error {
	b := s.b[s.off:]
	if len(b) < 1 {
		return s.short(o, 1)
	}
	kind := b[0]
	if s.strict && kind != 1 && kind != 2 {
		return invalidValue(o.name, "invalid consumer kind", uint64(kind))
	}
	s.off++
	top := s.depth == 0
	s.begin(o.name, KindObject)
	s.emitEnum("kind", enumConsumer, uint64(kind))
	if err := s.identifier("id", RoleNone); err != nil {
		return err
	}
	if kind == 2 && top {
		idx := len(s.rec.Values) - 1
		s.strRole(RoleGroup, s.rec.Values[idx].Str, idx)
	}
	s.end()
	return nil
}

// partitioning decodes §4.6.
func (s *state) partitioning(o *op) error {
	b := s.b[s.off:]
	if len(b) < 2 {
		return s.short(o, 2)
	}
	kind, n := b[0], int(b[1])
	switch {
	case kind == 1 && n != 0:
		return invalidValue(o.name, "balanced partitioning with value length", uint64(n))
	case kind == 2 && n != 4:
		return invalidValue(o.name, "partition id length", uint64(n))
	case kind == 3 && n == 0:
		return invalid(o.name, "empty messages key")
	case kind < 1 || kind > 3:
		return invalidValue(o.name, "invalid partitioning kind", uint64(kind))
	}
	if len(b) < 2+n {
		return s.short(o, 2+n)
	}
	s.off += 2 + n
	top := s.depth == 0
	s.begin(o.name, KindObject)
	s.emitEnum("kind", enumPartitioning, uint64(kind))
	switch kind {
	case 2:
		v := uint64(binary.LittleEndian.Uint32(b[2:]))
		s.emit(Value{Name: "partition_id", Num: v, Kind: KindUint})
		if top {
			s.numRole(RolePartition, v)
		}
	case 3:
		s.emit(Value{Name: "key", Str: s.rec.str(b[2 : 2+n]), Num: uint64(n), Kind: KindBytes})
	}
	s.end()
	return nil
}

// list decodes count elements, or elements until the end with toEnd.
func (s *state) list(o *op, count uint64, toEnd bool) error {
	s.begin(o.name, KindList)
	wrap := o.elem != "" || len(o.sub) != 1
	for i := uint64(0); toEnd && s.off < len(s.b) || !toEnd && i < count; i++ {
		start := s.off
		if wrap {
			s.begin(o.elem, KindObject)
		}
		if err := s.run(o.sub); err != nil {
			return err
		}
		if wrap {
			s.end()
		}
		if s.off == start {
			break // an element that reads nothing would loop forever
		}
	}
	s.end()
	return nil
}
