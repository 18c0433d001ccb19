package otlp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/export/otlp"

	"github.com/iggytrace/iggytrace/internal/otelcol"
	"github.com/iggytrace/iggytrace/internal/sessiontest"
)

// TestMain runs the tests without the OTEL_* settings of the environment
// (a sampler or an endpoint there would change what the tests expect);
// the tests that are about them set their own.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

// sessionEvents decodes the real capture of a full SDK session
// (internal/capturegen) into the events every sink receives.
func sessionEvents(t testing.TB) ([]*decoder.Event, decoder.Stats) {
	t.Helper()
	return sessionEventsWithLoss(t, nil)
}

// lossySession is the session as a lossy capture would have it: two
// response segments and a request segment missing, and a request's length
// field garbled. It has every kind of event: pairs (some flagged), an
// unanswered request, unmatched responses, gaps in both directions and a
// desync, besides opens and closes.
func lossySession(t testing.TB) ([]*decoder.Event, decoder.Stats) {
	t.Helper()
	var nIn, nOut int
	evs, st := sessionEventsWithLoss(t, func(seg *decoder.Segment) bool {
		if seg.Len == 0 {
			return false
		}
		if seg.Dir == decoder.ToClient {
			nOut++
			return nOut == 30 || nOut == 60
		}
		nIn++
		if nIn == 110 && len(seg.Data) >= 4 {
			copy(seg.Data, []byte{0xff, 0xff, 0xff, 0xff})
		}
		return nIn == 90
	})
	if st.Gaps == 0 || st.Unanswered == 0 || st.Unmatched == 0 || st.DesyncBytes == 0 {
		t.Fatalf("the lossy session lacks a kind of event: %+v", st)
	}
	return evs, st
}

func isExchange(ev *decoder.Event) bool {
	return ev.Kind == decoder.EventPair || ev.Kind == decoder.EventRequest || ev.Kind == decoder.EventResponse
}

// attrMap flattens OTLP attributes to Go values: string, int64, float64,
// bool, []string.
func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = anyValue(kv.Value)
	}
	return m
}

func anyValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_ArrayValue:
		var out []string
		for _, e := range x.ArrayValue.Values {
			out = append(out, e.GetStringValue())
		}
		return out
	}
	return nil
}

// logRecorder is a slog.Handler that keeps the records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level {
			n++
		}
	}
	return n
}

func (h *logRecorder) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s string
	for _, r := range h.recs {
		s += r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		s += "\n"
	}
	return s
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackHole listens and accepts connections but never reads or answers:
// an endpoint that is up and hopelessly slow.
func blackHole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// writeTimes are the durations of a run of Writes.
type writeTimes struct {
	max, p99 time.Duration
	// slow counts the Writes that took more than slowWrite.
	slow int
	n    int
}

// slowWrite: a Write that waited on the network would take at least an
// exporter timeout (200 ms and more in these tests).
const slowWrite = 20 * time.Millisecond

func (w writeTimes) String() string {
	return fmt.Sprintf("%d Writes: longest %v, p99 %v, %d over %v", w.n, w.max, w.p99, w.slow, slowWrite)
}

func (w writeTimes) merge(o writeTimes) writeTimes {
	return writeTimes{max: max(w.max, o.max), p99: max(w.p99, o.p99), slow: w.slow + o.slow, n: w.n + o.n}
}

// timedWrites writes evs n times over, timing each Write.
func timedWrites(t testing.TB, w interface{ Write(*decoder.Event) error }, evs []*decoder.Event, n int) writeTimes {
	t.Helper()
	ds := make([]time.Duration, 0, n*len(evs))
	for range n {
		for _, ev := range evs {
			start := time.Now()
			if err := w.Write(ev); err != nil {
				t.Fatalf("Write: %v", err)
			}
			ds = append(ds, time.Since(start))
		}
	}
	slices.Sort(ds)
	wt := writeTimes{max: ds[len(ds)-1], p99: ds[len(ds)*99/100], n: len(ds)}
	for _, d := range ds {
		if d > slowWrite {
			wt.slow++
		}
	}
	return wt
}

// sessionEventsWithLoss decodes the session with the segments drop
// selects left out, as a lossy capture would.
func sessionEventsWithLoss(t testing.TB, drop func(seg *decoder.Segment) bool) ([]*decoder.Event, decoder.Stats) {
	return sessiontest.Events(t, drop)
}

// eachProtocol runs fn once per OTLP protocol (gRPC, HTTP), in a subtest,
// with a Sink to the real Collector col made from cfg (completed with the
// endpoint, the protocol and a logger writing to logs) and what col had
// received before.
func eachProtocol(t *testing.T, col *otelcol.Collector, cfg otlp.Config,
	fn func(t *testing.T, sink *otlp.Sink, logs *logRecorder, before otelcol.Received)) {
	for _, tc := range []struct {
		protocol, endpoint string
	}{
		{otlp.ProtocolGRPC, "http://" + col.GRPCEndpoint},
		{otlp.ProtocolHTTP, col.HTTPEndpoint},
	} {
		t.Run(strings.ReplaceAll(tc.protocol, "/", "_"), func(t *testing.T) {
			before := col.Received()
			logs := &logRecorder{}
			c := cfg
			c.Endpoint, c.Protocol, c.Logger = tc.endpoint, tc.protocol, slog.New(logs)
			sink, err := otlp.New(c)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, sink, logs, before)
		})
	}
}
