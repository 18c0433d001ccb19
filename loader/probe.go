package loader

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Check is one finding of Probe.
type Check struct {
	OK     bool
	Detail string // what was found, or why not
}

// ProgramCheck says whether a program type loads and attaches here.
type ProgramCheck struct {
	Type     string // cgroup_skb, tcx, tp_btf, kprobe, fentry
	Loads    bool
	Attaches bool
	Reason   string // why not, when !Loads or !Attaches
	Use      string // what iggytrace would use it for
}

// Program types Probe tries.
const (
	ProgCgroupSKB = "cgroup_skb"
	ProgTCX       = "tcx"
	ProgTPBTF     = "tp_btf"
	ProgKprobe    = "kprobe"
	ProgFentry    = "fentry"
)

// Report is what the running kernel allows, and why not where it does not.
type Report struct {
	Kernel       string
	Capabilities Check // CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN
	BTF          Check // kernel BTF, needed by tp_btf and fentry
	CgroupV2     Check
	CgroupV2Path string
	Lockdown     Check // OK unless "confidentiality", which restricts reading kernel memory
	BPFStats     Check // kernel.bpf_stats_enabled
	RingBuf      Check
	Loop         Check // bpf_loop helper, used by the capture programs
	Programs     []ProgramCheck
}

// Program returns the check of one program type, or nil.
func (r *Report) Program(typ string) *ProgramCheck {
	for i := range r.Programs {
		if r.Programs[i].Type == typ {
			return &r.Programs[i]
		}
	}
	return nil
}

// CanCapture returns nil if Open can work here, or what is missing.
func (r *Report) CanCapture() error {
	var missing []string
	if !r.CgroupV2.OK {
		missing = append(missing, "cgroup v2: "+r.CgroupV2.Detail)
	}
	if !r.RingBuf.OK {
		missing = append(missing, "ring buffer: "+r.RingBuf.Detail)
	}
	if !r.Loop.OK {
		missing = append(missing, "bpf_loop: "+r.Loop.Detail)
	}
	if p := r.Program(ProgCgroupSKB); p == nil || !p.Loads || !p.Attaches {
		reason := "not probed"
		if p != nil {
			reason = p.Reason
		}
		missing = append(missing, "cgroup_skb: "+reason)
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("capture impossible here: %s", strings.Join(missing, "; "))
}

// Format writes the report for a person.
func (r *Report) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(tw, "kernel\t%s\n", r.Kernel)
	for _, c := range []struct {
		name string
		c    Check
	}{
		{"capabilities", r.Capabilities},
		{"BTF", r.BTF},
		{"cgroup v2", r.CgroupV2},
		{"lockdown", r.Lockdown},
		{"bpf_stats", r.BPFStats},
		{"ring buffer", r.RingBuf},
		{"bpf_loop", r.Loop},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, yes(c.c.OK), c.c.Detail)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "program\tloads\tattaches\twhy not / use\n")
	for _, p := range r.Programs {
		why := p.Reason
		if why == "" {
			why = p.Use
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Type, yes(p.Loads), yes(p.Attaches), why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := r.CanCapture(); err != nil {
		_, err = fmt.Fprintf(w, "plan: %v\n", err)
		return err
	}
	plan := "plan: payload from cgroup_skb ingress/egress at the cgroup v2 hierarchy (packet level: sees io_uring, splice and sendfile traffic that syscall hooks miss)"
	if p := r.Program(ProgTPBTF); p != nil && p.Loads && p.Attaches {
		plan += "; connection open/close from tp_btf/inet_sock_set_state"
	} else {
		plan += "; no connection events (tp_btf unavailable), SYN/FIN/RST from packets only"
	}
	_, err := fmt.Fprintln(w, plan)
	return err
}

// Probe finds out what the running kernel allows. It loads tiny test
// programs and attaches each for a moment (a pass-through program on the
// cgroup v2 root and on lo, a no-op on a tracepoint and on tcp_sendmsg).
func Probe() Report {
	env := newProbeEnv()
	r := Report{Kernel: env.release}
	r.Capabilities = env.capCheck()
	r.BTF = probeBTF()
	if env.cgroupErr != nil {
		r.CgroupV2 = Check{Detail: env.cgroupErr.Error()}
	} else {
		r.CgroupV2 = Check{OK: true, Detail: "mounted at " + env.cgroup}
		r.CgroupV2Path = env.cgroup
	}
	r.Lockdown = env.lockdown()
	r.BPFStats = probeBPFStats()
	r.RingBuf = featureCheck(features.HaveMapType(ebpf.RingBuf), "BPF_MAP_TYPE_RINGBUF (5.8+)")
	r.Loop = featureCheck(features.HaveProgramHelper(ebpf.CGroupSKB, asm.FnLoop), "bpf_loop in cgroup_skb (5.17+)")
	r.Programs = []ProgramCheck{
		env.probeCgroupSKB(),
		env.probeTCX(),
		env.probeTPBTF(),
		env.probeKprobe(),
		env.probeFentry(),
	}
	return r
}

type probeEnv struct {
	release   string
	capEff    uint64
	capErr    error
	cgroup    string
	cgroupErr error
	kconfig   map[string]string // nil when the kernel config is not readable
}

func newProbeEnv() *probeEnv {
	e := &probeEnv{}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.release = unix.ByteSliceToString(u.Release[:])
	}
	e.capEff, e.capErr = effectiveCaps()
	e.cgroup, e.cgroupErr = CgroupV2Root()
	e.kconfig = readKernelConfig(e.release)
	return e
}

