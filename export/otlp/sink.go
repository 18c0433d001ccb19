// Package otlp exports decoded Iggy events with the OpenTelemetry Go SDK over
// OTLP (gRPC or HTTP/protobuf): a span per exchange, a log record per event
// and metrics of requests, latencies, bytes, connections and the tracer's
// health. Attribute and metric names are in docs/otlp.md; the span and log
// attributes follow the OpenTelemetry messaging semantic conventions, with
// Iggy's own details under iggy.*. Audit passes the audit trail's records
// on as a log stream of their own scope.
//
// A Sink never stalls capture. Write counts the event into the metric
// instruments (in memory; a reader exports them periodically) and queues
// it, without waiting, for a goroutine that makes its span and log record
// and batches them; each signal is exported by a goroutine of its own, with
// the SDK exporters' retries. Whatever cannot keep up is dropped and
// counted (Stats), and a warning is logged at most once a minute while it
// lasts.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/iggytrace/iggytrace/decoder"
)

// ScopeName is the instrumentation scope of the spans, the event log
// records and the metrics; the audit stream has its own (AuditScopeName).
const ScopeName = "github.com/iggytrace/iggytrace/export/otlp"

// ServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise.
const ServiceName = "iggytrace"

// ErrClosed is returned by Write, Flush and Close after Close.
var ErrClosed = errors.New("otlp: sink closed")

// Stats are the sink's running totals. Every item is exported, dropped or
// (until Close returns) in flight: after Close, SpansExported + SpansDropped
// is the number of spans made, one per exchange event.
type Stats struct {
	Events uint64 // events written
	// QueueDropped: events dropped by Write because the queue was full;
	// their spans and log records are in SpansDropped and LogsDropped.
	QueueDropped  uint64
	SpansExported uint64
	// SpansDropped: spans lost because a queue was full, their export
	// failed after its retries, or Close ran out of time.
	SpansDropped uint64
	LogsExported uint64
	LogsDropped  uint64 // log records lost, as SpansDropped
	// ExportFailures: export calls of spans or log records that failed
	// after their retries.
	ExportFailures uint64
	// MetricExports and MetricExportFailures count the periodic metric
	// exports and those that failed (the next one carries the cumulative
	// values again).
	MetricExports        uint64
	MetricExportFailures uint64
	// AuditRecords: audit records handed to Audit. AuditExported and
	// AuditDropped are their share of LogsExported and LogsDropped (queue
	// full included); after Close they add up to AuditRecords, unless the
	// logs signal is off (then nothing is exported or dropped).
	AuditRecords  uint64
	AuditExported uint64
	AuditDropped  uint64
}

// Dropped is the number of spans and log records discarded (audit records
// included), for iggytrace_exporter_dropped_total and the end-of-run
// summary.
func (s Stats) Dropped() uint64 { return s.SpansDropped + s.LogsDropped }

// Sink exports events over OTLP. Write, Flush and Close must be called from
// one goroutine (as for every export.Sink); Stats from any.
type Sink struct {
	cfg     settings
	targets map[signal]target

	queue chan *decoder.Event
	// auditQ holds the audit stream's log records (Audit), made and
	// waiting for the worker to emit them; nil with logs off.
	auditQ chan *otellog.Record
	ctl    chan flushReq
	stop   chan struct{}
	done   chan struct{} // worker exited
	kill   context.Context
	abort  context.CancelFunc

	tp     *sdktrace.TracerProvider
	lp     *sdklog.LoggerProvider
	mp     *sdkmetric.MeterProvider
	tracer trace.Tracer
	logger otellog.Logger
	// auditLogger is the audit stream's logger (scope AuditScopeName).
	auditLogger otellog.Logger
	inst        *instruments

	traces *pipe[sdktrace.ReadOnlySpan]
	logs   *pipe[sdklog.Record]
	// The span and log exporters, which the providers do not own (the
	// pipes call them); the metric reader owns its exporter.
	traceExp sdktrace.SpanExporter
	logExp   sdklog.Exporter

	// Worker's scratch.
	attrs []attribute.KeyValue
	text  []byte
	// Audit's scratch (the goroutine that calls Write).
	auditAttrs []attribute.KeyValue

	closed               atomic.Bool
	events, queueDropped atomic.Uint64
	exportFailures       atomic.Uint64
	metricExports        atomic.Uint64
	metricFailures       atomic.Uint64
	auditRecords         atomic.Uint64

	warn warner
}

