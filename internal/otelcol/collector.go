// Package otelcol runs a real OpenTelemetry Collector for tests: the one
// scripts/build-collector.sh builds from builder-config.yaml (the core otlp
// receiver, gRPC and HTTP, and the core otlphttp exporter, v0.162.0).
//
// Start launches it on free loopback ports with a generated configuration
// whose only exporter forwards everything, as OTLP/HTTP protobuf, to a small
// receiver in the test process; Received returns what arrived there, decoded.
// The receiver under test is the Collector's: the in-process one only lets
// the test read back what the Collector accepted.
//
// When the binary is missing, Start skips the test, or fails it when
// CI=true, saying how to build it (scripts/build-collector.sh; `make deps`).
package otelcol

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/iggytrace/iggytrace/internal/citest"
)

// Version is the Collector release the binary is built from.
const Version = "v0.162.0"

// binaryName is dist.name in builder-config.yaml.
const binaryName = "otelcol-iggytrace"

// Binary returns the path of the Collector binary: $IGGYTRACE_OTELCOL if
// set, else otelcol-iggytrace in $IGGYTRACE_OTELCOL_DIR or
// ${XDG_CACHE_HOME:-$HOME/.cache}/iggytrace/otelcol-v0.162.0 (where
// scripts/build-collector.sh puts it). The error says how to build it.
func Binary() (string, error) {
	path := os.Getenv("IGGYTRACE_OTELCOL")
	if path == "" {
		dir := os.Getenv("IGGYTRACE_OTELCOL_DIR")
		if dir == "" {
			cache := os.Getenv("XDG_CACHE_HOME")
			if cache == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return "", fmt.Errorf("OpenTelemetry Collector: no cache directory: %w", err)
				}
				cache = filepath.Join(home, ".cache")
			}
			dir = filepath.Join(cache, "iggytrace", "otelcol-"+Version)
		}
		path = filepath.Join(dir, binaryName)
	}
	st, err := os.Stat(path)
	if err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return path, nil
	}
	return "", fmt.Errorf("OpenTelemetry Collector %s not found at %s: build it with scripts/build-collector.sh (make deps)", Version, path)
}

// Collector is a running Collector and the receiver behind its exporter.
type Collector struct {
	// GRPCEndpoint is the otlp receiver's gRPC address, "127.0.0.1:port".
	GRPCEndpoint string
	// HTTPEndpoint is the otlp receiver's HTTP base URL,
	// "http://127.0.0.1:port" (signals at /v1/traces, /v1/logs, /v1/metrics).
	HTTPEndpoint string

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncBuffer
	sink   *receiver
	srv    *http.Server

	stopOnce sync.Once
}

// Start starts a Collector for t and stops it when t ends. It skips t (fails
// it when CI=true) if the binary is missing, and fails t if the Collector
// does not report ready within 60 s.
func Start(t testing.TB) *Collector {
	t.Helper()
	bin, err := Binary()
	citest.Need(t, err)

	// The receiver the Collector's otlphttp exporter forwards to.
	rcv := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	grpcPort, httpPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(configTemplate, grpcPort, httpPort, ln.Addr().String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	c := &Collector{
		GRPCEndpoint: fmt.Sprintf("127.0.0.1:%d", grpcPort),
		HTTPEndpoint: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		t:            t,
		exited:       make(chan struct{}),
		out:          &syncBuffer{},
		sink:         rcv,
		srv:          srv,
	}
	cmd := exec.Command(bin, "--config", "file:"+cfgPath)
	// The Collector must not pick up the test's own OTEL_* settings.
	cmd.Env = cleanEnv()
	// Dies with the test binary, even one killed before its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		srv.Close()
		t.Fatalf("starting the Collector: %v", err)
	}
	c.cmd = cmd
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			c.out.WriteLine(line)
			if strings.Contains(line, "Everything is ready") {
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(c.exited)
	}()
	t.Cleanup(c.Stop)

	select {
	case <-ready:
	case <-c.exited:
		t.Fatalf("the Collector exited at start:\n%s", c.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the Collector did not report ready within 60s:\n%s", c.out.String())
	}
	// Ready means the receivers listen; check, for the record.
	for _, addr := range []string{c.GRPCEndpoint, strings.TrimPrefix(c.HTTPEndpoint, "http://")} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("the Collector does not listen on %s: %v\n%s", addr, err, c.out.String())
		}
		conn.Close()
	}
	return c
}

// configTemplate: the otlp receiver on the two ports, the otlphttp exporter
// to the in-process receiver with no queue and no retries (what the
// Collector accepted is forwarded at once), and no telemetry of its own
// on any port.
const configTemplate = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
exporters:
  otlp_http:
    endpoint: http://%s
    encoding: proto
    compression: none
    timeout: 10s
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http]
    logs:
      receivers: [otlp]
      exporters: [otlp_http]
    metrics:
      receivers: [otlp]
      exporters: [otlp_http]
