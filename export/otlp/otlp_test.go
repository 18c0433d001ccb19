package otlp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/otlp"
	"github.com/iggytrace/iggytrace/internal/otelcol"
	"github.com/iggytrace/iggytrace/internal/workload"
)

// TestCollector sends the session to a real OpenTelemetry Collector, over
// gRPC and over HTTP, and checks every span, log record and metric the
// Collector received against the events.
func TestCollector(t *testing.T) {
	evs, tstats := lossySession(t)
	col := otelcol.Start(t)
	eachProtocol(t, col, otlp.Config{
		// One metric export, at Close: the final values.
		MetricInterval: time.Hour,
		CloseTimeout:   20 * time.Second,
	}, func(t *testing.T, sink *otlp.Sink, logs *logRecorder, before otelcol.Received) {
		t.Log(sink)
		wt := timedWrites(t, sink, evs, 1)
		if err := sink.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := sink.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		nExch := 0
		for _, ev := range evs {
			if isExchange(ev) {
				nExch++
			}
		}
		st := sink.Stats()
		t.Logf("%d events, %d exchanges; stats %+v; %v", len(evs), nExch, st, wt)
		if st.Events != uint64(len(evs)) || st.SpansExported != uint64(nExch) || st.LogsExported != uint64(len(evs)) ||
			st.Dropped() != 0 || st.ExportFailures != 0 || st.MetricExportFailures != 0 || st.MetricExports == 0 {
			t.Errorf("Stats = %+v, want %d events, %d spans and %d logs exported, nothing dropped", st, len(evs), nExch, len(evs))
		}
		if n := logs.count(slog.LevelWarn); n != 0 {
			t.Errorf("%d warnings logged:\n%s", n, logs)
		}

		got := col.WaitFor(30*time.Second, func(r otelcol.Received) bool {
			return len(r.Spans()) >= len(before.Spans())+nExch &&
				len(r.LogRecords()) >= len(before.LogRecords())+len(evs) &&
				len(r.Metrics) > len(before.Metrics)
		})
		// Only what this subtest sent.
		rcv := otelcol.Received{
			Traces:  got.Traces[len(before.Traces):],
			Logs:    got.Logs[len(before.Logs):],
			Metrics: got.Metrics[len(before.Metrics):],
			Raw:     got.Raw[len(before.Raw):],
		}
		spanIDs := checkSpans(t, evs, rcv.Spans())
		checkLogs(t, evs, rcv.LogRecords(), spanIDs)
		checkMetrics(t, evs, tstats, rcv.LastMetrics())
		checkNoSecrets(t, rcv.Raw)
	})
}

// evKey identifies an event across signals: connection and capture time.
type evKey struct {
	conn uint64
	t    int64
	kind string
}

func keyOf(ev *decoder.Event) evKey {
	t := ev.ReqTime
	if t == 0 {
		t = ev.RespTime
	}
	return evKey{ev.ConnID, t, ev.Kind.String()}
}

// wantSpanName is the messaging conventions' "{operation} {destination}",
// else the command's dotted name.
func wantSpanName(ev *decoder.Event) string {
	c := ev.Cmd()
	s := ev.Summary
	if s.Stream != "" {
		dest := s.Stream
		if s.Topic != "" {
			dest += "/" + s.Topic
		}
		op := "unknown"
		if c != nil {
			op = strings.TrimPrefix(c.Dotted, "message.")
		}
		return op + " " + dest
	}
	if c != nil {
		return c.Dotted
	}
	return "unknown"
}

func wantStatusName(ev *decoder.Event) string {
	if ev.StatusName != "" {
		return ev.StatusName
	}
	return "unknown"
}

