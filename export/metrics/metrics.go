// Package metrics exposes what iggytrace decodes as Prometheus metrics:
// request rates, statuses and latencies per command, bytes, connections,
// messages, and the tracer's own health (gaps, undecodable bytes, kernel
// ring drops, exporter drops). Every metric is listed in docs/metrics.md.
//
// A Metrics is an export.Sink with a registry of its own (nothing is
// registered globally). Label values are bounded: command names come from
// the protocol table (plus "unknown"), status names from the status table
// (plus "OK", "none" and "unknown").
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// Label values besides the names of the protocol tables.
const (
	// CommandUnknown labels a code the protocol table does not describe,
	// and a response whose request the capture did not see.
	CommandUnknown = "unknown"
	// StatusNone labels a request that got no response (connection closed,
	// capture ended, response lost in a gap).
	StatusNone = "none"
	// StatusUnknown labels a status code no known server version defines.
	StatusUnknown = "unknown"
)

// DefaultBuckets returns the bounds of iggytrace_request_duration_seconds:
// 10 µs to 10 s in 1-2.5-5 steps.
func DefaultBuckets() []float64 {
	return []float64{
		10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
		1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
		1, 2.5, 5, 10,
	}
}

// Options configure a Metrics. The zero value is usable.
type Options struct {
	// Buckets of the request duration histogram, in seconds; nil means
	// DefaultBuckets().
	Buckets []float64
	// NoRuntime leaves out the Go runtime (go_*) and process (process_*)
	// metrics.
	NoRuntime bool
}

// Metrics is a Sink that counts events into Prometheus metrics, and the
// http.Handler that serves them. Write must be called from one goroutine
// (as every Sink is); Handler, SetCaptureStats and AddExporter are safe
// from any.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // command, status
	duration *prometheus.HistogramVec // command
	messages *prometheus.CounterVec   // command
	payload  *prometheus.CounterVec   // command

	bytesReq, bytesResp prometheus.Counter
	connsOpen           prometheus.Gauge
	connsTotal          prometheus.Counter
	events              [numKinds]prometheus.Counter
	gaps, gapBytes      prometheus.Counter
	desyncBytes         prometheus.Counter
	decodeErrors        prometheus.Counter
	unanswered          prometheus.Counter
	unmatched           prometheus.Counter

	// Per command: the label children, resolved on the command's first
	// event. Only Write touches them.
	byCode  [maxCode]*command
	unknown *command

	health *healthCollector
}

// maxCode bounds the codes indexed directly; the table's are all below it.
const maxCode = 1024

// numKinds: decoder.EventKind values 1..7, and 0 for any other.
const numKinds = 8

// command holds one command's label children.
type command struct {
	name     string
	duration prometheus.Observer
	messages prometheus.Counter // nil until messages are counted
	payload  prometheus.Counter
	ok, none prometheus.Counter            // status OK, and no response; nil until seen
	statuses map[uint32]prometheus.Counter // other statuses, as they occur
}

// New returns a Metrics with its own registry.
func New(opts Options) *Metrics {
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets()
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iggytrace_requests_total",
		Help: "Iggy requests seen, by command and response status (none: no response seen).",
	}, []string{"command", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "iggytrace_request_duration_seconds",
		Help:    "Time from a request's last byte to its response's last byte, as the capture point saw them.",
		Buckets: buckets,
	}, []string{"command"})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iggytrace_messages_total",
		Help: "Messages sent (SendMessages) or polled (PollMessages) in exchanges answered OK.",
	}, []string{"command"})
	m.payload = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iggytrace_message_payload_bytes_total",
		Help: "Payload bytes of the messages counted by iggytrace_messages_total.",
	}, []string{"command"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iggytrace_bytes_total",
		Help: "Bytes of Iggy frames (headers included), by direction: request (client to server) or response.",
	}, []string{"direction"})
	eventsVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iggytrace_events_total",
		Help: "Events the decoder reported, by kind (pair, request, response, open, close, gap, desync).",
	}, []string{"kind"})
	m.reg.MustRegister(m.requests, m.duration, m.messages, m.payload, bytes, eventsVec)
	m.bytesReq = bytes.WithLabelValues(decoder.ToServer.String())
	m.bytesResp = bytes.WithLabelValues(decoder.ToClient.String())
	for k := range m.events {
		kind := decoder.EventKind(k).String()
		if k == 0 {
			kind = "unknown"
		}
		m.events[k] = eventsVec.WithLabelValues(kind)
	}
	m.connsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "iggytrace_connections_open",
		Help: "Iggy connections tracked now.",
	})
	m.reg.MustRegister(m.connsOpen)
	m.connsTotal = counter("iggytrace_connections_total", "Iggy connections seen (opened, or first seen mid-stream).")
	m.gaps = counter("iggytrace_stream_gaps_total", "Losses of bytes in a connection's stream (dropped packets or ring records).")
	m.gapBytes = counter("iggytrace_gap_bytes_total", "Bytes lost in gaps.")
	m.desyncBytes = counter("iggytrace_desync_bytes_total", "Bytes that arrived but could not be framed and were skipped.")
	m.decodeErrors = counter("iggytrace_decode_errors_total", "Exchanges with a payload that did not decode.")
	m.unanswered = counter("iggytrace_unanswered_requests_total", "Requests reported without a response.")
	m.unmatched = counter("iggytrace_unmatched_responses_total", "Responses reported without a request.")
	m.unknown = m.newCommand(CommandUnknown)
	m.health = &healthCollector{}
	m.reg.MustRegister(m.health)
	if !opts.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

