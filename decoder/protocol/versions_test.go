package protocol

import (
	"reflect"
	"testing"
)

// Layout differences of §10, each decoded with a fixed Version.
func TestOlderVersionsFixed(t *testing.T) {
	// 0.5: explicit ids on create, bare u32 partition (0 = none).
	rec := decodeReq(t, V05, 202, (&wb{}).u32(9).str8("events").bytes())
	expect(t, rec.Values, map[string]string{"stream_id": "9", "name": "events"})
	rec = decodeReq(t, V05, 302, (&wb{}).idNum(1).u32(4).u32(2).u8(1).u64(0).u64(0).u8(0).str8("orders").bytes())
	expect(t, rec.Values, map[string]string{"stream_id": "1", "topic_id": "4", "partitions_count": "2", "name": "orders"})
	rec = decodeReq(t, V05, 602, (&wb{}).idNum(1).idNum(4).u32(3).str8("g").bytes())
	expect(t, rec.Values, map[string]string{"group_id": "3", "name": "g"})
	rec = decodeReq(t, V05, 121, (&wb{}).u8(1).idNum(1).idNum(1).idNum(1).u32(5).u64(77).bytes())
	expect(t, rec.Values, map[string]string{"partition_id": "5", "offset": "77"})
	rec = decodeReq(t, V05, 122, (&wb{}).u8(1).idNum(1).idNum(1).idNum(1).u32(0).bytes())
	if rec.Summary.HasPartition {
		t.Error("0.5 partition 0 decoded as present")
	}

	// 0.5/0.6: 56-byte headers and string-only header keys; 0.7+: 64 and kinds.
	for _, v := range versions {
		rec := decodeResp(t, v, 100, polledMessages(v, 1, 8, sampleMsgs(v)...))
		expect(t, rec.Values, map[string]string{
			"messages[0].offset": "10", "messages[0].payload_length": "13",
			"messages[0].user_headers[0].key": "trace", "messages[0].user_headers[1].value_kind": "uint32",
			"messages[1].origin_timestamp": "1700000000000050", "messages[1].payload": "bytes(6)",
		})
		if rec.Summary.PayloadBytes != 19 || rec.Summary.MessageCount != 2 {
			t.Errorf("%v: summary %+v", v, rec.Summary)
		}
	}

	// Stats: 0.5–0.7 with and without the semver, 0.8 with its tail.
	for _, v := range versions {
		rec := decodeResp(t, v, 10, statsPayload(v))
		want := map[string]string{"iggy_server_semver": itoa(uint64(v-V05+5) * 1000), "cache_metrics_count": "1",
			"cache_metrics[0].misses": "50"}
		if v == V08 {
			want["threads_count"] = "16"
		}
		expect(t, rec.Values, want)
	}
	noSemver := statsWithoutSemver()
	rec = decodeResp(t, V07, 10, noSemver)
	if _, ok := flatten(rec.Values)["iggy_server_semver"]; ok {
		t.Error("semver decoded where there is none")
	}
	expect(t, rec.Values, map[string]string{"cache_metrics_count": "1", "cache_metrics[0].hits": "1000"})
}

func statsWithoutSemver() []byte {
	p := statsPayload(V07)
	i := len(p) - 4 - 4 - cacheMetricSize // semver, count, one entry
	return append(p[:i:i], p[i+4:]...)
}

// conversation is a connection's traffic in order: requests and responses.
type exchange struct {
	code    Code
	resp    bool
	payload []byte
}

func conversation(v Version) []exchange {
	s := samples(v)
	var out []exchange
	for _, c := range []Code{38, 200, 100, 101, 121, 10} {
		out = append(out, exchange{c, false, s[c][0]}, exchange{c, true, s[c][1]})
	}
	return out
}

// Detection pins each version from its own traffic, and once pinned every
// payload decodes exactly as with the version fixed.
func TestVersionDetection(t *testing.T) {
	for _, v := range versions {
		d := NewDecoder(Options{Messages: true})
		if got, detected := d.Version(); got != V08 || detected {
			t.Fatalf("fresh decoder: %v %v", got, detected)
		}
		fixed := NewDecoder(Options{Version: v, Messages: true})
		var a, b Record
		for _, x := range conversation(v) {
			var err1, err2 error
			if x.resp {
				err1, err2 = d.Response(x.code, x.payload, len(x.payload), &a), fixed.Response(x.code, x.payload, len(x.payload), &b)
			} else {
				err1, err2 = d.Request(x.code, x.payload, len(x.payload), &a), fixed.Request(x.code, x.payload, len(x.payload), &b)
			}
			if err1 != nil || err2 != nil {
				t.Fatalf("%v %d resp=%v: detected %v, fixed %v", v, x.code, x.resp, err1, err2)
			}
			if !reflect.DeepEqual(a.Clone(), b.Clone()) {
				t.Errorf("%v %d resp=%v: detected decode differs from fixed", v, x.code, x.resp)
			}
		}
		if got, detected := d.Version(); got != v || !detected {
			t.Errorf("%v: Version() = %v, %v", v, got, detected)
		}
		if got, detected := fixed.Version(); got != v || detected {
			t.Errorf("fixed %v: Version() = %v, %v", v, got, detected)
		}
	}
}

