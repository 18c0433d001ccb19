package protocol

import (
	"encoding/binary"
	"math"
)

// Sample payloads of every command in every version, built field by field
// from iggy-wire.md §5–§6. They seed the fuzzer, drive the all-codes and
// version tests, and are checked value by value where it matters.

type hdr struct {
	keyKind byte
	key     string
	kind    byte
	value   []byte
}

// headersBlob encodes user headers for version v (§4.9): a key kind byte
// from 0.7.
func headersBlob(v Version, hs ...hdr) []byte {
	w := &wb{}
	for _, h := range hs {
		if v >= V07 {
			w.u8(h.keyKind)
		}
		w.u32(uint32(len(h.key))).raw([]byte(h.key)...)
		w.u8(h.kind).u32(uint32(len(h.value))).raw(h.value...)
	}
	return w.bytes()
}

type msg struct {
	id        uint64 // low half; the high half is id+1<<56
	offset    uint64
	timestamp uint64
	origin    uint64
	checksum  uint64
	payload   []byte
	headers   []byte
}

// record encodes one message record (§6.1): 56-byte header before 0.7,
// 64 from 0.7.
func record(v Version, m msg) []byte {
	w := &wb{}
	w.u64(m.checksum).u64(m.id).u64(m.id + 1<<56).u64(m.offset).u64(m.timestamp).u64(m.origin)
	w.u32(uint32(len(m.headers))).u32(uint32(len(m.payload)))
	if v >= V07 {
		w.u64(0)
	}
	w.raw(m.payload...).raw(m.headers...)
	return w.bytes()
}

// sendMessages builds a SendMessages request (§6.2).
func sendMessages(v Version, stream, topic, partitioning []byte, msgs ...msg) []byte {
	meta := &wb{}
	meta.raw(stream...).raw(topic...).raw(partitioning...).u32(uint32(len(msgs)))
	w := &wb{}
	w.u32(uint32(len(meta.b))).raw(meta.b...)
	var recs []byte
	for _, m := range msgs {
		recs = append(recs, record(v, m)...)
		w.u32(0).u32(uint32(len(recs))).u64(0)
	}
	return append(w.bytes(), recs...)
}

// polledMessages builds a PollMessages response (§6.3).
func polledMessages(v Version, partition uint32, current uint64, msgs ...msg) []byte {
	w := &wb{}
	w.u32(partition).u64(current).u32(uint32(len(msgs)))
	for _, m := range msgs {
		w.raw(record(v, m)...)
	}
	return w.bytes()
}

func sampleMsgs(v Version) []msg {
	return []msg{
		{id: 7, offset: 10, timestamp: 1_700_000_000_000_001, origin: 1_700_000_000_000_000, checksum: 0xdead,
			payload: []byte("first-payload"),
			headers: headersBlob(v, hdr{2, "trace", 2, []byte("abc")}, hdr{2, "n", 11, []byte{1, 0, 0, 0}})},
		{id: 8, offset: 11, timestamp: 1_700_000_000_000_002, origin: 1_700_000_000_000_050, checksum: 0xbeef,
			payload: []byte("second")},
	}
}

func statsPayload(v Version) []byte {
	w := &wb{}
	w.u32(1234).f32(25.5).f32(50).u64(1 << 30).u64(8 << 30).u64(4 << 30).u64(3600).u64(1_710_000_000_000)
	w.u64(1_000_000).u64(500_000).u64(2_000_000)
	w.u32(3).u32(10).u32(30).u32(90).u64(50_000).u32(5).u32(2)
	release := map[Version]string{V05: "0.5.0", V06: "0.6.0", V07: "0.7.0", V08: "0.8.0"}[v]
	w.str32("node-1").str32("Linux").str32("6.1").str32("6.1.0").str32(release)
	w.u32(map[Version]uint32{V05: 5000, V06: 6000, V07: 7000, V08: 8000}[v])
	w.u32(1).u32(1).u32(1).u32(0).u64(1000).u64(50).f32(0.95)
	if v >= V08 {
		w.u32(16).u64(100 << 30).u64(500 << 30)
	}
	return w.bytes()
}

func clientRecordBytes(w *wb, id uint32, groups bool) {
	w.u32(id).u32(1).u8(1).str32("127.0.0.1:51234")
	if groups {
		w.u32(1).u32(1).u32(2).u32(3)
	} else {
		w.u32(1)
	}
}