`

// Stop stops the Collector (SIGTERM, so that it shuts down its pipelines;
// SIGKILL after 10 s) and the receiver behind it. Safe to call twice; t's
// cleanup calls it.
func (c *Collector) Stop() {
	c.stopOnce.Do(func() {
		if c.cmd.Process != nil {
			c.cmd.Process.Signal(syscall.SIGCONT) // in case it is paused
			c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				c.cmd.Process.Kill()
				<-c.exited
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.srv.Shutdown(ctx)
	})
}

// Pause stops the Collector's process (SIGSTOP): its sockets stay open and
// accept connections, but nothing answers. Resume continues it.
func (c *Collector) Pause() {
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatalf("pausing the Collector: %v", err)
	}
}

// Resume continues a paused Collector (SIGCONT).
func (c *Collector) Resume() {
	if err := c.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatalf("resuming the Collector: %v", err)
	}
}

// Output returns what the Collector printed (its own logs).
func (c *Collector) Output() string { return c.out.String() }

// Received returns a copy of everything the Collector has forwarded so far.
func (c *Collector) Received() Received { return c.sink.snapshot() }

// WaitFor polls Received until done returns true, and returns the last
// snapshot; it fails t after timeout.
func (c *Collector) WaitFor(timeout time.Duration, done func(Received) bool) Received {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := c.Received()
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the Collector did not forward the expected data within %v (%d spans, %d log records, %d metric exports so far)\n%s",
				timeout, len(r.Spans()), len(r.LogRecords()), len(r.Metrics), c.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Received is what the Collector forwarded, one entry per export request it
// made, decoded from OTLP protobuf, and the raw request bodies.
type Received struct {
	Traces  []*coltracepb.ExportTraceServiceRequest
	Logs    []*collogspb.ExportLogsServiceRequest
	Metrics []*colmetricspb.ExportMetricsServiceRequest
	// Raw holds every request body as received, for searches that must see
	// every byte (e.g. that no secret is in anything exported).
	Raw [][]byte
}

// Span is a span with the resource and scope it was exported under.
type Span struct {
	Resource *tracepb.ResourceSpans
	Scope    *tracepb.ScopeSpans
	*tracepb.Span
}

// Spans flattens every span received, in order of arrival.
func (r Received) Spans() []Span {
	var out []Span
	for _, req := range r.Traces {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, Span{rs, ss, s})
				}
			}
		}
	}
	return out
}

// LogRecord is a log record with the resource and scope it was exported under.
type LogRecord struct {
	Resource *logspb.ResourceLogs
	Scope    *logspb.ScopeLogs
	*logspb.LogRecord
}

// LogRecords flattens every log record received, in order of arrival.
func (r Received) LogRecords() []LogRecord {
	var out []LogRecord
	for _, req := range r.Logs {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, l := range sl.LogRecords {
					out = append(out, LogRecord{rl, sl, l})
				}
			}
		}
	}
	return out
}

// Metric is a metric with the resource and scope it was exported under.
type Metric struct {
	Resource *metricspb.ResourceMetrics
	Scope    *metricspb.ScopeMetrics
	*metricspb.Metric
}

// LastMetrics returns, per metric name, the metric of the last export that
// had it: with cumulative temporality, the final values.
func (r Received) LastMetrics() map[string]Metric {
	out := map[string]Metric{}
	for _, req := range r.Metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					out[m.Name] = Metric{rm, sm, m}
				}
			}
		}
	}
	return out
}

// receiver is a minimal OTLP/HTTP protobuf receiver: it decodes and keeps
// every request and answers success.
type receiver struct {
	mu sync.Mutex
	r  Received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg, resp proto.Message
	switch req.URL.Path {
	case "/v1/traces":
		msg, resp = &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceResponse{}
	case "/v1/logs":
		msg, resp = &collogspb.ExportLogsServiceRequest{}, &collogspb.ExportLogsServiceResponse{}
	case "/v1/metrics":
		msg, resp = &colmetricspb.ExportMetricsServiceRequest{}, &colmetricspb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, req)
		return
	}
	if err := proto.Unmarshal(body, msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	switch m := msg.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		rc.r.Traces = append(rc.r.Traces, m)
	case *collogspb.ExportLogsServiceRequest:
		rc.r.Logs = append(rc.r.Logs, m)
	case *colmetricspb.ExportMetricsServiceRequest:
		rc.r.Metrics = append(rc.r.Metrics, m)
	}
	rc.r.Raw = append(rc.r.Raw, body)
	rc.mu.Unlock()
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (rc *receiver) snapshot() Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return Received{
		Traces:  append([]*coltracepb.ExportTraceServiceRequest(nil), rc.r.Traces...),
		Logs:    append([]*collogspb.ExportLogsServiceRequest(nil), rc.r.Logs...),
		Metrics: append([]*colmetricspb.ExportMetricsServiceRequest(nil), rc.r.Metrics...),
		Raw:     append([][]byte(nil), rc.r.Raw...),
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cleanEnv is the environment without OTEL_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer collects the Collector's output lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.WriteString(line)
		s.b.WriteByte('\n')
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
