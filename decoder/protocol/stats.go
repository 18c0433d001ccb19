package protocol

import "encoding/binary"

// The Stats response (§5.1) is table-driven except for one field: servers
// 0.5–0.7 write iggy_server_semver only when they know it, with no flag, and
// the next field (cache_metrics_count) is a u32 too. The layouts are told
// apart by which reading consumes the rest exactly (§14 item 1). 0.8 always
// writes the semver and appends three fields, which the table gates.

// cacheMetricSize is one cache_metrics entry: three u32, two u64, one f32.
const cacheMetricSize = 32

var customLegacySemver = &custom{
	name: "legacy_semver",
	doc: "0.5–0.7: an optional u32, present iff `[semver u32][count u32][count × 32 bytes]` " +
		"consumes the rest of the payload exactly (else the rest is `[count u32][entries]`).",
	decode: (*state).legacySemver,
}

func (s *state) legacySemver(o *op) error {
	b := s.b[s.off:]
	present := len(b) >= 4 // when neither reading fits, the semver one reports the error
	if len(b) >= 8 && 8+cacheMetricSize*uint64(binary.LittleEndian.Uint32(b[4:])) == uint64(len(b)) {
		present = true
	} else if len(b) >= 4 && 4+cacheMetricSize*uint64(binary.LittleEndian.Uint32(b)) == uint64(len(b)) {
		present = false
	}
	if !present {
		if len(b) < 4 {
			return s.short(o, 4)
		}
		return nil
	}
	s.off += 4
	s.emit(Value{Name: o.name, Num: uint64(binary.LittleEndian.Uint32(b)), Kind: KindUint})
	return nil
}
