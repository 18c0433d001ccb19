package metrics_test

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
	"github.com/iggytrace/iggytrace/export"
	"github.com/iggytrace/iggytrace/export/metrics"
	"github.com/iggytrace/iggytrace/internal/sessiontest"
)

var _ export.Sink = (*metrics.Metrics)(nil)

// anomalies are events the clean session lacks: a gap, a desync, an
// unanswered request, a lone response, a decode error, a status no server
// defines, on a fourth connection.
func anomalies() []*decoder.Event {
	login, _ := protocol.LookupName("LoginUser")
	poll, _ := protocol.LookupName("PollMessages")
	c := netip.MustParseAddrPort("10.9.9.9:40000")
	s := netip.MustParseAddrPort("10.9.9.1:8090")
	return []*decoder.Event{
		{Kind: decoder.EventOpen, ConnID: 4, Client: c, Server: s, Flags: decoder.FlagMidStream},
		{Kind: decoder.EventGap, ConnID: 4, Client: c, Server: s, Dir: decoder.ToServer, Bytes: 1500},
		{Kind: decoder.EventGap, ConnID: 4, Client: c, Server: s, Dir: decoder.ToClient, Bytes: 20},
		{Kind: decoder.EventDesync, ConnID: 4, Client: c, Server: s, Dir: decoder.ToServer, Bytes: 77},
		{Kind: decoder.EventRequest, ConnID: 4, Client: c, Server: s, Code: login.Code, Command: login.Name,
			ReqBytes: 40, Flags: decoder.FlagResponseLost},
		{Kind: decoder.EventResponse, ConnID: 4, Client: c, Server: s, Status: 8, StatusName: "Disconnected",
			RespBytes: 8, Flags: decoder.FlagNoRequest | decoder.FlagUnsolicited},
		{Kind: decoder.EventPair, ConnID: 4, Client: c, Server: s, Code: poll.Code, Command: poll.Name,
			Status: 0, StatusName: "OK", ReqBytes: 50, RespBytes: 30, Latency: int64(3 * time.Second),
			Flags: decoder.FlagDecodeError, Error: "response: truncated"},
		{Kind: decoder.EventPair, ConnID: 4, Client: c, Server: s, Code: 7777,
			Status: 99999, ReqBytes: 8, RespBytes: 8, Latency: 1000, Flags: decoder.FlagUnknownCommand},
		{Kind: decoder.EventClose, ConnID: 4, Client: c, Server: s, Stats: &decoder.ConnStats{}},
	}
}

// expected computes, from the events, what the metrics must say.
type expected struct {
	requests    map[[2]string]float64 // command, status
	durCount    map[string]uint64
	durSum      map[string]float64
	messages    map[string]float64
	payload     map[string]float64
	bytes       map[string]float64
	events      map[string]float64
	conns       float64
	open        float64
	gaps        float64
	gapBytes    float64
	desyncBytes float64
	decodeErrs  float64
	unanswered  float64
	unmatched   float64
}

func expect(evs []*decoder.Event) *expected {
	e := &expected{
		requests: map[[2]string]float64{}, durCount: map[string]uint64{}, durSum: map[string]float64{},
		messages: map[string]float64{}, payload: map[string]float64{}, bytes: map[string]float64{},
		events: map[string]float64{},
	}
	cmdName := func(ev *decoder.Event) string {
		c, ok := protocol.Lookup(ev.Code)
		if ev.Kind == decoder.EventResponse || !ok {
			return "unknown"
		}
		return c.Name
	}
	statusName := func(ev *decoder.Event) string {
		if ev.StatusName == "" {
			return "unknown"
		}
		return ev.StatusName
	}
	for _, ev := range evs {
		e.events[ev.Kind.String()]++
		if ev.Flags&decoder.FlagDecodeError != 0 {
			e.decodeErrs++
		}
		switch ev.Kind {
		case decoder.EventPair:
			e.requests[[2]string{cmdName(ev), statusName(ev)}]++
			e.durCount[cmdName(ev)]++
			e.durSum[cmdName(ev)] += time.Duration(ev.Latency).Seconds()
			e.bytes["request"] += float64(ev.ReqBytes)
			e.bytes["response"] += float64(ev.RespBytes)
			if ev.Status == 0 && ev.Summary.MessageCount > 0 {
				e.messages[ev.Command] += float64(ev.Summary.MessageCount)
				e.payload[ev.Command] += float64(ev.Summary.PayloadBytes)
			}
		case decoder.EventRequest:
			e.requests[[2]string{cmdName(ev), "none"}]++
			e.bytes["request"] += float64(ev.ReqBytes)
			e.unanswered++
		case decoder.EventResponse:
			e.requests[[2]string{"unknown", statusName(ev)}]++
			e.bytes["response"] += float64(ev.RespBytes)
			e.unmatched++
		case decoder.EventOpen:
			e.conns++
			e.open++
		case decoder.EventClose:
			e.open--
		case decoder.EventGap:
			e.gaps++
			e.gapBytes += float64(ev.Bytes)
		case decoder.EventDesync:
			e.desyncBytes += float64(ev.Bytes)
		}
	}
	return e
}

