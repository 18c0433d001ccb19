// Command tracebench measures what tracing costs the Iggy server: the Go SDK
// workload's throughput untraced, traced header-only and traced full, side
// by side and interleaved, with the kernel's ns per program run and the
// tracer's CPU per 100k requests. scripts/bench-trace.sh builds and runs it;
// see package tracebench for the method.
//
//	tracebench -iggytrace bin/iggytrace [-rounds 5] [-json out.json]
//
// `tracebench tracer-child ...` is the replica tracer the bench starts
// itself (with -tracer replica or -cpuprofile-dir).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/iggytrace/iggytrace/internal/tracebench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "tracer-child" {
		err = tracebench.TracerChild(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = bench(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracebench:", err)
		stop()
		os.Exit(1)
	}
}

func bench(ctx context.Context, args []string) error {
	cfg := tracebench.DefaultConfig()
	fs := flag.NewFlagSet("tracebench", flag.ContinueOnError)
	fs.StringVar(&cfg.Iggytrace, "iggytrace", "bin/iggytrace", "iggytrace binary (runs serve-test and trace)")
	fs.StringVar(&cfg.Tracer, "tracer", cfg.Tracer, "tracer process: cli (iggytrace trace -o json > /dev/null) or replica (this program's copy of that pipeline)")
	fs.StringVar(&cfg.Sink, "sink", cfg.Sink, "replica tracer's event sink: json (JSON writer to /dev/null) or discard")
	fs.StringVar(&cfg.ProfileDir, "cpuprofile-dir", "", "write a CPU profile of each mode's tracer here (implies -tracer replica)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; each runs every workload in every condition once")
	fs.DurationVar(&cfg.MaxTime, "max-time", cfg.MaxTime, "stop after the round that would pass this much time (0: run every round)")
	fs.BoolVar(&cfg.NoTrace, "no-trace", false, "A/A test: same servers and runs, no tracer attached; the ratios show the noise floor")
	workloads := fs.String("workloads", strings.Join(cfg.Workloads, ","), "workloads: produce, small")
	conds := fs.String("conditions", strings.Join(cfg.Conditions, ","), "conditions: untraced, floor (bpf/floor.c, a minimal per-packet capture: a yardstick), header-only, full, full-messages (full with --messages)")
	layouts := fs.String("layout", tracebench.Shared+","+tracebench.Split, "CPU layouts, one whole bench each: shared (everything on every CPU), split (the tracer alone on the last CPU, server and load generator on the others)")
	fs.IntVar(&cfg.ProduceConns, "produce-conns", cfg.ProduceConns, "produce: connections")
	fs.IntVar(&cfg.ProduceBatches, "produce-batches", cfg.ProduceBatches, "produce: batches per connection")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "produce: messages per batch")
	fs.IntVar(&cfg.MsgSize, "msg-size", cfg.MsgSize, "produce: message payload bytes")
	fs.IntVar(&cfg.SmallConns, "small-conns", cfg.SmallConns, "small: connections")
	fs.IntVar(&cfg.SmallRequests, "small-requests", cfg.SmallRequests, "small: requests per connection")
	fs.BoolVar(&cfg.Warmup, "warmup", cfg.Warmup, "run each workload once untraced first, unmeasured")
	fs.BoolVar(&cfg.BPFStats, "bpf-stats", cfg.BPFStats, "turn on BPF run-time statistics (kernel ns per program run) for the run")
	jsonOut := fs.String("json", "", "also write every run and the summary rows as JSON to this file")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Workloads = strings.Split(*workloads, ",")
	cfg.Conditions = strings.Split(*conds, ",")
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Self = self
	if cfg.Iggytrace, err = filepath.Abs(cfg.Iggytrace); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.Iggytrace); err != nil {
		return fmt.Errorf("-iggytrace: %w (build it: go build -o bin/iggytrace ./cmd/iggytrace)", err)
	}
	// The Go SDK logs its leader detection on the standard logger at every
	// login.
	log.SetOutput(io.Discard)

	var results []*tracebench.Result
	for i, l := range strings.Split(*layouts, ",") {
		cfg.Layout = l
		res, err := tracebench.Run(ctx, cfg)
		if res != nil {
			results = append(results, res)
		}
		if err == nil {
			if i > 0 {
				fmt.Println()
			}
			err = res.WriteTable(os.Stdout)
		}
		if err != nil {
			if jerr := writeJSON(*jsonOut, results); jerr != nil {
				fmt.Fprintln(os.Stderr, "tracebench:", jerr)
			}
			return err
		}
	}
	return writeJSON(*jsonOut, results)
}

// writeJSON writes every run and summary row of each layout's bench, as an
// array in the order of -layout ("" path: nothing).
func writeJSON(path string, results []*tracebench.Result) error {
	if path == "" {
		return nil
	}
	type layoutResult struct {
		*tracebench.Result
		Rows []tracebench.Row
	}
	var out []layoutResult
	for _, r := range results {
		out = append(out, layoutResult{r, r.Rows()})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
