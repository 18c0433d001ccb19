package protocol

import "testing"

// TestTopAndIDName reads fields of a decoded GetStream response the way the
// sinks do: top-level fields only, then the nested topic records.
func TestTopAndIDName(t *testing.T) {
	vals := []Value{
		{Name: "id", Kind: KindUint, Num: 7},
		{Name: "topics", Kind: KindList},
		{Kind: KindObject},
		{Name: "id", Kind: KindUint, Num: 1},
		{Name: "name", Kind: KindString, Str: "orders"},
		{Kind: KindEnd},
		{Kind: KindObject},
		{Name: "id", Kind: KindUint, Num: 2}, // no name: skipped
		{Kind: KindEnd},
		{Kind: KindEnd},
		{Name: "name", Kind: KindString, Str: "shop"},
	}
	if v, ok := Top(vals, "name", KindString); !ok || v.Str != "shop" {
		t.Errorf("Top(name) = %v, %v; want the stream's name, not a topic's", v, ok)
	}
	if _, ok := Top(vals, "name", KindUint); ok {
		t.Error("Top matched a value of another kind")
	}
	if id, name, ok := IDName(vals, "name"); !ok || id != 7 || name != "shop" {
		t.Errorf("IDName = %d, %q, %v", id, name, ok)
	}
	var got []string
	EachIDName(vals, "name", func(id uint32, name string) { got = append(got, name) })
	if len(got) != 1 || got[0] != "orders" {
		t.Errorf("EachIDName visited %q, want [orders]", got)
	}
}