func checkSpans(t *testing.T, evs []*decoder.Event, spans []otelcol.Span) map[evKey][2][]byte {
	t.Helper()
	byKey := map[evKey]otelcol.Span{}
	for _, s := range spans {
		a := attrMap(s.Attributes)
		k := evKey{uint64(a["iggy.connection.id"].(int64)), int64(s.StartTimeUnixNano), a["iggy.event.kind"].(string)}
		if _, dup := byKey[k]; dup {
			t.Errorf("two spans for %+v", k)
		}
		byKey[k] = s
	}
	ids := map[evKey][2][]byte{}
	var sawSend, sawPoll, sawError, sawSettle bool
	n := 0
	for _, ev := range evs {
		if !isExchange(ev) {
			continue
		}
		n++
		k := keyOf(ev)
		s, ok := byKey[k]
		if !ok {
			t.Errorf("no span for %s %s on conn %d", ev.Kind, ev.Command, ev.ConnID)
			continue
		}
		ids[k] = [2][]byte{s.TraceId, s.SpanId}
		a := attrMap(s.Attributes)
		where := fmt.Sprintf("span %q (conn %d, %s %s)", s.Name, ev.ConnID, ev.Kind, ev.Command)
		if want := wantSpanName(ev); s.Name != want {
			t.Errorf("%s: name %q, want %q", where, s.Name, want)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: kind %v, want SERVER", where, s.Kind)
		}
		if len(s.ParentSpanId) != 0 {
			t.Errorf("%s: has a parent", where)
		}
		// The captured times, not the export's.
		wantEnd := ev.ReqTime
		switch ev.Kind {
		case decoder.EventPair:
			wantEnd = ev.RespTime
		case decoder.EventResponse:
			wantEnd = ev.RespTime
		}
		if int64(s.EndTimeUnixNano) != wantEnd {
			t.Errorf("%s: end %d, want %d", where, s.EndTimeUnixNano, wantEnd)
		}
		if ev.Kind == decoder.EventPair && int64(s.EndTimeUnixNano-s.StartTimeUnixNano) < ev.Latency {
			t.Errorf("%s: duration %d ns shorter than the latency %d ns", where, s.EndTimeUnixNano-s.StartTimeUnixNano, ev.Latency)
		}
		want := map[string]any{
			"messaging.system":   "iggy",
			"network.transport":  "tcp",
			"iggy.connection.id": int64(ev.ConnID),
			"iggy.event.kind":    ev.Kind.String(),
			"client.address":     ev.Client.Addr().Unmap().String(),
			"client.port":        int64(ev.Client.Port()),
			"server.address":     ev.Server.Addr().Unmap().String(),
			"server.port":        int64(ev.Server.Port()),
		}
		if ev.Kind != decoder.EventResponse {
			want["iggy.command.code"] = int64(ev.Code)
			want["iggy.request.bytes"] = int64(ev.ReqBytes)
			if c := ev.Cmd(); c != nil {
				want["iggy.command.name"] = c.Name
				want["messaging.operation.name"] = strings.TrimPrefix(c.Dotted, "message.")
			}
		}
		if ev.Kind != decoder.EventRequest {
			want["iggy.status.code"] = int64(ev.Status)
			want["iggy.status.name"] = wantStatusName(ev)
			want["iggy.response.bytes"] = int64(ev.RespBytes)
		}
		if ev.Summary.Stream != "" {
			want["iggy.stream"] = ev.Summary.Stream
		}
		if ev.Summary.ConsumerGroup != "" {
			want["messaging.consumer.group.name"] = ev.Summary.ConsumerGroup
		}
		if ev.Summary.HasPartition {
			want["messaging.destination.partition.id"] = fmt.Sprint(ev.Summary.Partition)
		}
		if ev.Summary.Username != "" {
			want["iggy.user"] = ev.Summary.Username
		}
		if ev.Summary.HasUserID {
			want["iggy.user.id"] = int64(ev.Summary.UserID)
		}
		if names := ev.Flags.Names(); len(names) > 0 {
			want["iggy.flags"] = names
		} else if _, ok := a["iggy.flags"]; ok {
			t.Errorf("%s: iggy.flags %v on an event without flags", where, a["iggy.flags"])
		}
		for key, w := range want {
			if g := a[key]; fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("%s: %s = %v, want %v", where, key, g, w)
			}
		}
		failed := ev.Kind != decoder.EventRequest && ev.Status != 0
		if failed {
			sawError = true
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s.Status.GetMessage() != wantStatusName(ev) {
				t.Errorf("%s: status %v, want Error %q", where, s.Status, wantStatusName(ev))
			}
			if a["error.type"] != wantStatusName(ev) {
				t.Errorf("%s: error.type %v, want %q", where, a["error.type"], wantStatusName(ev))
			}
		} else {
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_UNSET {
				t.Errorf("%s: status %v, want unset", where, s.Status)
			}
			if _, ok := a["error.type"]; ok {
				t.Errorf("%s: error.type on a success", where)
			}
		}
		switch ev.Command {
		case "SendMessages":
			sawSend = sawSend || ev.Kind == decoder.EventPair && ev.Status == 0
			if a["messaging.operation.type"] != "send" {
				t.Errorf("%s: messaging.operation.type %v, want send", where, a["messaging.operation.type"])
			}
			if ev.Status == 0 && a["messaging.batch.message_count"] != int64(ev.Summary.MessageCount) {
				t.Errorf("%s: batch count %v, want %d", where, a["messaging.batch.message_count"], ev.Summary.MessageCount)
			}
			if ev.Summary.Topic != "" && a["messaging.destination.name"] != ev.Summary.Stream+"/"+ev.Summary.Topic {
				t.Errorf("%s: destination %v", where, a["messaging.destination.name"])
			}
		case "PollMessages":
			sawPoll = sawPoll || ev.Kind == decoder.EventPair && ev.Status == 0
			if a["messaging.operation.type"] != "receive" {
				t.Errorf("%s: messaging.operation.type %v, want receive", where, a["messaging.operation.type"])
			}
			if ev.Kind == decoder.EventPair && ev.Status == 0 && a["messaging.batch.message_count"] != int64(ev.Summary.MessageCount) {
				t.Errorf("%s: batch count %v, want %d", where, a["messaging.batch.message_count"], ev.Summary.MessageCount)
			}
		case "StoreConsumerOffset":
			sawSettle = true
			if a["messaging.operation.type"] != "settle" {
				t.Errorf("%s: messaging.operation.type %v, want settle", where, a["messaging.operation.type"])
			}
		default:
			if op, ok := a["messaging.operation.type"]; ok {
				t.Errorf("%s: messaging.operation.type %v on a command that is no messaging operation", where, op)
			}
		}
		res := attrMap(s.Resource.Resource.Attributes)
		if res["service.name"] != otlp.ServiceName || res["telemetry.sdk.language"] != "go" {
			t.Errorf("%s: resource %v", where, res)
		}
		if s.Scope.Scope.Name != otlp.ScopeName {
			t.Errorf("%s: scope %q", where, s.Scope.Scope.Name)
		}
	}
	if len(spans) != n {
		t.Errorf("%d spans received, want %d, one per exchange", len(spans), n)
	}
	if !sawSend || !sawPoll || !sawError || !sawSettle {
		t.Errorf("the session lacks a case: send %v, poll %v, error status %v, store offset %v", sawSend, sawPoll, sawError, sawSettle)
	}
	return ids
}

