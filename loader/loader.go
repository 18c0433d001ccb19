// Package loader runs the capture side of iggytrace: it loads the eBPF
// programs of package bpf, attaches them to a cgroup v2, reads their ring
// buffer and hands the Iggy server's TCP payload to the decoder as
// decoder.Segments. Probe says beforehand what the running kernel allows.
//
// Ring records are little endian. Every record starts with a 72-byte header
// whose first byte is its type:
//
//	off size field
//	  0    1 type        1 segment, 2 connection state
//	  1    1 family      4 or 6
//	  2    1 dir         segment: 0 to server, 1 to client | state: old TCP state
//	  3    1 tcp_flags   segment: FIN/SYN/RST/...          | state: new TCP state
//	  4    1 rflags      segment: first/last of packet, desync, retransmission, truncated, resync
//	  6    2 cpu         CPU that wrote the record
//	  8    4 cpu_seq     per-CPU record counter (a gap is a record the ring had no room for)
//	 12    4 seq         segment: TCP sequence number of the first byte covered | state: rcv_nxt
//	 16    8 ktime_ns    bpf_ktime_get_ns (CLOCK_MONOTONIC)
//	 24    4 wire_len    segment: stream bytes covered from seq             | state: snd_una
//	 28    4 cap_len     segment: bytes following the header, a prefix     | state: snd_nxt
//	 32    2 sport       state: server (local) port
//	 34    2 dport       state: client (remote) port
//	 36    4 pkt_len     segment: payload bytes of the whole packet
//	 40   16 saddr       state: server address (IPv4 in the first 4 bytes)
//	 56   16 daddr       state: client address
//	 72  cap_len bytes   segment payload
//
// A packet's records cover its payload contiguously; the wire_len-cap_len
// bytes after a record's data are skipped, not lost. A SYN is a record of
// wire_len 0 at the SYN's sequence number; FIN and RST ride on the last
// record of their packet.
package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/iggytrace/iggytrace/bpf"
	"github.com/iggytrace/iggytrace/decoder"
)

// Tracer is an attached capture. Run reads it; Close detaches it.
type Tracer struct {
	cfg    Config
	log    *slog.Logger
	cgroup string // attached cgroup v2 directory, "" before attach

	objs  captureObjects
	state *ebpf.Program // nil when connection events are unavailable
	links []link.Link
	rd    *ringReader

	running   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	statsMu sync.Mutex
	final   *Stats // kernel counters at Close

	// Maintained by Run, read by Stats.
	read    atomic.Uint64
	bad     atomic.Uint64
	missing atomic.Int64
	cpus    []cpuTrack // by CPU, touched only by Run

	recordHook func(*record) // tests: sees each decoded record before fn
}

// captureObjects are the maps and the packet programs; the state program is
// loaded separately so that a kernel without BTF can still capture packets.
type captureObjects struct {
	bpf.CaptureMaps
	Ingress *ebpf.Program `ebpf:"capture_ingress"`
	Egress  *ebpf.Program `ebpf:"capture_egress"`
}

type stateObjects struct {
	State *ebpf.Program `ebpf:"capture_state"`
}

// cpuTrack follows one CPU's record counter to count records that never
// arrived.
type cpuTrack struct {
	seen bool
	hi   uint32
}

