package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/metrics"
	"github.com/iggytrace/iggytrace/export/pcapng"
	"github.com/iggytrace/iggytrace/loader"
)

// captureFlags select what the kernel captures.
type captureFlags struct {
	cgroup     string
	pid        int
	mode       string
	ringSize   int
	metaBudget int
	writePcap  string
}

func (c *captureFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.cgroup, "cgroup", "", "cgroup v2 directory of the Iggy server (default: the cgroup v2 root, i.e. every socket on the host)")
	f.IntVar(&c.pid, "pid", 0, "trace the cgroup of this process (the Iggy server's PID)")
	f.StringVar(&c.mode, "mode", "header-only", "capture mode: header-only (frame headers and command metadata, cheap) or full (every payload byte)")
	f.IntVar(&c.ringSize, "ring-size", 0, "ring buffer bytes (default 16 MiB header-only, 64 MiB full)")
	f.IntVar(&c.metaBudget, "meta-budget", 0, "header-only mode: bytes copied after each frame header (default 128)")
	f.StringVar(&c.writePcap, "write-pcap", "", "also write the captured streams to this pcapng file (Wireshark and `iggytrace read` open it)")
}

func (c *captureFlags) loaderConfig(ports []uint16) (loader.Config, error) {
	mode, err := loader.ParseMode(c.mode)
	if err != nil {
		return loader.Config{}, err
	}
	return loader.Config{
		CgroupPath: c.cgroup, PID: c.pid, Ports: ports, Mode: mode,
		RingSize: c.ringSize, MetaBudget: c.metaBudget,
	}, nil
}

func newTraceCmd() *cobra.Command {
	var out outputFlags
	var capt captureFlags
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Trace a live Iggy server from the kernel (eBPF) until interrupted",
		Long: `trace attaches eBPF programs below the server's I/O interface (cgroup_skb on
the server's cgroup), so that servers doing their I/O through io_uring, splice
or sendfile, like the real Iggy server, are seen as fully as read/write ones.
It decodes what it captures as it arrives and stops cleanly on SIGINT or
SIGTERM, flushing every pending event. Needs root (CAP_BPF, CAP_PERFMON,
CAP_NET_ADMIN); 'iggytrace check' says what this kernel allows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ports, err := out.serverPorts()
			if err != nil {
				return err
			}
			lcfg, err := capt.loaderConfig(ports)
			if err != nil {
				return err
			}
			log, err := out.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			lcfg.Logger = log
			p, err := out.pipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runTrace(cmd.Context(), lcfg, p, capt.writePcap, cmd.ErrOrStderr(), nil)
		},
	}
	out.register(cmd)
	capt.register(cmd)
	return cmd
}

// runTrace captures until ctx ends. ready, if not nil, is called once the
// programs are attached, so that a caller can start traffic.
func runTrace(ctx context.Context, lcfg loader.Config, p *pipeline, pcapPath string, stderr io.Writer, ready func(*loader.Tracer)) (err error) {
	tr, err := loader.Open(ctx, lcfg)
	if err != nil {
		p.finish()
		return err
	}
	defer tr.Close()
	if p.metrics != nil {
		p.metrics.SetCaptureStats(func() metrics.CaptureStats {
			s := tr.Stats()
			return metrics.CaptureStats{
				RingDroppedRecords: s.DroppedRecords, RingDroppedBytes: s.DroppedBytes, StateDropped: s.StateDropped,
				SkippedBytes: s.BytesSkipped, RecordsMissing: s.RecordsMissing, RecordsBad: s.RecordsBad,
			}
		})
	}
	lcfg.Logger.Info("tracing", "cgroup", tr.Cgroup(), "ports", lcfg.Ports, "mode", tr.Config().Mode)

	var pw *pcapng.Writer
	if pcapPath != "" {
		f, err := os.Create(pcapPath)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		if pw, err = pcapng.NewWriter(f, pcapng.Options{Application: "iggytrace"}); err != nil {
			return err
		}
		defer func() {
			if cerr := pw.Close(); err == nil {
				err = cerr
			}
		}()
	}
	if ready != nil {
		ready(tr)
	}
	var pcapErr error
	runErr := tr.Run(ctx, func(seg *decoder.Segment) {
		if pw != nil && pcapErr == nil {
			pcapErr = pw.WriteSegment(seg)
		}
		_ = p.feed(seg) // a sink error is p.err, returned by finish
	})
	err = p.finish()
	p.summary(stderr, "trace", kernelSummary(tr.Stats()))
	switch {
	case runErr != nil:
		return runErr
	case pcapErr != nil:
		return fmt.Errorf("--write-pcap: %w", pcapErr)
	}
	return err
}

// kernelSummary says what the kernel side saw and, above all, lost.
type kernelSummary loader.Stats

func (s kernelSummary) String() string {
	str := fmt.Sprintf("kernel: %d packets matched, %d records, %d bytes on the wire, %d captured, %d skipped by design",
		s.PacketsMatched, s.Records, s.BytesWire, s.BytesCaptured, s.BytesSkipped)
	if lost := loader.Stats(s).Lost(); lost != 0 || s.RecordsMissing != 0 || s.RecordsBad != 0 {
		str += fmt.Sprintf("; LOST: %d records (%d bytes) dropped on a full ring, %d connection events dropped, %d records missing, %d undecodable",
			s.DroppedRecords, s.DroppedBytes, s.StateDropped, s.RecordsMissing, s.RecordsBad)
	}
	return str
}