func checkLogs(t *testing.T, evs []*decoder.Event, recs []otelcol.LogRecord, spanIDs map[evKey][2][]byte) {
	t.Helper()
	if len(recs) != len(evs) {
		t.Errorf("%d log records received, want %d, one per event", len(recs), len(evs))
	}
	byKey := map[evKey]otelcol.LogRecord{}
	for _, r := range recs {
		a := attrMap(r.Attributes)
		k := evKey{uint64(a["iggy.connection.id"].(int64)), int64(r.TimeUnixNano), a["iggy.event.kind"].(string)}
		if _, dup := byKey[k]; dup {
			t.Errorf("two log records for %+v", k)
		}
		byKey[k] = r
	}
	sev := map[string]int{}
	for _, ev := range evs {
		k := keyOf(ev)
		r, ok := byKey[k]
		if !ok {
			t.Errorf("no log record for %s %s on conn %d", ev.Kind, ev.Command, ev.ConnID)
			continue
		}
		where := fmt.Sprintf("log %q", r.Body.GetStringValue())
		warn := ev.Kind == decoder.EventGap || ev.Kind == decoder.EventDesync ||
			ev.Kind == decoder.EventRequest || ev.Kind == decoder.EventResponse ||
			ev.Status != 0 || ev.Flags&decoder.FlagDecodeError != 0
		wantSev, wantText := "SEVERITY_NUMBER_INFO", "INFO"
		if warn {
			wantSev, wantText = "SEVERITY_NUMBER_WARN", "WARN"
		}
		if r.SeverityNumber.String() != wantSev || r.SeverityText != wantText {
			t.Errorf("%s: severity %v %q, want %s", where, r.SeverityNumber, r.SeverityText, wantText)
		}
		sev[wantText]++
		if r.EventName != "iggytrace."+ev.Kind.String() {
			t.Errorf("%s: event name %q", where, r.EventName)
		}
		if r.ObservedTimeUnixNano == 0 || r.ObservedTimeUnixNano <= r.TimeUnixNano {
			t.Errorf("%s: observed time %d", where, r.ObservedTimeUnixNano)
		}
		body := r.Body.GetStringValue()
		if body == "" || strings.Contains(body, "\n") {
			t.Errorf("%s: body is not one line", where)
		}
		if isExchange(ev) {
			if c := ev.Cmd(); c != nil && ev.Kind != decoder.EventResponse && !strings.Contains(body, c.Name) {
				t.Errorf("%s: body lacks the command", where)
			}
			ids := spanIDs[k]
			if !bytes.Equal(r.TraceId, ids[0]) || !bytes.Equal(r.SpanId, ids[1]) {
				t.Errorf("%s: trace/span id %x/%x, want the span's %x/%x", where, r.TraceId, r.SpanId, ids[0], ids[1])
			}
		} else if len(r.TraceId) != 0 {
			t.Errorf("%s: a %s event has a trace id", where, ev.Kind)
		}
		a := attrMap(r.Attributes)
		if a["messaging.system"] != "iggy" || a["client.port"] != int64(ev.Client.Port()) {
			t.Errorf("%s: attributes %v", where, a)
		}
		switch ev.Kind {
		case decoder.EventGap, decoder.EventDesync:
			if a["iggy.bytes"] != int64(ev.Bytes) || a["iggy.direction"] != ev.Dir.String() {
				t.Errorf("%s: attributes %v", where, a)
			}
		case decoder.EventClose:
			if ev.Stats != nil && a["iggy.connection.requests"] != int64(ev.Stats.Requests) {
				t.Errorf("%s: iggy.connection.requests %v, want %d", where, a["iggy.connection.requests"], ev.Stats.Requests)
			}
		}
	}
	t.Logf("log records by severity: %v", sev)
	if sev["WARN"] == 0 || sev["INFO"] == 0 {
		t.Errorf("the session should give both INFO and WARN records: %v", sev)
	}
}

