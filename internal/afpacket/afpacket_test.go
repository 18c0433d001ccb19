package afpacket_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/pcapng"
	"github.com/iggytrace/iggytrace/internal/afpacket"
	"github.com/iggytrace/iggytrace/internal/afpacket/traffictest"
	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

// requireRoot skips without CAP_NET_RAW, except under CI, which must run
// these tests.
func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("captures real traffic")
	}
	if os.Geteuid() != 0 {
		citest.Needf(t, "AF_PACKET capture needs root (CAP_NET_RAW)")
	}
}

// capture runs a capture on iface for ports while traffic runs, and returns
// the file and the capture's stats. traffic must return only once every
// packet that matters has crossed the interface.
func capture(t *testing.T, iface string, ports []uint16, traffic func()) (string, afpacket.Stats) {
	t.Helper()
	h, err := afpacket.Open(iface, ports)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	path := filepath.Join(t.TempDir(), "live.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapng.NewWriter(f, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  afpacket.Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := h.Run(ctx, w)
		done <- result{st, err}
	}()
	traffic()
	// The receiving socket has read every byte, so every packet has been
	// through the interface's taps and sits in the capture socket: Run
	// drains the socket when cancelled.
	cancel()
	res := <-done
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v", iface, res.st)
	return path, res.st
}

func readSegments(t *testing.T, path string, ports []uint16) ([]decoder.Segment, pcapfile.Stats) {
	t.Helper()
	r, err := pcapfile.Open(path, pcapfile.Config{ServerPorts: ports})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var segs []decoder.Segment
	for {
		var seg decoder.Segment
		if err := r.Next(&seg); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			return segs, r.Stats()
		}
		seg.Data = append([]byte(nil), seg.Data...)
		segs = append(segs, seg)
	}
}

// TestCaptureLoopback captures a Go client and server talking over IPv4 and
// IPv6 loopback, next to traffic on a port that is not captured, and
// requires the exact bytes both ways from the pcapng file.
func TestCaptureLoopback(t *testing.T) {
	requireRoot(t)
	for _, iface := range []string{"lo", "any"} {
		t.Run(iface, func(t *testing.T) {
			v4, v6 := traffictest.Listen(t, "tcp4"), traffictest.Listen(t, "tcp6")
			noise := traffictest.Listen(t, "tcp4")
			ports := []uint16{v4.Addr.Port(), v6.Addr.Port()}
			var want []traffictest.Conn
			path, st := capture(t, iface, ports, func() {
				noise.Exchange(t, 1, 9)
				want = append(v4.Exchange(t, 3, 1), v6.Exchange(t, 3, 2)...)
				noise.Exchange(t, 1, 10)
			})
			segs, rst := readSegments(t, path, ports)
			traffictest.Check(t, segs, want)
			if rst.Skipped.Total() != 0 || uint64(rst.Packets) != st.Written {
				t.Errorf("read back %v; capture wrote %d", rst, st.Written)
			}
			// The kernel filter keeps the noise and loopback duplicates out.
			if st.Filtered != 0 || st.Duplicates != 0 || st.Dropped != 0 || st.Received != st.Written {
				t.Errorf("stats %v: the kernel filter let packets through", st)
			}
		})
	}
}

// TestUserSpaceFilter uses more ports than the kernel filter checks, so that
// user space does all the filtering: loopback duplicates and other ports
// must be dropped there, with the same result.
func TestUserSpaceFilter(t *testing.T) {
	requireRoot(t)
	srv := traffictest.Listen(t, "tcp4")
	noise := traffictest.Listen(t, "tcp4")
	ports := []uint16{srv.Addr.Port()}
	for p := range uint16(40) {
		if q := 1 + p; q != noise.Addr.Port() {
			ports = append(ports, q) // privileged ports nobody uses here
		}
	}
	var want []traffictest.Conn
	path, st := capture(t, "lo", ports, func() {
		want = srv.Exchange(t, 2, 3)
		noise.Exchange(t, 1, 4)
	})
	segs, _ := readSegments(t, path, ports)
	traffictest.Check(t, segs, want)
	if st.Duplicates == 0 || st.Filtered == 0 || st.Received != st.Written+st.Duplicates+st.Filtered {
		t.Errorf("stats %v: expected duplicates and filtered packets counted in user space", st)
	}
}

// TestTsharkReadsLiveCapture: Wireshark must dissect every packet of a live
// capture as Linux cooked v2 / IP / TCP, and see the same payload volume.
func TestTsharkReadsLiveCapture(t *testing.T) {
	requireRoot(t)
	tshark := traffictest.RequireTool(t, "tshark")
	srv := traffictest.Listen(t, "tcp6")
	var want []traffictest.Conn
	path, st := capture(t, "lo", []uint16{srv.Addr.Port()}, func() { want = srv.Exchange(t, 2, 5) })
	out, err := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "frame.protocols", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if uint64(len(lines)) != st.Written {
		t.Fatalf("tshark shows %d packets, capture wrote %d", len(lines), st.Written)
	}
	// Under load, loopback TCP retransmits (tail loss probes), so the bytes
	// of a direction are its highest relative sequence number reached, less
	// one for the SYN, over the segments that carry data; not the sum of the
	// segment lengths.
	end := map[string]int{}
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) != 5 || !strings.HasPrefix(f[0], "sll:ethertype:ipv6:tcp") {
			t.Fatalf("packet dissected as %q", l)
		}
		if n := atoi(f[4]); n > 0 { // a pure ACK after a FIN is one past the data
			dir := f[1] + "/" + f[2]
			end[dir] = max(end[dir], atoi(f[3])+n-1)
		}
	}
	total, sent := 0, 0
	for _, n := range end {
		total += n
	}
	for _, c := range want {
		sent += len(c.ToServer) + len(c.ToClient)
	}
	if total != sent {
		t.Errorf("tshark sees %d payload bytes, %d were sent", total, sent)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := afpacket.Open("lo", nil); err == nil {
		t.Error("Open with no ports succeeded")
	}
	if _, err := afpacket.Open("no-such-interface0", []uint16{1}); err == nil {
		t.Error("Open of a missing interface succeeded")
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
