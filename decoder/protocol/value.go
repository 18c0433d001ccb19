package protocol

// Kind says how to read a Value.
type Kind uint8

const (
	KindInvalid  Kind = iota
	KindUint          // Num
	KindInt           // int64(Num)
	KindFloat         // math.Float64frombits(Num)
	KindBool          // Num != 0
	KindString        // Str
	KindEnum          // Num, with its name in Str ("" when the number has no name)
	KindU128          // Hi<<64 | Num, e.g. message ids
	KindTime          // Num = microseconds since the Unix epoch
	KindDuration      // Num = microseconds; the sentinels of IggyExpiry are enums, not durations
	KindBytes         // opaque bytes: Num = length; Str holds the bytes only when payloads are enabled
	KindRedacted      // a secret: neither its bytes nor its length are kept
	KindObject        // begins a nested object; closed by KindEnd
	KindList          // begins a list; closed by KindEnd
	KindEnd           // closes the innermost KindObject or KindList
)

// Value is one decoded field. A payload decodes to a flat slice of Values in
// wire order; KindObject/KindList ... KindEnd bracket nesting, so a slice can be
// written as JSON or text without building a tree.
//
// Name is always a constant from the protocol description. Str may point into
// a Record's string arena: it is valid until the Record is reset or decoded
// into again (see Record.Clone).
//
// Identifiers decode to one KindString value whose Num is the identifier kind
// (1 numeric, 2 string), so "1" the number and "1" the name stay apart.
type Value struct {
	Name string
	Str  string
	Num  uint64
	Hi   uint64
	Kind Kind
}

// Summary holds the few decoded fields that filters, metrics and the audit trail
// key on, so that they need not walk the Values. Fields the command does not
// carry stay zero.
type Summary struct {
	Stream        string // identifier as decoded: a number ("1") or a name
	Topic         string
	ConsumerGroup string
	Partition     uint32
	HasPartition  bool
	Username      string // user named by the command (login, create/update/delete user, ...)
	UserID        uint32 // user id returned by a login
	HasUserID     bool
	MessageCount  uint32 // messages sent or polled
	PayloadBytes  uint64 // sum of message payload sizes
}

var kindNames = [...]string{
	KindInvalid: "invalid", KindUint: "uint", KindInt: "int", KindFloat: "float", KindBool: "bool",
	KindString: "string", KindEnum: "enum", KindU128: "u128", KindTime: "time", KindDuration: "duration",
	KindBytes: "bytes", KindRedacted: "redacted", KindObject: "object", KindList: "list", KindEnd: "end",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Top finds the first top-level Value (not inside an object or list) named
// name and of kind k: how sinks read one field of a payload without walking
// its nesting themselves.
func Top(vals []Value, name string, k Kind) (*Value, bool) {
	depth := 0
	for i := range vals {
		v := &vals[i]
		switch v.Kind {
		case KindObject, KindList:
			depth++
		case KindEnd:
			depth--
		default:
			if depth == 0 && v.Kind == k && v.Name == name {
				return v, true
			}
		}
	}
	return nil, false
}

// IDName returns the top-level "id" (an unsigned value) and nameField (a
// string) of a record payload — a stream, topic, group or user — and
// whether both are there. Sinks that follow names use it.
func IDName(vals []Value, nameField string) (id uint32, name string, ok bool) {
	idv, okID := Top(vals, "id", KindUint)
	nv, okName := Top(vals, nameField, KindString)
	if !okID || !okName {
		return 0, "", false
	}
	return uint32(idv.Num), nv.Str, true
}

// EachIDName calls fn with the "id" and nameField of every nested object
// that has both directly: the elements of a list of streams, topics or users.
// Objects nested deeper than 8 levels are not visited.
func EachIDName(vals []Value, nameField string, fn func(id uint32, name string)) {
	const maxDepth = 8
	type rec struct {
		id             uint32
		name           string
		hasID, hasName bool
	}
	var stack [maxDepth]rec
	depth := 0 // open objects and lists
	for i := range vals {
		v := &vals[i]
		switch v.Kind {
		case KindObject, KindList:
			depth++
			if depth < maxDepth {
				stack[depth] = rec{}
			}
			continue
		case KindEnd:
			if depth > 0 && depth < maxDepth {
				if r := stack[depth]; r.hasID && r.hasName {
					fn(r.id, r.name)
				}
			}
			depth--
			continue
		}
		if depth <= 0 || depth >= maxDepth {
			continue
		}
		r := &stack[depth]
		switch {
		case v.Name == "id" && v.Kind == KindUint:
			r.id, r.hasID = uint32(v.Num), true
		case v.Name == nameField && v.Kind == KindString:
			r.name, r.hasName = v.Str, true
		}
	}
}