// scrape fetches /metrics over HTTP and parses the text format.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// values maps the joined label values (in the given label order) of a
// counter or gauge family to the values.
func values(t *testing.T, fams map[string]*dto.MetricFamily, name string, labelNames ...string) map[string]float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("metric %s missing", name)
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		ls := labels(m)
		var key []string
		for _, n := range labelNames {
			key = append(key, ls[n])
		}
		var v float64
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		default:
			t.Fatalf("%s: type %s", name, f.GetType())
		}
		out[strings.Join(key, "|")] = v
	}
	return out
}

func single(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	v := values(t, fams, name)
	if len(v) != 1 {
		t.Fatalf("%s: %d series", name, len(v))
	}
	return v[""]
}

func startServer(t *testing.T, h http.Handler) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.ServeListener(ctx, ln, h) }()
	return ln.Addr().String(), func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeListener: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeListener did not return after its context ended")
		}
	}
}

func TestSessionScrape(t *testing.T) {
	evs := append(sessionEvents(t), anomalies()...)
	m := metrics.New(metrics.Options{})
	for _, ev := range evs {
		if err := m.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	m.SetCaptureStats(func() metrics.CaptureStats {
		return metrics.CaptureStats{RingDroppedRecords: 3, RingDroppedBytes: 4096, StateDropped: 1,
			SkippedBytes: 123456, RecordsMissing: 2, RecordsBad: 5}
	})
	m.AddExporter("otlp", func() uint64 { return 17 })
	m.AddExporter("otlp-logs", func() uint64 { return 1 })
	m.AddExporter("otlp-logs", func() uint64 { return 2 }) // replaces
	addr, stop := startServer(t, m.Handler())
	fams := scrape(t, addr)
	want := expect(evs)

	// Requests by command and status, every one.
	got := values(t, fams, "iggytrace_requests_total", "command", "status")
	if len(got) != len(want.requests) {
		t.Errorf("requests_total: %d series, want %d", len(got), len(want.requests))
	}
	for k, v := range want.requests {
		if got[k[0]+"|"+k[1]] != v {
			t.Errorf("requests_total{command=%q,status=%q} = %v, want %v", k[0], k[1], got[k[0]+"|"+k[1]], v)
		}
	}
	// The named examples: the session's failed and successful logins, and
	// the command outside the table.
	for _, k := range [][2]string{{"LoginUser", "InvalidCredentials"}, {"LoginUser", "OK"},
		{"LoginWithPersonalAccessToken", "InvalidPersonalAccessToken"}, {"unknown", "InvalidCommand"},
		{"LoginUser", "none"}, {"unknown", "Disconnected"}, {"unknown", "unknown"}} {
		if got[k[0]+"|"+k[1]] < 1 {
			t.Errorf("requests_total{command=%q,status=%q} = %v, want ≥ 1", k[0], k[1], got[k[0]+"|"+k[1]])
		}
	}
	if want.requests[[2]string{"LoginUser", "InvalidCredentials"}] != 1 {
		t.Errorf("the session has %v LoginUser InvalidCredentials, want 1", want.requests[[2]string{"LoginUser", "InvalidCredentials"}])
	}

	// Latency histogram: count and sum per command; buckets 10µs … 10s.
	h := fams["iggytrace_request_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatal("iggytrace_request_duration_seconds missing or not a histogram")
	}
	seen := 0
	for _, mt := range h.GetMetric() {
		cmd := labels(mt)["command"]
		hg := mt.GetHistogram()
		if hg.GetSampleCount() != want.durCount[cmd] {
			t.Errorf("duration{command=%q} count %d, want %d", cmd, hg.GetSampleCount(), want.durCount[cmd])
		}
		if math.Abs(hg.GetSampleSum()-want.durSum[cmd]) > 1e-9*math.Max(1, want.durSum[cmd]) {
			t.Errorf("duration{command=%q} sum %v, want %v", cmd, hg.GetSampleSum(), want.durSum[cmd])
		}
		b := hg.GetBucket()
		if len(b) != 20 || b[0].GetUpperBound() != 10e-6 || b[18].GetUpperBound() != 10 || !math.IsInf(b[19].GetUpperBound(), 1) {
			t.Errorf("duration{command=%q}: %d buckets from %v to %v", cmd, len(b), b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
		}
		if want.durCount[cmd] > 0 {
			seen++
		}
	}
	if seen != len(want.durCount) {
		t.Errorf("duration series with samples: %d, want %d", seen, len(want.durCount))
	}

	gotBytes := values(t, fams, "iggytrace_bytes_total", "direction")
	for d, v := range want.bytes {
		if gotBytes[d] != v {
			t.Errorf("bytes_total{direction=%q} = %v, want %v", d, gotBytes[d], v)
		}
	}
	for name, w := range map[string]map[string]float64{
		"iggytrace_messages_total":              want.messages,
		"iggytrace_message_payload_bytes_total": want.payload,
	} {
		g := values(t, fams, name, "command")
		for cmd, v := range w {
			if g[cmd] != v {
				t.Errorf("%s{command=%q} = %v, want %v", name, cmd, g[cmd], v)
			}
		}
		for cmd, v := range g {
			if _, ok := w[cmd]; !ok || v != w[cmd] {
				t.Errorf("%s{command=%q} = %v, want %v", name, cmd, v, w[cmd])
			}
		}
	}
	if want.messages["SendMessages"] < 200 || want.messages["PollMessages"] < 200 {
		t.Errorf("session messages: %v", want.messages)
	}
	gotEvents := values(t, fams, "iggytrace_events_total", "kind")
	for k, v := range want.events {
		if gotEvents[k] != v {
			t.Errorf("events_total{kind=%q} = %v, want %v", k, gotEvents[k], v)
		}
	}
	for name, v := range map[string]float64{
		"iggytrace_connections_total":         want.conns,
		"iggytrace_connections_open":          want.open,
		"iggytrace_stream_gaps_total":         want.gaps,
		"iggytrace_gap_bytes_total":           want.gapBytes,
		"iggytrace_desync_bytes_total":        want.desyncBytes,
		"iggytrace_decode_errors_total":       want.decodeErrs,
		"iggytrace_unanswered_requests_total": want.unanswered,
		"iggytrace_unmatched_responses_total": want.unmatched,
		// From the hooks.
		"iggytrace_ring_dropped_records_total":       3,
		"iggytrace_ring_dropped_bytes_total":         4096,
		"iggytrace_ring_dropped_state_records_total": 1,
		"iggytrace_capture_skipped_bytes_total":      123456,
		"iggytrace_capture_records_missing_total":    2,
		"iggytrace_capture_records_malformed_total":  5,
	} {
		if g := single(t, fams, name); g != v {
			t.Errorf("%s = %v, want %v", name, g, v)
		}
	}
	if want.conns != 4 || want.open != 0 {
		t.Errorf("expected connections: %v total, %v open", want.conns, want.open)
	}
	drops := values(t, fams, "iggytrace_exporter_dropped_total", "exporter")
	if len(drops) != 2 || drops["otlp"] != 17 || drops["otlp-logs"] != 2 {
		t.Errorf("exporter_dropped_total: %v", drops)
	}
	if fams["go_goroutines"] == nil {
		t.Error("runtime metrics missing")
	}
	checkCardinality(t, fams)

	// The metrics move with later events.
	m.Write(evs[len(evs)-len(anomalies())]) // an open
	if g := single(t, scrape(t, addr), "iggytrace_connections_open"); g != 1 {
		t.Errorf("connections_open after one more open: %v", g)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("server still answers after its context ended")
	}
}

// checkCardinality: label values come from the tables.
func checkCardinality(t *testing.T, fams map[string]*dto.MetricFamily) {
	commands := map[string]bool{"unknown": true}
	for _, c := range protocol.Commands() {
		commands[c.Name] = true
	}
	statuses := map[string]bool{"OK": true, "none": true, "unknown": true}
	for _, s := range protocol.Statuses() {
		statuses[s.Name] = true
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "iggytrace_") {
			continue
		}
		for _, m := range f.GetMetric() {
			ls := labels(m)
			if c, ok := ls["command"]; ok && !commands[c] {
				t.Errorf("%s: command label %q not from the table", name, c)
			}
			if s, ok := ls["status"]; ok && !statuses[s] {
				t.Errorf("%s: status label %q not from the table", name, s)
			}
		}
	}
}

func TestNoCaptureStats(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntime: true, Buckets: []float64{0.001, 1}})
	addr, stop := startServer(t, m.Handler())
	defer stop()
	fams := scrape(t, addr)
	for name := range fams {
		if strings.HasPrefix(name, "iggytrace_ring_") || strings.HasPrefix(name, "iggytrace_capture_") ||
			name == "iggytrace_exporter_dropped_total" || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Errorf("%s present without its source", name)
		}
	}
	// Counters without labels are there from the start, at 0.
	for _, name := range []string{"iggytrace_stream_gaps_total", "iggytrace_connections_total", "iggytrace_connections_open"} {
		if single(t, fams, name) != 0 {
			t.Errorf("%s not 0", name)
		}
	}
}

