package loader

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Mode says how much of each payload the kernel copies.
type Mode uint8

const (
	// HeaderOnly copies, for every Iggy frame, its 8-byte header and the
	// first MetaBudget bytes after it (identifiers, names, SendMessages
	// metadata) and accounts every other byte as skipped, at its exact
	// position. This is the default: the kernel follows the frame boundaries
	// per connection and direction.
	HeaderOnly Mode = iota
	// Full copies every payload byte.
	Full
)

func (m Mode) String() string {
	switch m {
	case HeaderOnly:
		return "header-only"
	case Full:
		return "full"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode accepts "header-only" (or "headers") and "full".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "header-only", "headers", "header", "":
		return HeaderOnly, nil
	case "full":
		return Full, nil
	}
	return 0, fmt.Errorf("unknown capture mode %q (want header-only or full)", s)
}

// Limits fixed by bpf/capture.c.
const (
	MaxPorts      = 8
	MaxMetaBudget = 4096
	maxChunk      = 16384
	maxFrameLimit = 1 << 30
)

// Defaults applied by Open.
const (
	DefaultPort       = 8090
	DefaultMetaBudget = 128
	// DefaultMaxFrame bounds the frame length the header-only tracker
	// believes (header included); a larger length means lost sync.
	DefaultMaxFrame     = 256 << 20
	DefaultPollInterval = 20 * time.Millisecond
	defaultRingHeaders  = 16 << 20
	defaultRingFull     = 64 << 20
	minRingSize         = 1 << 12
	maxRingSize         = 1 << 30
)

// Config says what to capture and where.
type Config struct {
	// CgroupPath is the cgroup v2 directory to attach to. Default: the root
	// of the cgroup v2 hierarchy (every socket on the host; only the server
	// side of each connection is kept).
	CgroupPath string
	// PID, if set, selects the cgroup v2 of that process instead. A socket
	// belongs to the cgroup its creator was in, so start the server inside
	// the cgroup (a process moved later keeps its old sockets' cgroup).
	PID int
	// Ports are the server ports (at most MaxPorts). Default: 8090.
	Ports []uint16
	// Mode defaults to HeaderOnly.
	Mode Mode
	// RingSize is the ring buffer size in bytes, rounded up to a power of two.
	// Default: 16 MiB in HeaderOnly mode, 64 MiB in Full mode.
	RingSize int
	// MetaBudget is the number of bytes after each frame header that
	// HeaderOnly mode copies (at most MaxMetaBudget). Default: 128.
	MetaBudget int
	// MaxFrame is the largest frame length (header included) HeaderOnly mode
	// accepts before it declares the tracking lost. Default: 256 MiB.
	MaxFrame int
	// PollInterval bounds how long a record waits in the ring before Run
	// reads it when traffic is light; under load the kernel wakes Run each
	// time another eighth of the ring fills. Default: 20ms.
	PollInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// chunk is the payload bytes per record in Full mode (tests shrink it
	// to see chunking with BPF_PROG_TEST_RUN's one-page packets).
	chunk int
}

// resolved returns c with defaults applied, or why it is invalid.
func (c Config) resolved() (Config, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Ports) == 0 {
		c.Ports = []uint16{DefaultPort}
	}
	if len(c.Ports) > MaxPorts {
		return c, fmt.Errorf("%d ports configured, at most %d are supported", len(c.Ports), MaxPorts)
	}
	for _, p := range c.Ports {
		if p == 0 {
			return c, errors.New("port 0 is not a server port")
		}
	}
	switch c.Mode {
	case HeaderOnly, Full:
	default:
		return c, fmt.Errorf("invalid capture mode %v", c.Mode)
	}
	if c.RingSize == 0 {
		c.RingSize = defaultRingHeaders
		if c.Mode == Full {
			c.RingSize = defaultRingFull
		}
	}
	if c.RingSize < 0 || c.RingSize > maxRingSize {
		return c, fmt.Errorf("ring size %d out of range (%d..%d)", c.RingSize, minRingSize, maxRingSize)
	}
	c.RingSize = roundRing(c.RingSize)
	if c.MetaBudget == 0 {
		c.MetaBudget = DefaultMetaBudget
	}
	if c.MetaBudget < 0 || c.MetaBudget > MaxMetaBudget {
		return c, fmt.Errorf("metadata budget %d out of range (0..%d)", c.MetaBudget, MaxMetaBudget)
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxFrame < 64 || c.MaxFrame > maxFrameLimit {
		return c, fmt.Errorf("max frame %d out of range (64..%d)", c.MaxFrame, maxFrameLimit)
	}
	if c.chunk < 0 || c.chunk > maxChunk {
		return c, fmt.Errorf("chunk %d out of range (64..%d)", c.chunk, maxChunk)
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PollInterval < time.Millisecond || c.PollInterval > time.Minute {
		return c, fmt.Errorf("poll interval %v out of range (1ms..1m)", c.PollInterval)
	}
	if c.PID < 0 {
		return c, fmt.Errorf("invalid PID %d", c.PID)
	}
	if c.PID != 0 && c.CgroupPath != "" {
		return c, errors.New("set CgroupPath or PID, not both")
	}
	return c, nil
}

// roundRing rounds n up to a power of two of at least a page.
func roundRing(n int) int {
	min := os.Getpagesize()
	if min < minRingSize {
		min = minRingSize
	}
	size := min
	for size < n {
		size <<= 1
	}
	return size
}
