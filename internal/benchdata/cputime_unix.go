//go:build unix

package benchdata

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time the process has used so far, user and
// system, all threads: on a loaded machine it measures the work a benchmark
// did better than the wall clock, which also counts the time other
// processes held the CPU.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
