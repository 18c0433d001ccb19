package tracebench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
)

// procCPU returns the CPU time, in nanoseconds, that the live threads of
// process pid have used: the sum of the first field of
// /proc/PID/task/*/schedstat (the scheduler's sum_exec_runtime, user and
// system together, at nanosecond resolution; /proc/PID/stat counts in 10 ms
// ticks, too coarse for a few seconds of tracing).
func procCPU(pid int) (int64, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		ns, err := parseSchedstat(b)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, e.Name(), err)
		}
		sum += ns
	}
	return sum, nil
}

// parseSchedstat reads the on-CPU nanoseconds of a schedstat line
// ("run_ns wait_ns timeslices").
func parseSchedstat(b []byte) (int64, error) {
	run, _, err := parseSchedstat2(b)
	return run, err
}

// parseSchedstat2 reads the on-CPU and the runnable-but-waiting
// nanoseconds of a schedstat line.
func parseSchedstat2(b []byte) (run, wait int64, err error) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("short schedstat %q", b)
	}
	if run, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return 0, 0, err
	}
	wait, err = strconv.ParseInt(f[1], 10, 64)
	return run, wait, err
}

// procSched returns the on-CPU time (ns) of the live threads of process pid
// and how many of them are running or waiting for a CPU (state R).
func procSched(pid int) (run int64, runnable int, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		r, _, err := parseSchedstat2(b)
		if err != nil {
			return 0, 0, fmt.Errorf("%s/%s/schedstat: %w", dir, e.Name(), err)
		}
		run += r
		if st, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat")); err == nil && taskState(st) == 'R' {
			runnable++
		}
	}
	return run, runnable, nil
}

// taskState is the state letter of a /proc/PID/task/TID/stat line, after
// the parenthesised command name.
func taskState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// waitIdle waits until process pid is idle (a tracer that has drained its
// ring: it only wakes for its poll timer) or until limit passes, and
// returns its CPU time then (ns) and whether it went idle. Idle means: at
// two samples 20 ms apart in a row, no thread running or waiting for a CPU
// and less than 0.5 ms of CPU used since the previous sample. A tracer with
// work left that is starved by other load is runnable, so not idle.
func waitIdle(pid int, limit time.Duration) (int64, bool, error) {
	const (
		step  = 20 * time.Millisecond
		quiet = int64(500 * time.Microsecond)
		need  = 2
	)
	run0, _, err := procSched(pid)
	if err != nil {
		return 0, false, err
	}
	deadline := time.Now().Add(limit)
	idle := 0
	for time.Now().Before(deadline) {
		time.Sleep(step)
		run, runnable, err := procSched(pid)
		if err != nil {
			return 0, false, err
		}
		if runnable == 0 && run-run0 < quiet {
			idle++
		} else {
			idle = 0
		}
		run0 = run
		if idle >= need {
			return run, true, nil
		}
	}
	return run0, false, nil
}

// procIO returns the bytes process pid has read and written through
// read/write-family system calls (rchar + wchar of /proc/PID/io): for the
// test server, which does its socket I/O that way, the TCP payload bytes in
// both directions.
func procIO(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	return parseProcIO(b)
}

func parseProcIO(b []byte) (uint64, error) {
	var sum uint64
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "rchar" && k != "wchar") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/io %s: %w", k, err)
		}
		sum += n
		seen++
	}
	if seen != 2 {
		return 0, fmt.Errorf("/proc/PID/io: no rchar/wchar")
	}
	return sum, nil
}

// progStat is one BPF program's kernel statistics, as the fdinfo of a
// program file descriptor shows them (kept only while bpf_stats are on).
type progStat struct {
	ID      uint32
	Type    uint32 // BPF_PROG_TYPE_*: 8 cgroup_skb, 26 tracing (tp_btf)
	RunNs   uint64
	RunCnt  uint64
	Missing uint64 // recursion_misses
}

const (
	progTypeCgroupSKB = 8
	progTypeTracing   = 26
)

func progTypeName(t uint32) string {
	switch t {
	case progTypeCgroupSKB:
		return "cgroup_skb"
	case progTypeTracing:
		return "tp_btf"
	case 17:
		return "raw_tracepoint"
	case 5:
		return "tracepoint"
	}
	return "type" + strconv.Itoa(int(t))
}

// procProgs returns the statistics of every BPF program process pid holds a
// file descriptor of, by program id. Reading another process's fdinfo is how
// the tracer's programs are found without any cooperation from it.
func procProgs(pid int) (map[uint32]progStat, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[uint32]progStat{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || target != "anon_inode:bpf-prog" {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			continue
		}
		p, err := parseProgFdinfo(b)
		if err != nil {
			return nil, fmt.Errorf("fdinfo of %s/%s: %w", dir, e.Name(), err)
		}
		out[p.ID] = p
	}
	return out, nil
}

func parseProgFdinfo(b []byte) (progStat, error) {
	var p progStat
	var haveID bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var dst *uint64
		var n32 *uint32
		switch k {
		case "prog_id":
			n32, haveID = &p.ID, true
		case "prog_type":
			n32 = &p.Type
		case "run_time_ns":
			dst = &p.RunNs
		case "run_cnt":
			dst = &p.RunCnt
		case "recursion_misses":
			dst = &p.Missing
		default:
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return p, fmt.Errorf("%s: %w", k, err)
		}
		if dst != nil {
			*dst = n
		} else {
			*n32 = uint32(n)
		}
	}
	if !haveID {
		return p, fmt.Errorf("no prog_id (kernel too old?)")
	}
	return p, nil
}

var progNames = map[uint32]string{}

// progName is the kernel's name of program id (at most 15 characters:
// "capture_ingres"), or its type's name if the id cannot be opened.
func progName(id, typ uint32) string {
	if n, ok := progNames[id]; ok {
		return n
	}
	n := progTypeName(typ)
	if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
		if info, err := p.Info(); err == nil && info.Name != "" {
			n = info.Name
		}
		_ = p.Close()
	}
	progNames[id] = n
	return n
}

// diffByName is diffProgs by program name.
func diffByName(before, after map[uint32]progStat) map[string]ProgDelta {
	d := map[string]ProgDelta{}
	for id, a := range after {
		b := before[id]
		n := progName(id, a.Type)
		v := d[n]
		v.Ns += a.RunNs - b.RunNs
		v.Runs += a.RunCnt - b.RunCnt
		d[n] = v
	}
	return d
}

// progDelta is what the programs did between two snapshots, summed by type.
type progDelta map[uint32]struct{ Ns, Runs uint64 }

func diffProgs(before, after map[uint32]progStat) progDelta {
	d := progDelta{}
	for id, a := range after {
		b := before[id] // zero if the program appeared in between
		v := d[a.Type]
		v.Ns += a.RunNs - b.RunNs
		v.Runs += a.RunCnt - b.RunCnt
		d[a.Type] = v
	}
	return d
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// cpuBusy returns the machine's busy and total jiffies from /proc/stat, to
// say how loaded it was during a run.
func cpuBusy() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		n, _ := strconv.ParseUint(s, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
