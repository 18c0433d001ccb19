package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// wb builds little-endian payloads for tests.
type wb struct{ b []byte }

func (w *wb) u8(v uint8) *wb   { w.b = append(w.b, v); return w }
func (w *wb) u16(v uint16) *wb { w.b = binary.LittleEndian.AppendUint16(w.b, v); return w }
func (w *wb) u32(v uint32) *wb { w.b = binary.LittleEndian.AppendUint32(w.b, v); return w }
func (w *wb) u64(v uint64) *wb { w.b = binary.LittleEndian.AppendUint64(w.b, v); return w }
func (w *wb) f32(v float32) *wb {
	return w.u32(math.Float32bits(v))
}
func (w *wb) raw(b ...byte) *wb    { w.b = append(w.b, b...); return w }
func (w *wb) str8(s string) *wb    { w.u8(uint8(len(s))); w.b = append(w.b, s...); return w }
func (w *wb) str32(s string) *wb   { w.u32(uint32(len(s))); w.b = append(w.b, s...); return w }
func (w *wb) idNum(v uint32) *wb   { return w.u8(1).u8(4).u32(v) }
func (w *wb) idStr(s string) *wb   { return w.u8(2).str8(s) }
func (w *wb) bytes() []byte        { return append([]byte(nil), w.b...) }
func (w *wb) optPart(v uint32) *wb { return w.u8(1).u32(v) }

// flatten maps each Value to a path: "consumer.id", "topics[1].name",
// "partitions[0]" (a scalar list element). Object and list markers map too,
// under their own path.
func flatten(vals []Value) map[string]Value {
	out := map[string]Value{}
	type frame struct {
		path string
		list bool
		n    int
	}
	var stack []frame
	child := func(name string) string {
		if len(stack) == 0 {
			return name
		}
		top := &stack[len(stack)-1]
		if top.list {
			p := top.path + "[" + strconv.Itoa(top.n) + "]"
			top.n++
			return p
		}
		if top.path == "" {
			return name
		}
		return top.path + "." + name
	}
	for _, v := range vals {
		switch v.Kind {
		case KindEnd:
			stack = stack[:len(stack)-1]
		case KindObject, KindList:
			p := child(v.Name)
			out[p] = v
			stack = append(stack, frame{path: p, list: v.Kind == KindList})
		default:
			out[child(v.Name)] = v
		}
	}
	return out
}

// render prints a Value's content compactly for assertions.
func render(v Value) string {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindEnum:
		if v.Str == "" {
			return "?" + strconv.FormatUint(v.Num, 10)
		}
		return v.Str
	case KindInt:
		return strconv.FormatInt(int64(v.Num), 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.Num), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Num != 0)
	case KindU128:
		return fmt.Sprintf("%016x%016x", v.Hi, v.Num)
	case KindBytes:
		if v.Str != "" {
			return fmt.Sprintf("bytes(%d)%q", v.Num, v.Str)
		}
		return fmt.Sprintf("bytes(%d)", v.Num)
	case KindRedacted:
		return "REDACTED"
	case KindObject:
		return "{"
	case KindList:
		return "["
	}
	return strconv.FormatUint(v.Num, 10)
}

// expect checks decoded values by path. want maps path → rendered value.
func expect(t *testing.T, vals []Value, want map[string]string) {
	t.Helper()
	got := flatten(vals)
	for path, w := range want {
		v, ok := got[path]
		if !ok {
			t.Errorf("no value at %s; have %s", path, keys(got))
			continue
		}
		if r := render(v); r != w {
			t.Errorf("%s = %s, want %s", path, r, w)
		}
	}
}

func expectKind(t *testing.T, vals []Value, path string, k Kind) {
	t.Helper()
	if v, ok := flatten(vals)[path]; !ok || v.Kind != k {
		t.Errorf("%s: kind %v (present %v), want %v", path, v.Kind, ok, k)
	}
}

func keys(m map[string]Value) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, " ")
}

// checkBalanced verifies that objects and lists are closed in order.
func checkBalanced(vals []Value) error {
	depth := 0
	for i, v := range vals {
		switch v.Kind {
		case KindObject, KindList:
			depth++
		case KindEnd:
			depth--
			if depth < 0 {
				return fmt.Errorf("value %d: KindEnd without an open object", i)
			}
		case KindInvalid:
			return fmt.Errorf("value %d (%s): KindInvalid", i, v.Name)
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d objects left open", depth)
	}
	return nil
}

// decodeReq decodes a request with a fresh decoder fixed at v.
func decodeReq(t *testing.T, v Version, code Code, payload []byte) *Record {
	t.Helper()
	rec := &Record{}
	if err := NewDecoder(Options{Version: v, Messages: true}).Request(code, payload, len(payload), rec); err != nil {
		t.Fatalf("request %d (%v): %v", code, v, err)
	}
	if err := checkBalanced(rec.Values); err != nil {
		t.Fatal(err)
	}
	return rec
}

func decodeResp(t *testing.T, v Version, code Code, payload []byte) *Record {
	t.Helper()
	rec := &Record{}
	if err := NewDecoder(Options{Version: v, Messages: true}).Response(code, payload, len(payload), rec); err != nil {
		t.Fatalf("response %d (%v): %v", code, v, err)
	}
	if err := checkBalanced(rec.Values); err != nil {
		t.Fatal(err)
	}
	return rec
}
