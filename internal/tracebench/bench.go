// Package tracebench measures what tracing costs the Iggy server, side by
// side in one run: the server-side Go SDK workload (internal/workload) with
// no tracer, with the tracer in header-only mode and with it in full mode,
// and with bpf/floor.c, a minimal per-packet capture, as a yardstick for
// the kernel's share (condition "floor").
//
// # CPU layouts
//
// Shared puts every process on every CPU: on a machine the workload
// saturates, the tracer's CPU is then taken from the workload. Split gives
// the tracer process the last CPU alone and the server and load generator
// the others, as on a node where the tracer has a CPU budget of its own; the
// capture programs still run in the server's packet path, on its CPUs.
//
// # Design: separate processes, each figure from its own source
//
//   - One test server per condition (`iggytrace serve-test`), each a child
//     process started inside a cgroup of its own: the capture of a cgroup
//     sees that server's sockets and nothing else. Identical, idle when not
//     driven.
//   - One tracer process per traced condition, attached to its server's
//     cgroup for the whole bench: by default the real `iggytrace trace
//     --cgroup CG -p PORT --mode M -o json` with stdout on /dev/null (the
//     whole pipeline: loader, decoder.Tracker, stdout JSON writer). Loading
//     and verifying its programs happens once, before any measurement, so
//     the conditions can be interleaved finely at no cost.
//   - The load generator is this process (the real Go SDK through
//     internal/workload), driving one server at a time.
//
// A run is a fixed amount of work on one server. Its throughput is the wall
// time of that work: requests/s, and MB/s of the server's socket payload in
// and out (rchar + wchar of /proc/SERVER/io). After a traced run the bench
// waits until the tracer has drained its ring (neither running nor waiting
// for a CPU, by its threads' schedstat) before the next run starts, so a
// tracer's leftover work never slows another condition's run; the tracer's
// CPU for the run is its threads' on-CPU time (schedstat, ns) from the start
// of the run to that point. The kernel side is read from the tracer's own
// program file descriptors (/proc/TRACER/fdinfo: run_time_ns, run_cnt,
// counted while BPF run-time statistics are on; this process turns them on
// with BPF_ENABLE_STATS, the switch behind sysctl kernel.bpf_stats_enabled,
// which the kernel releases when the process exits, even if it crashes).
// That time is spent in the server's and the clients' contexts (cgroup_skb
// programs run in the packet path), so it is reported apart from the
// tracer's CPU.
//
// # Noise
//
// Every round runs every workload once in every condition, back to back,
// the order of the conditions changing from round to round through every
// permutation (ABC, BCA, CAB, ACB, CBA, BAC: each condition equally often
// in each position and after each other one), so that drift, background
// load and any after-effect of a run hit all conditions alike; many
// short rounds beat few long ones on a machine whose background load comes
// in bursts. The throughput ratio of a mode is the median over rounds of
// the round's traced/untraced ratio; the other figures are medians, or
// totals over all rounds for the kernel's run times. Between produce runs the
// bench stream is deleted (outside the timed window) so that the in-memory
// servers do not grow. NoTrace (an A/A test) runs everything without
// attaching any tracer: its "ratios" are the bench's noise floor, including
// any difference between the server processes.
package tracebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/internal/childserver"
	"github.com/iggytrace/iggytrace/internal/workload"
	"github.com/iggytrace/iggytrace/loader"
)

// Conditions.
const (
	Untraced   = "untraced"
	HeaderOnly = "header-only"
	Full       = "full"
	// FullMessages is full mode with --messages: every message of a batch
	// decoded and printed, for what that detail costs.
	FullMessages = "full-messages"
	// Floor traces with bpf/floor.c, a minimal per-packet capture (see
	// RunFloor): the yardstick for what any per-packet capture costs here.
	Floor = "floor"
)

