package protocol

import (
	"errors"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	d := NewDecoder(Options{Version: V08})
	var rec Record
	cases := []struct {
		code Code
		p    []byte
		want string
	}{
		{303, (&wb{}).idNum(1).u8(1).u8(4).u8(7).bytes(), `field "topic_id": need 6 bytes, have 3`},
		{200, []byte{9, 4, 1, 0, 0, 0}, `field "stream_id": invalid identifier kind 9`},
		{200, (&wb{}).idNum(1).u8(0).u8(0).bytes(), `2 trailing bytes after the last field`},
		{38, []byte{1, 'u', 9, 's', 'e'}, `field "password": truncated`},
		{101, (&wb{}).u32(7).idNum(1).idNum(1).u8(1).u8(0).u32(0).bytes(), `field "metadata_length": does not match the size of the metadata: 7`},
	}
	for _, c := range cases {
		err := d.Request(c.code, c.p, len(c.p), &rec)
		if err == nil || err.Error() != c.want {
			t.Errorf("%d % x: %v, want %s", c.code, c.p, err, c.want)
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%T is not a *DecodeError", err)
		}
		if e := checkBalanced(rec.Values); e != nil {
			t.Error(e)
		}
	}
	// What decoded before the error is kept.
	d.Request(303, cases[0].p, len(cases[0].p), &rec)
	expect(t, rec.Values, map[string]string{"stream_id": "1"})
	if rec.Summary.Stream != "1" {
		t.Errorf("summary %+v", rec.Summary)
	}
}

// A partial payload decodes as far as it goes, with a filled Summary.
func TestPartialSendMessages(t *testing.T) {
	p := sendBatch(3, 100, true)
	d := NewDecoder(Options{Version: V08, Messages: true})
	var rec Record
	cut := len(p) - (64 + 100 + len(headersBlob(V08, hdr{2, "trace_id", 2, []byte("4bf92f3577b34da6")}, hdr{2, "attempt", 11, []byte{1, 0, 0, 0}}))) - 30
	if err := d.Request(101, p[:cut], len(p), &rec); err != nil {
		t.Fatal(err)
	}
	if err := checkBalanced(rec.Values); err != nil {
		t.Fatal(err)
	}
	expect(t, rec.Values, map[string]string{
		"stream_id": "events", "messages_count": "3", "messages[0].payload_length": "100",
		"messages[1].payload_length": "100", "messages[1].payload": "bytes(100)",
		"messages[1].user_headers": "bytes(55)", // the blob is cut: kept opaque
	})
	s := rec.Summary
	if s.Stream != "events" || s.Topic != "1" || s.MessageCount != 3 || s.PayloadBytes != 200 {
		t.Errorf("summary %+v", s)
	}
	if _, ok := flatten(rec.Values)["messages[2]"]; ok {
		t.Error("third message decoded from a prefix without it")
	}
	// Not partial: the same prefix is an error.
	var de *DecodeError
	if err := d.Request(101, p[:cut], len(p[:cut]), &rec); !errors.As(err, &de) || de.Kind != ErrShort {
		t.Errorf("truncated, not partial: %v", err)
	}
}

// An empty OK payload of a not-found command is no values, not an error;
// the captured prefix of a login is partial, with the password redacted.
func TestPartialLogin(t *testing.T) {
	d := NewDecoder(Options{})
	var rec Record
	login := (&wb{}).str8("alice").u8(20).raw('x', 'y').bytes() // a 20-byte password cut after 2
	if err := d.Request(38, login, len(login)+18, &rec); err != nil {
		t.Fatal(err)
	}
	expect(t, rec.Values, map[string]string{"username": "alice", "password": "REDACTED"})
	if rec.Summary.Username != "alice" {
		t.Errorf("summary %+v", rec.Summary)
	}
}

// TestPartialRestLength: a field that runs to the end of the payload (the
// snapshot archive) reports its length on the wire when only a prefix was
// captured, as the header-only capture does, and carries no bytes.
func TestPartialRestLength(t *testing.T) {
	for _, payloads := range []bool{false, true} {
		d := NewDecoder(Options{Payloads: payloads})
		var rec Record
		archive := make([]byte, 1229)
		if err := d.Response(11, archive[:128], len(archive), &rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.Values) != 1 || rec.Values[0].Name != "archive" || rec.Values[0].Kind != KindBytes {
			t.Fatalf("values %+v", rec.Values)
		}
		if v := rec.Values[0]; v.Num != 1229 || len(v.Str) > 128 {
			t.Errorf("payloads %v: archive len %d with %d bytes, want len 1229 and at most the 128 captured", payloads, v.Num, len(v.Str))
		}
	}
}