// Capability bits (include/uapi/linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

func (e *probeEnv) has(bit uint) bool { return e.capErr == nil && e.capEff&(1<<bit) != 0 }

func (e *probeEnv) capCheck() Check {
	if e.capErr != nil {
		return Check{Detail: "unknown: " + e.capErr.Error()}
	}
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{capBPF, "CAP_BPF"}, {capPerfmon, "CAP_PERFMON"}, {capNetAdmin, "CAP_NET_ADMIN"}, {capSysAdmin, "CAP_SYS_ADMIN"}} {
		if !e.has(c.bit) {
			missing = append(missing, c.name)
		}
	}
	if len(missing) == 0 {
		return Check{OK: true, Detail: "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN held"}
	}
	return Check{Detail: "missing " + strings.Join(missing, ", ") + " (run as root or grant them)"}
}

// readKernelConfig reads /proc/config.gz or /boot/config-<release>.
func readKernelConfig(release string) map[string]string {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			r = zr
		}
	}
	if r == nil {
		f, err := os.Open("/boot/config-" + release)
		if err != nil {
			return nil
		}
		defer f.Close()
		r = f
	}
	cfg := make(map[string]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# "); ok {
			if name, ok = strings.CutSuffix(name, " is not set"); ok {
				cfg[name] = "n"
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cfg[k] = v
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return cfg
}

// kconfigOff says whether the kernel config is known to lack option.
func (e *probeEnv) kconfigOff(option string) bool {
	if e.kconfig == nil {
		return false
	}
	v, ok := e.kconfig[option]
	return !ok || v == "n"
}

func probeBTF() Check {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return Check{Detail: "no /sys/kernel/btf/vmlinux (kernel built without CONFIG_DEBUG_INFO_BTF): tp_btf and fentry cannot load"}
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return Check{Detail: "/sys/kernel/btf/vmlinux unreadable: " + err.Error()}
	}
	return Check{OK: true, Detail: "/sys/kernel/btf/vmlinux"}
}

func (e *probeEnv) lockdown() Check {
	if b, err := os.ReadFile("/sys/kernel/security/lockdown"); err == nil {
		s := strings.TrimSpace(string(b))
		mode := s
		if i := strings.IndexByte(s, '['); i >= 0 {
			if j := strings.IndexByte(s[i:], ']'); j > 0 {
				mode = s[i+1 : i+j]
			}
		}
		return lockdownCheck(mode, "/sys/kernel/security/lockdown")
	}
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "lockdown="); ok {
				return lockdownCheck(v, "kernel command line; securityfs not mounted")
			}
		}
	}
	switch {
	case e.kconfig["CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY"] == "y":
		return lockdownCheck("confidentiality", "forced by kernel config; securityfs not mounted")
	case e.kconfig["CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY"] == "y":
		return lockdownCheck("integrity", "forced by kernel config; securityfs not mounted")
	case e.kconfig != nil && e.kconfigOff("CONFIG_SECURITY_LOCKDOWN_LSM"):
		return lockdownCheck("none", "kernel built without the lockdown LSM")
	}
	return Check{OK: true, Detail: "unknown (securityfs not mounted at /sys/kernel/security, kernel config unreadable)"}
}

