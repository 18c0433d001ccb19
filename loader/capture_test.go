package loader

// Tests of bpf/capture.c through BPF_PROG_TEST_RUN: synthetic packets in,
// ring records out. They need root (CAP_BPF + CAP_NET_ADMIN).

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/iggytrace/iggytrace/bpf"
	"github.com/iggytrace/iggytrace/decoder"
)

func segments(recs []testRec) []testRec {
	var out []testRec
	for _, r := range recs {
		if r.typ == recSegment {
			out = append(out, r)
		}
	}
	return out
}

func TestPortFilter(t *testing.T) {
	for _, fam := range []struct {
		name     string
		cli, srv netip.Addr
	}{{"ipv4", cli4, srv4}, {"ipv6", cli6, srv6}} {
		t.Run(fam.name, func(t *testing.T) {
			h := newHarness(t, Config{Ports: []uint16{8090, 9000}, Mode: Full})
			c := conn{netip.AddrPortFrom(fam.cli, 40000), netip.AddrPortFrom(fam.srv, 8090)}
			other := conn{netip.AddrPortFrom(fam.cli, 40001), netip.AddrPortFrom(fam.srv, 8091)}
			second := conn{netip.AddrPortFrom(fam.cli, 40002), netip.AddrPortFrom(fam.srv, 9000)}
			data := []byte("payload!")

			h.in(c.toServer(100, thPSH, data))      // request at the server: kept
			h.out(c.toClient(500, thPSH, data))     // response from the server: kept
			h.in(second.toServer(7, thPSH, data))   // second configured port: kept
			h.in(other.toServer(100, thPSH, data))  // other port: not kept
			h.out(other.toClient(500, thPSH, data)) // other port: not kept
			h.out(c.toServer(100, thPSH, data))     // the client's copy of the request leaving it
			h.in(c.toClient(500, thPSH, data))      // the client's copy of the response arriving
			h.in(c.toServer(108, 0, nil))           // pure ACK: matched, no record
			udp := c.toServer(100, 0, data)         // not TCP
			udp.proto = 17
			h.in(udp)

			recs := h.drain()
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3: %+v", len(recs), recs)
			}
			want := []struct {
				dir decoder.Direction
				key decoder.ConnKey
				seq uint32
			}{
				{decoder.ToServer, decoder.ConnKey{Client: c.client, Server: c.server}, 100},
				{decoder.ToClient, decoder.ConnKey{Client: c.client, Server: c.server}, 500},
				{decoder.ToServer, decoder.ConnKey{Client: second.client, Server: second.server}, 7},
			}
			for i, w := range want {
				s := recs[i].seg
				if s.Dir != w.dir || s.Key != w.key || s.Seq != w.seq || s.Len != uint32(len(data)) || !bytes.Equal(s.Data, data) {
					t.Errorf("record %d: %+v, want dir %v key %v seq %d", i, s, w.dir, w.key, w.seq)
				}
			}
			st := h.tr.Stats()
			if st.PacketsSeen != 9 || st.PacketsMatched != 4 || st.Records != 3 {
				t.Errorf("seen %d matched %d records %d, want 9, 4, 3", st.PacketsSeen, st.PacketsMatched, st.Records)
			}
		})
	}
}

// IPv6 extension headers are followed (BIG TCP GSO packets carry a
// hop-by-hop header); fragments and overlong chains are counted.
func TestExtensionHeaders(t *testing.T) {
	h := newHarness(t, Config{Mode: Full})
	c6 := conn{netip.AddrPortFrom(cli6, 40000), netip.AddrPortFrom(srv6, 8090)}
	c4 := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	data := []byte("behind extension headers")

	p := c6.toServer(1, thPSH, data)
	p.ext = []uint8{0, 60} // hop-by-hop, destination options
	h.in(p)
	recs := segments(h.drain())
	if len(recs) != 1 || !bytes.Equal(recs[0].data, data) || recs[0].seq != 1 {
		t.Fatalf("behind 2 extension headers: %+v", recs)
	}

	p.ext = []uint8{0, 0, 0, 0, 0} // more than followed
	h.in(p)
	p.ext = []uint8{44} // fragment
	h.in(p)
	p4 := c4.toServer(1, thPSH, data)
	p4.frag = true
	h.in(p4)
	if got := h.drain(); len(got) != 0 {
		t.Fatalf("unparsable packets produced %d records", len(got))
	}
	if st := h.tr.Stats(); st.PacketsUnparsed != 3 {
		t.Fatalf("PacketsUnparsed = %d, want 3", st.PacketsUnparsed)
	}
}

