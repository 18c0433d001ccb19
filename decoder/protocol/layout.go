package protocol

// This file defines the vocabulary of the command table: wire types, fields,
// enumerations and summary roles, and the small constructors table.go is
// written in. A layout is data; plan.go compiles it per version before any
// payload is decoded.

// Type is the wire type of a Field.
type Type uint8

const (
	TypeU8           Type = iota + 1
	TypeU16               // little-endian, like every integer
	TypeU32               //
	TypeU64               //
	TypeF32               // IEEE-754 single, decoded as KindFloat
	TypeBool              // u8, non-zero is true
	TypeTime              // u64 µs since the Unix epoch
	TypeDuration          // u64 µs
	TypeExpiry            // u64 µs; 0 = "server_default", u64 max = "never_expire" (IggyExpiry)
	TypeExpiryAt          // u64 µs since the epoch; 0 = "never_expire"
	TypeTopicSize         // u64 bytes; 0 = "server_default", u64 max = "unlimited"
	TypeEnum8             // u8 with names from Field.Enum
	TypeStr8              // [len u8][UTF-8]
	TypeStr32             // [len u32][UTF-8]
	TypeBytes32           // [len u32][bytes], shown as KindBytes with the bytes
	TypeSecret8           // [len u8][secret]: decoded as KindRedacted, bytes and length dropped
	TypeIdentifier        // [kind u8][len u8][u32 or UTF-8]: one KindString, Num = kind
	TypeConsumer          // [kind u8][Identifier]
	TypeOptPartition      // 0.6+: [has u8][u32]; 0.5: [u32], 0 = none. Value only when present
	TypeStrategy          // [kind u8][value u64]
	TypePartitioning      // [kind u8][len u8][value]
	TypeRest              // opaque bytes to the end of the payload (user data)
	TypeObject            // Fields, bracketed as an object
	TypeOptional          // [flag u8]; Fields follow when it is non-zero
	TypeList              // Count elements of Fields
	TypeRestList          // elements of Fields until the end of the payload
	TypeCustom            // decoded by hand-written code (messages, permissions, ...)
)

var typeNames = [...]string{
	TypeU8: "u8", TypeU16: "u16", TypeU32: "u32", TypeU64: "u64", TypeF32: "f32",
	TypeBool: "bool (u8)", TypeTime: "timestamp (u64 µs)", TypeDuration: "duration (u64 µs)",
	TypeExpiry: "expiry (u64 µs)", TypeExpiryAt: "expiry time (u64 µs)", TypeTopicSize: "size (u64 bytes)",
	TypeEnum8: "enum (u8)", TypeStr8: "Str8", TypeStr32: "Str32", TypeBytes32: "Bytes32",
	TypeSecret8: "Str8, secret", TypeIdentifier: "Identifier", TypeConsumer: "Consumer",
	TypeOptPartition: "optional partition", TypeStrategy: "PollingStrategy",
	TypePartitioning: "Partitioning", TypeRest: "bytes to end", TypeObject: "object",
	TypeOptional: "flag (u8)", TypeList: "list", TypeRestList: "list to end", TypeCustom: "custom",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "invalid"
}

// Role marks a field whose value goes into the Summary. Roles apply only to
// top-level fields, so the streams listed by GetStreams do not each
// overwrite Summary.Stream.
type Role uint8

const (
	RoleNone          Role = iota
	RoleStream             // Summary.Stream
	RoleTopic              // Summary.Topic
	RoleGroup              // Summary.ConsumerGroup
	RolePartition          // Summary.Partition
	RoleUsername           // Summary.Username
	RoleUserID             // Summary.UserID
	RoleMessageCount       // Summary.MessageCount
	RoleServerVersion      // a server release string: evidence for version detection
)

var roleNames = [...]string{"", "stream", "topic", "consumer group", "partition", "username", "user id", "message count", "server version"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return ""
}

// Enum names the values of a u8 enumeration.
type Enum struct {
	Name  string
	names []string // indexed by wire value; "" = no name
}

func newEnum(name string, pairs map[int]string) *Enum {
	hi := 0
	for k := range pairs {
		hi = max(hi, k)
	}
	e := &Enum{Name: name, names: make([]string, hi+1)}
	for k, v := range pairs {
		e.names[k] = v
	}
	return e
}

