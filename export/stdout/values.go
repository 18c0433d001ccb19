package stdout

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// appendJSONValues writes a payload's flat Values as the members of a JSON
// object, following the KindObject/KindList/KindEnd brackets. Inside a list
// names are dropped.
func appendJSONValues(b []byte, vs []protocol.Value) []byte {
	b = append(b, '{')
	// inList[d] says whether nesting level d is a list; level 0 is the object
	// this function opened. first tracks whether a comma is due.
	var inList [64]bool
	depth := 0
	first := true
	for i := range vs {
		v := &vs[i]
		if v.Kind == protocol.KindEnd {
			if depth == 0 {
				continue // unbalanced: ignore rather than emit invalid JSON
			}
			if inList[depth] {
				b = append(b, ']')
			} else {
				b = append(b, '}')
			}
			depth--
			first = false
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if !inList[depth] {
			b = appendJSONString(b, v.Name)
			b = append(b, ':')
		}
		switch v.Kind {
		case protocol.KindObject, protocol.KindList:
			if depth+1 >= len(inList) {
				b = append(b, "null"...) // absurd nesting: cut, keep the line valid
				continue
			}
			depth++
			inList[depth] = v.Kind == protocol.KindList
			if inList[depth] {
				b = append(b, '[')
			} else {
				b = append(b, '{')
			}
			first = true
		default:
			b = appendJSONScalar(b, v)
		}
	}
	for ; depth > 0; depth-- {
		if inList[depth] {
			b = append(b, ']')
		} else {
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

func appendJSONScalar(b []byte, v *protocol.Value) []byte {
	switch v.Kind {
	case protocol.KindUint:
		return strconv.AppendUint(b, v.Num, 10)
	case protocol.KindInt:
		return strconv.AppendInt(b, int64(v.Num), 10)
	case protocol.KindFloat:
		f := math.Float64frombits(v.Num)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case protocol.KindBool:
		return strconv.AppendBool(b, v.Num != 0)
	case protocol.KindString:
		return appendJSONString(b, v.Str)
	case protocol.KindEnum:
		if v.Str == "" {
			return strconv.AppendUint(b, v.Num, 10)
		}
		return appendJSONString(b, v.Str)
	case protocol.KindU128:
		b = append(b, '"')
		b = appendUUID(b, v)
		return append(b, '"')
	case protocol.KindTime:
		if v.Num == 0 {
			return append(b, '0')
		}
		b = append(b, '"')
		b = appendMicros(b, v.Num)
		return append(b, '"')
	case protocol.KindDuration:
		return strconv.AppendUint(b, v.Num, 10)
	case protocol.KindBytes:
		b = append(b, `{"len":`...)
		b = strconv.AppendUint(b, v.Num, 10)
		if v.Str != "" {
			b = append(b, `,"base64":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(v.Str))
			b = append(b, '"')
		}
		return append(b, '}')
	case protocol.KindRedacted:
		return append(b, `"[REDACTED]"`...)
	}
	return append(b, "null"...)
}

// appendUUID renders a u128 in wire byte order as a UUID, the form the Go SDK
// and Iggy's tools show message ids in.
func appendUUID(b []byte, v *protocol.Value) []byte {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[0:8], v.Num)
	binary.LittleEndian.PutUint64(raw[8:16], v.Hi)
	var h [32]byte
	hex.Encode(h[:], raw[:])
	b = append(b, h[0:8]...)
	b = append(b, '-')
	b = append(b, h[8:12]...)
	b = append(b, '-')
	b = append(b, h[12:16]...)
	b = append(b, '-')
	b = append(b, h[16:20]...)
	b = append(b, '-')
	return append(b, h[20:32]...)
}

// appendMicros writes a wire timestamp (µs since the epoch) like the
// event's own time, with all six fractional digits: one format for every
// time on a line, and a batch's timestamps line up.
func appendMicros(b []byte, us uint64) []byte {
	if us > math.MaxInt64/1000 {
		return strconv.AppendUint(b, us, 10)
	}
	return appendTime(b, int64(us)*1000)
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes a JSON string holds as they are: printable ASCII
// but for the quote and the backslash. Read-only.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString quotes s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// that every line stays valid JSON whatever bytes a client sent.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Field names and most values are plain ASCII: one table lookup per
	// byte finds that, and they are copied whole.
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