func TestWriteAllocs(t *testing.T) {
	evs := append(sessionEvents(t), anomalies()...)
	m := metrics.New(metrics.Options{NoRuntime: true})
	for _, ev := range evs { // first sight of each command and status
		m.Write(ev)
	}
	allocs := testing.AllocsPerRun(10, func() {
		for _, ev := range evs {
			m.Write(ev)
		}
	})
	if allocs != 0 {
		t.Errorf("Write allocates %.1f times per pass over the session", allocs)
	}
}

func TestServe(t *testing.T) {
	m := metrics.New(metrics.Options{})
	if err := metrics.Serve(context.Background(), "256.0.0.1:0", m.Handler()); err == nil {
		t.Error("Serve on a bad address returned nil")
	}
	// Find a free port, then Serve on it by address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, addr, m.Handler()) }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "/metrics") {
		t.Errorf("index page: %q", body)
	}
	if r, err := http.Get("http://" + addr + "/nope"); err != nil || r.StatusCode != 404 {
		t.Errorf("GET /nope: %v %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestConcurrentScrape: scrapes and hooks run while events are written
// (run with -race).
func TestConcurrentScrape(t *testing.T) {
	evs := append(sessionEvents(t), anomalies()...)
	m := metrics.New(metrics.Options{NoRuntime: true})
	addr, stop := startServer(t, m.Handler())
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 5; i++ {
			for _, ev := range evs {
				m.Write(ev)
			}
		}
	}()
	for i := 0; i < 5; i++ {
		m.AddExporter("x", func() uint64 { return uint64(i) })
		m.SetCaptureStats(func() metrics.CaptureStats { return metrics.CaptureStats{RingDroppedRecords: 1} })
		scrape(t, addr)
	}
	<-done
	fams := scrape(t, addr)
	if got := single(t, fams, "iggytrace_connections_total"); got != 5*4 {
		t.Errorf("connections_total %v, want 20", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	evs := sessionEvents(b)
	m := metrics.New(metrics.Options{NoRuntime: true})
	for _, ev := range evs {
		m.Write(ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Write(evs[i%len(evs)])
	}
}

// sessionEvents decodes the real capture of a full SDK session.
func sessionEvents(t testing.TB) []*decoder.Event {
	evs, _ := sessiontest.Events(t, nil)
	return evs
}
