package pcapng_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/pcapng"
	"github.com/iggytrace/iggytrace/internal/afpacket/traffictest"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

var (
	key4 = decoder.ConnKey{Client: netip.MustParseAddrPort("10.0.0.1:50000"), Server: netip.MustParseAddrPort("10.0.0.2:8090")}
	key6 = decoder.ConnKey{Client: netip.MustParseAddrPort("[fd00::1]:50001"), Server: netip.MustParseAddrPort("[fd00::2]:8090")}
	// A mapped IPv4 client of an IPv4 server: written as plain IPv4.
	keyMapped = decoder.ConnKey{Client: netip.MustParseAddrPort("[::ffff:10.0.0.3]:50002"), Server: netip.MustParseAddrPort("10.0.0.2:8090")}
)

func payload(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// session is a plausible capture: handshakes, requests and responses of many
// sizes (one odd-length, for the checksum), teardown by FIN and by RST, over
// IPv4 and IPv6. Every segment fits one packet.
func session() []decoder.Segment {
	var segs []decoder.Segment
	t := int64(1_700_000_000_000_000_000)
	add := func(key decoder.ConnKey, dir decoder.Direction, flags decoder.SegFlags, seq uint32, data []byte) uint32 {
		t += 12345
		segs = append(segs, decoder.Segment{Time: t, Key: key, Dir: dir, Flags: flags, Seq: seq, Len: uint32(len(data)), Data: data})
		next := seq + uint32(len(data))
		if flags&(decoder.SYN|decoder.FIN) != 0 {
			next++
		}
		return next
	}
	for i, key := range []decoder.ConnKey{key4, key6} {
		c := add(key, decoder.ToServer, decoder.SYN, 0xfffff000+uint32(i), nil) // wraps around 2^32
		s := add(key, decoder.ToClient, decoder.SYN, 77, nil)
		c = add(key, decoder.ToServer, 0, c, payload(1, 61))
		s = add(key, decoder.ToClient, 0, s, payload(2, 1448))
		c = add(key, decoder.ToServer, 0, c, payload(3, 9000))
		s = add(key, decoder.ToClient, 0, s, payload(4, 65000))
		c = add(key, decoder.ToServer, decoder.FIN, c, payload(5, 3))
		add(key, decoder.ToClient, decoder.FIN, s, nil)
		_ = c
	}
	c := add(keyMapped, decoder.ToServer, decoder.SYN, 5, nil)
	add(keyMapped, decoder.ToClient, decoder.SYN, 9, nil)
	add(keyMapped, decoder.ToServer, decoder.RST, c, nil)
	return segs
}

func writeFile(t testing.TB, segs []decoder.Segment, opts pcapng.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		if err := w.WriteSegment(&segs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readBack(t testing.TB, file []byte) ([]decoder.Segment, pcapfile.Stats) {
	t.Helper()
	r, err := pcapfile.NewReader(bytes.NewReader(file), pcapfile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var segs []decoder.Segment
	for {
		var seg decoder.Segment
		if err := r.Next(&seg); err != nil {
			if err != io.EOF {
				t.Fatalf("reading back after %d segments: %v", len(segs), err)
			}
			return segs, r.Stats()
		}
		seg.Data = append([]byte{}, seg.Data...)
		segs = append(segs, seg)
	}
}

func TestRoundTrip(t *testing.T) {
	in := session()
	got, st := readBack(t, writeFile(t, in, pcapng.Options{}))
	want := session()
	for i := range want {
		want[i].Key.Client = netip.AddrPortFrom(want[i].Key.Client.Addr().Unmap(), want[i].Key.Client.Port())
		if want[i].Data == nil {
			want[i].Data = []byte{}
		}
	}
	if len(got) != len(want) || st.Skipped.Total() != 0 {
		t.Fatalf("read back %d segments (%v), wrote %d", len(got), st, len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("segment %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestTruncatedData writes segments whose Data is a prefix of Len bytes: the
// packet must say so (caplen < len), and read back the same.
func TestTruncatedData(t *testing.T) {
	in := []decoder.Segment{{Time: 1, Key: key4, Dir: decoder.ToClient, Seq: 10, Len: 100_000, Data: payload(9, 300)}}
	got, _ := readBack(t, writeFile(t, in, pcapng.Options{}))
	// 100000 bytes take two packets; the captured 300 are all in the first.
	if len(got) != 2 || got[0].Len+got[1].Len != 100_000 || got[1].Seq != 10+got[0].Len ||
		!bytes.Equal(got[0].Data, in[0].Data) || len(got[1].Data) != 0 {
		t.Fatalf("got %+v", got)
	}
}

// TestLargeSegmentSplit: a segment longer than an IP packet can carry (eBPF
// sees whole send calls) becomes consecutive packets that reassemble to it,
// with SYN on the first and FIN on the last.
func TestLargeSegmentSplit(t *testing.T) {
	data := payload(7, 300_000)
	in := []decoder.Segment{{Time: 5, Key: key6, Dir: decoder.ToServer, Flags: decoder.SYN | decoder.FIN, Seq: 0xffffff00, Len: uint32(len(data)), Data: data}}
	got, _ := readBack(t, writeFile(t, in, pcapng.Options{}))
	var joined []byte
	next := in[0].Seq + 1 // the SYN takes one sequence number
	for i, s := range got {
		wantSeq := next
		if i == 0 {
			wantSeq = in[0].Seq
		}
		if s.Seq != wantSeq {
			t.Fatalf("packet %d: seq %d, want %d", i, s.Seq, wantSeq)
		}
		if (s.Flags&decoder.SYN != 0) != (i == 0) || (s.Flags&decoder.FIN != 0) != (i == len(got)-1) {
			t.Errorf("packet %d of %d: flags %v", i, len(got), s.Flags)
		}
		next = wantSeq + s.Len
		if i == 0 {
			next++
		}
		joined = append(joined, s.Data...)
	}
	if len(got) != 5 || !bytes.Equal(joined, data) {
		t.Fatalf("%d packets, %d bytes, want 5 packets with the %d bytes", len(got), len(joined), len(data))
	}
}

// TestWritePacket stores frames of several link types: one interface each,
// Ethernet sharing the segments' interface, all readable.
func TestWritePacket(t *testing.T) {
	segs := session()[:4]
	var synth bytes.Buffer
	w, _ := pcapng.NewWriter(&synth, pcapng.Options{})
	for i := range segs {
		w.WriteSegment(&segs[i])
	}
	w.Close()
	frames, _ := rawFrames(t, synth.Bytes()) // Ethernet frames made by WriteSegment

	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		var err error
		switch i % 4 {
		case 0:
			err = w.WritePacket(int64(i), pcapng.LinkTypeEthernet, f, len(f))
		case 1:
			err = w.WritePacket(int64(i), pcapng.LinkTypeRaw, f[14:], len(f)-14)
		case 2:
			sll2 := append([]byte{f[12], f[13], 0, 0, 0, 0, 0, 1, 3, 4, 0, 6}, make([]byte, 8)...)
			err = w.WritePacket(int64(i), pcapng.LinkTypeLinuxSLL2, append(sll2, f[14:]...), len(f)+6)
		case 3:
			err = w.WritePacket(int64(i), pcapng.LinkTypeEthernet, f[:60], len(f)) // truncated capture
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st := readBack(t, buf.Bytes())
	if len(got) != 4 || st.Skipped.Total() != 0 {
		t.Fatalf("read %d segments: %v", len(got), st)
	}
	for i := range 3 {
		s := segs[i]
		s.Time = int64(i)
		if s.Data == nil {
			s.Data = []byte{}
		}
		if !reflect.DeepEqual(got[i], s) {
			t.Errorf("frame %d:\n got %+v\nwant %+v", i, got[i], s)
		}
	}
	if got[3].Len != segs[3].Len || !bytes.Equal(got[3].Data, segs[3].Data[:60-54]) {
		t.Errorf("truncated frame: Len %d, %d bytes", got[3].Len, len(got[3].Data))
	}
	_, ifaces := rawFrames(t, buf.Bytes())
	if want := []uint16{1, 101, 276}; !reflect.DeepEqual(ifaces, want) {
		t.Errorf("interfaces %v, want %v", ifaces, want)
	}
}

// rawFrames is a minimal pcapng parser for checking the writer's blocks
// independently of pcapfile: the frames of the EPBs and the link type of
// each IDB.
func rawFrames(t *testing.T, file []byte) (frames [][]byte, ifaces []uint16) {
	t.Helper()
	le := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	for off := 0; off < len(file); {
		typ, n := le(file[off:]), int(le(file[off+4:]))
		if n%4 != 0 || le(file[off+n-4:]) != uint32(n) {
			t.Fatalf("block at %d: bad length %d", off, n)
		}
		switch typ {
		case 1:
			ifaces = append(ifaces, uint16(le(file[off+8:])))
		case 6:
			frames = append(frames, file[off+28:off+28+int(le(file[off+20:]))])
		}
		off += n
	}
	return frames, ifaces
}

func TestOptions(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, pcapng.Options{Application: "custom app", SnapLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	seg := decoder.Segment{Key: key4, Dir: decoder.ToServer, Seq: 1, Len: 1000, Data: payload(1, 1000)}
	w.WriteSegment(&seg)
	w.WritePacket(0, pcapng.LinkTypeRaw, make([]byte, 500), 500)
	w.Close()
	if !bytes.Contains(buf.Bytes(), []byte("custom app")) {
		t.Error("shb_userappl not written")
	}
	frames, _ := rawFrames(t, buf.Bytes())
	if len(frames) != 2 || len(frames[0]) != 100 || len(frames[1]) != 100 {
		t.Errorf("snaplen 100 not applied: %d frames", len(frames))
	}
	got, _ := readBack(t, buf.Bytes())
	if len(got) != 1 || got[0].Len != 1000 || !bytes.Equal(got[0].Data, seg.Data[:100-54]) {
		t.Errorf("read back %+v", got)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteErrorsAreSticky(t *testing.T) {
	if _, err := pcapng.NewWriter(&failingWriter{}, pcapng.Options{}); err == nil {
		t.Error("NewWriter ignored a failing writer") // the header is flushed on the first Flush
	}
	w, err := pcapng.NewWriter(&failingWriter{after: 200}, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seg := decoder.Segment{Key: key4, Seq: 1, Len: 100_000, Data: payload(1, 100_000)}
	err = w.WriteSegment(&seg)
	if err == nil {
		err = w.Flush()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want disk full", err)
	}
	if err2 := w.WriteSegment(&seg); err2 != err {
		t.Errorf("second write: %v, want the first error again", err2)
	}
	if err2 := w.Close(); err2 != err {
		t.Errorf("Close: %v, want the first error again", err2)
	}
}

func TestWriterZeroAllocs(t *testing.T) {
	w, err := pcapng.NewWriter(io.Discard, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seg := decoder.Segment{Key: key6, Dir: decoder.ToServer, Seq: 1, Len: 1400, Data: payload(1, 1400)}
	w.WriteSegment(&seg)
	frame := make([]byte, 1500)
	if allocs := testing.AllocsPerRun(1000, func() {
		seg.Dir ^= 1
		w.WriteSegment(&seg)
		w.WritePacket(1, pcapng.LinkTypeEthernet, frame, 1500)
	}); allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
}

// TestTshark has Wireshark read the file, with checksum validation on:
// every packet must dissect as TCP with good IP and TCP checksums (or
// unverified ones for a truncated packet), without Wireshark's TCP analysis
// flagging lost, out-of-order or retransmitted segments, and the payloads it
// extracts per stream must be the bytes written.
func TestTshark(t *testing.T) {
	tshark := traffictest.RequireTool(t, "tshark")
	in := session()
	// A truncated packet (caplen < len) of a connection caught mid-stream.
	midStream := decoder.ConnKey{Client: netip.MustParseAddrPort("10.0.0.9:50009"), Server: key4.Server}
	in = append(in, decoder.Segment{Time: 2e18, Key: midStream, Dir: decoder.ToClient, Seq: 1, Len: 5000, Data: payload(8, 100)})
	path := filepath.Join(t.TempDir(), "session.pcapng")
	if err := os.WriteFile(path, writeFile(t, in, pcapng.Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-r", path,
		"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "tcp.desegment_tcp_streams:FALSE",
		"-T", "fields", "-E", "separator=|",
		"-e", "frame.cap_len", "-e", "frame.len", "-e", "tcp.stream", "-e", "tcp.srcport",
		"-e", "tcp.seq_raw", "-e", "tcp.ack_raw", "-e", "tcp.flags.str", "-e", "tcp.len", "-e", "tcp.payload",
		"-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "tcp.analysis.flags", "-e", "_ws.malformed",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(in) {
		t.Fatalf("tshark shows %d packets, wrote %d", len(lines), len(in))
	}
	for i, line := range lines {
		f := strings.Split(line, "|")
		if len(f) != 13 {
			t.Fatalf("packet %d: unexpected tshark line of %d fields", i+1, len(f))
		}
		seg := in[i]
		capLen, _ := strconv.Atoi(f[0])
		truncated := capLen < atoi(f[1])
		if got := atoi(f[7]); got != int(seg.Len) {
			t.Errorf("packet %d: tcp.len %d, want %d", i+1, got, seg.Len)
		}
		if got := atoi(f[4]); uint32(got) != seg.Seq {
			t.Errorf("packet %d: tcp.seq_raw %d, want %d", i+1, got, seg.Seq)
		}
		data, err := hex.DecodeString(strings.ReplaceAll(f[8], ":", ""))
		if err != nil || !bytes.Equal(data, seg.Data) {
			t.Errorf("packet %d: payload %d bytes differs from the %d written", i+1, len(data), len(seg.Data))
		}
		ipOK := f[9] == "1" || f[9] == "" // IPv6 has no header checksum
		tcpOK := f[10] == "1" || (truncated && f[10] == "2")
		if !ipOK || !tcpOK {
			t.Errorf("packet %d: checksum status ip %q tcp %q (1 is good)", i+1, f[9], f[10])
		}
		if f[11] != "" || f[12] != "" {
			t.Errorf("packet %d: tshark flags %q malformed %q", i+1, f[11], f[12])
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func BenchmarkWriteSegment(b *testing.B) {
	w, _ := pcapng.NewWriter(io.Discard, pcapng.Options{})
	seg := decoder.Segment{Key: key4, Dir: decoder.ToServer, Seq: 1, Len: 1400, Data: payload(1, 1400)}
	b.SetBytes(int64(len(seg.Data)))
	b.ReportAllocs()
	for b.Loop() {
		seg.Dir ^= 1
		seg.Seq += 1400
		if err := w.WriteSegment(&seg); err != nil {
			b.Fatal(err)
		}
	}
}