// Open loads the programs, writes the configuration, attaches the
// cgroup_skb programs to the configured cgroup and the connection state
// tracepoint, and opens the ring buffer. ctx bounds the set-up only.
func Open(ctx context.Context, cfg Config) (*Tracer, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	path := cfg.CgroupPath
	switch {
	case cfg.PID != 0:
		if path, err = CgroupOfPID(cfg.PID); err != nil {
			return nil, fmt.Errorf("loader: %w", err)
		}
	case path == "":
		if path, err = CgroupV2Root(); err != nil {
			return nil, fmt.Errorf("loader: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := newTracer(cfg)
	if err != nil {
		return nil, err
	}
	if err := t.attach(path); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// newTracer loads everything and opens the ring, but attaches nothing.
func newTracer(cfg Config) (*Tracer, error) {
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	t := &Tracer{cfg: cfg, log: cfg.Logger}

	spec, err := bpf.LoadCapture()
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	spec.Maps[bpf.CaptureMapEvents].MaxEntries = uint32(cfg.RingSize)
	if err := spec.LoadAndAssign(&t.objs, nil); err != nil {
		return nil, fmt.Errorf("loader: load capture programs: %w", explainLoadError(err))
	}

	if err := t.objs.ConfigMap.Put(uint32(0), kernelConfig(cfg)); err != nil {
		t.Close()
		return nil, fmt.Errorf("loader: write configuration: %w", err)
	}

	// Connection events need BTF (tp_btf); without them capture still works.
	var st stateObjects
	err = spec.LoadAndAssign(&st, &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		bpf.CaptureMapConfigMap: t.objs.ConfigMap,
		bpf.CaptureMapEvents:    t.objs.Events,
		bpf.CaptureMapStatsMap:  t.objs.StatsMap,
		bpf.CaptureMapSocks:     t.objs.Socks,
	}})
	if err != nil {
		t.log.Warn("connection open/close events unavailable; segments still carry SYN/FIN/RST",
			"reason", explainLoadError(err))
	} else {
		t.state = st.State
	}

	if t.rd, err = newRingReader(t.objs.Events); err != nil {
		t.Close()
		return nil, fmt.Errorf("loader: open ring buffer: %w", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("loader: %w", err)
	}
	t.cpus = make([]cpuTrack, ncpu)
	return t, nil
}

func kernelConfig(cfg Config) bpf.CaptureConfig {
	kc := bpf.CaptureConfig{
		Mode:       bpf.CaptureCaptureModeMODE_HEADERS,
		MetaBudget: uint32(cfg.MetaBudget),
		Chunk:      uint32(cfg.chunk),
		MaxFrame:   uint32(cfg.MaxFrame),
		// Records go into the ring without waking the reader, which
		// polls; it is woken each time another eighth of the ring fills.
		WakeupShift: uint32(bits.TrailingZeros(uint(cfg.RingSize / 8))),
	}
	if cfg.Mode == Full {
		kc.Mode = bpf.CaptureCaptureModeMODE_FULL
	}
	copy(kc.Ports[:], cfg.Ports)
	return kc
}

// attach links the packet programs to the cgroup v2 directory path and the
// state program to its tracepoint.
func (t *Tracer) attach(path string) error {
	for _, a := range []struct {
		prog *ebpf.Program
		typ  ebpf.AttachType
	}{
		{t.objs.Ingress, ebpf.AttachCGroupInetIngress},
		{t.objs.Egress, ebpf.AttachCGroupInetEgress},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: a.typ, Program: a.prog})
		if err != nil {
			return fmt.Errorf("loader: attach %v to cgroup %s: %w", a.typ, path, err)
		}
		t.links = append(t.links, l)
	}
	t.cgroup = path
	if t.state != nil {
		l, err := link.AttachTracing(link.TracingOptions{Program: t.state})
		if err != nil {
			t.log.Warn("connection open/close events unavailable", "reason", err)
		} else {
			t.links = append(t.links, l)
		}
	}
	t.log.Info("capture attached", "cgroup", path, "ports", t.cfg.Ports, "mode", t.cfg.Mode,
		"ring_bytes", t.cfg.RingSize, "meta_budget", t.cfg.MetaBudget,
		"state_events", t.StateEvents())
	return nil
}

// Cgroup is the cgroup v2 directory the capture is attached to.
func (t *Tracer) Cgroup() string { return t.cgroup }

// StateEvents says whether connection open/close events are being captured.
func (t *Tracer) StateEvents() bool { return len(t.links) > 2 }

// Config is the configuration in effect, defaults applied.
func (t *Tracer) Config() Config { return t.cfg }

// ErrRunning is returned by Run when another Run is in progress.
var ErrRunning = errors.New("loader: Run already in progress")

// Run reads the ring buffer and calls fn with each segment, in ring order
// (the order in which CPUs wrote their records: segments of one connection
// handled by two CPUs can arrive out of sequence order, so consumers order
// by Seq). The segment and its Data are reused after fn returns. A
// connection state record becomes two zero-length segments, one per
// direction. The kernel does not wake Run for every record: under light
// traffic a segment waits up to Config.PollInterval.
//
// Run returns nil once ctx is cancelled and the records already in the ring
// have been delivered. A Close during Run makes it return an error wrapping
// os.ErrClosed. Run must not be called concurrently.
func (t *Tracer) Run(ctx context.Context, fn func(*decoder.Segment)) error {
	if !t.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer t.running.Store(false)

	// The kernel writes records without waking the reader (see ring_flags
	// in capture.c), so the loop also polls every PollInterval. A cancelled
	// ctx wakes the wait; the loop then reads what is left and returns.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if err := t.rd.wake(); err != nil && !errors.Is(err, os.ErrClosed) {
				t.log.Warn("wake ring reader", "err", err)
			}
		case <-done:
		}
	}()

	clk := newWallClock()
	var (
		rec  record
		a, b decoder.Segment
	)
	deliver := func(sample []byte) { t.deliver(sample, &rec, &clk, &a, &b, fn) }
	for {
		if err := t.rd.read(deliver); errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("loader: tracer closed during Run: %w", err)
		} else if err != nil {
			return fmt.Errorf("loader: read ring buffer: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		err := t.rd.wait(t.cfg.PollInterval)
		switch {
		case err == nil, errors.Is(err, errWoken):
		case errors.Is(err, os.ErrClosed):
			return fmt.Errorf("loader: tracer closed during Run: %w", err)
		default:
			return fmt.Errorf("loader: read ring buffer: %w", err)
		}
	}
}

