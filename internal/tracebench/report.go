package tracebench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Goals from the issue.
var (
	// RatioGoal is the share of untraced throughput each mode must keep.
	RatioGoal = map[string]float64{HeaderOnly: 0.97, Full: 0.80}
	// NsPerRunGoal bounds the kernel's average run time per program run
	// in the default mode.
	NsPerRunGoal = map[string]float64{HeaderOnly: 300}
)

// Row is the summary of one workload in one condition over all rounds.
type Row struct {
	Workload, Condition string
	Runs                int

	ReqPerSec, MBPerSec float64 // medians
	ReqMin, ReqMax      float64

	// Ratio is the median over rounds of (this condition's req/s / the
	// same round's untraced req/s); 0 for the untraced row. RatioLo and
	// RatioHi bound it with 95 % confidence (distribution-free, from the
	// order statistics; equal to Ratio when there are fewer than 6 rounds).
	Ratio, RatioMin, RatioMax float64
	RatioLo, RatioHi          float64
	Goal                      float64 // 0: none

	BPFNsPerRun   float64 // cgroup_skb programs, pooled over rounds
	BPFRunsPerReq float64
	BPFCPUPer100k float64 // s, every program of the tracer, pooled

	TracerCPUPer100k float64 // s, median
	ServerCPUPer100k float64 // s, median
	Background       float64 // median share of the machine busy with other work

	// From the tracer's summary at exit, over the whole bench (its
	// condition's runs of every workload, warm-up included):
	DropRuns     int     // measured runs in which the ring overflowed
	DroppedBytes uint64  // payload bytes those drops covered
	CapturedMB   float64 // median MB copied to user space per run

	Coverage   float64 // exchanges paired / workload requests (logins and set-up make it > 1); -1: untraced
	Lost       bool    // the kernel dropped records
	Gaps       uint64  // gaps in the decoded streams
	KernelLine string
}

