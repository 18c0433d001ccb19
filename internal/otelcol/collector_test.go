package otelcol_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/iggytrace/iggytrace/internal/otelcol"
)

// TestRoundTrip: what is sent to the Collector's OTLP/HTTP receiver comes
// back from Received, and Stop ends the process.
func TestRoundTrip(t *testing.T) {
	col := otelcol.Start(t)
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8),
			Name: "round trip", StartTimeUnixNano: 1, EndTimeUnixNano: 2,
		}}}},
	}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(col.HTTPEndpoint+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	got := col.WaitFor(10*time.Second, func(r otelcol.Received) bool { return len(r.Spans()) == 1 })
	if s := got.Spans()[0]; s.Name != "round trip" || s.EndTimeUnixNano != 2 {
		t.Errorf("received %v", s.Span)
	}
	col.Stop()
	if _, err := http.Post(col.HTTPEndpoint+"/v1/traces", "application/x-protobuf", bytes.NewReader(body)); err == nil {
		t.Error("the Collector still answers after Stop")
	}
}