// sumPoints returns a sum's data points by their attributes, rendered.
func sumPoints(t *testing.T, ms map[string]otelcol.Metric, name string) map[string]int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Errorf("metric %s not received", name)
		return nil
	}
	s := m.GetSum()
	if s == nil {
		t.Errorf("metric %s is not a sum: %v", name, m.Data)
		return nil
	}
	if s.AggregationTemporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
		t.Errorf("metric %s: temporality %v", name, s.AggregationTemporality)
	}
	out := map[string]int64{}
	for _, p := range s.DataPoints {
		out[attrKey(attrMap(p.Attributes))] += p.GetAsInt()
	}
	return out
}

func attrKey(a map[string]any) string {
	var parts []string
	for k, v := range a {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func checkMetrics(t *testing.T, evs []*decoder.Event, ts decoder.Stats, ms map[string]otelcol.Metric) {
	t.Helper()
	requests := map[string]int64{}
	latency := map[string]uint64{}
	messages := map[string]int64{}
	payload := map[string]int64{}
	kinds := map[string]int64{}
	var reqBytes, respBytes, opens, closes, decodeErrs int64
	for _, ev := range evs {
		kinds["iggy.event.kind="+ev.Kind.String()]++
		if ev.Flags&decoder.FlagDecodeError != 0 {
			decodeErrs++
		}
		cmd := "unknown"
		if c := ev.Cmd(); c != nil && ev.Kind != decoder.EventResponse {
			cmd = c.Name
		}
		switch ev.Kind {
		case decoder.EventPair:
			requests[fmt.Sprintf("iggy.command.name=%s,iggy.status.name=%s", cmd, wantStatusName(ev))]++
			latency[cmd]++
			reqBytes += int64(ev.ReqBytes)
			respBytes += int64(ev.RespBytes)
			if ev.Status == 0 && ev.Summary.MessageCount != 0 {
				messages["iggy.command.name="+cmd] += int64(ev.Summary.MessageCount)
				payload["iggy.command.name="+cmd] += int64(ev.Summary.PayloadBytes)
			}
		case decoder.EventRequest:
			requests[fmt.Sprintf("iggy.command.name=%s,iggy.status.name=none", cmd)]++
			reqBytes += int64(ev.ReqBytes)
		case decoder.EventResponse:
			requests[fmt.Sprintf("iggy.command.name=unknown,iggy.status.name=%s", wantStatusName(ev))]++
			respBytes += int64(ev.RespBytes)
		case decoder.EventOpen:
			opens++
		case decoder.EventClose:
			closes++
		}
	}
	eq := func(name string, got, want map[string]int64) {
		t.Helper()
		if got == nil {
			return
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s{%s} = %d, want %d", name, k, got[k], w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok && g != 0 {
				t.Errorf("%s{%s} = %d, want none", name, k, g)
			}
		}
	}
	eq("iggytrace.requests", sumPoints(t, ms, "iggytrace.requests"), requests)
	eq("iggytrace.messages", sumPoints(t, ms, "iggytrace.messages"), messages)
	eq("iggytrace.message.payload_bytes", sumPoints(t, ms, "iggytrace.message.payload_bytes"), payload)
	eq("iggytrace.events", sumPoints(t, ms, "iggytrace.events"), kinds)
	eq("iggytrace.bytes", sumPoints(t, ms, "iggytrace.bytes"), map[string]int64{
		"iggy.direction=request": reqBytes, "iggy.direction=response": respBytes})
	eq("iggytrace.connections", sumPoints(t, ms, "iggytrace.connections"), map[string]int64{"": opens})
	eq("iggytrace.connections.open", sumPoints(t, ms, "iggytrace.connections.open"), map[string]int64{"": opens - closes})
	eq("iggytrace.unanswered_requests", sumPoints(t, ms, "iggytrace.unanswered_requests"), map[string]int64{"": int64(ts.Unanswered)})
	eq("iggytrace.unmatched_responses", sumPoints(t, ms, "iggytrace.unmatched_responses"), map[string]int64{"": int64(ts.Unmatched)})
	eq("iggytrace.decode_errors", sumPoints(t, ms, "iggytrace.decode_errors"), map[string]int64{"": decodeErrs})
	eq("iggytrace.stream.gaps", sumPoints(t, ms, "iggytrace.stream.gaps"), map[string]int64{"": int64(ts.Gaps)})
	eq("iggytrace.gap.bytes", sumPoints(t, ms, "iggytrace.gap.bytes"), map[string]int64{"": int64(ts.GapBytes)})
	eq("iggytrace.desync.bytes", sumPoints(t, ms, "iggytrace.desync.bytes"), map[string]int64{"": int64(ts.DesyncBytes)})
	eq("iggytrace.exporter.dropped", sumPoints(t, ms, "iggytrace.exporter.dropped"), map[string]int64{
		"iggy.exporter=otlp,iggy.signal=traces": 0, "iggy.exporter=otlp,iggy.signal=logs": 0})
	if s := ms["iggytrace.requests"]; s.Metric != nil && (!s.GetSum().IsMonotonic || s.Unit != "{request}") {
		t.Errorf("iggytrace.requests: monotonic %v, unit %q", s.GetSum().IsMonotonic, s.Unit)
	}

	// The latency histogram: one observation per pair, by command, in
	// seconds, with the explicit buckets.
	h, ok := ms["iggytrace.request.duration"]
	if !ok || h.GetHistogram() == nil {
		t.Fatalf("iggytrace.request.duration missing or not a histogram")
	}
	if h.Unit != "s" {
		t.Errorf("iggytrace.request.duration unit %q, want s", h.Unit)
	}
	seen := map[string]uint64{}
	for _, p := range h.GetHistogram().DataPoints {
		cmd := attrMap(p.Attributes)["iggy.command.name"].(string)
		seen[cmd] = p.Count
		if len(p.ExplicitBounds) == 0 || p.ExplicitBounds[0] != 10e-6 || p.ExplicitBounds[len(p.ExplicitBounds)-1] != 10 {
			t.Errorf("duration{%s}: bounds %v", cmd, p.ExplicitBounds)
		}
		var n uint64
		for _, c := range p.BucketCounts {
			n += c
		}
		if n != p.Count {
			t.Errorf("duration{%s}: buckets sum to %d, count %d", cmd, n, p.Count)
		}
		if p.GetSum() <= 0 || p.GetSum() > float64(p.Count)*10 || math.IsNaN(p.GetSum()) {
			t.Errorf("duration{%s}: sum %v s for %d pairs", cmd, p.GetSum(), p.Count)
		}
	}
	for cmd, n := range latency {
		if seen[cmd] != n {
			t.Errorf("duration{%s}: count %d, want %d", cmd, seen[cmd], n)
		}
	}
	if len(seen) != len(latency) {
		t.Errorf("duration: %d commands, want %d", len(seen), len(latency))
	}
	res := attrMap(h.Resource.Resource.Attributes)
	if res["service.name"] != otlp.ServiceName {
		t.Errorf("metrics resource %v", res)
	}
}

// checkNoSecrets: no password or token of the session is in any byte the
// Collector forwarded.
func checkNoSecrets(t *testing.T, raw [][]byte) {
	t.Helper()
	secrets := workload.Secrets(nil)
	secrets = append(secrets, workload.BogusToken[:16]) // no prefix either
	total := 0
	for _, b := range raw {
		total += len(b)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("secret %q found in what the Collector received", s)
			}
		}
	}
	if total == 0 {
		t.Error("nothing received to search for secrets")
	}
	// The session does carry secrets: the decoder redacted them.
	var redacted int
	for _, b := range raw {
		redacted += bytes.Count(b, []byte("[REDACTED]"))
	}
	if redacted == 0 {
		t.Error("no [REDACTED] field in the log bodies: does the session log in?")
	}
}

