package otlp

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/iggytrace/iggytrace/decoder"
)

// clearEnv unsets every OTEL_ variable for the test.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func mustTarget(t *testing.T, cfg Config, g signal) target {
	t.Helper()
	s, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s.target(g)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestPrecedence: a Config field overrides the environment, which
// overrides the default; a signal's variable overrides the generic one.
func TestPrecedence(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		clearEnv(t)
		tg := mustTarget(t, Config{}, sigTraces)
		if tg.protocol != ProtocolHTTP || tg.url != "http://localhost:4318/v1/traces" || tg.timeout != 10*time.Second {
			t.Errorf("default target %+v", tg)
		}
		tg = mustTarget(t, Config{Protocol: ProtocolGRPC}, sigLogs)
		if tg.url != "http://localhost:4317" {
			t.Errorf("default gRPC target %+v", tg)
		}
		s, _ := Config{}.resolve()
		if s.QueueSize != defaultQueueSize || s.BatchSize != defaultBatchSize || s.BatchDelay != defaultBatchDelay ||
			s.MetricInterval != defaultMetricInterval || s.CloseTimeout != defaultCloseTimeout || s.retry.maxElapsed != defaultRetryElapsed {
			t.Errorf("defaults %+v", s)
		}
	})
	t.Run("environment", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
		t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
		t.Setenv("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "700")
		t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
		t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
		t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
		t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
		tr := mustTarget(t, Config{}, sigTraces)
		if tr.protocol != ProtocolGRPC || tr.url != "" || tr.hostPort != "" || tr.display != "http://collector:4317" || tr.timeout != 2500*time.Millisecond {
			t.Errorf("traces from the environment: %+v", tr)
		}
		if lg := mustTarget(t, Config{}, sigLogs); lg.timeout != 700*time.Millisecond {
			t.Errorf("logs timeout %v, want OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", lg.timeout)
		}
		m := mustTarget(t, Config{}, sigMetrics)
		if m.protocol != ProtocolHTTP || m.display != "http://collector:4317/v1/metrics" {
			t.Errorf("metrics: signal variable should win: %+v", m)
		}
		s, _ := Config{}.resolve()
		if s.QueueSize != 100 || s.BatchSize != 10 || s.BatchDelay != 50*time.Millisecond || s.MetricInterval != time.Second {
			t.Errorf("batching from the environment: %+v", s)
		}
		// Flags win.
		cfg := Config{Protocol: ProtocolHTTP, Endpoint: "https://flag:443/base/", Timeout: time.Second, QueueSize: 7, BatchDelay: time.Minute}
		tr = mustTarget(t, cfg, sigTraces)
		if tr.protocol != ProtocolHTTP || tr.url != "https://flag:443/base/v1/traces" || tr.timeout != time.Second {
			t.Errorf("flags should win: %+v", tr)
		}
		if s, _ := cfg.resolve(); s.QueueSize != 7 || s.BatchDelay != time.Minute || s.BatchSize != 10 {
			t.Errorf("flags should win: %+v", s)
		}
		tr = mustTarget(t, Config{Protocol: ProtocolGRPC, Endpoint: "collector.example:4317", Insecure: true}, sigTraces)
		if tr.hostPort != "collector.example:4317" || !tr.insecure || tr.url != "" {
			t.Errorf("host:port endpoint: %+v", tr)
		}
		tr = mustTarget(t, Config{Protocol: ProtocolGRPC, Endpoint: "http://collector:4317/ignored"}, sigTraces)
		if tr.url != "http://collector:4317" {
			t.Errorf("gRPC URL endpoint: %+v", tr)
		}
	})
	t.Run("headers", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20env,x-a=1")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-a=2,x-b=3")
		if tg := mustTarget(t, Config{}, sigTraces); tg.headers != nil {
			t.Errorf("without flags the SDK reads the headers itself: %v", tg.headers)
		}
		tg := mustTarget(t, Config{Headers: map[string]string{"x-b": "flag", "x-c": "4"}}, sigTraces)
		want := map[string]string{"authorization": "Bearer env", "x-a": "2", "x-b": "flag", "x-c": "4"}
		if !maps.Equal(tg.headers, want) {
			t.Errorf("headers %v, want %v", tg.headers, want)
		}
	})
	t.Run("errors", func(t *testing.T) {
		clearEnv(t)
		for _, cfg := range []Config{
			{Protocol: "http/json"}, {Protocol: "udp"}, {Compression: "zstd"},
		} {
			if _, err := New(cfg); err == nil {
				t.Errorf("New(%+v) accepted", cfg)
			}
		}
		if _, err := New(Config{Endpoint: "ftp://x:1"}); err == nil {
			t.Error("an ftp endpoint was accepted")
		}
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")
		if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "environment") {
			t.Errorf("a bad protocol in the environment: %v", err)
		}
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
		t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
		if _, err := New(Config{}); err == nil {
			t.Error("a bad OTEL_BSP_MAX_QUEUE_SIZE was accepted")
		}
	})
}

// TestResource: service.name is iggytrace unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise (OTEL_SERVICE_NAME first).
func TestResource(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "iggytrace"},
		{map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment.name=test"}, "from-attrs"},
		{map[string]string{"OTEL_SERVICE_NAME": "from-name", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"}, "from-name"},
	} {
		clearEnv(t)
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		res, err := newResource()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := res.Set().Value(attribute.Key("service.name"))
		if got.AsString() != tc.want {
			t.Errorf("env %v: service.name %q, want %q", tc.env, got.AsString(), tc.want)
		}
		if v, _ := res.Set().Value("telemetry.sdk.language"); v.AsString() != "go" {
			t.Errorf("env %v: no telemetry.sdk attributes: %v", tc.env, res)
		}
		if tc.env != nil && strings.Contains(tc.env["OTEL_RESOURCE_ATTRIBUTES"], "deployment") {
			if v, _ := res.Set().Value("deployment.environment.name"); v.AsString() != "test" {
				t.Errorf("OTEL_RESOURCE_ATTRIBUTES not applied: %v", res)
			}
		}
	}
}

// TestSDKDisabled: OTEL_SDK_DISABLED=true turns every signal off; the sink
// still counts the events it is given.
func TestSDKDisabled(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_SDK_DISABLED", "true")
	s, err := New(Config{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "otlp: no signal enabled" {
		t.Errorf("String() = %q", s)
	}
	if err := s.Write(&decoder.Event{Kind: decoder.EventOpen}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Events != 1 || st.Dropped() != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
