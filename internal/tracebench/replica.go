package tracebench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
	"github.com/iggytrace/iggytrace/loader"
)

// ReplicaConfig configures RunReplica.
type ReplicaConfig struct {
	Cgroup     string
	Port       uint16
	Mode       loader.Mode
	Messages   bool   // decode every message of a batch (--messages)
	CPUProfile string // write a CPU profile of the whole run here ("" for none)
	Sink       string // "json" (stdout JSON lines to Out) or "discard" (events dropped)
	Out        io.Writer
}

// RunReplica is the pipeline of `iggytrace trace -o json` (loader.Open,
// Tracer.Run feeding a decoder.Tracker whose events go to the stdout JSON
// writer), in a process the bench starts like the real command, with a
// CPU profile of the tracer around it: cmd/iggytrace's own runTrace is not
// importable, and the profile is what says where the tracer's CPU goes. It
// prints the same "tracing" line and summary on stderr as the command, and
// runs until ctx ends.
func RunReplica(ctx context.Context, cfg ReplicaConfig, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tr, err := loader.Open(ctx, loader.Config{CgroupPath: cfg.Cgroup, Ports: []uint16{cfg.Port}, Mode: cfg.Mode, Logger: log})
	if err != nil {
		return err
	}
	defer tr.Close()
	var emit func(*decoder.Event)
	var w *stdout.Writer
	var werr error
	switch cfg.Sink {
	case "", "json":
		w = stdout.New(cfg.Out, stdout.JSON)
		emit = func(ev *decoder.Event) {
			if werr == nil {
				werr = w.Write(ev)
			}
		}
	case "discard":
		emit = func(*decoder.Event) {}
	default:
		return fmt.Errorf("unknown sink %q (want json or discard)", cfg.Sink)
	}
	tk := decoder.NewTracker(decoder.Config{Protocol: protocol.Options{Messages: cfg.Messages}}, emit)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log.Info("tracing", "cgroup", tr.Cgroup(), "ports", []uint16{cfg.Port}, "mode", cfg.Mode, "sink", cfg.Sink)
	runErr := tr.Run(ctx, tk.Feed)
	tk.Flush()
	if w != nil {
		if err := w.Flush(); werr == nil {
			werr = err
		}
	}
	s := tk.Stats()
	fmt.Fprintf(stderr, "trace: %d connections, %d exchanges paired, %d unanswered, %d unmatched responses, %d decode errors\n",
		s.Conns, s.Pairs, s.Unanswered, s.Unmatched, s.DecodeErrors)
	if s.Gaps != 0 {
		fmt.Fprintf(stderr, "trace: %d gaps (%d bytes lost)\n", s.Gaps, s.GapBytes)
	}
	k := tr.Stats()
	line := fmt.Sprintf("kernel: %d packets matched, %d records, %d bytes on the wire, %d captured, %d skipped by design",
		k.PacketsMatched, k.Records, k.BytesWire, k.BytesCaptured, k.BytesSkipped)
	if k.Lost() != 0 || k.RecordsMissing != 0 || k.RecordsBad != 0 {
		line += fmt.Sprintf("; LOST: %d records (%d bytes) dropped on a full ring, %d connection events dropped, %d records missing, %d undecodable",
			k.DroppedRecords, k.DroppedBytes, k.StateDropped, k.RecordsMissing, k.RecordsBad)
	}
	fmt.Fprintf(stderr, "trace: %s\n", line)
	if runErr != nil {
		return runErr
	}
	return werr
}

// TracerChild is `tracebench tracer-child ARGS`: the tracer process the
// bench starts itself for the floor condition, and for the others with
// -tracer replica. The bench's own tests run it from their TestMain.
func TracerChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg ReplicaConfig
	fs := flag.NewFlagSet("tracer-child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Cgroup, "cgroup", "", "cgroup v2 directory")
	port := fs.Uint("port", 8090, "server port")
	mode := fs.String("mode", "header-only", "capture mode, or floor (RunFloor instead of the replica)")
	fs.StringVar(&cfg.Sink, "sink", "json", "json or discard")
	fs.BoolVar(&cfg.Messages, "messages", false, "decode every message of a batch (--messages)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "CPU profile file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *port == 0 || *port > 65535 {
		return fmt.Errorf("-port %d", *port)
	}
	if *mode == Floor {
		return RunFloor(ctx, cfg.Cgroup, uint16(*port), stderr)
	}
	m, err := loader.ParseMode(*mode)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // as cmd/iggytrace does, so that profiles show its GC
	}
	cfg.Mode, cfg.Port, cfg.Out = m, uint16(*port), stdout
	return RunReplica(ctx, cfg, stderr)
}
