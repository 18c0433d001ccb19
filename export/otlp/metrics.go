package otlp

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export/metrics"
)

// Metric names (docs/otlp.md): the Prometheus names of export/metrics with
// "iggytrace_" as "iggytrace.", no unit suffix and no _total, so that a
// Collector's Prometheus exporter gives the same names back.
const (
	metricRequests     = "iggytrace.requests"
	metricDuration     = "iggytrace.request.duration"
	metricMessages     = "iggytrace.messages"
	metricPayload      = "iggytrace.message.payload_bytes"
	metricBytes        = "iggytrace.bytes"
	metricEvents       = "iggytrace.events"
	metricConnsOpen    = "iggytrace.connections.open"
	metricConns        = "iggytrace.connections"
	metricGaps         = "iggytrace.stream.gaps"
	metricGapBytes     = "iggytrace.gap.bytes"
	metricDesyncBytes  = "iggytrace.desync.bytes"
	metricDecodeErrors = "iggytrace.decode_errors"
	metricUnanswered   = "iggytrace.unanswered_requests"
	metricUnmatched    = "iggytrace.unmatched_responses"
	metricDropped      = "iggytrace.exporter.dropped"
)

// Metric attribute keys.
const (
	keySignal   = attribute.Key("iggy.signal")
	keyExporter = attribute.Key("iggy.exporter")
)

const maxCode = 1024

// instruments are the sink's metrics. record is called from Write; once a
// command and status have been seen it allocates nothing.
type instruments struct {
	requests              metric.Int64Counter
	duration              metric.Float64Histogram
	messages, payload     metric.Int64Counter
	bytes                 metric.Int64Counter
	events                metric.Int64Counter
	connsOpen             metric.Int64UpDownCounter
	conns                 metric.Int64Counter
	gaps, gapBytes        metric.Int64Counter
	desyncBytes           metric.Int64Counter
	decodeErrors          metric.Int64Counter
	unanswered, unmatched metric.Int64Counter

	dirReq, dirResp []metric.AddOption
	kinds           [8][]metric.AddOption

	byCode  [maxCode]*cmdAttrs
	unknown *cmdAttrs
}

// cmdAttrs are one command's attribute sets, as ready-made options.
type cmdAttrs struct {
	name     string
	add      []metric.AddOption    // command
	record   []metric.RecordOption // command
	ok, none []metric.AddOption    // command, status
	statuses map[uint32][]metric.AddOption
}

func newInstruments(m metric.Meter, dropped func(signal) uint64) (*instruments, error) {
	in := &instruments{}
	var err error
	counter := func(name, unit, desc string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return c
	}
	in.requests = counter(metricRequests, "{request}", "Iggy requests seen, by command and response status (none: no response seen).")
	in.messages = counter(metricMessages, "{message}", "Messages sent (SendMessages) or polled (PollMessages) in exchanges answered OK.")
	in.payload = counter(metricPayload, "By", "Payload bytes of the messages counted by iggytrace.messages.")
	in.bytes = counter(metricBytes, "By", "Bytes of Iggy frames (headers included), by direction: request (client to server) or response.")
	in.events = counter(metricEvents, "{event}", "Events the decoder reported, by kind (pair, request, response, open, close, gap, desync).")
	in.conns = counter(metricConns, "{connection}", "Iggy connections seen (opened, or first seen mid-stream).")
	in.gaps = counter(metricGaps, "{gap}", "Losses of bytes in a connection's stream (dropped packets or ring records).")
	in.gapBytes = counter(metricGapBytes, "By", "Bytes lost in gaps.")
	in.desyncBytes = counter(metricDesyncBytes, "By", "Bytes that arrived but could not be framed and were skipped.")
	in.decodeErrors = counter(metricDecodeErrors, "{exchange}", "Exchanges with a payload that did not decode.")
	in.unanswered = counter(metricUnanswered, "{request}", "Requests reported without a response.")
	in.unmatched = counter(metricUnmatched, "{response}", "Responses reported without a request.")
	if err != nil {
		return nil, err
	}
	in.duration, err = m.Float64Histogram(metricDuration, metric.WithUnit("s"),
		metric.WithDescription("Time from a request's last byte to its response's last byte, as the capture point saw them."),
		metric.WithExplicitBucketBoundaries(metrics.DefaultBuckets()...))
	if err != nil {
		return nil, err
	}
	in.connsOpen, err = m.Int64UpDownCounter(metricConnsOpen, metric.WithUnit("{connection}"),
		metric.WithDescription("Iggy connections tracked now."))
	if err != nil {
		return nil, err
	}
	_, err = m.Int64ObservableCounter(metricDropped, metric.WithUnit("{item}"),
		metric.WithDescription("Spans and log records the OTLP exporter discarded (queue full, export failed after retries, left at close), by signal."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for _, g := range [...]signal{sigTraces, sigLogs} {
				o.Observe(int64(dropped(g)), metric.WithAttributes(keyExporter.String("otlp"), keySignal.String(string(g))))
			}
			return nil
		}))
	if err != nil {
		return nil, err
	}
	in.dirReq = addOpts(attribute.NewSet(keyDirection.String(decoder.ToServer.String())))
	in.dirResp = addOpts(attribute.NewSet(keyDirection.String(decoder.ToClient.String())))
	for k := range in.kinds {
		kind := decoder.EventKind(k).String()
		if k == 0 {
			kind = "unknown"
		}
		in.kinds[k] = addOpts(attribute.NewSet(keyEventKind.String(kind)))
	}
	in.unknown = newCmdAttrs(commandUnknown)
	// The counters without attributes start at zero, so that they are
	// exported (as 0) before their first event, as in Prometheus.
	ctx := context.Background()
	for _, c := range []metric.Int64Counter{in.conns, in.gaps, in.gapBytes, in.desyncBytes, in.decodeErrors, in.unanswered, in.unmatched} {
		c.Add(ctx, 0)
	}
	in.connsOpen.Add(ctx, 0)
	return in, nil
}

