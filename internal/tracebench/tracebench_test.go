package tracebench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/internal/citest"
	"github.com/iggytrace/iggytrace/loader"
)

func TestParseProgFdinfo(t *testing.T) {
	in := "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t25\nprog_type:\t8\nprog_jited:\t1\nprog_tag:\tccc201afe5fd9e72\n" +
		"memlock:\t12288\nprog_id:\t1988\nrun_time_ns:\t123456\nrun_cnt:\t789\nrecursion_misses:\t2\nverified_insns:\t71633\n"
	p, err := parseProgFdinfo([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := progStat{ID: 1988, Type: progTypeCgroupSKB, RunNs: 123456, RunCnt: 789, Missing: 2}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if _, err := parseProgFdinfo([]byte("pos:\t0\n")); err == nil {
		t.Error("no prog_id: want an error")
	}
	d := diffProgs(map[uint32]progStat{1: {ID: 1, Type: 8, RunNs: 100, RunCnt: 1}},
		map[uint32]progStat{1: {ID: 1, Type: 8, RunNs: 400, RunCnt: 3}, 2: {ID: 2, Type: 8, RunNs: 50, RunCnt: 1}, 3: {ID: 3, Type: 26, RunNs: 7, RunCnt: 1}})
	if d[8].Ns != 350 || d[8].Runs != 3 || d[26].Ns != 7 {
		t.Errorf("diff %+v", d)
	}
}

func TestParseProcFiles(t *testing.T) {
	ns, err := parseSchedstat([]byte("4624002 2190309 45\n"))
	if err != nil || ns != 4624002 {
		t.Errorf("schedstat: %d, %v", ns, err)
	}
	io, err := parseProcIO([]byte("rchar: 100\nwchar: 23\nsyscr: 5\nsyscw: 6\nread_bytes: 0\n"))
	if err != nil || io != 123 {
		t.Errorf("io: %d, %v", io, err)
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU(self): %v", err)
	}
	if _, err := procIO(os.Getpid()); err != nil {
		t.Errorf("procIO(self): %v", err)
	}
}

func TestParseSummary(t *testing.T) {
	out := "time=... level=INFO msg=tracing cgroup=/x\n" +
		"trace: 5 connections, 212 exchanges paired, 1 unanswered, 0 unmatched responses, 0 decode errors\n" +
		"trace: 2 gaps (100 bytes lost), 0 bytes undecodable, 0 bytes not captured, 0 connections evicted\n" +
		"trace: kernel: 10 packets matched, 9 records, 1 bytes on the wire, 0 captured, 0 skipped by design; LOST: 1 records (2 bytes) dropped on a full ring, 0 connection events dropped, 0 records missing, 0 undecodable\n"
	s, ok := parseSummary(out)
	if !ok || s.Conns != 5 || s.Pairs != 212 || s.Unanswered != 1 || s.Gaps != 2 || !s.Lost || !strings.HasPrefix(s.KernelLine, "kernel: 10 packets") {
		t.Errorf("%+v %v", s, ok)
	}
	if _, ok := parseSummary("nothing"); ok {
		t.Error("no summary: want !ok")
	}
}

func TestRows(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rounds = 3
	cfg.Workloads = []string{Small}
	r := &Result{Config: cfg}
	// Untraced 1000, 2000, 1000 req/s; header-only 990, 1900, 950.
	un := []float64{1, 0.5, 1}
	ho := []float64{1 / 0.99, 0.5 / 0.95, 1 / 0.95}
	for i := range 3 {
		r.Runs = append(r.Runs,
			RunResult{Workload: Small, Condition: Untraced, Round: i + 1, Requests: 1000, Elapsed: time.Duration(un[i] * 1e9)},
			RunResult{Workload: Small, Condition: HeaderOnly, Round: i + 1, Requests: 1000, Elapsed: time.Duration(ho[i] * 1e9),
				TracerCPUNs: 1e7, Progs: map[string]ProgDelta{"cgroup_skb": {Ns: 200 * 4000, Runs: 4000}, "tp_btf": {Ns: 1000, Runs: 8}}})
	}
	r.RoundsDone = 3
	r.Tracers = map[string]*TracerTotals{HeaderOnly: {Summary: TracerSummary{Pairs: 3030}, Requests: 3000}}
	rows := r.Rows()
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	h := rows[1]
	if h.Condition != HeaderOnly || int(h.Ratio*1000+0.5) != 950 || int(h.RatioMax*1000+0.5) != 990 {
		t.Errorf("ratio %v (%v-%v)", h.Ratio, h.RatioMin, h.RatioMax)
	}
	if h.BPFNsPerRun != 200 || h.BPFRunsPerReq != 4 || h.TracerCPUPer100k != 1 || h.Coverage != 1.01 {
		t.Errorf("%+v", h)
	}
	if ns, runs := r.ModeNsPerRun(HeaderOnly); ns != 200 || runs != 12000 {
		t.Errorf("ModeNsPerRun %v %v", ns, runs)
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "95.0% [95.0-95.0]") || !strings.Contains(sb.String(), "MISS?") || !strings.Contains(sb.String(), "goal < 300 ns: PASS") {
		t.Errorf("table:\n%s", sb.String())
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// iggytraceBin builds cmd/iggytrace once for the tests that run it, and
// skips them where they cannot run: not root, or -short.
func iggytraceBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds iggytrace and loads BPF programs")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tracebench-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "iggytrace")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/iggytrace/iggytrace/cmd/iggytrace").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	// The bench starts its floor tracer as `SELF tracer-child ...`; in
	// these tests SELF is the test binary.
	if len(os.Args) > 1 && os.Args[1] == "tracer-child" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := TracerChild(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tracer-child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestTracerCPUAccounting checks the method's CPU accounting on an idle
// tracer: the CPU it uses between "attached" and its exit after SIGTERM
// (schedstat at the start, wait4's rusage at the end) must be small, that
// is, program loading before the window is not counted and the two sources
// agree.
func TestTracerCPUAccounting(t *testing.T) {
	bin := iggytraceBin(t)
	root, err := loader.CgroupV2Root()
	if err != nil {
		citest.Need(t, err)
	}
	tr, err := startTracer(context.Background(), []string{bin, "trace", "--cgroup", root, "-p", "1", "-o", "json", "--log-level", "info"})
	if err != nil {
		citest.Need(t, err)
	}
	start, err := procCPU(tr.pid)
	if err != nil {
		tr.kill()
		t.Fatal(err)
	}
	progs, err := procProgs(tr.pid)
	if err != nil || len(progs) < 2 {
		t.Errorf("tracer's programs: %v, %v", progs, err)
	}
	m, err := openStatsMap(tr.pid)
	if err != nil {
		t.Error(err)
	} else {
		if _, err := readCounters(m); err != nil {
			t.Error(err)
		}
		m.Close()
	}
	if cpu, idle, err := waitIdle(tr.pid, 2*time.Second); err != nil || !idle || cpu < start {
		t.Errorf("waitIdle: %v %v %v", cpu, idle, err)
	}
	time.Sleep(300 * time.Millisecond)
	total, sum, err := tr.stop()
	if err != nil {
		t.Fatal(err)
	}
	idle := time.Duration(total - start)
	t.Logf("tracer CPU: %v before the window (loading), %v idle ~0.4s + exit; summary %+v", time.Duration(start), idle, sum)
	if idle < 0 || idle > 100*time.Millisecond {
		t.Errorf("idle tracer used %v between attach and exit", idle)
	}
}

// TestRunSmoke runs the whole bench on a tiny load: every figure present,
// every request seen by every tracer, nothing lost, in the split CPU layout.
func TestRunSmoke(t *testing.T) {
	bin := iggytraceBin(t)
	cfg := DefaultConfig()
	cfg.Iggytrace = bin
	var err error
	if cfg.Self, err = os.Executable(); err != nil {
		t.Fatal(err)
	}
	cfg.Rounds = 2
	cfg.ProduceBatches, cfg.SmallRequests = 5, 50
	cfg.Warmup = false
	cfg.Layout = Split
	res, err := Run(context.Background(), cfg)
	if err != nil {
		citest.Need(t, err)
	}
	if len(res.Runs) != 2*2*4 || res.RoundsDone != 2 {
		t.Fatalf("%d runs, %d rounds", len(res.Runs), res.RoundsDone)
	}
	for _, row := range res.Rows() {
		if row.ReqPerSec <= 0 || row.MBPerSec <= 0 {
			t.Errorf("%s %s: no throughput: %+v", row.Workload, row.Condition, row)
		}
		if row.Condition == Untraced {
			continue
		}
		if row.BPFNsPerRun <= 0 || row.BPFRunsPerReq < 1 || row.TracerCPUPer100k <= 0 {
			t.Errorf("%s %s: kernel or tracer figures missing: %+v", row.Workload, row.Condition, row)
		}
		if row.Condition == Floor {
			// Every request and every response carries payload: at
			// least one floor record each.
			tt := res.Tracers[Floor]
			if tt.Summary.FloorRecords < 2*tt.Requests || row.Lost {
				t.Errorf("floor: %d records for %d requests, lost %v", tt.Summary.FloorRecords, tt.Requests, row.Lost)
			}
			continue
		}
		if row.Coverage < 1 || row.Lost || row.DropRuns > 0 {
			t.Errorf("%s %s: coverage %v, lost %v, drops in %d runs", row.Workload, row.Condition, row.Coverage, row.Lost, row.DropRuns)
		}
	}
	var sb strings.Builder
	if err := res.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + sb.String())
}

// TestPinProcess pins a real child process and reads its affinity back from
// the kernel, for every thread.
func TestPinProcess(t *testing.T) {
	l, err := splitCPUs()
	if err != nil {
		t.Skip(err) // one CPU: no split layout to test
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := pinProcess(cmd.Process.Pid, l.tracer); err != nil {
		t.Fatal(err)
	}
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(cmd.Process.Pid, &got); err != nil {
		t.Fatal(err)
	}
	if got != l.tracer || got.Count() != 1 || !got.IsSet(l.tracerCPU) {
		t.Errorf("affinity after pinning to CPU %d: %v", l.tracerCPU, got)
	}
	if l.work.IsSet(l.tracerCPU) || l.work.Count() == 0 {
		t.Errorf("split layout: work CPUs %v include the tracer's CPU %d or are empty", l.work, l.tracerCPU)
	}
}

func TestTaskState(t *testing.T) {
	for in, want := range map[string]byte{
		"32140 (iggytrace) S 32139 32137": 'S',
		"1 (a) b) R 0":                    'R',
		"7 (x":                            0,
	} {
		if got := taskState([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestMedianCI(t *testing.T) {
	v := make([]float64, 21)
	for i := range v {
		v[i] = float64(20 - i) // 0..20, unsorted
	}
	lo, hi := medianCI(v)
	if median(v) != 10 || lo != 6 || hi != 14 {
		t.Errorf("median %v CI [%v, %v], want 10 [6, 14]", median(v), lo, hi)
	}
	if lo, hi := medianCI([]float64{1, 2, 3}); lo != 2 || hi != 2 {
		t.Errorf("n=3: [%v, %v]", lo, hi)
	}
}

func TestRoundOrders(t *testing.T) {
	o := roundOrders([]string{"a", "b", "c"})
	if len(o) != 6 {
		t.Fatalf("%d orders", len(o))
	}
	pos := map[string][3]int{}
	after := map[[2]string]int{}
	for _, p := range o {
		for i, c := range p {
			v := pos[c]
			v[i]++
			pos[c] = v
			if i > 0 {
				after[[2]string{p[i-1], c}]++
			}
		}
	}
	for c, v := range pos {
		if v != [3]int{2, 2, 2} {
			t.Errorf("%s in positions %v", c, v)
		}
	}
	for k, n := range after {
		if n != 2 {
			t.Errorf("%v: %d", k, n)
		}
	}
	if n := len(roundOrders([]string{"a", "b"})); n != 2 {
		t.Errorf("2 conditions: %d orders", n)
	}
}