// CPU layouts.
const (
	// Shared: server, load generator and tracer on every CPU, as the
	// scheduler likes: whatever CPU the tracer uses is taken from the
	// workload when the machine is saturated.
	Shared = "shared"
	// Split: the tracer process alone on the last CPU, server and load
	// generator on the others, as on a node where the tracer's DaemonSet
	// has a CPU budget of its own. The capture programs still run on the
	// server's CPUs (they run in the packet path), so their cost is still
	// taken from the workload; the tracer's user-space CPU is not.
	Split = "split"
)

// Workloads.
const (
	Produce = "produce"
	Small   = "small"
)

// Config says what to run.
type Config struct {
	Iggytrace string // the iggytrace binary (serve-test, and trace)
	Self      string // this program, for the replica tracer
	// Tracer is "cli" (iggytrace trace -o json > /dev/null) or "replica"
	// (RunReplica in a child process of this program, which can write a CPU
	// profile and use the "discard" sink).
	Tracer     string
	Sink       string // replica only: json or discard
	ProfileDir string // replica only: a CPU profile per tracer here
	NoTrace    bool   // A/A test: attach no tracer at all
	Layout     string // Shared or Split

	Rounds     int
	MaxTime    time.Duration // stop after the round that would cross this (0: no limit)
	Workloads  []string
	Conditions []string
	Warmup     bool

	ProduceConns, ProduceBatches, BatchSize, MsgSize int
	SmallConns, SmallRequests                        int

	BPFStats   bool          // turn on BPF run-time statistics
	RunTimeout time.Duration // per workload run

	Progress io.Writer // one line per run; nil for none
}

// DefaultConfig is what scripts/bench-trace.sh runs: 2 to 4 minutes on a
// 2-vCPU VM, depending on its load.
func DefaultConfig() Config {
	return Config{
		Tracer:         "cli",
		Sink:           "json",
		Rounds:         24,
		MaxTime:        210 * time.Second,
		Workloads:      []string{Produce, Small},
		Conditions:     []string{Untraced, Floor, HeaderOnly, Full},
		Layout:         Shared,
		Warmup:         true,
		ProduceConns:   4,
		ProduceBatches: 800,
		BatchSize:      100,
		MsgSize:        1024,
		SmallConns:     4,
		SmallRequests:  8000,
		BPFStats:       true,
		RunTimeout:     90 * time.Second,
	}
}

// RunResult is one measured run.
type RunResult struct {
	Workload  string
	Condition string
	Round     int
	Elapsed   time.Duration
	Requests  uint64 // workload requests (SendMessages batches or small commands)
	WireBytes uint64 // server socket payload, both directions

	ServerCPUNs  int64
	LoadgenCPUNs int64         // this process (the SDK clients), whole process
	TracerCPUNs  int64         // 0 when untraced; ring drain included
	DrainWait    time.Duration // waited after the run for the tracer to go idle
	MachineBusy  float64       // fraction of all CPUs busy during the run
	OtherBusy    float64       // of which not server, tracer or this process (background load)

	Progs       map[string]ProgDelta // kernel program time by program type
	ProgsByName map[string]ProgDelta // and by program name
	Kernel      *KernelCounters      // the capture's counters over the run (traced runs)
}

// ProgDelta is the run time and run count of a program type over a run.
type ProgDelta struct{ Ns, Runs uint64 }

// TracerSummary is what a tracer printed when it stopped.
type TracerSummary = tracerSummary

// TracerTotals is a tracer's whole life.
type TracerTotals struct {
	Summary    TracerSummary
	LoadCPUNs  int64  // CPU before it was attached (loading, verifier)
	TotalCPUNs int64  // CPU of its whole life (rusage at exit)
	Requests   uint64 // workload requests its server got, warm-up included
}

// ReqPerSec is the run's throughput.
func (r RunResult) ReqPerSec() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// MBPerSec is the server's socket payload rate, both directions, in 10^6 B/s.
func (r RunResult) MBPerSec() float64 { return float64(r.WireBytes) / 1e6 / r.Elapsed.Seconds() }