type flushReq struct {
	ctx   context.Context
	reply chan []chan struct{}
}

// New starts a Sink. It does not connect: exporters connect on their first
// export, and an unreachable endpoint shows as drops and a warning, not as
// an error here. Errors are for bad configuration.
func New(cfg Config) (*Sink, error) {
	st, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:     st,
		targets: map[signal]target{},
		queue:   make(chan *decoder.Event, st.QueueSize),
		ctl:     make(chan flushReq),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		attrs:   make([]attribute.KeyValue, 0, 48),
	}
	s.warn.log = st.Logger
	s.kill, s.abort = context.WithCancel(context.Background())
	for _, g := range []signal{sigTraces, sigLogs, sigMetrics} {
		if (g == sigTraces && st.NoTraces) || (g == sigLogs && st.NoLogs) || (g == sigMetrics && st.NoMetrics) {
			continue
		}
		t, err := st.target(g)
		if err != nil {
			return nil, err
		}
		s.targets[g] = t
	}
	res, err := newResource()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	// What New started, undone if a later step fails.
	var undo []func()
	fail := func(err error) (*Sink, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		s.abort()
		return nil, err
	}
	shutdownCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Second)
	}

	if t, ok := s.targets[sigTraces]; ok {
		exp, err := newTraceExporter(ctx, &s.cfg, t)
		if err != nil {
			return fail(fmt.Errorf("otlp: traces exporter: %w", err))
		}
		undo = append(undo, func() { c, cancel := shutdownCtx(); exp.Shutdown(c); cancel() })
		s.traceExp = exp
		s.traces = newPipe(sigTraces, s, st.BatchSize, t.exportDeadline(&s.cfg), exp.ExportSpans)
		s.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(spanCollector{s.traces}))
		s.tracer = s.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
		go s.traces.run(s.kill)
		undo = append(undo, func() { close(s.traces.q) })
	}
	if t, ok := s.targets[sigLogs]; ok {
		exp, err := newLogExporter(ctx, &s.cfg, t)
		if err != nil {
			return fail(fmt.Errorf("otlp: logs exporter: %w", err))
		}
		undo = append(undo, func() { c, cancel := shutdownCtx(); exp.Shutdown(c); cancel() })
		s.logExp = exp
		s.logs = newPipe(sigLogs, s, st.BatchSize, t.exportDeadline(&s.cfg), exp.Export)
		s.logs.isAudit = isAuditRecord
		s.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(logCollector{s.logs}))
		s.logger = s.lp.Logger(ScopeName, otellog.WithSchemaURL(semconv.SchemaURL))
		s.auditLogger = s.lp.Logger(AuditScopeName, otellog.WithSchemaURL(semconv.SchemaURL))
		s.auditQ = make(chan *otellog.Record, st.QueueSize)
		go s.logs.run(s.kill)
		undo = append(undo, func() { close(s.logs.q) })
	}
	var meter metric.Meter = noop.NewMeterProvider().Meter(ScopeName)
	if t, ok := s.targets[sigMetrics]; ok {
		exp, err := newMetricExporter(ctx, &s.cfg, t)
		if err != nil {
			return fail(fmt.Errorf("otlp: metrics exporter: %w", err))
		}
		reader := sdkmetric.NewPeriodicReader(&metricExporter{Exporter: exp, s: s},
			sdkmetric.WithInterval(st.MetricInterval))
		s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
		undo = append(undo, func() { c, cancel := shutdownCtx(); s.mp.Shutdown(c); cancel() })
		meter = s.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	}
	s.inst, err = newInstruments(meter, s.droppedOf)
	if err != nil {
		return fail(fmt.Errorf("otlp: metric instruments: %w", err))
	}
	go s.run()
	return s, nil
}

