package tracebench

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// cpuLayout is the Split layout's division of the CPUs this process may use.
type cpuLayout struct {
	work      unix.CPUSet // server and load generator
	tracer    unix.CPUSet // the tracer process
	tracerCPU int
}

// splitCPUs gives the last allowed CPU to the tracer and the others to the
// workload.
func splitCPUs() (cpuLayout, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return cpuLayout{}, fmt.Errorf("read CPU affinity: %w", err)
	}
	if all.Count() < 2 {
		return cpuLayout{}, fmt.Errorf("the split CPU layout needs 2 CPUs, this process may use %d", all.Count())
	}
	var l cpuLayout
	last := -1
	for c := range 1024 {
		if all.IsSet(c) {
			last = c
		}
	}
	for c := range last {
		if all.IsSet(c) {
			l.work.Set(c)
		}
	}
	l.tracer.Set(last)
	l.tracerCPU = last
	return l, nil
}

// pinProcess sets the CPU affinity of every thread of process pid. A thread
// inherits the affinity of the thread that creates it, so once every
// thread is pinned the process stays pinned; callers pin again before each
// measurement to catch a thread created while the others were moved.
func pinProcess(pid int, set unix.CPUSet) error {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d of process %d: %w", tid, pid, err)
		}
	}
	return nil
}