func addOpts(s attribute.Set) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(s)}
}

func newCmdAttrs(name string) *cmdAttrs {
	set := attribute.NewSet(keyCommandName.String(name))
	return &cmdAttrs{
		name:     name,
		add:      addOpts(set),
		record:   []metric.RecordOption{metric.WithAttributeSet(set)},
		ok:       addOpts(attribute.NewSet(keyCommandName.String(name), keyStatusName.String(protocol.StatusName(0)))),
		none:     addOpts(attribute.NewSet(keyCommandName.String(name), keyStatusName.String(statusNone))),
		statuses: map[uint32][]metric.AddOption{},
	}
}

func (in *instruments) commandOf(ev *decoder.Event) *cmdAttrs {
	c := ev.Cmd()
	if c == nil || ev.Kind == decoder.EventResponse || c.Code >= maxCode {
		return in.unknown
	}
	if in.byCode[c.Code] == nil {
		in.byCode[c.Code] = newCmdAttrs(c.Name)
	}
	return in.byCode[c.Code]
}

func (in *instruments) statusOf(c *cmdAttrs, ev *decoder.Event) []metric.AddOption {
	if ev.Status == 0 {
		return c.ok
	}
	o := c.statuses[ev.Status]
	if o == nil {
		o = addOpts(attribute.NewSet(keyCommandName.String(c.name), keyStatusName.String(statusLabel(ev))))
		c.statuses[ev.Status] = o
	}
	return o
}

// record counts one event, as export/metrics does for Prometheus.
func (in *instruments) record(ctx context.Context, ev *decoder.Event) {
	k := int(ev.Kind)
	if k >= len(in.kinds) {
		k = 0
	}
	in.events.Add(ctx, 1, in.kinds[k]...)
	if ev.Flags&decoder.FlagDecodeError != 0 {
		in.decodeErrors.Add(ctx, 1)
	}
	switch ev.Kind {
	case decoder.EventPair:
		c := in.commandOf(ev)
		in.requests.Add(ctx, 1, in.statusOf(c, ev)...)
		in.duration.Record(ctx, float64(ev.Latency)/1e9, c.record...)
		in.bytes.Add(ctx, int64(ev.ReqBytes), in.dirReq...)
		in.bytes.Add(ctx, int64(ev.RespBytes), in.dirResp...)
		if ev.Status == 0 && ev.Summary.MessageCount != 0 {
			in.messages.Add(ctx, int64(ev.Summary.MessageCount), c.add...)
			in.payload.Add(ctx, int64(ev.Summary.PayloadBytes), c.add...)
		}
	case decoder.EventRequest:
		c := in.commandOf(ev)
		in.requests.Add(ctx, 1, c.none...)
		in.unanswered.Add(ctx, 1)
		in.bytes.Add(ctx, int64(ev.ReqBytes), in.dirReq...)
	case decoder.EventResponse:
		in.requests.Add(ctx, 1, in.statusOf(in.unknown, ev)...)
		in.unmatched.Add(ctx, 1)
		in.bytes.Add(ctx, int64(ev.RespBytes), in.dirResp...)
	case decoder.EventOpen:
		in.connsOpen.Add(ctx, 1)
		in.conns.Add(ctx, 1)
	case decoder.EventClose:
		in.connsOpen.Add(ctx, -1)
	case decoder.EventGap:
		in.gaps.Add(ctx, 1)
		in.gapBytes.Add(ctx, int64(ev.Bytes))
	case decoder.EventDesync:
		in.desyncBytes.Add(ctx, int64(ev.Bytes))
	}
}