// newResource: service.name=iggytrace and the SDK's telemetry.sdk.*, under
// what OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME set (they win).
func newResource() (*resource.Resource, error) {
	base, err := resource.New(context.Background(),
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("otlp: resource: %w", err)
	}
	env, err := resource.New(context.Background(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("otlp: resource from OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	res, err := resource.Merge(base, env)
	if err != nil {
		return nil, fmt.Errorf("otlp: resource: %w", err)
	}
	return res, nil
}

// String describes where the signals go, e.g. for the start of a run.
func (s *Sink) String() string {
	var parts []string
	for _, g := range []signal{sigTraces, sigLogs, sigMetrics} {
		if t, ok := s.targets[g]; ok {
			parts = append(parts, fmt.Sprintf("%s → %s (%s)", g, t.display, t.protocol))
		}
	}
	if len(parts) == 0 {
		return "otlp: no signal enabled"
	}
	return "otlp: " + strings.Join(parts, ", ")
}

// Write counts ev into the metrics and queues it for its span and log
// record. It never waits: with the queue full the event is dropped (and
// counted). It fails only after Close.
func (s *Sink) Write(ev *decoder.Event) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.events.Add(1)
	s.inst.record(context.Background(), ev)
	if s.traces == nil && s.logs == nil {
		return nil
	}
	select {
	case s.queue <- ev:
	default:
		s.queueDropped.Add(1)
		s.dropEvent(ev)
		s.problem("", reasonQueueFull, nil)
	}
	return nil
}

// dropEvent counts the span and log record ev would have made as dropped.
func (s *Sink) dropEvent(ev *decoder.Event) {
	if s.traces != nil && isExchange(ev) {
		s.traces.dropped.Add(1)
	}
	if s.logs != nil {
		s.logs.dropped.Add(1)
	}
}

func isExchange(ev *decoder.Event) bool {
	return ev.Kind == decoder.EventPair || ev.Kind == decoder.EventRequest || ev.Kind == decoder.EventResponse
}

// Flush exports everything written so far and the metrics' current values,
// waiting at most CloseTimeout. It reports a timeout, not export failures
// (those are in Stats).
func (s *Sink) Flush() error {
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	var mErr chan error
	if s.mp != nil {
		mErr = make(chan error, 1)
		go func() { mErr <- s.mp.ForceFlush(ctx) }()
	}
	err := s.flush(ctx)
	if mErr != nil {
		select {
		case <-mErr:
		case <-ctx.Done():
		}
	}
	if err != nil || ctx.Err() != nil {
		return fmt.Errorf("otlp: flush did not finish within %v: %d spans and %d log records dropped so far", s.cfg.CloseTimeout, s.droppedOf(sigTraces), s.droppedOf(sigLogs))
	}
	return nil
}

// flush has the worker queue its batches and waits until they are exported.
func (s *Sink) flush(ctx context.Context) error {
	req := flushReq{ctx: ctx, reply: make(chan []chan struct{}, 1)}
	select {
	case s.ctl <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	var acks []chan struct{}
	select {
	case acks = <-req.reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, a := range acks {
		if a == nil {
			return context.DeadlineExceeded
		}
		select {
		case <-a:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close flushes, then shuts the exporters down, all within CloseTimeout;
// what is not exported by then is dropped (and counted). It reports a
// timeout, not export failures.
func (s *Sink) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	start := time.Now()
	// Four fifths of the time for the flush and the final metric export,
	// the rest to abort what is late and close the connections.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout*4/5)
	defer cancel()
	var mDone chan struct{}
	if s.mp != nil {
		// Shutdown collects and exports the metrics once more.
		mDone = make(chan struct{})
		go func() { s.mp.Shutdown(ctx); close(mDone) }()
	}
	timedOut := s.flush(ctx) != nil
	close(s.stop)
	for _, ch := range []<-chan struct{}{s.done, doneOf(s.traces), doneOf(s.logs), mDone} {
		if timedOut || ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			timedOut = true
		}
	}
	// Abort the exports still running; the pipes drop what is left.
	s.abort()
	end := start.Add(s.cfg.CloseTimeout)
	sctx, scancel := context.WithDeadline(context.Background(), end)
	defer scancel()
	for _, ch := range []<-chan struct{}{s.done, doneOf(s.traces), doneOf(s.logs), mDone} {
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-sctx.Done():
			timedOut = true
		}
	}
	var shutdowns []func(context.Context) error
	if s.tp != nil {
		shutdowns = append(shutdowns, s.tp.Shutdown, s.traceExp.Shutdown)
	}
	if s.lp != nil {
		shutdowns = append(shutdowns, s.lp.Shutdown, s.logExp.Shutdown)
	}
	var wg sync.WaitGroup
	for _, f := range shutdowns {
		wg.Go(func() { f(sctx) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
	}
	if timedOut {
		return fmt.Errorf("otlp: close did not finish within %v: %d spans and %d log records dropped", s.cfg.CloseTimeout, s.droppedOf(sigTraces), s.droppedOf(sigLogs))
	}
	return nil
}

func doneOf[T any](p *pipe[T]) <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.done
}

// Stats returns the running totals.
func (s *Sink) Stats() Stats {
	st := Stats{
		Events:               s.events.Load(),
		QueueDropped:         s.queueDropped.Load(),
		ExportFailures:       s.exportFailures.Load(),
		MetricExports:        s.metricExports.Load(),
		MetricExportFailures: s.metricFailures.Load(),
		AuditRecords:         s.auditRecords.Load(),
	}
	if s.traces != nil {
		st.SpansExported = s.traces.exported.Load()
		st.SpansDropped = s.traces.dropped.Load()
	}
	if s.logs != nil {
		st.LogsExported = s.logs.exported.Load()
		st.LogsDropped = s.logs.dropped.Load()
		st.AuditExported = s.logs.auditExported.Load()
		st.AuditDropped = s.logs.auditDropped.Load()
	}
	return st
}

func (s *Sink) droppedOf(g signal) uint64 {
	switch {
	case g == sigTraces && s.traces != nil:
		return s.traces.dropped.Load()
	case g == sigLogs && s.logs != nil:
		return s.logs.dropped.Load()
	}
	return 0
}

// run is the worker: it turns queued events into spans and log records
// and hands their batches to the pipes.
func (s *Sink) run() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.BatchDelay)
	defer tick.Stop()
	for {
		select {
		case ev := <-s.queue:
			s.convert(ev)
		case r := <-s.auditQ:
			s.auditLogger.Emit(context.Background(), *r)
		case <-tick.C:
			s.handOff(nil)
		case req := <-s.ctl:
			s.drain()
			s.handOff(req.ctx)
			var acks []chan struct{}
			if s.traces != nil {
				acks = append(acks, s.traces.mark(req.ctx))
			}
			if s.logs != nil {
				acks = append(acks, s.logs.mark(req.ctx))
			}
			req.reply <- acks
		case <-s.stop:
			// Close: whatever is still queued (Close timed out) is dropped.
			for {
				select {
				case ev := <-s.queue:
					s.dropEvent(ev)
					continue
				case <-s.auditQ:
					s.dropAudit()
					continue
				default:
				}
				break
			}
			if s.traces != nil {
				s.traces.finish()
			}
			if s.logs != nil {
				s.logs.finish()
			}
			return
		}
	}
}

// drain converts every event and emits every audit record queued now.
func (s *Sink) drain() {
	for {
		select {
		case ev := <-s.queue:
			s.convert(ev)
		case r := <-s.auditQ:
			s.auditLogger.Emit(context.Background(), *r)
		default:
			return
		}
	}
}

func (s *Sink) handOff(ctx context.Context) {
	if s.traces != nil {
		s.traces.handOff(ctx)
	}
	if s.logs != nil {
		s.logs.handOff(ctx)
	}
}

// convert makes ev's span (exchanges only) and log record; the span and log
// processors add them to the pipes' batches.
func (s *Sink) convert(ev *decoder.Event) {
	s.attrs = appendAttrs(s.attrs[:0], ev)
	validAttrs(s.attrs)
	ctx := context.Background()
	if s.traces != nil && isExchange(ev) {
		start, end := spanTimes(ev)
		dest := destination(&ev.Summary)
		_, sp := s.tracer.Start(ctx, validUTF8(spanName(ev, operationOf(ev.Cmd()), dest)),
			trace.WithNewRoot(),
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(start),
			trace.WithAttributes(s.attrs...))
		if hasResponse(ev) && ev.Status != 0 {
			sp.SetStatus(codes.Error, statusLabel(ev))
		}
		sp.End(trace.WithTimestamp(end))
		ctx = trace.ContextWithSpan(ctx, sp) // the log record gets its ids
	}
	if s.logs != nil {
		var r otellog.Record
		t := ev.ReqTime
		if t == 0 {
			t = ev.RespTime
		}
		if t != 0 { // a desync has no time of its own
			r.SetTimestamp(time.Unix(0, t))
		}
		r.SetObservedTimestamp(time.Now())
		sev := severity(ev)
		r.SetSeverity(sev)
		r.SetSeverityText(severityText(sev))
		r.SetEventName("iggytrace." + ev.Kind.String())
		s.text = body(s.text, ev)
		r.SetBody(attribute.StringValue(validUTF8(string(s.text))))
		r.AddAttributes(s.attrs...)
		s.logger.Emit(ctx, r)
	}
}

func severityText(s otellog.Severity) string {
	if s == otellog.SeverityWarn {
		return "WARN"
	}
	return "INFO"
}

// spanTimes: from the request's first byte to the response's last; a lone
// request or response is an instant.
func spanTimes(ev *decoder.Event) (start, end time.Time) {
	switch ev.Kind {
	case decoder.EventPair:
		e := ev.RespTime
		if e < ev.ReqTime {
			e = ev.ReqTime + max(ev.Latency, 0)
		}
		return time.Unix(0, ev.ReqTime), time.Unix(0, e)
	case decoder.EventRequest:
		return time.Unix(0, ev.ReqTime), time.Unix(0, ev.ReqTime)
	}
	return time.Unix(0, ev.RespTime), time.Unix(0, ev.RespTime)
}

// spanCollector is the span processor: ended spans go to the traces pipe's
// batch (on the worker goroutine, which ends them).
type spanCollector struct{ p *pipe[sdktrace.ReadOnlySpan] }

func (c spanCollector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c spanCollector) OnEnd(s sdktrace.ReadOnlySpan)                   { c.p.add(s) }
func (c spanCollector) Shutdown(context.Context) error                  { return nil }
func (c spanCollector) ForceFlush(context.Context) error                { return nil }

// logCollector is the log processor, as spanCollector.
type logCollector struct{ p *pipe[sdklog.Record] }

func (c logCollector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c logCollector) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.p.add(r.Clone())
	return nil
}
func (c logCollector) Shutdown(context.Context) error   { return nil }
func (c logCollector) ForceFlush(context.Context) error { return nil }

// metricExporter counts the periodic reader's exports and reports failures
// as the pipes do, returning nil so that the SDK does not also log every
// failure through the global error handler.
type metricExporter struct {
	sdkmetric.Exporter
	s *Sink
}

func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	e.s.metricExports.Add(1)
	if err != nil {
		e.s.metricFailures.Add(1)
		if e.s.kill.Err() == nil {
			e.s.problem(sigMetrics, reasonExportFailed, err)
		}
		return nil
	}
	e.s.recovered()
	return nil
}

// Reasons for dropping.
const (
	reasonQueueFull    = "queue full"
	reasonExportFailed = "export failed"
	reasonClose        = "close"
)

// warnEvery is the least time between two warnings.
const warnEvery = time.Minute

// warner logs a warning when telemetry starts being dropped or an export
// fails, then at most once per warnEvery while it goes on, and a note when
// an export succeeds after a warning.
type warner struct {
	log    *slog.Logger
	last   atomic.Int64 // unix ns of the last warning, 0 before the first
	warned atomic.Bool  // a warning not yet followed by a success
	mu     sync.Mutex
}

func (s *Sink) problem(g signal, reason string, err error) {
	w := &s.warn
	now := time.Now().UnixNano()
	if l := w.last.Load(); l != 0 && now-l < int64(warnEvery) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.last.Load(); l != 0 && now-l < int64(warnEvery) {
		return
	}
	w.last.Store(now)
	w.warned.Store(true)
	args := []any{"reason", reason}
	if g != "" {
		args = append(args, "signal", string(g))
		if t, ok := s.targets[g]; ok {
			args = append(args, "endpoint", t.display, "protocol", t.protocol)
		}
	} else {
		args = append(args, "queue_size", s.cfg.QueueSize)
	}
	if err != nil {
		args = append(args, "error", err.Error())
	}
	st := s.Stats()
	args = append(args, "spans_dropped", st.SpansDropped, "logs_dropped", st.LogsDropped)
	if st.AuditDropped != 0 {
		args = append(args, "audit_dropped", st.AuditDropped)
	}
	w.log.Warn("otlp: export is failing or too slow, dropping telemetry (this warning repeats at most once a minute)", args...)
}

func (s *Sink) recovered() {
	w := &s.warn
	if !w.warned.Load() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.warned.Swap(false) {
		return
	}
	st := s.Stats()
	w.log.Info("otlp: export succeeded again", "spans_dropped", st.SpansDropped, "logs_dropped", st.LogsDropped)
}