func (m *Metrics) newCommand(name string) *command {
	return &command{
		name:     name,
		duration: m.duration.WithLabelValues(name),
		statuses: map[uint32]prometheus.Counter{},
	}
}

// commandOf returns the label children of ev's command.
func (m *Metrics) commandOf(ev *decoder.Event) *command {
	if ev.Kind == decoder.EventResponse || ev.Code >= maxCode {
		return m.unknown
	}
	c, ok := protocol.Lookup(ev.Code)
	if !ok {
		return m.unknown
	}
	if m.byCode[c.Code] == nil {
		m.byCode[c.Code] = m.newCommand(c.Name)
	}
	return m.byCode[c.Code]
}

// countStatus counts a request of c answered with status. The series of
// a command and status is made on its first count, so that only the
// combinations seen are exported.
func (m *Metrics) countStatus(c *command, status uint32) {
	if status == 0 {
		if c.ok == nil {
			c.ok = m.requests.WithLabelValues(c.name, protocol.StatusName(0))
		}
		c.ok.Inc()
		return
	}
	ctr := c.statuses[status]
	if ctr == nil {
		name := protocol.StatusName(status)
		if name == "" {
			name = StatusUnknown
		}
		ctr = m.requests.WithLabelValues(c.name, name)
		c.statuses[status] = ctr
	}
	ctr.Inc()
}

// Write counts one event. It never fails and, once a command and status
// have been seen, allocates nothing.
func (m *Metrics) Write(ev *decoder.Event) error {
	k := int(ev.Kind)
	if k >= numKinds {
		k = 0
	}
	m.events[k].Inc()
	if ev.Flags&decoder.FlagDecodeError != 0 {
		m.decodeErrors.Inc()
	}
	switch ev.Kind {
	case decoder.EventPair:
		c := m.commandOf(ev)
		m.countStatus(c, ev.Status)
		c.duration.Observe(float64(ev.Latency) / 1e9)
		m.bytesReq.Add(float64(ev.ReqBytes))
		m.bytesResp.Add(float64(ev.RespBytes))
		if ev.Status == 0 && ev.Summary.MessageCount != 0 {
			if c.messages == nil {
				c.messages = m.messages.WithLabelValues(c.name)
				c.payload = m.payload.WithLabelValues(c.name)
			}
			c.messages.Add(float64(ev.Summary.MessageCount))
			c.payload.Add(float64(ev.Summary.PayloadBytes))
		}
	case decoder.EventRequest:
		c := m.commandOf(ev)
		if c.none == nil {
			c.none = m.requests.WithLabelValues(c.name, StatusNone)
		}
		c.none.Inc()
		m.unanswered.Inc()
		m.bytesReq.Add(float64(ev.ReqBytes))
	case decoder.EventResponse:
		m.countStatus(m.unknown, ev.Status)
		m.unmatched.Inc()
		m.bytesResp.Add(float64(ev.RespBytes))
	case decoder.EventOpen:
		m.connsOpen.Inc()
		m.connsTotal.Inc()
	case decoder.EventClose:
		m.connsOpen.Dec()
	case decoder.EventGap:
		m.gaps.Inc()
		m.gapBytes.Add(float64(ev.Bytes))
	case decoder.EventDesync:
		m.desyncBytes.Add(float64(ev.Bytes))
	}
	return nil
}