// TestCollectorEnvironment: with no endpoint configured, the standard
// variables say where to send; an explicit endpoint overrides them.
func TestCollectorEnvironment(t *testing.T) {
	evs, _ := sessionEvents(t)
	nExch := 0
	for _, ev := range evs {
		if isExchange(ev) {
			nExch++
		}
	}
	col := otelcol.Start(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		cfg  otlp.Config
	}{
		{"from the environment", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + col.GRPCEndpoint,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_SERVICE_NAME":           "iggytrace-env",
		}, otlp.Config{}},
		{"flag over environment", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + closedPort(t),
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_SERVICE_NAME":           "iggytrace-env",
		}, otlp.Config{Endpoint: col.HTTPEndpoint, Protocol: otlp.ProtocolHTTP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before := col.Received()
			cfg := tc.cfg
			cfg.MetricInterval = time.Hour
			cfg.RetryMaxElapsed = time.Second
			logs := &logRecorder{}
			cfg.Logger = slog.New(logs)
			sink, err := otlp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(sink)
			timedWrites(t, sink, evs, 1)
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			if st := sink.Stats(); st.SpansExported != uint64(nExch) || st.Dropped() != 0 {
				t.Errorf("Stats = %+v\n%s", st, logs)
			}
			got := col.WaitFor(30*time.Second, func(r otelcol.Received) bool {
				return len(r.Spans()) >= len(before.Spans())+nExch && len(r.LogRecords()) >= len(before.LogRecords())+len(evs)
			})
			spans := got.Spans()[len(before.Spans()):]
			if res := attrMap(spans[0].Resource.Resource.Attributes); res["service.name"] != "iggytrace-env" {
				t.Errorf("service.name %v, want OTEL_SERVICE_NAME's", res["service.name"])
			}
		})
	}
}
