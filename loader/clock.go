package loader

import (
	"math"

	"golang.org/x/sys/unix"
)

// wallClock converts bpf_ktime_get_ns() (CLOCK_MONOTONIC) to nanoseconds
// since the Unix epoch. The offset between the two clocks changes when the
// wall clock is stepped or slewed, so it is sampled again once a second of
// kernel time has passed.
type wallClock struct {
	offset  int64  // CLOCK_REALTIME - CLOCK_MONOTONIC, ns
	sampled uint64 // monotonic time of the sample
}

const clockResample = 1e9 // ns

func newWallClock() wallClock {
	var c wallClock
	c.sample()
	return c
}

// sample reads monotonic, realtime, monotonic a few times and keeps the
// tightest bracket, so the offset is good to the cost of one clock read.
func (c *wallClock) sample() {
	best := int64(math.MaxInt64)
	for range 3 {
		var m1, rt, m2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &rt) != nil ||
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2) != nil {
			continue
		}
		width := m2.Nano() - m1.Nano()
		if width < best {
			best = width
			mid := m1.Nano() + width/2
			c.offset = rt.Nano() - mid
			c.sampled = uint64(mid)
		}
	}
}

// wall converts a kernel monotonic timestamp.
func (c *wallClock) wall(ktime uint64) int64 {
	if ktime > c.sampled+clockResample {
		c.sample()
	}
	return int64(ktime) + c.offset
}