func streamRecordBytes(w *wb, id uint32, topics uint32, name string) {
	w.u32(id).u64(1_710_000_000_000).u32(topics).u64(1024).u64(10).str8(name)
}

func topicRecordBytes(w *wb, id, partitions uint32, name string) {
	w.u32(id).u64(1_710_000_000_000).u32(partitions).u64(0).u8(1).u64(math.MaxUint64).u8(0).u64(2048).u64(20).str8(name)
}

func partitionRecordBytes(w *wb, id uint32) {
	w.u32(id).u64(1_710_000_000_000).u32(1).u64(99).u64(4096).u64(100)
}

func groupRecordBytes(w *wb, id, members uint32, name string) {
	w.u32(id).u32(3).u32(members).str8(name)
}

func userRecordBytes(w *wb, id uint32, name string) {
	w.u32(id).u64(1_710_000_000_000).u8(1).str8(name)
}

// permsBytes: global all set except send; stream 1 {all, topic 10 {manage, read}}.
func permsBytes() []byte {
	w := &wb{}
	w.raw(1, 1, 1, 1, 1, 1, 1, 1, 1, 0)
	w.u8(1).u32(1).raw(1, 1, 0, 1, 1, 0).u8(1).u32(10).raw(1, 1, 0, 1).u8(0).u8(0)
	return w.bytes()
}

func optPartBytes(w *wb, v Version, p uint32) {
	if v >= V06 {
		w.u8(1)
	}
	w.u32(p)
}

func offsetReq(v Version) *wb {
	w := &wb{}
	w.u8(2).idStr("workers").idNum(1).idStr("orders")
	optPartBytes(w, v, 3)
	return w
}

