package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/stdout"
)

// outputFlags are shared by every command that prints events.
type outputFlags struct {
	format   string
	ports    []uint
	protocol string
	payloads bool
	messages bool
	logLevel string
	sinks    sinkFlags
}

func (o *outputFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.format, "output", "o", "text", "output format: text (one line per exchange) or json (JSON lines)")
	f.UintSliceVarP(&o.ports, "port", "p", []uint{8090}, "Iggy server TCP port(s), comma-separated or repeated")
	f.StringVar(&o.protocol, "protocol", "auto", "Iggy protocol version: auto, 0.5, 0.6, 0.7 or 0.8")
	f.BoolVar(&o.messages, "messages", false, "list every message of a batch (id, offset, timestamps, lengths, user-header keys), not only its count and payload bytes")
	f.BoolVar(&o.payloads, "payloads", false, "include message payloads and user-header values in the output (implies --messages)")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	o.sinks.register(cmd)
}

// pipeline builds the decoder and every sink the flags ask for, printing to w.
func (o *outputFlags) pipeline(ctx context.Context, w, stderr io.Writer) (*pipeline, error) {
	cfg, err := o.trackerConfig()
	if err != nil {
		return nil, err
	}
	out, err := o.writer(w)
	if err != nil {
		return nil, err
	}
	log, err := o.logger(stderr)
	if err != nil {
		return nil, err
	}
	return newPipeline(ctx, cfg, out, &o.sinks, log)
}

func (o *outputFlags) serverPorts() ([]uint16, error) {
	out := make([]uint16, 0, len(o.ports))
	for _, p := range o.ports {
		if p == 0 || p > 65535 {
			return nil, fmt.Errorf("--port %d: not a TCP port", p)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}

func (o *outputFlags) trackerConfig() (decoder.Config, error) {
	v, err := protocol.ParseVersion(o.protocol)
	if err != nil {
		return decoder.Config{}, err
	}
	return decoder.Config{Protocol: protocol.Options{Version: v, Messages: o.messages, Payloads: o.payloads}}, nil
}

func (o *outputFlags) writer(w io.Writer) (*stdout.Writer, error) {
	f, err := stdout.ParseFormat(o.format)
	if err != nil {
		return nil, err
	}
	return stdout.New(w, f), nil
}

func (o *outputFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "iggytrace",
		Short: "Trace and decode Apache Iggy traffic, from the kernel or from captures",
		Long: `iggytrace shows what clients do on an Apache Iggy server's binary TCP port:
every request paired with its response, every command and status by name,
latency per request, with passwords and tokens redacted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newReadCmd(), newTraceCmd(), newDemoCmd(), newCheckCmd(), newCommandsCmd(), newServeTestCmd())
	return root
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