func lockdownCheck(mode, source string) Check {
	switch mode {
	case "confidentiality":
		return Check{Detail: "confidentiality (" + source + "): BPF may not read kernel memory; packet capture still works"}
	case "integrity":
		return Check{OK: true, Detail: "integrity (" + source + "): does not restrict the capture programs"}
	}
	return Check{OK: true, Detail: mode + " (" + source + ")"}
}

func probeBPFStats() Check {
	b, err := os.ReadFile("/proc/sys/kernel/bpf_stats_enabled")
	if err != nil {
		return Check{Detail: "unknown: " + err.Error()}
	}
	if strings.TrimSpace(string(b)) == "1" {
		return Check{OK: true, Detail: "kernel.bpf_stats_enabled=1: per-program run time and count are measured"}
	}
	return Check{Detail: "kernel.bpf_stats_enabled=0: run time not measured (sysctl -w kernel.bpf_stats_enabled=1, or BPF_ENABLE_STATS while benchmarking)"}
}

func featureCheck(err error, what string) Check {
	switch {
	case err == nil:
		return Check{OK: true, Detail: what}
	case errors.Is(err, ebpf.ErrNotSupported):
		return Check{Detail: what + ": not supported by this kernel"}
	case errors.Is(err, unix.EPERM):
		return Check{Detail: what + ": unknown, probing needs CAP_BPF (EPERM)"}
	}
	return Check{Detail: what + ": " + cleanErr(err)}
}

// cleanErr drops cilium/ebpf's memlock hint, which it appends to every
// EPERM; since 5.11 BPF memory is charged to the memory cgroup and
// RLIMIT_MEMLOCK plays no part.
func cleanErr(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "")
	return s
}

func noop(ret int64) asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, int32(ret)), asm.Return()}
}

// loadReason explains a load failure.
func (e *probeEnv) loadReason(err error, tracing bool) string {
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		return "load: program type not supported by this kernel"
	case errors.Is(err, unix.EPERM):
		need := e.has(capBPF) && (!tracing || e.has(capPerfmon))
		if !need && !e.has(capSysAdmin) {
			if tracing {
				return "EPERM at load: needs CAP_BPF and CAP_PERFMON (or root)"
			}
			return "EPERM at load: needs CAP_BPF (or root)"
		}
		return "EPERM at load although CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN are held: refused by kernel policy (not a memlock problem)"
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH):
		return "load: attach target not found: " + cleanErr(err)
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return "rejected by the verifier: " + cleanErr(err)
	}
	return "load: " + cleanErr(err)
}

func attachReason(err error) string {
	if errors.Is(err, ebpf.ErrNotSupported) {
		return "loads, attach not supported by this kernel: " + cleanErr(err)
	}
	return "loads, attach fails: " + cleanErr(err)
}

func (e *probeEnv) probeCgroupSKB() ProgramCheck {
	c := ProgramCheck{Type: ProgCgroupSKB, Use: "payload capture (used)"}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.CGroupSKB, AttachType: ebpf.AttachCGroupInetIngress,
		License: "Dual BSD/GPL", Instructions: noop(1), // 1 = let the packet pass
	})
	if err != nil {
		c.Reason = e.loadReason(err, false)
		return c
	}
	defer p.Close()
	c.Loads = true
	if e.cgroupErr != nil {
		c.Reason = "loads, nothing to attach to: " + e.cgroupErr.Error()
		return c
	}
	l, err := link.AttachCgroup(link.CgroupOptions{Path: e.cgroup, Attach: ebpf.AttachCGroupInetIngress, Program: p})
	if err != nil {
		c.Reason = attachReason(err)
		return c
	}
	l.Close()
	c.Attaches = true
	return c
}