// Each piece of evidence narrows the candidates on its own.
func TestVersionEvidence(t *testing.T) {
	type step struct {
		code Code
		resp bool
		p    []byte
		want Version
		det  bool
	}
	cases := map[string][]step{
		"0.5 poll request pins 0.5": {{100, false, samples(V05)[100][0], V05, true}},
		"0.6 partition flag then 56-byte headers": {
			{120, false, samples(V06)[120][0], V08, false},
			{101, false, samples(V06)[101][0], V06, true},
		},
		"0.7 64-byte headers then stats without tail": {
			{100, true, samples(V07)[100][1], V08, false},
			{10, true, statsWithoutSemver(), V07, true},
		},
		"0.8 create stream, then stats": {
			{202, false, samples(V08)[202][0], V08, false},
			{10, true, samples(V08)[10][1], V08, true},
		},
		"0.5 explicit id on create": {{302, false, samples(V05)[302][0], V05, true}},
		"nothing version-specific": {
			{38, false, samples(V08)[38][0], V08, false},
			{200, true, samples(V08)[200][1], V08, false},
			{1, false, nil, V08, false},
		},
	}
	for name, steps := range cases {
		d := NewDecoder(Options{Messages: true})
		var rec Record
		for i, s := range steps {
			var err error
			if s.resp {
				err = d.Response(s.code, s.p, len(s.p), &rec)
			} else {
				err = d.Request(s.code, s.p, len(s.p), &rec)
			}
			if err != nil {
				t.Errorf("%s step %d: %v", name, i, err)
			}
			if v, det := d.Version(); v != s.want || det != s.det {
				t.Errorf("%s step %d: Version() = %v, %v; want %v, %v", name, i, v, det, s.want, s.det)
			}
		}
	}
}

// A payload that no candidate decodes teaches nothing; a partial one
// narrows only by what its prefix rules out.
func TestVersionDetectionRobust(t *testing.T) {
	d := NewDecoder(Options{Messages: true})
	var rec Record
	if err := d.Request(100, []byte{1, 2, 3}, 3, &rec); err == nil {
		t.Error("garbage poll request decoded")
	}
	if _, det := d.Version(); det || d.set != allVersions {
		t.Errorf("garbage narrowed the versions to %b", d.set)
	}
	// The first 120 bytes of a 0.6 SendMessages: the index and most of the
	// first header are in, which is enough to rule out the 64-byte header.
	p := samples(V06)[101][0]
	if err := d.Request(101, p[:120], len(p), &rec); err != nil {
		t.Fatal(err)
	}
	if d.set != 1<<V05|1<<V06 {
		t.Errorf("partial 0.6 send: versions %b", d.set)
	}
	if err := checkBalanced(rec.Values); err != nil {
		t.Error(err)
	}
	// Validation asks every candidate but learns nothing.
	d = NewDecoder(Options{Messages: true})
	if !d.ValidRequest(100, samples(V05)[100][0]) || !d.ValidRequest(100, samples(V08)[100][0]) || d.set != allVersions {
		t.Error("ValidRequest across versions")
	}
	d = NewDecoder(Options{Version: V08, Messages: true})
	if d.ValidRequest(100, samples(V05)[100][0]) {
		t.Error("0.5 poll request valid for a 0.8 decoder")
	}
}

// A partial PollMessages response that ends before the evidence of record
// lengths still tells the generations apart by its user headers: read with
// the wrong header size, the blob is not TLV (a soft failure), and
// detection prefers the clean reading.
func TestVersionDetectionUserHeaders(t *testing.T) {
	p := samples(V07)[100][1]
	first := 16 + len(record(V07, sampleMsgs(V07)[0]))
	d := NewDecoder(Options{Messages: true})
	var rec Record
	if err := d.Response(100, p[:first+10], len(p), &rec); err != nil {
		t.Fatal(err)
	}
	if d.set != 1<<V07|1<<V08 {
		t.Errorf("versions %b, want 0.7 and 0.8", d.set)
	}
	expect(t, rec.Values, map[string]string{"messages[0].user_headers[0].key": "trace"})
}