// Result is a whole bench.
type Result struct {
	Config        Config
	Start, End    time.Time
	LoadAvgStart  string
	LoadAvgEnd    string
	Kernel        string
	StatsVia      string
	RoundsDone    int
	WarmupElapsed map[string]time.Duration
	Runs          []RunResult
	Tracers       map[string]*TracerTotals // by condition
}

// Run runs the bench. It needs root (BPF, cgroups).
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Rounds < 1 {
		return nil, errors.New("tracebench: rounds < 1")
	}
	for _, c := range cfg.Conditions {
		if c != Untraced && c != HeaderOnly && c != Full && c != FullMessages && c != Floor {
			return nil, fmt.Errorf("tracebench: unknown condition %q", c)
		}
	}
	for _, w := range cfg.Workloads {
		if w != Produce && w != Small {
			return nil, fmt.Errorf("tracebench: unknown workload %q", w)
		}
	}
	var cpus cpuLayout
	switch cfg.Layout {
	case "", Shared:
		cfg.Layout = Shared
	case Split:
		if cpus, err = splitCPUs(); err != nil {
			return nil, err
		}
		// Children inherit the affinity: the servers start on the
		// workload's CPUs, the tracers are moved after they start.
		var was unix.CPUSet
		if err := unix.SchedGetaffinity(0, &was); err != nil {
			return nil, err
		}
		if err := pinProcess(os.Getpid(), cpus.work); err != nil {
			return nil, err
		}
		defer func() { _ = pinProcess(os.Getpid(), was) }()
	default:
		return nil, fmt.Errorf("tracebench: unknown CPU layout %q (want %s or %s)", cfg.Layout, Shared, Split)
	}
	if cfg.ProfileDir != "" {
		cfg.Tracer = "replica"
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	res = &Result{Config: cfg, Start: time.Now(), LoadAvgStart: loadAvg(),
		WarmupElapsed: map[string]time.Duration{}, Tracers: map[string]*TracerTotals{}}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		res.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	if cfg.BPFStats {
		restore, via, err := enableBPFStats()
		if err != nil {
			return nil, err
		}
		defer restore()
		res.StatsVia = via
	}
	root, err := loader.CgroupV2Root()
	if err != nil {
		return nil, err
	}

	b := &bench{cfg: cfg, cpus: cpus, targets: map[string]*target{}}
	defer b.close()
	for _, c := range cfg.Conditions {
		t := &target{cond: c, cgroup: filepath.Join(root, fmt.Sprintf("iggytrace-tracebench-%d-%s", os.Getpid(), c))}
		if err := os.Mkdir(t.cgroup, 0o755); err != nil {
			return nil, fmt.Errorf("create the bench cgroup: %w", err)
		}
		b.targets[c] = t
		if t.addr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		_, t.port, _ = net.SplitHostPort(t.addr)
		if t.srv, err = childserver.Start(ctx, cfg.Iggytrace, t.cgroup, t.addr, false); err != nil {
			return nil, err
		}
		if c != Untraced && !cfg.NoTrace {
			if t.tr, err = startTracer(ctx, b.tracerArgv(t)); err != nil {
				return nil, err
			}
			if err := b.pinTracer(t); err != nil {
				return nil, err
			}
			if t.loadCPU, err = procCPU(t.tr.pid); err != nil {
				return nil, err
			}
			if c != Floor {
				if t.stats, err = openStatsMap(t.tr.pid); err != nil {
					return nil, err
				}
			}
		}
	}

	if cfg.Warmup {
		for _, w := range cfg.Workloads {
			for _, c := range cfg.Conditions {
				t0 := time.Now()
				if err := b.workload(ctx, b.targets[c], w); err != nil {
					return nil, fmt.Errorf("warm-up %s %s: %w", w, c, err)
				}
				if c == cfg.Conditions[0] {
					res.WarmupElapsed[w] = time.Since(t0)
				}
				if err := b.cleanup(ctx, b.targets[c], w); err != nil {
					return nil, err
				}
			}
		}
	}
	orders := roundOrders(cfg.Conditions)
	for r := range cfg.Rounds {
		rs := time.Now()
		for _, w := range cfg.Workloads {
			for _, c := range orders[r%len(orders)] {
				rr, err := b.runOne(ctx, b.targets[c], w, r)
				if err != nil {
					return res, fmt.Errorf("round %d %s %s: %w", r+1, w, c, err)
				}
				res.Runs = append(res.Runs, rr)
				if cfg.Progress != nil {
					fmt.Fprintln(cfg.Progress, progressLine(rr, cfg.Rounds))
				}
			}
		}
		res.RoundsDone = r + 1
		if cfg.MaxTime > 0 && time.Since(res.Start)+time.Since(rs) > cfg.MaxTime && r+1 < cfg.Rounds {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "tracebench: stopping after %d of %d rounds: the next would pass the %v time limit\n",
					r+1, cfg.Rounds, cfg.MaxTime)
			}
			break
		}
	}

	// Stop the tracers: they drain, and say what they decoded and lost.
	for _, c := range cfg.Conditions {
		t := b.targets[c]
		if t.tr == nil {
			continue
		}
		total, sum, err := t.tr.stop()
		t.tr = nil
		if err != nil {
			return res, fmt.Errorf("tracer %s: %w", c, err)
		}
		res.Tracers[c] = &TracerTotals{Summary: sum, LoadCPUNs: t.loadCPU, TotalCPUNs: total, Requests: t.requests}
	}
	res.End = time.Now()
	res.LoadAvgEnd = loadAvg()
	return res, nil
}

