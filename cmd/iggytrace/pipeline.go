package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export"
	"github.com/iggytrace/iggytrace/export/audit"
	"github.com/iggytrace/iggytrace/export/filter"
	"github.com/iggytrace/iggytrace/export/metrics"
	"github.com/iggytrace/iggytrace/export/otlp"
	"github.com/iggytrace/iggytrace/export/stdout"
)

// sinkFlags choose where events go besides stdout, and which events.
type sinkFlags struct {
	commands, streams, topics, clients []string
	errorsOnly                         bool
	metricsAddr                        string
	auditPath                          string
	otlpEndpoint, otlpProtocol         string
	otlpInsecure                       bool
	otlpHeaders                        map[string]string
}

func (s *sinkFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&s.commands, "command", nil, "keep these commands: name, dotted name, code, or group (admin, auth, messages, streams, ...); !X excludes (docs/filters.md)")
	f.StringSliceVar(&s.streams, "stream", nil, "keep exchanges naming these streams (name or id)")
	f.StringSliceVar(&s.topics, "topic", nil, "keep exchanges naming these topics (name or id)")
	f.StringSliceVar(&s.clients, "client", nil, "keep connections of these clients: IP, IP:port or CIDR")
	f.BoolVar(&s.errorsOnly, "errors-only", false, "keep only failed exchanges (non-zero status, unanswered requests)")
	f.StringVar(&s.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (docs/metrics.md)")
	f.StringVar(&s.auditPath, "audit", "", "write the audit trail of logins, logouts and admin commands (JSON lines) to FILE (docs/audit.md)")
	f.StringVar(&s.otlpEndpoint, "otlp-endpoint", "", "send spans, logs and metrics over OTLP to this endpoint (or set OTEL_EXPORTER_OTLP_ENDPOINT; docs/otlp.md)")
	f.StringVar(&s.otlpProtocol, "otlp-protocol", "", "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)")
	f.BoolVar(&s.otlpInsecure, "otlp-insecure", false, "OTLP without TLS")
	f.StringToStringVar(&s.otlpHeaders, "otlp-header", nil, "OTLP request headers, key=value (adds to OTEL_EXPORTER_OTLP_HEADERS)")
}

// otlpEnabled says whether OTLP export is asked for, by flag or by the
// standard environment variables.
func (s *sinkFlags) otlpEnabled() bool {
	if s.otlpEndpoint != "" {
		return true
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// pipeline connects a segment source to the tracker and the tracker to the
// sinks. It remembers the first sink error so that a closed stdout stops the
// run. Metrics and the audit trail see every event; the filter applies to
// the outputs a person reads.
type pipeline struct {
	tracker *decoder.Tracker
	sinks   []export.Sink
	metrics *metrics.Metrics
	otlp    *otlp.Sink
	closers []func() error
	err     error
}

// stdoutSink adapts the stdout writer to export.Sink.
type stdoutSink struct{ *stdout.Writer }

func (s stdoutSink) Close() error { return s.Flush() }

// newPipeline builds the sinks the flags ask for. ctx bounds the metrics
// server.
func newPipeline(ctx context.Context, cfg decoder.Config, out *stdout.Writer, sf *sinkFlags, log *slog.Logger) (*pipeline, error) {
	p := &pipeline{}
	flt, err := filter.Parse(filter.Spec{Commands: sf.commands, Streams: sf.streams, Topics: sf.topics, Clients: sf.clients, ErrorsOnly: sf.errorsOnly})
	if err != nil {
		return nil, err
	}
	p.sinks = append(p.sinks, filter.Wrap(flt, stdoutSink{out}))
	var otlpSink *otlp.Sink
	if sf.otlpEnabled() {
		otlpSink, err = otlp.New(otlp.Config{
			Endpoint: sf.otlpEndpoint, Protocol: sf.otlpProtocol, Insecure: sf.otlpInsecure,
			Headers: sf.otlpHeaders, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("--otlp-endpoint: %w", err)
		}
		p.sinks = append(p.sinks, filter.Wrap(flt, otlpSink))
		p.otlp = otlpSink
	}
	if sf.metricsAddr != "" {
		ln, err := net.Listen("tcp", sf.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		p.metrics = metrics.New(metrics.Options{})
		go metrics.ServeListener(ctx, ln, p.metrics.Handler())
		if otlpSink != nil {
			p.metrics.AddExporter("otlp", func() uint64 { return otlpSink.Stats().Dropped() })
		}
		p.sinks = append(p.sinks, p.metrics)
	}
	// The audit trail goes to --audit FILE and, with OTLP on, to an OTLP log
	// stream of its own.
	if sf.auditPath != "" || otlpSink != nil {
		var opts audit.Options
		if sf.auditPath != "" {
			f, err := os.Create(sf.auditPath)
			if err != nil {
				return nil, fmt.Errorf("--audit: %w", err)
			}
			opts.Writer = f
			p.closers = append(p.closers, f.Close)
		}
		if otlpSink != nil {
			opts.Handler = otlpSink.Audit
		}
		p.sinks = append(p.sinks, audit.New(opts))
	}
	p.tracker = decoder.NewTracker(cfg, p.emit)
	return p, nil
}

func (p *pipeline) emit(ev *decoder.Event) {
	if p.err != nil {
		return
	}
	for _, s := range p.sinks {
		if err := s.Write(ev); err != nil {
			p.err = err
			return
		}
	}
}

func (p *pipeline) feed(seg *decoder.Segment) error {
	p.tracker.Feed(seg)
	return p.err
}

// finish flushes the tracker (reporting cut frames and unanswered requests)
// and closes the sinks.
func (p *pipeline) finish() error {
	p.tracker.Flush()
	errs := []error{p.err}
	// In reverse: the audit trail hands records to the OTLP sink, so it
	// closes first.
	for i := len(p.sinks) - 1; i >= 0; i-- {
		errs = append(errs, p.sinks[i].Close())
	}
	for _, c := range p.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// summary prints what was decoded and, above all, what was not: nothing is
// lost silently.
func (p *pipeline) summary(w io.Writer, name string, source fmt.Stringer) {
	s := p.tracker.Stats()
	fmt.Fprintf(w, "%s: %d connections, %d exchanges paired, %d unanswered, %d unmatched responses, %d decode errors\n",
		name, s.Conns, s.Pairs, s.Unanswered, s.Unmatched, s.DecodeErrors)
	if s.Gaps != 0 || s.DesyncBytes != 0 || s.SkippedBytes != 0 || s.Evicted != 0 {
		fmt.Fprintf(w, "%s: %d gaps (%d bytes lost), %d bytes undecodable, %d bytes not copied by design (header-only capture), %d connections evicted\n",
			name, s.Gaps, s.GapBytes, s.DesyncBytes, s.SkippedBytes, s.Evicted)
	}
	fmt.Fprintf(w, "%s: %s\n", name, source)
	if p.otlp != nil {
		st := p.otlp.Stats()
		fmt.Fprintf(w, "%s: %s: %d spans and %d logs exported, %d dropped (queue full or export failed), %d export failures\n",
			name, p.otlp, st.SpansExported, st.LogsExported, st.Dropped(), st.ExportFailures)
	}
}

// newPipelineWith connects the tracker to the given sinks only: for callers
// that bring their own (tests, embedding).
func newPipelineWith(cfg decoder.Config, sinks ...export.Sink) *pipeline {
	p := &pipeline{sinks: sinks}
	p.tracker = decoder.NewTracker(cfg, p.emit)
	return p
}