// Lookup returns the name of wire value v, or "".
func (e *Enum) Lookup(v uint64) string {
	if v < uint64(len(e.names)) {
		return e.names[v]
	}
	return ""
}

// Values lists the named wire values in ascending order.
func (e *Enum) Values() []uint64 {
	var out []uint64
	for i, n := range e.names {
		if n != "" {
			out = append(out, uint64(i))
		}
	}
	return out
}

// Field is one entry of a layout: a wire field, or a group of fields.
type Field struct {
	Name string // the Value name: snake_case, stable, a JSON key
	Type Type
	Doc  string
	// Since and Until gate the field to a range of versions (zero: open).
	Since, Until Version
	Enum         *Enum
	Role         Role
	// Count names an earlier field holding the number of list elements
	// (TypeList) or the byte length a custom decoder is bounded by.
	Count string
	// Elem names each list element (the KindObject around its Fields). A
	// list of one unnamed scalar yields the scalars themselves.
	Elem   string
	Fields []Field
	// Tail marks trailing fields older clients omit: the payload may end
	// before them.
	Tail bool

	custom *custom
}

// Layout is the ordered fields of one payload.
type Layout []Field

func fld(name string, t Type) Field { return Field{Name: name, Type: t} }

func u8(n string) Field        { return fld(n, TypeU8) }
func u16(n string) Field       { return fld(n, TypeU16) }
func u32(n string) Field       { return fld(n, TypeU32) }
func u64(n string) Field       { return fld(n, TypeU64) }
func f32(n string) Field       { return fld(n, TypeF32) }
func boolean(n string) Field   { return fld(n, TypeBool) }
func timestamp(n string) Field { return fld(n, TypeTime) }
func duration(n string) Field  { return fld(n, TypeDuration) }
func expiry(n string) Field    { return fld(n, TypeExpiry) }
func expiryAt(n string) Field  { return fld(n, TypeExpiryAt) }
func topicSize(n string) Field { return fld(n, TypeTopicSize) }
func str8(n string) Field      { return fld(n, TypeStr8) }
func str32(n string) Field     { return fld(n, TypeStr32) }
func bytes32(n string) Field   { return fld(n, TypeBytes32) }
func secret8(n string) Field   { return fld(n, TypeSecret8) }
func ident(n string) Field     { return fld(n, TypeIdentifier) }
func rest(n string) Field      { return fld(n, TypeRest) }
func enum8(n string, e *Enum) Field {
	f := fld(n, TypeEnum8)
	f.Enum = e
	return f
}

func object(n string, fs ...Field) Field {
	f := fld(n, TypeObject)
	f.Fields = fs
	return f
}

// optional is a flag byte named flag, followed by fs when it is non-zero.
// The flag itself yields no Value: the fields' presence says it.
func optional(flag string, fs ...Field) Field {
	f := fld(flag, TypeOptional)
	f.Fields = fs
	return f
}

func list(n, count, elem string, fs ...Field) Field {
	f := fld(n, TypeList)
	f.Count, f.Elem, f.Fields = count, elem, fs
	return f
}

func restList(n, elem string, fs ...Field) Field {
	f := fld(n, TypeRestList)
	f.Elem, f.Fields = elem, fs
	return f
}

func customField(n string, c *custom, count string) Field {
	f := fld(n, TypeCustom)
	f.custom, f.Count = c, count
	return f
}

func (f Field) role(r Role) Field     { f.Role = r; return f }
func (f Field) since(v Version) Field { f.Since = v; return f }
func (f Field) until(v Version) Field { f.Until = v; return f }
func (f Field) doc(s string) Field    { f.Doc = s; return f }
func (f Field) tail() Field           { f.Tail = true; return f }

// in tells whether the field exists in version v.
func (f *Field) in(v Version) bool {
	return (f.Since == VersionUnknown || v >= f.Since) && (f.Until == VersionUnknown || v <= f.Until)
}

// cat concatenates field lists into a new slice, so shared record layouts
// are never appended to in place.
func cat(parts ...[]Field) []Field {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]Field, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Custom returns the name and description of the hand-written decoder of a
// TypeCustom field.
func (f *Field) Custom() (name, doc string) {
	if f.custom == nil {
		return "", ""
	}
	return f.custom.name, f.custom.doc
}