// samples returns request and response payloads of every command for v.
func samples(v Version) map[Code][2][]byte {
	m := map[Code][2][]byte{}
	put := func(c Code, req, resp *wb) {
		var p [2][]byte
		if req != nil {
			p[0] = req.bytes()
		}
		if resp != nil {
			p[1] = resp.bytes()
		}
		m[c] = p
	}
	w := func() *wb { return &wb{} }
	put(1, nil, nil)
	put(10, nil, &wb{b: statsPayload(v)})
	put(11, w().u8(4).u8(2).u8(1).u8(100), w().raw([]byte("PK\x03\x04zip")...))
	put(12, nil, w().str32("cluster").u32(1).str32("n1").str32("10.0.0.1").u16(8090).u16(8080).u16(3000).u16(8092).u8(0).u8(0))
	put(13, w().u8(1), w().u32(1).str8("segment_size").u8(12).u32(8).u64(1<<30).str32("bytes per segment"))

	cd := w()
	clientRecordBytes(cd, 5, true)
	put(20, nil, cd)
	put(21, w().u32(5), &wb{b: cd.bytes()})
	cl := w()
	clientRecordBytes(cl, 5, false)
	clientRecordBytes(cl, 6, false)
	put(22, nil, cl)

	ud := w()
	userRecordBytes(ud, 1, "alice")
	perms := permsBytes()
	ud.u8(1).u32(uint32(len(perms))).raw(perms...)
	put(31, w().idStr("alice"), ud)
	ul := w()
	userRecordBytes(ul, 0, "root")
	userRecordBytes(ul, 1, "alice")
	put(32, nil, ul)
	created := w()
	userRecordBytes(created, 2, "bob")
	created.u32(0)
	put(33, w().str8("bob").str8("S3cret!pw").u8(1).u8(1).u32(uint32(len(perms))).raw(perms...), created)
	put(34, w().idNum(3), nil)
	put(35, w().idNum(3).u8(1).str8("bobby").u8(1).u8(2), nil)
	put(36, w().idNum(3).u8(1).u32(uint32(len(perms))).raw(perms...), nil)
	put(37, w().idStr("alice").str8("old-pass").str8("new-pass"), nil)
	put(38, w().str8("alice").str8("S3cret!pw").str32("0.8.0").str32("ctx"), w().u32(1))
	put(39, nil, nil)
	put(40, w().u32(11264).str8("iggy-go").str8("0.9.0").str8("alice").str8("S3cret!pw").str32(""),
		w().u32(1).u64(77).u32(11264).str8("0.9.0-edge.5"))
	put(41, nil, w().str8("ci").u64(1_800_000_000_000_000).str8("forever").u64(0))
	put(42, w().str8("ci").u64(math.MaxUint64), w().str8("tok_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
	put(43, w().str8("ci"), nil)
	put(44, w().str8("tok_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), w().u32(1))
	put(45, w().u32(11264).str8("iggy-go").str8("0.9.0").str8("tok_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789").str32("ctx"),
		w().u32(1).u64(78).u32(11264).str8("0.9.0-edge.5"))

	poll := w().u8(1).idNum(42).idStr("events").idNum(7)
	optPartBytes(poll, v, 2)
	poll.u8(5).u64(0).u32(100).u8(1)
	put(100, poll, &wb{b: polledMessages(v, 2, 11, sampleMsgs(v)...)})
	put(101, &wb{b: sendMessages(v, (&wb{}).idStr("events").b, (&wb{}).idNum(7).b,
		[]byte{2, 4, 2, 0, 0, 0}, sampleMsgs(v)...)}, nil)
	put(102, w().idNum(1).idNum(2).u32(3).u8(1), nil)

	put(120, offsetReq(v), w().u32(3).u64(99).u64(42))
	put(121, offsetReq(v).u64(42), nil)
	put(122, offsetReq(v), nil)
	put(123, offsetReq(v).u64(42).u8(1), nil)
	put(124, offsetReq(v).u8(0), nil)

	sd := w()
	streamRecordBytes(sd, 1, 1, "events")
	topicRecordBytes(sd, 7, 2, "orders")
	put(200, w().idStr("events"), sd)
	sl := w()
	streamRecordBytes(sl, 1, 1, "events")
	streamRecordBytes(sl, 2, 0, "logs")
	put(201, nil, sl)
	cs := w()
	if v == V05 {
		cs.u32(0)
	}
	cs.str8("events")
	sc := w()
	streamRecordBytes(sc, 1, 0, "events")
	put(202, cs, sc)
	put(203, w().idStr("events"), nil)
	put(204, w().idNum(1).str8("renamed"), nil)
	put(205, w().idNum(1), nil)

	td := w()
	topicRecordBytes(td, 7, 2, "orders")
	partitionRecordBytes(td, 0)
	partitionRecordBytes(td, 1)
	put(300, w().idNum(1).idStr("orders"), td)
	tl := w()
	topicRecordBytes(tl, 7, 2, "orders")
	topicRecordBytes(tl, 8, 1, "audit")
	put(301, w().idNum(1), tl)
	ct := w().idNum(1)
	if v == V05 {
		ct.u32(0)
	}
	ct.u32(1).u8(2).u64(0).u64(0).u8(0).str8("orders")
	tc := w()
	topicRecordBytes(tc, 7, 1, "orders")
	partitionRecordBytes(tc, 0)
	put(302, ct, tc)
	put(303, w().idNum(1).idNum(7), nil)
	put(304, w().idNum(1).idNum(7).u8(2).u64(3_600_000_000).u64(1<<30).u8(1).str8("orders2"), nil)
	put(305, w().idNum(1).idNum(7), nil)
	put(402, w().idNum(1).idNum(7).u32(2), nil)
	put(403, w().idNum(1).idNum(7).u32(1), nil)
	put(503, w().idNum(1).idNum(7).u32(0).u32(5), nil)

	gd := w()
	groupRecordBytes(gd, 0, 2, "workers")
	gd.u32(11).u32(2).u32(0).u32(1)
	gd.u32(12).u32(1).u32(2)
	put(600, w().idNum(1).idNum(7).idStr("workers"), gd)
	gl := w()
	groupRecordBytes(gl, 0, 2, "workers")
	groupRecordBytes(gl, 1, 0, "audit")
	put(601, w().idNum(1).idNum(7), gl)
	cg := w().idNum(1).idNum(7)
	if v == V05 {
		cg.u32(0)
	}
	cg.str8("workers")
	gc := w()
	groupRecordBytes(gc, 0, 0, "workers")
	put(602, cg, gc)
	put(603, w().idNum(1).idNum(7).idStr("workers"), nil)
	put(604, w().idNum(1).idNum(7).idStr("workers"), nil)
	put(605, w().idNum(1).idNum(7).idStr("workers"), nil)
	put(606, w().idNum(1).idNum(7).idStr("workers"), w().u64(3).u32(2).u32(0).u32(1))
	return m
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