// Flush does nothing: the metrics are current after every Write.
func (m *Metrics) Flush() error { return nil }

// Close does nothing; the handler keeps serving the last values.
func (m *Metrics) Close() error { return nil }

// Handler serves the metrics in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// CaptureStats are the kernel capture's counters (loader.Stats), read at
// each scrape. Every field is a running total.
type CaptureStats struct {
	RingDroppedRecords uint64 // loader.Stats.DroppedRecords: segment records lost, the ring was full
	RingDroppedBytes   uint64 // loader.Stats.DroppedBytes: payload bytes those records covered
	StateDropped       uint64 // loader.Stats.StateDropped: connection open/close records lost
	SkippedBytes       uint64 // loader.Stats.BytesSkipped: payload deliberately not copied (header-only mode)
	RecordsMissing     uint64 // loader.Stats.RecordsMissing: records missing from the per-CPU sequence
	RecordsBad         uint64 // loader.Stats.RecordsBad: records that did not decode
}

// SetCaptureStats makes each scrape read the capture's counters from fn
// (nil: none). Without it the iggytrace_ring_* and iggytrace_capture_*
// metrics are absent, as when reading a file.
func (m *Metrics) SetCaptureStats(fn func() CaptureStats) {
	m.health.capture.Store(&fn)
}

// AddExporter makes each scrape report dropped() as
// iggytrace_exporter_dropped_total{exporter=name}: what an exporter
// discarded because its queue was full or its destination failed. Adding
// a name again replaces its function.
func (m *Metrics) AddExporter(name string, dropped func() uint64) {
	h := m.health
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.exporters {
		if h.exporters[i].name == name {
			h.exporters[i].dropped = dropped
			return
		}
	}
	h.exporters = append(h.exporters, exporter{name, dropped})
}

// healthCollector reads the counters kept outside the decoder at scrape time.
type healthCollector struct {
	capture atomic.Pointer[func() CaptureStats]

	mu        sync.Mutex
	exporters []exporter
}

type exporter struct {
	name    string
	dropped func() uint64
}

var (
	descRingRecords = prometheus.NewDesc("iggytrace_ring_dropped_records_total",
		"Segment records the kernel could not write because the ring buffer was full.", nil, nil)
	descRingBytes = prometheus.NewDesc("iggytrace_ring_dropped_bytes_total",
		"Payload bytes of the segment records dropped because the ring buffer was full.", nil, nil)
	descStateDropped = prometheus.NewDesc("iggytrace_ring_dropped_state_records_total",
		"Connection open/close records the kernel could not write because the ring buffer was full.", nil, nil)
	descSkipped = prometheus.NewDesc("iggytrace_capture_skipped_bytes_total",
		"Payload bytes the kernel deliberately did not copy (header-only mode); their positions are kept.", nil, nil)
	descMissing = prometheus.NewDesc("iggytrace_capture_records_missing_total",
		"Ring records missing from the per-CPU sequence numbers.", nil, nil)
	descBad = prometheus.NewDesc("iggytrace_capture_records_malformed_total",
		"Ring records that did not decode.", nil, nil)
	descExporterDropped = prometheus.NewDesc("iggytrace_exporter_dropped_total",
		"Items an exporter discarded (queue full, destination failing).", []string{"exporter"}, nil)
)

func (h *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range [...]*prometheus.Desc{descRingRecords, descRingBytes, descStateDropped, descSkipped, descMissing, descBad, descExporterDropped} {
		ch <- d
	}
}

func (h *healthCollector) Collect(ch chan<- prometheus.Metric) {
	if fn := h.capture.Load(); fn != nil && *fn != nil {
		s := (*fn)()
		for _, v := range [...]struct {
			d *prometheus.Desc
			v uint64
		}{
			{descRingRecords, s.RingDroppedRecords}, {descRingBytes, s.RingDroppedBytes},
			{descStateDropped, s.StateDropped}, {descSkipped, s.SkippedBytes},
			{descMissing, s.RecordsMissing}, {descBad, s.RecordsBad},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.v))
		}
	}
	h.mu.Lock()
	exps := append([]exporter(nil), h.exporters...)
	h.mu.Unlock()
	for _, e := range exps {
		ch <- prometheus.MustNewConstMetric(descExporterDropped, prometheus.CounterValue, float64(e.dropped()), e.name)
	}
}