// deliver decodes one ring sample and passes its segments to fn.
func (t *Tracer) deliver(sample []byte, rec *record, clk *wallClock, a, b *decoder.Segment, fn func(*decoder.Segment)) {
	if err := rec.decode(sample); err != nil {
		if t.bad.Add(1) == 1 {
			t.log.Warn("malformed ring record (further ones only counted)", "err", err)
		}
		return
	}
	t.read.Add(1)
	t.trackCPU(rec.cpu, rec.cpuSeq)
	if t.recordHook != nil {
		t.recordHook(rec)
	}
	wall := clk.wall(rec.ktime)
	switch rec.typ {
	case recSegment:
		rec.segment(wall, a)
		fn(a)
	case recState:
		if rec.stateSegments(wall, a, b) {
			fn(a)
			fn(b)
		}
	}
}

// trackCPU counts gaps in a CPU's record counter. A record may arrive after
// a later one of the same CPU (a softirq interrupted the program between
// taking its number and writing), so a late record fills one gap back.
func (t *Tracer) trackCPU(cpu uint16, seq uint32) {
	if int(cpu) >= len(t.cpus) {
		return
	}
	c := &t.cpus[cpu]
	if !c.seen {
		c.seen, c.hi = true, seq
		return
	}
	if d := int32(seq - c.hi); d > 0 {
		t.missing.Add(int64(d - 1))
		c.hi = seq
	} else {
		t.missing.Add(-1)
	}
}

// Close detaches and frees everything: the ring reader first (which ends a
// Run), then the links, then the programs and maps. It is safe to call more
// than once.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() {
		var errs []error
		if t.rd != nil {
			if err := t.rd.close(); err != nil {
				errs = append(errs, fmt.Errorf("close ring reader: %w", err))
			}
		}
		for i := len(t.links) - 1; i >= 0; i-- {
			if err := t.links[i].Close(); err != nil {
				errs = append(errs, fmt.Errorf("detach: %w", err))
			}
		}
		t.statsMu.Lock()
		if t.objs.StatsMap != nil {
			final := t.kernelStats()
			t.final = &final
		}
		t.statsMu.Unlock()
		progs := []*ebpf.Program{t.state, t.objs.Ingress, t.objs.Egress}
		m := &t.objs.CaptureMaps
		maps := []*ebpf.Map{m.ConfigMap, m.Events, m.Flows, m.NestDepth, m.ScratchBufs, m.Socks, m.StatsMap}
		for _, p := range progs {
			if p != nil {
				if err := p.Close(); err != nil {
					errs = append(errs, fmt.Errorf("close program %v: %w", p, err))
				}
			}
		}
		for _, m := range maps {
			if m != nil {
				if err := m.Close(); err != nil {
					errs = append(errs, fmt.Errorf("close map %v: %w", m, err))
				}
			}
		}
		if len(errs) > 0 {
			t.closeErr = fmt.Errorf("loader: close: %w", errors.Join(errs...))
		}
	})
	return t.closeErr
}

// explainLoadError includes the verifier log in verifier errors and says
// what EPERM means.
func explainLoadError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("%+v", ve)
	}
	if errors.Is(err, unix.EPERM) {
		return permError{err}
	}
	return err
}

// permError replaces cilium/ebpf's hint about RLIMIT_MEMLOCK, which it adds
// to every EPERM, with the usual cause.
type permError struct{ err error }

func (e permError) Error() string {
	return cleanErr(e.err) + " (needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, or root; " +
		"RLIMIT_MEMLOCK matters only before Linux 5.11, see rlimit.RemoveMemlock)"
}

func (e permError) Unwrap() error { return e.err }
