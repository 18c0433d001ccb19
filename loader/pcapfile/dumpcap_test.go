package pcapfile_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/afpacket/traffictest"
	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

// startDumpcap runs dumpcap with args and returns once it is capturing: it
// prints "File: ..." after opening the interface with its filter and the
// output file. The returned function stops it cleanly (SIGINT, so that it
// flushes the file) and waits.
func startDumpcap(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	bin := traffictest.RequireTool(t, "dumpcap")
	// -B: a 64 MiB kernel ring instead of 2 MiB, which a burst of 64 KiB
	// loopback packets overflows while dumpcap writes.
	cmd := exec.Command(bin, append([]string{"-q", "-B", "64"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dumpcap: %v", err)
	}
	var log strings.Builder
	ready := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if strings.HasPrefix(sc.Text(), "File: ") {
				ready <- nil
			}
		}
		ready <- errors.New("dumpcap exited before capturing")
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("dumpcap: %v\n%s", err, log.String())
		}

	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("dumpcap said:\n%s", log.String())
		}
	})
	select {
	case err := <-ready:
		if err != nil {
			stop()
			t.Fatalf("%v:\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("dumpcap did not start capturing within 15s:\n%s", log.String())
	}
	return stop
}

// TestDumpcapCaptures captures real loopback traffic with Wireshark's
// dumpcap in every format and link type it offers on Linux, reads the file
// back, and requires the exact bytes of every connection in both directions.
func TestDumpcapCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("captures real traffic")
	}
	if os.Geteuid() != 0 {
		citest.Needf(t, "capturing on lo needs root (or CAP_NET_RAW for dumpcap)")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pcapng-lo-ethernet", []string{"-i", "lo"}},
		{"pcap-lo-ethernet", []string{"-i", "lo", "-P"}},
		{"pcapng-any-sll", []string{"-i", "any", "-y", "LINUX_SLL"}},
		{"pcapng-any-sll2", []string{"-i", "any", "-y", "LINUX_SLL2"}},
		{"pcap-any-sll2", []string{"-i", "any", "-y", "LINUX_SLL2", "-P"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v4 := traffictest.Listen(t, "tcp4")
			v6 := traffictest.Listen(t, "tcp6")
			file := filepath.Join(t.TempDir(), "capture")
			filter := fmt.Sprintf("tcp port %d or tcp port %d", v4.Addr.Port(), v6.Addr.Port())
			stop := startDumpcap(t, append(tc.args, "-f", filter, "-w", file)...)

			want := append(v4.Exchange(t, 3, 1), v6.Exchange(t, 3, 2)...)
			cfg := pcapfile.Config{ServerPorts: []uint16{v4.Addr.Port(), v6.Addr.Port()}}
			// dumpcap hands packets over a block of its ring at a time, on a
			// timeout; stopping it at once would lose the last ones.
			waitForFINs(t, file, cfg, want)
			stop()

			segs, st, err := readFile(file, cfg)
			if err != nil {
				t.Fatalf("after %d segments: %v", len(segs), err)
			}
			traffictest.Check(t, segs, want)
			if st.Skipped.Total() != 0 {
				t.Errorf("dumpcap's filter let nothing else through, yet: %v", st)
			}
			t.Logf("%s: %v", tc.name, st)
		})
	}
}

// readFile reads a whole capture, copying each segment's Data.
func readFile(path string, cfg pcapfile.Config) ([]decoder.Segment, pcapfile.Stats, error) {
	r, err := pcapfile.Open(path, cfg)
	if err != nil {
		return nil, pcapfile.Stats{}, err
	}
	defer r.Close()
	var segs []decoder.Segment
	for {
		var seg decoder.Segment
		if err := r.Next(&seg); err != nil {
			if err == io.EOF {
				err = nil
			}
			return segs, r.Stats(), err
		}
		seg.Data = append([]byte(nil), seg.Data...)
		segs = append(segs, seg)
	}
}

// waitForFINs polls a capture being written until it holds the FIN of both
// directions of every connection in want (the last packets that matter), or
// gives up after a while and lets the caller's check report what is missing.
func waitForFINs(t *testing.T, path string, cfg pcapfile.Config, want []traffictest.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		segs, _, _ := readFile(path, cfg) // the last block may be half-written
		fins := map[decoder.ConnKey]int{}
		for _, s := range segs {
			if s.Flags&decoder.FIN != 0 {
				fins[s.Key] |= 1 << s.Dir
			}
		}
		complete := true
		for _, c := range want {
			complete = complete && fins[c.Key] == 3
		}
		if complete {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("not every FIN reached %s within 10s", path)
}
