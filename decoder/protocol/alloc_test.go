package protocol

import (
	"reflect"
	"testing"
	"unsafe"
)

// Once a Record has grown, decoding allocates nothing: not for strings (the
// arena), not for values, not for partial decodes, not in detection's
// steady state.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("AllocsPerRun")
	}
	s := samples(V08)
	for _, opts := range []Options{{Version: V08}, {Version: V08, Payloads: true}, {}} {
		d := NewDecoder(opts)
		for _, c := range Commands() {
			for dir, p := range s[c.Code] {
				dec := d.Request
				if dir == dirResponse {
					dec = d.Response
				}
				var rec Record
				for _, partial := range []bool{false, true} {
					q := p
					if partial && len(q) > 0 {
						q = q[:len(q)*2/3]
					}
					w := len(q)
					if partial {
						w = len(p) + 1
					}
					dec(c.Code, q, w, &rec) // warm up, and detect
					if n := testing.AllocsPerRun(20, func() { dec(c.Code, q, w, &rec) }); n != 0 {
						t.Errorf("%+v %d %s dir %d partial %v: %v allocs", opts, c.Code, c.Name, dir, partial, n)
					}
				}
			}
			if n := testing.AllocsPerRun(20, func() { d.ValidRequest(c.Code, s[c.Code][0]) }); n != 0 {
				t.Errorf("ValidRequest %d: %v allocs", c.Code, n)
			}
		}
	}
}

func TestRecordClone(t *testing.T) {
	d := NewDecoder(Options{Version: V08, Payloads: true})
	var rec Record
	p := samples(V08)[100]
	if err := d.Request(100, p[0], len(p[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := rec.Clone()
	if n := testing.AllocsPerRun(10, func() { rec.Clone() }); n > 2 {
		t.Errorf("Clone: %v allocs, want at most 2", n)
	}
	values := rec.Clone()
	sum := rec.Summary // detached by Clone
	if !reflect.DeepEqual(values, want) {
		t.Fatal("Clone is not a copy")
	}
	// Decode something else into the Record: the clone must not change.
	if err := d.Request(100, samples(V08)[120][0], len(samples(V08)[120][0]), &rec); err == nil {
		t.Fatal("expected an error decoding a 120 payload as 100")
	}
	if err := d.Response(100, p[1], len(p[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values, want) {
		t.Error("clone changed when the Record was reused")
	}
	if sum.Stream != "events" || sum.Topic != "7" {
		t.Errorf("summary after reuse: %+v", sum)
	}
	arena := rec.arena[:cap(rec.arena)]
	for _, v := range values {
		if v.Str != "" && inside(v.Str, arena) {
			t.Errorf("cloned %s still points into the arena", v.Name)
		}
	}
	if s := rec.Summary.Clone(); s.Stream != rec.Summary.Stream || (s.Stream != "" && inside(s.Stream, arena)) {
		t.Errorf("Summary.Clone: %+v", s)
	}
	if (&Record{}).Clone() != nil {
		t.Error("Clone of an empty Record")
	}
}

func inside(s string, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&b[0]))
	return p >= lo && p < lo+uintptr(len(b))
}

// Strings never alias the payload: the caller reuses its buffers.
func TestNoPayloadAliasing(t *testing.T) {
	for _, c := range Commands() {
		for dir, p := range samples(V08)[c.Code] {
			buf := append([]byte(nil), p...)
			var rec Record
			d := NewDecoder(Options{Version: V08, Payloads: true})
			if dir == dirRequest {
				d.Request(c.Code, buf, len(buf), &rec)
			} else {
				d.Response(c.Code, buf, len(buf), &rec)
			}
			for _, v := range rec.Values {
				if v.Str != "" && inside(v.Str, buf) {
					t.Errorf("%d %s: %s aliases the payload", c.Code, c.Name, v.Name)
				}
			}
		}
	}
}