func TestRecordFields(t *testing.T) {
	for _, mode := range []Mode{Full, HeaderOnly} {
		for _, fam := range []struct {
			name     string
			cli, srv netip.Addr
		}{{"ipv4", cli4, srv4}, {"ipv6", cli6, srv6}} {
			t.Run(mode.String()+"/"+fam.name, func(t *testing.T) {
				h := newHarness(t, Config{Mode: mode})
				c := conn{netip.AddrPortFrom(fam.cli, 51000), netip.AddrPortFrom(fam.srv, 8090)}
				req := request(1, nil) // Ping: 8 bytes
				resp := response(0, nil)
				isn, sisn := uint32(0xfffffff0), uint32(1000) // the client's wraps around 2^32

				h.in(c.toServer(isn, thSYN, nil))
				h.out(c.toClient(sisn, thSYN, nil))
				h.in(c.toServer(isn+1, thPSH, req))
				h.out(c.toClient(sisn+1, thPSH, resp))
				h.in(c.toServer(isn+9, thFIN|thPSH, req))
				h.out(c.toClient(sisn+9, thRST, nil))

				recs := segments(h.drain())
				want := []struct {
					dir    decoder.Direction
					flags  decoder.SegFlags
					seq    uint32
					data   []byte
					rflags uint8
				}{
					{decoder.ToServer, decoder.SYN, isn, nil, rfFirst},
					{decoder.ToClient, decoder.SYN, sisn, nil, rfFirst},
					{decoder.ToServer, 0, isn + 1, req, rfFirst | rfLast},
					{decoder.ToClient, 0, sisn + 1, resp, rfFirst | rfLast},
					{decoder.ToServer, decoder.FIN, isn + 9, req, rfFirst | rfLast},
					{decoder.ToClient, decoder.RST, sisn + 9, nil, rfFirst | rfLast},
				}
				if len(recs) != len(want) {
					t.Fatalf("%d records, want %d", len(recs), len(want))
				}
				for i, w := range want {
					r := recs[i]
					s := r.seg
					if s.Dir != w.dir || s.Flags != w.flags || s.Seq != w.seq || s.Len != uint32(len(w.data)) ||
						!bytes.Equal(s.Data, w.data) || r.rflags&^rfResync != w.rflags {
						t.Errorf("record %d: dir %v flags %v seq %d len %d data %x rflags %#x; want %v %v %d %d %x %#x",
							i, s.Dir, s.Flags, s.Seq, s.Len, s.Data, r.rflags, w.dir, w.flags, w.seq, len(w.data), w.data, w.rflags)
					}
					if s.Key.Client != c.client || s.Key.Server != c.server {
						t.Errorf("record %d: key %v, want client %v server %v", i, s.Key, c.client, c.server)
					}
					if r.ktime == 0 || s.Time < 1.7e18 {
						t.Errorf("record %d: ktime %d, wall time %d", i, r.ktime, s.Time)
					}
				}
				if mode == HeaderOnly {
					// FIN ended one direction, RST both: no tracker state left.
					if n := countFlows(t, h.tr); n != 0 {
						t.Errorf("%d flow states left after FIN and RST", n)
					}
				}
				// cpu_seq numbers the records of a CPU.
				for i := 1; i < len(recs); i++ {
					if recs[i].cpu == recs[i-1].cpu && recs[i].cpuSeq != recs[i-1].cpuSeq+1 {
						t.Errorf("cpu_seq %d after %d on CPU %d", recs[i].cpuSeq, recs[i-1].cpuSeq, recs[i].cpu)
					}
				}
			})
		}
	}
}

func countFlows(t *testing.T, tr *Tracer) int {
	t.Helper()
	return len(flowStates(t, tr))
}

