package protocol

import (
	"strconv"
	"strings"
	"unsafe"
)

// Record receives one decoded payload. It is meant to be reused: once its
// slices have grown to the largest payload seen, decoding into it allocates
// nothing.
//
// The strings in Values and Summary point into the Record's private arena,
// not into the payload (capture buffers are reused by the caller), and stay
// valid until the Record is reset or decoded into again. Keep them longer
// with Clone.
type Record struct {
	Values  []Value
	Summary Summary

	// arena holds the bytes of every string decoded into this Record. Secret
	// fields never reach it: they are skipped before anything is copied.
	arena []byte
	// sumIdx[i] is 1 + the index of the Value whose Str the i-th Summary
	// string (see summaryString) was taken from, or 0. Clone uses it to
	// detach the Summary together with the Values.
	sumIdx [4]int32
}

const (
	sumStream = iota
	sumTopic
	sumGroup
	sumUsername
)

func (r *Record) summaryString(i int) *string {
	switch i {
	case sumStream:
		return &r.Summary.Stream
	case sumTopic:
		return &r.Summary.Topic
	case sumGroup:
		return &r.Summary.ConsumerGroup
	default:
		return &r.Summary.Username
	}
}

// Reset empties the Record, keeping its capacity.
func (r *Record) Reset() {
	r.Values = r.Values[:0]
	r.Summary = Summary{}
	r.arena = r.arena[:0]
	r.sumIdx = [4]int32{}
}

// Clone returns an independent copy of the Values: one allocation for the
// slice and one string holding the bytes of every string value. It also
// re-points r.Summary's strings at that copy, so a Summary read after Clone
// stays valid as long as the returned Values do.
func (r *Record) Clone() (values []Value) {
	if len(r.Values) == 0 {
		return nil
	}
	values = make([]Value, len(r.Values))
	copy(values, r.Values)
	n := 0
	for i := range values {
		if ownsStr(values[i].Kind) {
			n += len(values[i].Str)
		}
	}
	if n > 0 {
		var b strings.Builder
		b.Grow(n)
		for i := range values {
			if ownsStr(values[i].Kind) {
				b.WriteString(values[i].Str)
			}
		}
		all, off := b.String(), 0
		for i := range values {
			if ownsStr(values[i].Kind) {
				l := len(values[i].Str)
				values[i].Str = all[off : off+l]
				off += l
			}
		}
	}
	for i, idx := range r.sumIdx {
		if idx > 0 && int(idx) <= len(values) {
			*r.summaryString(i) = values[idx-1].Str
		}
	}
	return values
}

// ownsStr tells whether a Value's Str may live in a Record's arena. Enum
// names and field names are constants and need no copy.
func ownsStr(k Kind) bool { return k == KindString || k == KindBytes }

// Clone returns a copy of s whose strings share one new allocation and no
// longer point into a Record.
func (s Summary) Clone() Summary {
	n := len(s.Stream) + len(s.Topic) + len(s.ConsumerGroup) + len(s.Username)
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range [...]*string{&s.Stream, &s.Topic, &s.ConsumerGroup, &s.Username} {
		b.WriteString(*p)
	}
	all, off := b.String(), 0
	for _, p := range [...]*string{&s.Stream, &s.Topic, &s.ConsumerGroup, &s.Username} {
		l := len(*p)
		*p = all[off : off+l]
		off += l
	}
	return s
}

// str copies b into the arena and returns it as a string. The string aliases
// the arena, which is never written below its length until Reset, so it
// stays stable for the life of the decoded Values. If append moves the
// arena, strings made earlier keep the old array alive and unchanged.
func (r *Record) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	off := len(r.arena)
	r.arena = append(r.arena, b...)
	return unsafe.String(&r.arena[off], len(b))
}

// uintStr renders v in decimal into the arena.
func (r *Record) uintStr(v uint64) string {
	off := len(r.arena)
	r.arena = strconv.AppendUint(r.arena, v, 10)
	return unsafe.String(&r.arena[off], len(r.arena)-off)
}