func (e *probeEnv) probeTCX() ProgramCheck {
	c := ProgramCheck{Type: ProgTCX, Use: "alternative packet hook (not used: cgroup_skb tells sockets apart)"}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SchedCLS, AttachType: ebpf.AttachTCXIngress,
		License: "Dual BSD/GPL", Instructions: noop(-1), // TCX_NEXT
	})
	if err != nil {
		c.Reason = e.loadReason(err, false)
		return c
	}
	defer p.Close()
	c.Loads = true
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		c.Reason = "loads, no lo interface to attach to: " + err.Error()
		return c
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: lo.Index, Program: p, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			c.Reason = "loads, attach fails: TCX needs Linux 6.6+"
		} else {
			c.Reason = attachReason(err)
		}
		return c
	}
	l.Close()
	c.Attaches = true
	return c
}

func (e *probeEnv) probeTPBTF() ProgramCheck {
	c := ProgramCheck{Type: ProgTPBTF, Use: "connection open/close from inet_sock_set_state (used)"}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "inet_sock_set_state",
		License: "Dual BSD/GPL", Instructions: noop(0),
	})
	if err != nil {
		if _, serr := os.Stat("/sys/kernel/btf/vmlinux"); serr != nil {
			c.Reason = "cannot load: no kernel BTF (CONFIG_DEBUG_INFO_BTF)"
		} else {
			c.Reason = e.loadReason(err, true)
		}
		return c
	}
	defer p.Close()
	c.Loads = true
	l, err := link.AttachTracing(link.TracingOptions{Program: p})
	if err != nil {
		c.Reason = attachReason(err)
		return c
	}
	l.Close()
	c.Attaches = true
	return c
}

func (e *probeEnv) probeKprobe() ProgramCheck {
	c := ProgramCheck{Type: ProgKprobe, Use: "socket-layer hook (not used: cgroup_skb suffices)"}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.Kprobe, License: "Dual BSD/GPL", Instructions: noop(0),
	})
	if err != nil {
		c.Reason = e.loadReason(err, true)
		return c
	}
	defer p.Close()
	c.Loads = true
	l, err := link.Kprobe("tcp_sendmsg", p, nil)
	if err != nil {
		_, pmuErr := os.Stat("/sys/bus/event_source/devices/kprobe")
		switch {
		case pmuErr != nil && e.kconfig != nil && e.kconfigOff("CONFIG_KPROBES"):
			c.Reason = "loads, attach fails: kernel built without CONFIG_KPROBES"
		case pmuErr != nil:
			c.Reason = "loads, attach fails: no kprobe PMU (/sys/bus/event_source/devices/kprobe) and the tracefs fallback failed: " + cleanErr(err)
		default:
			c.Reason = attachReason(err)
		}
		return c
	}
	l.Close()
	c.Attaches = true
	return c
}

func (e *probeEnv) probeFentry() ProgramCheck {
	c := ProgramCheck{Type: ProgFentry, Use: "socket-layer hook (not used: cgroup_skb suffices)"}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "tcp_sendmsg",
		License: "Dual BSD/GPL", Instructions: noop(0),
	})
	if err != nil {
		switch {
		case errors.Is(err, unix.EPERM) && e.has(capBPF) && e.has(capPerfmon):
			c.Reason = "EPERM at load although CAP_BPF and CAP_PERFMON are held: function tracing (BPF trampolines) disabled in this kernel (not a memlock problem)"
			if e.kconfig != nil && e.kconfigOff("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS") {
				c.Reason = "EPERM at load: kernel built without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS (no BPF trampolines; not a memlock problem)"
			}
		case errors.Is(err, unix.EPERM):
			c.Reason = e.loadReason(err, true)
		default:
			if _, serr := os.Stat("/sys/kernel/btf/vmlinux"); serr != nil {
				c.Reason = "cannot load: no kernel BTF (CONFIG_DEBUG_INFO_BTF)"
			} else {
				c.Reason = e.loadReason(err, true)
			}
		}
		return c
	}
	defer p.Close()
	c.Loads = true
	l, err := link.AttachTracing(link.TracingOptions{Program: p})
	if err != nil {
		c.Reason = attachReason(err)
		return c
	}
	l.Close()
	c.Attaches = true
	return c
}