// roundOrders are the orders in which the rounds run the conditions, one
// after the other, cyclically: every permutation (for up to 4 conditions),
// so that over a whole cycle each condition runs equally often in each
// position and after each other condition; else the rotations.
func roundOrders(conds []string) [][]string {
	if len(conds) > 4 {
		var out [][]string
		for r := range conds {
			out = append(out, append(slices.Clone(conds[r:]), conds[:r]...))
		}
		return out
	}
	var out [][]string
	var perm func(prefix, rest []string)
	perm = func(prefix, rest []string) {
		if len(rest) == 0 {
			out = append(out, slices.Clone(prefix))
			return
		}
		for i := range rest {
			others := append(slices.Clone(rest[:i]), rest[i+1:]...)
			perm(append(prefix, rest[i]), others)
		}
	}
	perm(nil, conds)
	// Interleave so that consecutive rounds differ most: ABC, BCA, CAB, then
	// the reversed ones.
	if len(conds) == 3 {
		a, b, c := conds[0], conds[1], conds[2]
		out = [][]string{{a, b, c}, {b, c, a}, {c, a, b}, {a, c, b}, {c, b, a}, {b, a, c}}
	}
	return out
}

type bench struct {
	cfg     Config
	cpus    cpuLayout // Split only
	targets map[string]*target
}

// pinTracer moves every thread of t's tracer to the tracer's CPUs (Split
// layout; nothing otherwise). Threads the tracer starts later inherit the
// affinity of the thread that starts them; pinning again before each run
// catches any thread that was being created while the others moved.
func (b *bench) pinTracer(t *target) error {
	if b.cfg.Layout != Split || t.tr == nil {
		return nil
	}
	return pinProcess(t.tr.pid, b.cpus.tracer)
}

// target is a server and, for a traced condition, its tracer.
type target struct {
	cond     string
	cgroup   string
	addr     string
	port     string
	srv      *childserver.Server
	tr       *tracer
	stats    *ebpf.Map // the tracer's kernel counters
	loadCPU  int64
	requests uint64
}

func (b *bench) close() {
	for _, t := range b.targets {
		if t.stats != nil {
			_ = t.stats.Close()
		}
		if t.tr != nil {
			t.tr.kill()
		}
		if t.srv != nil {
			t.srv.Stop()
		}
		removeCgroup(t.cgroup)
	}
}

