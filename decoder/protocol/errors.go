package protocol

import (
	"errors"
	"strconv"
)

// ErrorKind classifies a DecodeError.
type ErrorKind uint8

const (
	// ErrShort: the payload ended inside a field.
	ErrShort ErrorKind = iota + 1
	// ErrInvalid: a field holds a value its layout does not allow (an
	// unknown identifier kind, a length that contradicts another).
	ErrInvalid
	// ErrTrailing: bytes are left after the last field.
	ErrTrailing
)

// DecodeError says why a payload did not decode. It names fields and counts
// bytes but never holds payload bytes, and for a secret field not even its
// length, so it is safe to print and to log.
type DecodeError struct {
	Kind ErrorKind
	// Field is the innermost field being decoded ("" for ErrTrailing).
	Field string
	// Need and Have are, for ErrShort, the bytes the field needs and the
	// bytes left. Both are 0 when the field is a secret.
	Need, Have int
	// Reason is a constant phrase for ErrInvalid, e.g. "invalid identifier
	// kind"; Value is the offending number when HasValue.
	Reason   string
	Value    uint64
	HasValue bool
	// Trailing counts the bytes left over, for ErrTrailing.
	Trailing int
}

func (e *DecodeError) Error() string {
	b := make([]byte, 0, 64)
	switch e.Kind {
	case ErrTrailing:
		b = strconv.AppendInt(b, int64(e.Trailing), 10)
		b = append(b, " trailing bytes after the last field"...)
		return string(b)
	case ErrShort:
		b = appendField(b, e.Field)
		if e.Need == 0 && e.Have == 0 {
			return string(append(b, "truncated"...))
		}
		b = append(b, "need "...)
		b = strconv.AppendInt(b, int64(e.Need), 10)
		b = append(b, " bytes, have "...)
		b = strconv.AppendInt(b, int64(e.Have), 10)
		return string(b)
	default:
		b = appendField(b, e.Field)
		b = append(b, e.Reason...)
		if e.HasValue {
			b = append(b, ' ')
			b = strconv.AppendUint(b, e.Value, 10)
		}
		return string(b)
	}
}

func appendField(b []byte, name string) []byte {
	if name == "" {
		return b
	}
	b = append(b, "field "...)
	b = strconv.AppendQuote(b, name)
	return append(b, ": "...)
}

// UnknownCommandError reports a code the command table does not describe.
type UnknownCommandError struct{ Code Code }

func (e UnknownCommandError) Error() string {
	return "unknown command code " + strconv.FormatUint(uint64(e.Code), 10)
}

// errStop ends a partial decode where the captured prefix runs out. It never
// leaves the package: Request and Response turn it into success. It is a
// preallocated value because running out is the normal end of every
// partial decode and must not allocate.
var errStop = errors.New("protocol: captured prefix ends")

func invalid(field, reason string) *DecodeError {
	return &DecodeError{Kind: ErrInvalid, Field: field, Reason: reason}
}

func invalidValue(field, reason string, v uint64) *DecodeError {
	return &DecodeError{Kind: ErrInvalid, Field: field, Reason: reason, Value: v, HasValue: true}
}