// flowStates returns the frame tracker states in the flows map.
func flowStates(t *testing.T, tr *Tracer) []bpf.CaptureFlow {
	t.Helper()
	var (
		k   bpf.CaptureFlowKey
		v   bpf.CaptureFlow
		out []bpf.CaptureFlow
	)
	it := tr.objs.Flows.Iterate()
	for it.Next(&k, &v) {
		out = append(out, v)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// An RST from either side drops the tracker state of both directions.
func TestHeaderOnlyRSTForgetsBoth(t *testing.T) {
	h := newHarness(t, Config{})
	c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	h.in(c.toServer(10, thSYN, nil))
	h.out(c.toClient(90, thSYN, nil))
	h.in(c.toServer(11, thPSH, request(1, nil)))
	h.out(c.toClient(91, thPSH, response(0, nil)))
	if n := countFlows(t, h.tr); n != 2 {
		t.Fatalf("%d flow states, want 2", n)
	}
	h.in(c.toServer(19, thRST, nil))
	if n := countFlows(t, h.tr); n != 0 {
		t.Fatalf("%d flow states after RST, want 0", n)
	}
}

// Full mode splits a packet into chunks: BPF_PROG_TEST_RUN takes at most a
// page, so the chunk is shrunk to 512 bytes here; TestLive sends 64 KiB GSO
// packets through the real 16 KiB chunks.
func TestFullChunking(t *testing.T) {
	h := newHarness(t, Config{Mode: Full, chunk: 512})
	c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	data := pattern(3000, 1)
	h.in(c.toServer(1000, thPSH|thFIN, data))
	recs := segments(h.drain())
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	s := newStream(1000, data)
	for i, r := range recs {
		wantLen := uint32(512)
		if i == 5 {
			wantLen = 3000 - 5*512
		}
		if r.wireLen != wantLen || r.capLen != wantLen || r.pktLen != 3000 {
			t.Errorf("record %d: wire %d cap %d pkt %d", i, r.wireLen, r.capLen, r.pktLen)
		}
		if r.seq != 1000+uint32(i)*512 {
			t.Errorf("record %d: seq %d", i, r.seq)
		}
		wantF := uint8(0)
		if i == 0 {
			wantF |= rfFirst
		}
		if i == 5 {
			wantF |= rfLast
		}
		if r.rflags != wantF {
			t.Errorf("record %d: rflags %#x, want %#x", i, r.rflags, wantF)
		}
		if (r.seg.Flags&decoder.FIN != 0) != (i == 5) {
			t.Errorf("record %d: FIN %v", i, r.seg.Flags)
		}
		if err := s.add(r.seq, r.wireLen, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.check(false, nil); err != nil {
		t.Fatal(err)
	}
	st := h.tr.Stats()
	if st.BytesWire != 3000 || st.BytesCaptured != 3000 || st.BytesSkipped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// cut splits b at the given offsets.
func cut(b []byte, at ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, a := range at {
		out = append(out, b[prev:a])
		prev = a
	}
	return append(out, b[prev:])
}

// TestHeaderOnlyFrames sends frames split across packets in every awkward
// way and checks that exactly each frame's header + budget is captured and
// every other byte accounted as skipped, in both directions.
func TestHeaderOnlyFrames(t *testing.T) {
	const budget = 16
	reqs := [][]byte{
		request(101, pattern(100, 1)),  // 0..108
		request(1, nil),                // 108..116 Ping, header only
		request(38, pattern(4, 2)),     // 116..128
		request(101, pattern(2000, 3)), // 128..2136
		request(200, pattern(10, 4)),   // 2136..2154
		request(201, pattern(50, 5)),   // 2154..2212
		request(302, pattern(30, 6)),   // 2212..2250
	}
	resps := [][]byte{
		response(0, pattern(300, 7)), // 0..308
		response(0, nil),             // 308..316
		response(3, nil),             // 316..324 error, no payload
		response(0, pattern(1500, 8)),
		response(0, pattern(20, 9)),
	}
	for _, dir := range []decoder.Direction{decoder.ToServer, decoder.ToClient} {
		t.Run(dir.String(), func(t *testing.T) {
			h := newHarness(t, Config{MetaBudget: budget})
			c := conn{netip.AddrPortFrom(cli6, 40000), netip.AddrPortFrom(srv6, 8090)}
			frames, cuts := reqs, []int{
				50,         // inside frame 0's body (after its budget)
				111,        // inside frame 1's header: 3 bytes here, 5 next
				127,        // inside frame 2's budget
				135,        // inside frame 3's header: 7 bytes, then 1
				1000, 2140, // frame 3's body; frame 4's header split 4+1+3
				2141, // a packet of one header byte
			}
			if dir == decoder.ToClient {
				frames, cuts = resps, []int{
					4,    // inside frame 0's header
					20,   // inside its budget
					311,  // frame 1's header split 3/5
					312,  // one byte
					900,  // frame 3's body
					1832, // exactly at frame 4's start
				}
			}
			all := concat(frames...)
			isn := uint32(0x7ffffff0)
			send := func(p tcpPacket) {
				if dir == decoder.ToServer {
					h.in(p)
				} else {
					h.out(p)
				}
			}
			mk := c.toServer
			if dir == decoder.ToClient {
				mk = c.toClient
			}
			send(mk(isn, thSYN, nil))
			seq := isn + 1
			for _, part := range cut(all, cuts...) {
				send(mk(seq, thPSH, part))
				seq += uint32(len(part))
			}

			s := newStream(isn+1, all)
			for _, r := range segments(h.drain()) {
				if r.seg.Flags&decoder.SYN != 0 {
					continue
				}
				if r.rflags&(rfDesync|rfRetrans|rfTrunc) != 0 {
					t.Errorf("record at %d: rflags %#x", r.seq-isn-1, r.rflags)
				}
				if err := s.add(r.seq, r.wireLen, r.data); err != nil {
					t.Fatal(err)
				}
			}
			mask := frameMask(frames, budget)
			if err := s.check(false, mask); err != nil {
				t.Fatal(err)
			}
			st := h.tr.Stats()
			var kept uint64
			for _, m := range mask {
				if m {
					kept++
				}
			}
			if st.BytesWire != uint64(len(all)) || st.BytesCaptured != kept || st.BytesSkipped != uint64(len(all))-kept {
				t.Errorf("wire %d captured %d skipped %d; want %d %d %d", st.BytesWire, st.BytesCaptured,
					st.BytesSkipped, len(all), kept, uint64(len(all))-kept)
			}
			if st.SyncLost != 0 || st.DroppedRecords != 0 {
				t.Errorf("sync lost %d, dropped %d", st.SyncLost, st.DroppedRecords)
			}
		})
	}
}

// TestHeaderOnlyResync covers the ways the frame tracker loses and finds
// the frame boundaries.
func TestHeaderOnlyResync(t *testing.T) {
	const budget = 8
	c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	big := request(101, pattern(1000, 1))
	small := request(200, pattern(20, 2))

	type step struct {
		name       string
		seq        uint32
		payload    []byte
		wantFlags  uint8  // rflags of the first record
		wantCap    uint32 // bytes captured in the packet
		lost, seen uint64 // SyncLost, SyncFound after the step
	}
	const isn = 1000
	base := uint32(isn + 1)
	steps := []step{
		// big frame: header + budget of 16 bytes kept, the rest skipped.
		{"first packet", base, big[:600], rfFirst | rfLast, 16, 0, 0},
		// A gap inside the frame's body: the next frame start is still known.
		{"gap inside a body", base + 700, big[700:], rfFirst | rfLast, 0, 0, 0},
		// Retransmission of old bytes: start of packet copied, state kept.
		{"retransmission", base + 100, big[100:200], rfFirst | rfLast | rfRetrans, 16, 0, 0},
		// In sync still: small frame at 1008, then a packet that skips
		// its next frame start (gap over a boundary).
		{"after retransmission", base + 1008, small, rfFirst | rfLast, 16, 0, 0},
		{"gap over a boundary", base + 1008 + 28 + 5, pattern(40, 3), rfFirst | rfLast | rfDesync, 16, 1, 0},
		// Desynced: each packet start is copied until one starts with a frame header.
		{"garbage", base + 2000, pattern(30, 4), rfFirst | rfLast | rfDesync, 16, 1, 0},
		{"resync at a frame start", base + 3000, concat(small, small[:10]), rfFirst | rfResync, 26, 1, 1},
		{"tracking again", base + 3038, small[10:], rfFirst | rfLast, 6, 1, 1},
		// An impossible length (request length < 4) loses sync.
		{"impossible length", base + 3056, concat([]byte{2, 0, 0, 0, 1, 0, 0, 0}, pattern(40, 5)), rfFirst | rfLast | rfDesync, 16, 2, 1},
	}
	h := newHarness(t, Config{MetaBudget: budget})
	h.in(c.toServer(isn, thSYN, nil))
	h.drain()
	for _, s := range steps {
		h.in(c.toServer(s.seq, thPSH, s.payload))
		recs := segments(h.drain())
		if len(recs) == 0 {
			t.Fatalf("%s: no record", s.name)
		}
		var captured, wire uint32
		for _, r := range recs {
			captured += r.capLen
			wire += r.wireLen
		}
		st := h.tr.Stats()
		if recs[0].rflags != s.wantFlags || captured != s.wantCap || wire != uint32(len(s.payload)) ||
			st.SyncLost != s.lost || st.SyncFound != s.seen {
			t.Errorf("%s: rflags %#x captured %d wire %d lost %d found %d; want %#x %d %d %d %d",
				s.name, recs[0].rflags, captured, wire, st.SyncLost, st.SyncFound,
				s.wantFlags, s.wantCap, len(s.payload), s.lost, s.seen)
		}
	}

	// A connection first seen mid-stream starts desynced and syncs on the
	// first packet that starts with a frame header.
	mid := conn{netip.AddrPortFrom(cli4, 40009), netip.AddrPortFrom(srv4, 8090)}
	h.in(mid.toServer(5000, thPSH, small))
	recs := segments(h.drain())
	st := h.tr.Stats()
	if len(recs) != 1 || recs[0].rflags != rfFirst|rfLast|rfResync || recs[0].capLen != 16 || st.Midstream != 1 || st.SyncFound != 2 {
		t.Errorf("mid-stream: %d records, rflags %#x, cap %d, midstream %d, found %d", len(recs), recs[0].rflags, recs[0].capLen, st.Midstream, st.SyncFound)
	}
}

// TestRingFull fills a one-page ring without reading it: records that do not
// fit are counted, with their bytes, and the per-CPU record counters show
// exactly that many gaps.
func TestRingFull(t *testing.T) {
	for _, mode := range []Mode{Full, HeaderOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			pinCPU(t) // one CPU, so that its record counter shows every drop
			h := newHarness(t, Config{Mode: mode, RingSize: 4096})
			c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
			const n = 100
			data := request(101, pattern(992, 1))
			h.in(c.toServer(0, thSYN, nil))
			for i := range n {
				h.in(c.toServer(1+uint32(i*len(data)), thPSH, data))
			}
			st := h.tr.Stats()
			if st.DroppedRecords == 0 {
				t.Fatalf("no drops with a one-page ring: %+v", st)
			}
			if st.BytesWire != uint64(n*len(data)) || st.BytesWire != st.BytesCaptured+st.BytesSkipped+st.DroppedBytes {
				t.Errorf("wire %d != captured %d + skipped %d + dropped %d (sent %d)",
					st.BytesWire, st.BytesCaptured, st.BytesSkipped, st.DroppedBytes, n*len(data))
			}
			recs := h.drain()
			st = h.tr.Stats()
			if uint64(len(recs)) != st.Records+st.StateRecords {
				t.Errorf("read %d records, kernel wrote %d", len(recs), st.Records)
			}
			// Drops after the last record read are invisible to the counter
			// check; the first record (the SYN) fits, so every drop here
			// falls between records or after the last one.
			if st.RecordsMissing > st.DroppedRecords {
				t.Errorf("missing %d > dropped %d", st.RecordsMissing, st.DroppedRecords)
			}
			t.Logf("records %d dropped %d (bytes %d) missing-by-counter %d", st.Records, st.DroppedRecords, st.DroppedBytes, st.RecordsMissing)

			// Once read, the ring has room again, and the next record
			// shows the drops as a gap in the CPU's record counter.
			before := st.DroppedRecords
			h.in(c.toServer(1+uint32(n*len(data)), thPSH, data))
			h.drain()
			if st = h.tr.Stats(); st.DroppedRecords != before {
				t.Errorf("dropped after draining: %d -> %d", before, st.DroppedRecords)
			}
			if st.RecordsMissing != st.DroppedRecords {
				t.Errorf("counter gaps %d, kernel dropped %d", st.RecordsMissing, st.DroppedRecords)
			}
		})
	}
}

// TestHeaderOnlySmallFrames: a packet that is one small frame is kept whole
// without touching the flow state, and the tracker still keeps exactly the
// header and budget of every frame around such packets: frames after them
// (in one packet or spread over several), a frame whose last packet reads
// like a small frame by coincidence, and a frame that begins in a small
// packet and goes on in the next. Nothing counts as a loss of sync.
func TestHeaderOnlySmallFrames(t *testing.T) {
	const budget = 32
	// A 60-byte tail that reads as a whole 60-byte GetStream request.
	lookalike := request(200, pattern(52, 9))
	big := request(101, concat(pattern(2000-60, 3), lookalike))
	reqs := [][]byte{
		request(1, nil),               // small, whole
		request(200, pattern(20, 1)),  // small, whole
		request(101, pattern(500, 2)), // after small ones: state behind, at a boundary; header split 3/5
		request(38, pattern(10, 4)),   // small, whole
		big,                           // three packets; the last looks like a small frame
		request(121, pattern(30, 5)),  // small, whole
		request(101, pattern(300, 6)), // begins in a small packet, goes on in the next
		request(1, nil),
	}
	cuts := func(frames [][]byte) []int {
		var at []int
		off := 0
		for i, f := range frames {
			switch {
			case i == 2: // 3 bytes of the header, then the rest
				at = append(at, off+3)
			case i == 4: // big: 1000 | 940 | the 60-byte lookalike
				at = append(at, off+1000, off+len(f)-60)
			case i == 6: // 20 bytes, then the rest
				at = append(at, off+20)
			}
			off += len(f)
			at = append(at, off)
		}
		return at[:len(at)-1]
	}
	resps := [][]byte{
		response(0, nil),
		response(0, pattern(24, 1)),
		response(0, pattern(900, 2)),
		response(3, nil),
		response(0, pattern(2000, 3)),
		response(0, pattern(16, 4)),
		response(0, pattern(300, 6)),
		response(0, nil),
	}
	for _, dir := range []decoder.Direction{decoder.ToServer, decoder.ToClient} {
		t.Run(dir.String(), func(t *testing.T) {
			h := newHarness(t, Config{MetaBudget: budget})
			c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
			frames, send, mk := reqs, h.in, c.toServer
			if dir == decoder.ToClient {
				frames, send, mk = resps, h.out, c.toClient
			}
			all := concat(frames...)
			isn := uint32(0xfffffff0) // wraps around 2^32 inside the stream
			send(mk(isn, thSYN, nil))
			seq := isn + 1
			for i, part := range cut(all, cuts(frames)...) {
				send(mk(seq, thPSH, part))
				seq += uint32(len(part))
				if i == 1 {
					// Two small whole frames so far: the state has not moved.
					if next := flowNextSeq(t, h.tr); next != isn+1 {
						t.Errorf("after two small frames the tracker is at %d, want %d (untouched)", next-isn-1, 0)
					}
				}
			}

			s := newStream(isn+1, all)
			for _, r := range segments(h.drain()) {
				if r.seg.Flags&decoder.SYN != 0 {
					continue
				}
				if r.rflags&(rfDesync|rfRetrans|rfTrunc|rfResync) != 0 {
					t.Errorf("record at %d: rflags %#x", r.seq-isn-1, r.rflags)
				}
				if err := s.add(r.seq, r.wireLen, r.data); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.check(false, frameMask(frames, budget)); err != nil {
				t.Fatal(err)
			}
			if st := h.tr.Stats(); st.SyncLost != 0 || st.SyncFound != 0 || st.DroppedRecords != 0 {
				t.Errorf("sync lost %d, found %d, dropped %d", st.SyncLost, st.SyncFound, st.DroppedRecords)
			}
		})
	}
}

// flowNextSeq returns next_seq of the only flow state in the map.
func flowNextSeq(t *testing.T, tr *Tracer) uint32 {
	t.Helper()
	states := flowStates(t, tr)
	if len(states) != 1 {
		t.Fatalf("%d flow states, want 1", len(states))
	}
	return states[0].NextSeq
}