func (b *bench) requests(w string) uint64 {
	if w == Produce {
		return uint64(b.cfg.ProduceConns * b.cfg.ProduceBatches)
	}
	return uint64(b.cfg.SmallConns * b.cfg.SmallRequests)
}

// workload runs one fixed amount of work on t's server.
func (b *bench) workload(ctx context.Context, t *target, w string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RunTimeout)
	defer cancel()
	t.requests += b.requests(w)
	if w == Produce {
		return workload.Produce(ctx, t.addr, b.cfg.ProduceConns, b.cfg.ProduceBatches, b.cfg.BatchSize, b.cfg.MsgSize)
	}
	return workload.SmallCommands(ctx, t.addr, b.cfg.SmallConns, b.cfg.SmallRequests)
}

// cleanup deletes what a produce run stored, so that the server does not
// grow (and its GC slow down) from run to run.
func (b *bench) cleanup(ctx context.Context, t *target, w string) error {
	if w != Produce {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return deleteBenchStream(ctx, t.addr)
}

func (b *bench) tracerArgv(t *target) []string {
	if t.cond == Floor {
		return []string{b.cfg.Self, "tracer-child", "-cgroup", t.cgroup, "-port", t.port, "-mode", Floor}
	}
	mode, messages := t.cond, t.cond == FullMessages
	if messages {
		mode = Full
	}
	if b.cfg.Tracer == "replica" {
		argv := []string{b.cfg.Self, "tracer-child", "-cgroup", t.cgroup, "-port", t.port, "-mode", mode, "-sink", b.cfg.Sink}
		if messages {
			argv = append(argv, "-messages")
		}
		if b.cfg.ProfileDir != "" {
			argv = append(argv, "-cpuprofile", filepath.Join(b.cfg.ProfileDir, "tracer-"+t.cond+".pprof"))
		}
		return argv
	}
	argv := []string{b.cfg.Iggytrace, "trace", "--cgroup", t.cgroup, "-p", t.port, "--mode", mode, "-o", "json", "--log-level", "info"}
	if messages {
		argv = append(argv, "--messages")
	}
	return argv
}

func (b *bench) runOne(ctx context.Context, t *target, w string, round int) (RunResult, error) {
	rr := RunResult{Workload: w, Condition: t.cond, Round: round + 1, Requests: b.requests(w)}
	// Start every run with the load generator's heap in the same state, so
	// that one run's garbage is not collected in the next run's time.
	runtime.GC()
	var progs0 map[uint32]progStat
	var trCPU0 int64
	var k0 KernelCounters
	if t.tr != nil {
		var err error
		if err = b.pinTracer(t); err != nil {
			return rr, err
		}
		if progs0, err = procProgs(t.tr.pid); err != nil {
			return rr, err
		}
		if k0, err = readCounters(t.stats); err != nil {
			return rr, err
		}
		if trCPU0, err = procCPU(t.tr.pid); err != nil {
			return rr, err
		}
	}
	srvCPU0, err := procCPU(t.srv.PID())
	if err != nil {
		return rr, err
	}
	io0, err := procIO(t.srv.PID())
	if err != nil {
		return rr, err
	}
	self0 := selfCPU()
	busy0, total0 := cpuBusy()
	t0 := time.Now()

	werr := b.workload(ctx, t, w)

	rr.Elapsed = time.Since(t0)
	busy1, total1 := cpuBusy()
	self1 := selfCPU()
	srvCPU1, err := procCPU(t.srv.PID())
	if err != nil {
		return rr, err
	}
	io1, err := procIO(t.srv.PID())
	if err != nil {
		return rr, err
	}
	if werr != nil {
		return rr, werr
	}
	rr.ServerCPUNs = srvCPU1 - srvCPU0
	rr.LoadgenCPUNs = self1 - self0
	rr.WireBytes = io1 - io0
	if t.tr != nil {
		progs1, err := procProgs(t.tr.pid)
		if err != nil {
			return rr, err
		}
		rr.Progs = map[string]ProgDelta{}
		for typ, d := range diffProgs(progs0, progs1) {
			rr.Progs[progTypeName(typ)] = ProgDelta{Ns: d.Ns, Runs: d.Runs}
		}
		rr.ProgsByName = diffByName(progs0, progs1)
		d0 := time.Now()
		cpu, _, err := waitIdle(t.tr.pid, 5*time.Second)
		if err != nil {
			return rr, fmt.Errorf("tracer %s: %w (it exited?)\n%s", t.cond, err, lastLines(t.tr.output(), 10))
		}
		rr.DrainWait = time.Since(d0)
		rr.TracerCPUNs = cpu - trCPU0
		if t.stats != nil {
			k1, err := readCounters(t.stats)
			if err != nil {
				return rr, err
			}
			k := k1.sub(k0)
			rr.Kernel = &k
		}
	}
	if dt := total1 - total0; dt > 0 {
		rr.MachineBusy = float64(busy1-busy0) / float64(dt)
		ours := float64(rr.ServerCPUNs+rr.LoadgenCPUNs) / 1e9 // s; the tracer's drain may run after the window
		if t.tr != nil {
			ours += float64(rr.TracerCPUNs) / 1e9
		}
		allCPU := float64(dt) / float64(clockTicks) // CPU-seconds of all CPUs
		rr.OtherBusy = max(0, rr.MachineBusy-ours/allCPU)
	}
	return rr, b.cleanup(ctx, t, w)
}

const clockTicks = 100 // USER_HZ, the unit of /proc/stat

func selfCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// enableBPFStats turns on the kernel's BPF run-time statistics: through
// BPF_ENABLE_STATS (Linux 5.8+; undone by the kernel when the descriptor
// closes, even if this process dies), else through the sysctl, restored by
// the returned func.
func enableBPFStats() (restore func(), via string, err error) {
	if c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
		return func() { _ = c.Close() }, "BPF_ENABLE_STATS (the switch behind kernel.bpf_stats_enabled=1; released at exit)", nil
	}
	const path = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("BPF run-time statistics: %w", err)
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return nil, "", fmt.Errorf("BPF run-time statistics: %w", err)
	}
	return func() { _ = os.WriteFile(path, old, 0o644) },
		"sysctl kernel.bpf_stats_enabled=1 (restored to " + strings.TrimSpace(string(old)) + ")", nil
}