// medianCI is a distribution-free 95 % confidence interval of the median
// of v: the order statistics k+1 and n-k with k = floor((n - 1.96 sqrt n)/2)
// (the normal approximation to the binomial). With fewer than 6 values
// there is no such interval: it returns the median twice.
func medianCI(v []float64) (lo, hi float64) {
	n := len(v)
	if n < 6 {
		m := median(v)
		return m, m
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := int(math.Floor((float64(n) - 1.96*math.Sqrt(float64(n))) / 2))
	k = max(k, 0)
	return s[k], s[n-1-k]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Rows summarises the runs, in the order of the configuration.
func (r *Result) Rows() []Row {
	type key struct {
		w, c  string
		round int
	}
	byKey := map[key]RunResult{}
	for _, run := range r.Runs {
		byKey[key{run.Workload, run.Condition, run.Round}] = run
	}
	var rows []Row
	for _, w := range r.Config.Workloads {
		for _, c := range r.Config.Conditions {
			row := Row{Workload: w, Condition: c, Goal: RatioGoal[c], Coverage: -1}
			var reqs, mbs, ratios, trc, srv, bg, capt []float64
			var skbNs, skbRuns, allNs, requests uint64
			for round := 1; round <= r.Config.Rounds; round++ {
				run, ok := byKey[key{w, c, round}]
				if !ok {
					continue
				}
				row.Runs++
				reqs = append(reqs, run.ReqPerSec())
				mbs = append(mbs, run.MBPerSec())
				per100k := 1e5 / float64(run.Requests) / 1e9
				srv = append(srv, float64(run.ServerCPUNs)*per100k)
				bg = append(bg, run.OtherBusy)
				if c != Untraced {
					if base, ok := byKey[key{w, Untraced, round}]; ok {
						ratios = append(ratios, run.ReqPerSec()/base.ReqPerSec())
					}
					trc = append(trc, float64(run.TracerCPUNs)*per100k)
					for typ, d := range run.Progs {
						allNs += d.Ns
						if typ == "cgroup_skb" {
							skbNs += d.Ns
							skbRuns += d.Runs
						}
					}
					requests += run.Requests
					if k := run.Kernel; k != nil {
						if k.DroppedRecords > 0 {
							row.DropRuns++
							row.DroppedBytes += k.DroppedBytes
						}
						capt = append(capt, float64(k.BytesCaptured)/1e6)
					}
				}
			}
			if row.Runs == 0 {
				continue
			}
			if tt := r.Tracers[c]; tt != nil && c == Floor {
				row.Lost = tt.Summary.Lost
			} else if tt != nil && tt.Requests > 0 {
				row.Coverage = float64(tt.Summary.Pairs) / float64(tt.Requests)
				row.Lost = tt.Summary.Lost
				row.Gaps = tt.Summary.Gaps
				row.KernelLine = tt.Summary.KernelLine
			}
			row.ReqPerSec, row.MBPerSec = median(reqs), median(mbs)
			row.ReqMin, row.ReqMax = slices.Min(reqs), slices.Max(reqs)
			row.ServerCPUPer100k = median(srv)
			row.Background = median(bg)
			if len(ratios) > 0 {
				row.Ratio, row.RatioMin, row.RatioMax = median(ratios), slices.Min(ratios), slices.Max(ratios)
				row.RatioLo, row.RatioHi = medianCI(ratios)
			}
			if len(trc) > 0 {
				row.TracerCPUPer100k = median(trc)
			}
			row.CapturedMB = median(capt)
			if skbRuns > 0 {
				row.BPFNsPerRun = float64(skbNs) / float64(skbRuns)
			}
			if requests > 0 {
				row.BPFRunsPerReq = float64(skbRuns) / float64(requests)
				row.BPFCPUPer100k = float64(allNs) / float64(requests) * 1e5 / 1e9
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// ModeNsPerRun is the kernel's average ns per cgroup_skb program run of a
// mode, pooled over every run of every workload.
func (r *Result) ModeNsPerRun(mode string) (ns float64, runs uint64) {
	var total uint64
	for _, run := range r.Runs {
		if run.Condition != mode {
			continue
		}
		d := run.Progs["cgroup_skb"]
		total += d.Ns
		runs += d.Runs
	}
	if runs == 0 {
		return 0, 0
	}
	return float64(total) / float64(runs), runs
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// WriteTable prints the result for a person.
func (r *Result) WriteTable(w io.Writer) error {
	cfg := r.Config
	tracer := "one `iggytrace trace -o json > /dev/null` per mode for the whole bench (loader -> decoder.Tracker -> stdout JSON writer)"
	if cfg.Tracer == "replica" {
		tracer = fmt.Sprintf("one tracebench replica of the trace pipeline per mode (loader -> decoder.Tracker -> %s sink)", cfg.Sink)
		if cfg.ProfileDir != "" {
			tracer += ", CPU profiles in " + cfg.ProfileDir
		}
	}
	if slices.Contains(cfg.Conditions, Floor) {
		tracer += "; floor: bpf/floor.c (one fixed 160-byte record per packet with payload, no frame tracking, no decoding), its ring drained by a tracebench child"
	}
	if cfg.NoTrace {
		tracer = "NONE (A/A test)"
	}
	layout := "shared: server, load generator and tracer on every CPU (a tracer's CPU is taken from a saturated workload)"
	if cfg.Layout == Split {
		layout = "split: the tracer alone on the last CPU, server and load generator on the others (the capture programs still run on the server's CPUs)"
	}
	fmt.Fprintf(w, "tracebench: kernel %s, %d rounds, one server per condition, runs interleaved (order permuted each round), %s - %s (%.0fs)\n",
		r.Kernel, r.RoundsDone, r.Start.Format("15:04:05"), r.End.Format("15:04:05"), r.End.Sub(r.Start).Seconds())
	fmt.Fprintf(w, "load average: %s at start, %s at end\n", r.LoadAvgStart, r.LoadAvgEnd)
	fmt.Fprintf(w, "produce: %d conns x %d batches x %d msgs x %d B; small: %d conns x %d requests (Ping, GetStream, GetTopic, Store/GetConsumerOffset)\n",
		cfg.ProduceConns, cfg.ProduceBatches, cfg.BatchSize, cfg.MsgSize, cfg.SmallConns, cfg.SmallRequests)
	fmt.Fprintf(w, "tracer: %s\n", tracer)
	fmt.Fprintf(w, "CPU layout: %s\n", layout)
	if r.StatsVia != "" {
		fmt.Fprintf(w, "BPF run-time stats: %s; on for every condition\n", r.StatsVia)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcondition\treq/s\tMB/s\ttraced/untraced [95% CI]\tgoal\t\tBPF ns/run\tBPF runs/req\tBPF CPU s/100k req\ttracer CPU s/100k req\tserver CPU s/100k req\tbackground CPU\t")
	noisy := false
	for _, row := range r.Rows() {
		ratio, goal, v := "-", "-", ""
		if row.Condition != Untraced && row.Ratio > 0 {
			ratio = fmt.Sprintf("%.1f%% [%.1f-%.1f]", 100*row.Ratio, 100*row.RatioLo, 100*row.RatioHi)
			if row.Goal > 0 {
				goal = fmt.Sprintf(">=%.0f%%", 100*row.Goal)
				v = verdict(row.Ratio >= row.Goal)
				if row.RatioLo < row.Goal && row.RatioHi >= row.Goal || row.RatioLo == row.RatioHi {
					v += "?"
					noisy = !cfg.NoTrace
				}
			}
			if cfg.NoTrace {
				v = "A/A"
			}
		}
		bpf, runs, bpfcpu, trc := "-", "-", "-", "-"
		if row.Condition != Untraced && !cfg.NoTrace {
			bpf = fmt.Sprintf("%.0f", row.BPFNsPerRun)
			runs = fmt.Sprintf("%.1f", row.BPFRunsPerReq)
			bpfcpu = fmt.Sprintf("%.3f", row.BPFCPUPer100k)
			trc = fmt.Sprintf("%.3f", row.TracerCPUPer100k)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.0f%%\t\n",
			row.Workload, row.Condition, row.ReqPerSec, row.MBPerSec, ratio, goal, v, bpf, runs, bpfcpu, trc,
			row.ServerCPUPer100k, 100*row.Background)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	floorNs, _ := r.ModeNsPerRun(Floor)
	for _, mode := range cfg.Conditions {
		if mode == Untraced || cfg.NoTrace {
			continue
		}
		ns, runs := r.ModeNsPerRun(mode)
		line := fmt.Sprintf("kernel ns per program run, %s (cgroup_skb, all runs pooled, %d runs): %.0f ns", mode, runs, ns)
		if mode == Floor {
			line += "  (the yardstick: a minimal per-packet capture, bpf/floor.c)"
		} else if floorNs > 0 {
			line += fmt.Sprintf(" = %.2fx the floor", ns/floorNs)
		}
		if g, ok := NsPerRunGoal[mode]; ok {
			line += fmt.Sprintf("  goal < %.0f ns: %s", g, verdict(runs > 0 && ns < g))
			if floorNs >= g {
				line += fmt.Sprintf(" (the floor itself is %.0f ns)", floorNs)
			}
		}
		fmt.Fprintln(w, line)
		byName := map[string]ProgDelta{}
		for _, run := range r.Runs {
			if run.Condition != mode {
				continue
			}
			for n, d := range run.ProgsByName {
				v := byName[n]
				v.Ns += d.Ns
				v.Runs += d.Runs
				byName[n] = v
			}
		}
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(byName)) {
			d := byName[n]
			if d.Runs > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f ns x %d", n, float64(d.Ns)/float64(d.Runs), d.Runs))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  by program: %s\n", strings.Join(parts, ", "))
		}
	}
	var notes []string
	seen := map[string]bool{}
	for _, row := range r.Rows() {
		if row.Condition == Untraced {
			continue
		}
		if row.DropRuns > 0 {
			notes = append(notes, fmt.Sprintf("%s %s: the ring overflowed in %d of %d runs (%.1f MB of payload lost): the tracer did not keep up",
				row.Workload, row.Condition, row.DropRuns, row.Runs, float64(row.DroppedBytes)/1e6))
		}
		if seen[row.Condition] {
			continue
		}
		seen[row.Condition] = true
		if row.Lost || row.Gaps > 0 {
			notes = append(notes, fmt.Sprintf("tracer %s: %d gaps in the decoded streams; %s", row.Condition, row.Gaps, row.KernelLine))
		}
		if row.Coverage >= 0 && row.Coverage < 1 {
			notes = append(notes, fmt.Sprintf("tracer %s: paired only %.1f%% as many exchanges as the workload made requests",
				row.Condition, 100*row.Coverage))
		}
	}
	for _, mode := range cfg.Conditions {
		tt := r.Tracers[mode]
		if tt == nil {
			continue
		}
		var inRuns int64
		for _, run := range r.Runs {
			if run.Condition == mode {
				inRuns += run.TracerCPUNs
			}
		}
		what := fmt.Sprintf("paired %d exchanges for %d workload requests", tt.Summary.Pairs, tt.Requests)
		if mode == Floor {
			what = fmt.Sprintf("read %d records for %d workload requests", tt.Summary.FloorRecords, tt.Requests)
		}
		notes = append(notes, fmt.Sprintf("tracer %s: %.2fs CPU loading its programs, %.2fs in the measured runs, %.2fs elsewhere (warm-up, idle polling, exit); %s%s",
			mode, float64(tt.LoadCPUNs)/1e9, float64(inRuns)/1e9, float64(tt.TotalCPUNs-tt.LoadCPUNs-inRuns)/1e9,
			what, map[bool]string{true: ", RECORDS LOST", false: ", nothing lost"}[tt.Summary.Lost]))
	}
	if cfg.NoTrace {
		notes = append(notes, "A/A TEST: no tracer was attached; every ratio is noise (and any difference between the server processes)")
	}
	if noisy {
		notes = append(notes, "PASS?/MISS?: the goal lies inside the 95% confidence interval of the ratio (or there were too few rounds for one): "+
			"this run cannot tell. More rounds or a quieter machine narrow the interval (background CPU says how busy it was; -no-trace, an A/A test, shows the noise floor).")
	}
	if r.RoundsDone < cfg.Rounds {
		notes = append(notes, fmt.Sprintf("only %d of %d rounds ran (time limit %v)", r.RoundsDone, cfg.Rounds, cfg.MaxTime))
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w, strings.TrimSpace(`
req/s: workload requests (SendMessages batches / small commands) per wall second, median over rounds.
MB/s: the server's socket payload in + out (rchar+wchar of /proc/SERVER/io) per second, median.
traced/untraced: median over rounds of req/s(traced) / req/s(untraced, same round) [95% confidence interval of that median].
BPF: the tracer's programs' run_time_ns/run_cnt deltas (fdinfo); the time is spent in the server's and the
  clients' contexts (packet path), not in the tracer process. CPU s/100k req: CPU-seconds per 100,000 requests.
tracer CPU: on-CPU time of the tracer process from the run's start until it has drained its ring and gone idle.
background CPU: share of the machine busy with processes other than server, tracer and load generator.`))
	return nil
}
