package loader

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/decoder"
)

// BenchmarkRing measures what capture costs, per mode and workload, with a
// server in its own cgroup and a client over loopback. Besides ns/op (one
// request/response exchange, capture included) it reports the kernel's own
// count of the programs' run time (BPF_ENABLE_STATS, the equivalent of
// kernel.bpf_stats_enabled=1 for the duration of the benchmark):
//
//	ns/run      average ns per program run, ingress and egress together
//	runs/op     program runs per exchange (packets, ACKs included)
//	kern-ns/op  program time per exchange
//
// Run with: go test ./loader -run '^$' -bench BenchmarkRing -benchtime 2000x
func BenchmarkRing(b *testing.B) {
	workloads := []struct {
		name      string
		req, resp int // payload bytes each way
	}{
		{"small", 200, 100},        // typical control traffic
		{"bulk", 1 << 20, 1 << 20}, // SendMessages / PollMessages of 1 MiB
	}
	modes := []struct {
		name string
		mode Mode
		on   bool
	}{{"none", 0, false}, {"header-only", HeaderOnly, true}, {"full", Full, true}}
	for _, w := range workloads {
		for _, m := range modes {
			b.Run(w.name+"/"+m.name, func(b *testing.B) {
				benchExchange(b, m.on, m.mode, w.req, w.resp)
			})
		}
	}
}

func benchExchange(b *testing.B, capture bool, mode Mode, reqLen, respLen int) {
	srv := startChildServer(b)
	var tr *Tracer
	if capture {
		var err error
		tr, err = Open(context.Background(), Config{CgroupPath: srv.cgroup, Ports: []uint16{srv.port}, Mode: mode})
		if err != nil {
			requireKernel(b, err)
		}
		defer tr.Close()
		var seen uint64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx, func(s *decoder.Segment) { seen += uint64(len(s.Data)) }) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("Run: %v", err)
			}
		}()
	}

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(srv.port))))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<16)
	send := request(101, pattern(reqLen, 1))
	poll := make([]byte, 4)
	binary.LittleEndian.PutUint32(poll, uint32(respLen))
	pollReq := request(100, poll)
	resp := make([]byte, respLen+8)
	roundTrip := func(req []byte, n int) {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, resp[:n]); err != nil {
			b.Fatal(err)
		}
	}
	exchange := func() {
		roundTrip(send, 8)
		roundTrip(pollReq, respLen+8)
	}
	exchange() // warm up: connection set up, frames in flight

	var stats io.Closer
	var before [2]*ebpf.ProgramStats
	if capture {
		stats, err = ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			requireKernel(b, fmt.Errorf("enable BPF run-time stats: %w", err))
		}
		defer stats.Close()
		before = progStats(b, tr)
	}
	b.SetBytes(int64(len(send) + respLen + 8))
	b.ResetTimer()
	for range b.N {
		exchange()
	}
	b.StopTimer()
	if !capture {
		return
	}
	after := progStats(b, tr)
	var ns, runs uint64
	for i := range after {
		ns += uint64(after[i].Runtime - before[i].Runtime)
		runs += after[i].RunCount - before[i].RunCount
	}
	if runs > 0 {
		b.ReportMetric(float64(ns)/float64(runs), "ns/run")
		b.ReportMetric(float64(runs)/float64(b.N), "runs/op")
		b.ReportMetric(float64(ns)/float64(b.N), "kern-ns/op")
	}
	st := tr.Stats()
	if st.Lost() > 0 {
		b.Logf("lost %d records (%d bytes): ring too small for this rate", st.Lost(), st.DroppedBytes)
	}
}

func progStats(b *testing.B, tr *Tracer) [2]*ebpf.ProgramStats {
	var out [2]*ebpf.ProgramStats
	for i, p := range []*ebpf.Program{tr.objs.Ingress, tr.objs.Egress} {
		s, err := p.Stats()
		if err != nil {
			b.Fatalf("program stats: %v", err)
		}
		out[i] = s
	}
	return out
}
