package loader

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/citest"
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
		tr, err = Open(context.Background(), Config{CgroupPath: srv.cgroup, Ports: []uint16{srv.port}, Mode: mode,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			citest.Need(b, err)
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
			citest.Need(b, fmt.Errorf("enable BPF run-time stats: %w", err))
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

// BenchmarkProgram measures the ingress program alone on synthetic packets
// through BPF_PROG_TEST_RUN (no network, no scheduler noise), as the kernel
// counts it: ns/run is the program's average run time.
func BenchmarkProgram(b *testing.B) {
	c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
	cases := []struct {
		name string
		mode Mode
		pkt  func(seq uint32) tcpPacket
		step uint32 // sequence advance per packet
	}{
		{"unmatched", HeaderOnly, func(seq uint32) tcpPacket {
			p := c.toServer(seq, thPSH, pattern(1400, 1))
			p.dport = 9999
			return p
		}, 1400},
		{"full/100B", Full, func(seq uint32) tcpPacket { return c.toServer(seq, thPSH, pattern(100, 1)) }, 100},
		{"full/1400B", Full, func(seq uint32) tcpPacket { return c.toServer(seq, thPSH, pattern(1400, 1)) }, 1400},
		{"full/3400B", Full, func(seq uint32) tcpPacket { return c.toServer(seq, thPSH, pattern(3400, 1)) }, 3400},
		// One 1400-byte frame per packet: a header parsed, 8+128 bytes kept.
		{"header-only/frame-per-packet", HeaderOnly, func(seq uint32) tcpPacket {
			return c.toServer(seq, thPSH, request(101, pattern(1392, 1)))
		}, 1400},
		// One 100-byte frame per packet (a small command): kept whole, as
		// full/100B keeps it.
		{"header-only/small-frame-per-packet", HeaderOnly, func(seq uint32) tcpPacket {
			return c.toServer(seq, thPSH, request(121, pattern(92, 1)))
		}, 100},
		// The middle of a huge frame: nothing kept, the bytes accounted.
		{"header-only/mid-frame", HeaderOnly, func(seq uint32) tcpPacket {
			return c.toServer(seq, thPSH, pattern(1400, 1))
		}, 1400},
		// 40 Pings in one packet: 40 headers parsed, merged into one record.
		{"header-only/40-frames", HeaderOnly, func(seq uint32) tcpPacket {
			var b []byte
			for range 40 {
				b = append(b, request(1, nil)...)
			}
			return c.toServer(seq, thPSH, b)
		}, 320},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			tr, err := newTracer(Config{Mode: tc.mode, RingSize: 1 << 28, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				citest.Need(b, err)
			}
			defer tr.Close()
			prog := tr.objs.Ingress
			run := func(p tcpPacket) {
				if _, err := prog.Run(&ebpf.RunOptions{Data: p.bytes()}); err != nil {
					b.Fatal(err)
				}
			}
			const isn = 1000
			run(c.toServer(isn, thSYN, nil))
			seq := uint32(isn + 1)
			midFrame := tc.name == "header-only/mid-frame"
			startHuge := func() {
				huge := request(101, pattern(1392, 1))
				// A 140 MB SendMessages: this packet and 99,999 more.
				binary.LittleEndian.PutUint32(huge, 1400*100_000-4)
				run(c.toServer(seq, thPSH, huge))
				seq += 1400
			}
			if midFrame {
				startHuge()
			}
			pkts := make([][]byte, 1024)
			for i := range pkts {
				pkts[i] = tc.pkt(0).bytes()
			}
			stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
			if err != nil {
				citest.Need(b, err)
			}
			defer stats.Close()
			before, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if midFrame && i > 0 && i%99_999 == 0 {
					startHuge() // the frame ends: start the next one
				}
				p := pkts[i%len(pkts)]
				binary.BigEndian.PutUint32(p[14+20+4:], seq) // the TCP sequence number
				seq += tc.step
				if _, err := prog.Run(&ebpf.RunOptions{Data: p}); err != nil {
					b.Fatal(err)
				}
				if i%4096 == 4095 {
					b.StopTimer()
					if _, err := drainRing(tr); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			after, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			if n := after.RunCount - before.RunCount; n > 0 {
				b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(n), "ns/run")
			}
			if st := tr.Stats(); st.Lost() > 0 || st.SyncLost > 0 {
				b.Errorf("lost %d records, sync lost %d times", st.Lost(), st.SyncLost)
			}
		})
	}
}