func removeCgroup(dir string) {
	for range 50 {
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond) // the server's exit is still being accounted
	}
	fmt.Fprintf(os.Stderr, "tracebench: could not remove cgroup %s\n", dir)
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func progressLine(r RunResult, rounds int) string {
	s := fmt.Sprintf("round %2d/%d %-7s %-11s %8.0f req/s %6.1f MB/s %5.2fs  server %.2fs CPU  background %3.0f%%",
		r.Round, rounds, r.Workload, r.Condition, r.ReqPerSec(), r.MBPerSec(), r.Elapsed.Seconds(),
		float64(r.ServerCPUNs)/1e9, 100*r.OtherBusy)
	if r.Progs != nil {
		skb := r.Progs["cgroup_skb"]
		ns := 0.0
		if skb.Runs > 0 {
			ns = float64(skb.Ns) / float64(skb.Runs)
		}
		s += fmt.Sprintf("  tracer %.3fs CPU (drain wait %.2fs)  bpf %.0f ns/run x %d", float64(r.TracerCPUNs)/1e9, r.DrainWait.Seconds(), ns, skb.Runs)
		if k := r.Kernel; k != nil && k.DroppedRecords > 0 {
			s += fmt.Sprintf("  RING FULL: %d records (%d bytes) dropped", k.DroppedRecords, k.DroppedBytes)
		}
	}
	return s
}
