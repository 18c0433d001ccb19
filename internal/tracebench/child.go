package tracebench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tracer is a running tracer process: `iggytrace trace` (or this program's
// own replica of it, for profiling) attached to the bench cgroup.
type tracer struct {
	cmd    *exec.Cmd
	pid    int
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{} // closed when stderr is drained
}

// tracerSummary is what the tracer says on stderr when it stops.
type tracerSummary struct {
	Conns, Pairs, Unanswered, Unmatched, DecodeErrors uint64
	Gaps                                              uint64
	Lost                                              bool   // the kernel line has a LOST part
	KernelLine                                        string // "kernel: ..." as printed

	// The floor tracer's line (RunFloor): records read, ring drops.
	FloorRecords, FloorDropped uint64
}

var (
	reTraceLine = regexp.MustCompile(`trace: (\d+) connections, (\d+) exchanges paired, (\d+) unanswered, (\d+) unmatched responses, (\d+) decode errors`)
	reGapLine   = regexp.MustCompile(`trace: (\d+) gaps`)
	reFloorLine = regexp.MustCompile(`floor: (\d+) records read \(\d+ bytes\), (\d+) dropped on a full ring`)
)

func parseSummary(s string) (tracerSummary, bool) {
	var out tracerSummary
	if m := reFloorLine.FindStringSubmatch(s); m != nil {
		out.FloorRecords, _ = strconv.ParseUint(m[1], 10, 64)
		out.FloorDropped, _ = strconv.ParseUint(m[2], 10, 64)
		out.Lost = out.FloorDropped > 0
		return out, true
	}
	m := reTraceLine.FindStringSubmatch(s)
	if m == nil {
		return out, false
	}
	n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
	out.Conns, out.Pairs, out.Unanswered, out.Unmatched, out.DecodeErrors = n(1), n(2), n(3), n(4), n(5)
	if g := reGapLine.FindStringSubmatch(s); g != nil {
		out.Gaps, _ = strconv.ParseUint(g[1], 10, 64)
	}
	for _, l := range strings.Split(s, "\n") {
		if _, k, ok := strings.Cut(l, "trace: kernel: "); ok {
			out.KernelLine = "kernel: " + k
			out.Lost = strings.Contains(k, "LOST")
		}
	}
	return out, true
}

// startTracer starts argv (the tracer's command line, stdout to /dev/null)
// and waits until it says it is attached (the "tracing" log line).
func startTracer(ctx context.Context, argv []string) (*tracer, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tracer %q: %w", strings.Join(argv, " "), err)
	}
	t := &tracer{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(t.done)
		r := bufio.NewReader(pipe)
		signalled := false
		for {
			line, err := r.ReadString('\n')
			t.mu.Lock()
			t.stderr.WriteString(line)
			t.mu.Unlock()
			if !signalled && strings.Contains(line, "msg=tracing") {
				close(ready)
				signalled = true
			}
			if err != nil {
				if !signalled {
					close(ready)
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-time.After(60 * time.Second):
	}
	if !strings.Contains(t.output(), "msg=tracing") {
		t.kill()
		return nil, fmt.Errorf("tracer %q did not attach:\n%s", strings.Join(argv, " "), t.output())
	}
	return t, nil
}

func (t *tracer) output() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stderr.String()
}

func (t *tracer) kill() {
	_ = t.cmd.Process.Kill()
	<-t.done
	_ = t.cmd.Wait()
}

// stop sends SIGTERM, which makes the tracer drain the ring, flush and
// print its summary, and returns the CPU time (user + system, ns) the
// process used over its whole life, from wait4's rusage.
func (t *tracer) stop() (cpuNs int64, sum tracerSummary, err error) {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.AfterFunc(30*time.Second, func() { _ = t.cmd.Process.Kill() })
	defer timer.Stop()
	<-t.done
	werr := t.cmd.Wait()
	if ru, ok := t.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpuNs = ru.Utime.Nano() + ru.Stime.Nano()
	}
	out := t.output()
	sum, ok := parseSummary(out)
	var ee *exec.ExitError
	switch {
	case werr != nil && !errors.As(werr, &ee):
		return cpuNs, sum, werr
	case werr != nil:
		return cpuNs, sum, fmt.Errorf("tracer exited: %v:\n%s", werr, lastLines(out, 10))
	case !ok:
		return cpuNs, sum, fmt.Errorf("tracer printed no summary:\n%s", lastLines(out, 10))
	}
	return cpuNs, sum, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
