package protocol

import "testing"

// sendBatch is a SendMessages request of n messages of size bytes each,
// with two user headers per message when headers is set.
func sendBatch(n, size int, headers bool) []byte {
	msgs := make([]msg, n)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var h []byte
	if headers {
		h = headersBlob(V08, hdr{2, "trace_id", 2, []byte("4bf92f3577b34da6")}, hdr{2, "attempt", 11, []byte{1, 0, 0, 0}})
	}
	for i := range msgs {
		msgs[i] = msg{id: uint64(i), origin: 1_700_000_000_000_000 + uint64(i), payload: payload, headers: h}
	}
	return sendMessages(V08, (&wb{}).idStr("events").b, (&wb{}).idNum(1).b, []byte{1, 0}, msgs...)
}

func BenchmarkDecodeSendMessages(b *testing.B) {
	for _, bc := range []struct {
		name    string
		headers bool
		opts    Options
	}{
		{"100x1KiB", false, Options{Version: V08}},
		{"100x1KiB/headers", true, Options{Version: V08}},
		{"100x1KiB/auto", false, Options{}},
		{"100x1KiB/payloads", false, Options{Version: V08, Payloads: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := sendBatch(100, 1024, bc.headers)
			d := NewDecoder(bc.opts)
			var rec Record
			if err := d.Request(101, p, len(p), &rec); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d.Request(101, p, len(p), &rec)
			}
		})
	}
}

func BenchmarkDecodePollMessages(b *testing.B) {
	msgs := make([]msg, 100)
	for i := range msgs {
		msgs[i] = msg{id: uint64(i), offset: uint64(i), payload: make([]byte, 1024)}
	}
	p := polledMessages(V08, 1, 99, msgs...)
	d := NewDecoder(Options{Version: V08})
	var rec Record
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		d.Response(100, p, len(p), &rec)
	}
}

func BenchmarkDecodeSmall(b *testing.B) {
	s := samples(V08)
	for _, bc := range []struct {
		name string
		code Code
		dir  int
	}{
		{"Ping", 1, dirRequest},
		{"GetStream", 200, dirRequest},
		{"LoginUser", 38, dirRequest},
		{"PollMessagesRequest", 100, dirRequest},
		{"GetStreamResponse", 200, dirResponse},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := s[bc.code][bc.dir]
			d := NewDecoder(Options{})
			dec := d.Request
			if bc.dir == dirResponse {
				dec = d.Response
			}
			var rec Record
			dec(bc.code, p, len(p), &rec)
			b.ReportAllocs()
			for b.Loop() {
				dec(bc.code, p, len(p), &rec)
			}
		})
	}
}
