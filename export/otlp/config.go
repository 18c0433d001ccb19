package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The protocols an exporter speaks (OTEL_EXPORTER_OTLP_PROTOCOL values).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Config configures a Sink. The zero value sends traces, logs and metrics
// to what the OTEL_EXPORTER_OTLP_* environment variables say, or else to
// http://localhost:4318 over OTLP/HTTP.
//
// Precedence, for every setting: a non-zero field of Config (a command-line
// flag) overrides the environment, which overrides the default. Signal-
// specific variables (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ..._LOGS_...,
// ..._METRICS_...) override the generic ones, as the specification says.
// docs/otlp.md lists the variables.
type Config struct {
	// Endpoint is where all three signals go: a URL ("http://host:4318",
	// "https://collector.example:4317", with an optional base path for
	// OTLP/HTTP, to which /v1/traces, /v1/logs, /v1/metrics are appended)
	// or "host:port" (TLS unless Insecure or OTEL_EXPORTER_OTLP_INSECURE).
	// An http:// URL means plaintext, https:// means TLS. Empty: the
	// OTEL_EXPORTER_OTLP_[SIGNAL_]ENDPOINT variables, or else
	// http://localhost:4318 (http/protobuf) or http://localhost:4317 (grpc).
	Endpoint string
	// Protocol is "grpc" or "http/protobuf". Empty: the
	// OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL variables, or else http/protobuf.
	Protocol string
	// Insecure forces plaintext (no TLS). False leaves it to the endpoint's
	// scheme and OTEL_EXPORTER_OTLP_[SIGNAL_]INSECURE.
	Insecure bool
	// Headers are sent with every export (e.g. an authorization header).
	// They are merged with OTEL_EXPORTER_OTLP_HEADERS and
	// OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS; a key set here wins. Header
	// values are never logged.
	Headers map[string]string
	// Timeout bounds one export attempt. Zero:
	// OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT (ms), or else 10 s. (The SDK's
	// gRPC exporters apply their timeout to an export with all its
	// retries; iggytrace gives them Timeout + RetryMaxElapsed.)
	Timeout time.Duration
	// Compression is "gzip" or "none". Empty: OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION,
	// or else none.
	Compression string

	// NoTraces, NoLogs, NoMetrics turn the signals off one by one.
	NoTraces, NoLogs, NoMetrics bool

	// QueueSize bounds the events waiting to become spans and log records;
	// Write drops (and counts) an event when it is full. Zero:
	// OTEL_BSP_MAX_QUEUE_SIZE, or else 8192.
	QueueSize int
	// BatchSize is the most spans or log records one export carries. Zero:
	// OTEL_BSP_MAX_EXPORT_BATCH_SIZE, or else 512.
	BatchSize int
	// BatchDelay is the longest a span or log record waits for its batch to
	// fill. Zero: OTEL_BSP_SCHEDULE_DELAY (ms), or else 1 s.
	BatchDelay time.Duration
	// MetricInterval is the period of metric exports. Zero:
	// OTEL_METRIC_EXPORT_INTERVAL (ms), or else 10 s.
	MetricInterval time.Duration
	// RetryMaxElapsed bounds the retries of one failed export (exponential
	// backoff from 1 s to 5 s between tries, less for a budget under 10 s),
	// after which its spans or log records are dropped and counted. Zero:
	// 30 s; negative: no retries.
	RetryMaxElapsed time.Duration
	// CloseTimeout bounds Flush and Close. Zero: 5 s.
	CloseTimeout time.Duration

	// Logger receives the sink's warnings (at most one a minute while
	// telemetry is being dropped) and notes. Nil: slog.Default().
	Logger *slog.Logger
}

// Defaults applied after the environment.
const (
	defaultQueueSize      = 8192
	defaultBatchSize      = 512
	defaultBatchDelay     = time.Second
	defaultMetricInterval = 10 * time.Second
	defaultRetryElapsed   = 30 * time.Second
	defaultCloseTimeout   = 5 * time.Second
	defaultTimeout        = 10 * time.Second // the SDK's
	// minQueueBatches is the least number of batches that may wait for
	// each signal's exporter (QueueSize/BatchSize if more); beyond that a
	// batch is dropped and counted.
	minQueueBatches = 4
)

// settings is a Config with the environment and the defaults applied.
type settings struct {
	Config
	retry retrySettings
}

type retrySettings struct {
	enabled                  bool
	initial, max, maxElapsed time.Duration
}

func (c Config) resolve() (settings, error) {
	s := settings{Config: c}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Protocol != "" {
		if err := checkProtocol(s.Protocol); err != nil {
			return s, err
		}
	}
	switch strings.ToLower(s.Compression) {
	case "", "gzip", "none":
	default:
		return s, fmt.Errorf("otlp: unknown compression %q (want gzip or none)", s.Compression)
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		s.NoTraces, s.NoLogs, s.NoMetrics = true, true, true
		s.Logger.Info("otlp: OTEL_SDK_DISABLED=true, nothing is exported")
	}
	var err error
	if s.QueueSize <= 0 {
		s.QueueSize, err = envInt("OTEL_BSP_MAX_QUEUE_SIZE", defaultQueueSize)
	}
	if s.BatchSize <= 0 && err == nil {
		s.BatchSize, err = envInt("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", defaultBatchSize)
	}
	if s.BatchDelay <= 0 && err == nil {
		s.BatchDelay, err = envMillis("OTEL_BSP_SCHEDULE_DELAY", defaultBatchDelay)
	}
	if s.MetricInterval <= 0 && err == nil {
		s.MetricInterval, err = envMillis("OTEL_METRIC_EXPORT_INTERVAL", defaultMetricInterval)
	}
	if err != nil {
		return s, err
	}
	if s.CloseTimeout <= 0 {
		s.CloseTimeout = defaultCloseTimeout
	}
	s.retry = retrySettings{enabled: s.RetryMaxElapsed >= 0, initial: time.Second, max: 5 * time.Second, maxElapsed: s.RetryMaxElapsed}
	if s.retry.maxElapsed == 0 {
		s.retry.maxElapsed = defaultRetryElapsed
	}
	if !s.retry.enabled {
		s.retry.maxElapsed = 0
	}
	// Short retry budgets (tests) get proportionally short intervals.
	s.retry.initial = min(s.retry.initial, max(s.retry.maxElapsed/5, 10*time.Millisecond))
	s.retry.max = min(s.retry.max, max(s.retry.maxElapsed/2, 10*time.Millisecond))
	return s, nil
}

func checkProtocol(p string) error {
	switch p {
	case ProtocolGRPC, ProtocolHTTP:
		return nil
	case "http/json":
		return errors.New("otlp: protocol http/json is not supported (want grpc or http/protobuf)")
	}
	return fmt.Errorf("otlp: unknown protocol %q (want grpc or http/protobuf)", p)
}

func envInt(name string, def int) (int, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("otlp: %s=%q: want a positive integer", name, v)
	}
	return n, nil
}

func envMillis(name string, def time.Duration) (time.Duration, error) {
	n, err := envInt(name, -1)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return def, nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// signal is one of traces, logs, metrics, as the variables and paths name them.
type signal string

const (
	sigTraces  signal = "traces"
	sigLogs    signal = "logs"
	sigMetrics signal = "metrics"
)

func (g signal) env(suffix string) string {
	return "OTEL_EXPORTER_OTLP_" + strings.ToUpper(string(g)) + "_" + suffix
}

// getenv returns the signal's variable, or else the generic one.
func (g signal) getenv(suffix string) string {
	if v := strings.TrimSpace(os.Getenv(g.env(suffix))); v != "" {
		return v
	}
	return strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_" + suffix))
}

// target is where one signal goes and how.
type target struct {
	protocol string
	// url, when not empty, is passed as WithEndpointURL: the full URL for
	// OTLP/HTTP (signal path included), scheme://host:port for gRPC.
	url string
	// hostPort, when not empty, is passed as WithEndpoint.
	hostPort string
	// neither: the SDK reads the environment.
	display  string // for messages
	insecure bool   // WithInsecure
	headers  map[string]string
	// timeout of one attempt, as Config, the environment or the default
	// set it.
	timeout time.Duration
}

// exportDeadline bounds one export call, retries included, whatever the
// protocol: the retry budget and one more attempt.
func (t *target) exportDeadline(s *settings) time.Duration {
	return s.retry.maxElapsed + t.timeout + time.Second
}

// grpcTimeout is what the gRPC exporters get as their timeout, which
// covers the retries.
func (t *target) grpcTimeout(s *settings) time.Duration {
	return s.retry.maxElapsed + t.timeout
}

func (s *settings) target(g signal) (target, error) {
	t := target{protocol: s.Protocol, insecure: s.Insecure}
	if t.protocol == "" {
		t.protocol = g.getenv("PROTOCOL")
		if t.protocol == "" {
			t.protocol = ProtocolHTTP
		}
		if err := checkProtocol(t.protocol); err != nil {
			return t, fmt.Errorf("%w (from the environment)", err)
		}
	}
	t.timeout = s.Timeout
	if t.timeout <= 0 {
		var err error
		if t.timeout, err = envMillis(g.env("TIMEOUT"), 0); err != nil {
			return t, err
		}
		if t.timeout == 0 {
			if t.timeout, err = envMillis("OTEL_EXPORTER_OTLP_TIMEOUT", defaultTimeout); err != nil {
				return t, err
			}
		}
	}
	path := "/v1/" + string(g)
	switch {
	case s.Endpoint != "":
		if strings.Contains(s.Endpoint, "://") {
			u, err := url.Parse(s.Endpoint)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return t, fmt.Errorf("otlp: bad endpoint %q: want http://host:port, https://host:port or host:port", s.Endpoint)
			}
			if t.protocol == ProtocolHTTP {
				t.url = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/") + path
			} else {
				t.url = u.Scheme + "://" + u.Host
			}
			t.display = t.url
		} else {
			t.hostPort = s.Endpoint
			t.display = s.Endpoint
		}
	case os.Getenv(g.env("ENDPOINT")) != "":
		t.display = os.Getenv(g.env("ENDPOINT"))
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		t.display = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		if t.protocol == ProtocolHTTP {
			t.display = strings.TrimSuffix(t.display, "/") + path
		}
	default:
		if t.protocol == ProtocolHTTP {
			t.url = "http://localhost:4318" + path
		} else {
			t.url = "http://localhost:4317"
		}
		t.display = t.url
	}
	if len(s.Headers) > 0 {
		t.headers = map[string]string{}
		for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", g.env("HEADERS")} {
			for k, v := range parseHeaders(os.Getenv(name)) {
				t.headers[k] = v
			}
		}
		for k, v := range s.Headers {
			t.headers[k] = v
		}
	}
	return t, nil
}

// parseHeaders reads the W3C-baggage-like list of OTEL_EXPORTER_OTLP_HEADERS:
// key1=value1,key2=value2, values percent-encoded. Malformed entries are
// skipped, as the SDK does.
func parseHeaders(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			out[k] = dv
		}
	}
	return out
}

func (s *settings) gzip() (set, on bool) {
	switch strings.ToLower(s.Compression) {
	case "gzip":
		return true, true
	case "none":
		return true, false
	}
	return false, false
}

// The exporters of the three signals, for either protocol. Options are
// passed only for what Config sets (or for the defaults the environment
// does not cover), so that the SDK's reading of the environment stays in
// force for everything else.

func newTraceExporter(ctx context.Context, s *settings, t target) (sdktrace.SpanExporter, error) {
	setGzip, gz := s.gzip()
	if t.protocol == ProtocolGRPC {
		var o []otlptracegrpc.Option
		if t.url != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(t.url))
		}
		if t.hostPort != "" {
			o = append(o, otlptracegrpc.WithEndpoint(t.hostPort))
		}
		if t.insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		if t.headers != nil {
			o = append(o, otlptracegrpc.WithHeaders(t.headers))
		}
		o = append(o, otlptracegrpc.WithTimeout(t.grpcTimeout(s)))
		if setGzip {
			o = append(o, otlptracegrpc.WithCompressor(map[bool]string{true: "gzip", false: "none"}[gz]))
		}
		o = append(o, otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(s.retryConfig())))
		return otlptracegrpc.New(ctx, o...)
	}
	var o []otlptracehttp.Option
	if t.url != "" {
		o = append(o, otlptracehttp.WithEndpointURL(t.url))
	}
	if t.hostPort != "" {
		o = append(o, otlptracehttp.WithEndpoint(t.hostPort), otlptracehttp.WithURLPath("/v1/traces"))
	}
	if t.insecure {
		o = append(o, otlptracehttp.WithInsecure())
	}
	if t.headers != nil {
		o = append(o, otlptracehttp.WithHeaders(t.headers))
	}
	if s.Timeout > 0 {
		o = append(o, otlptracehttp.WithTimeout(s.Timeout))
	}
	if setGzip {
		c := otlptracehttp.NoCompression
		if gz {
			c = otlptracehttp.GzipCompression
		}
		o = append(o, otlptracehttp.WithCompression(c))
	}
	o = append(o, otlptracehttp.WithRetry(otlptracehttp.RetryConfig(s.retryConfig())))
	return otlptracehttp.New(ctx, o...)
}

func newLogExporter(ctx context.Context, s *settings, t target) (sdklog.Exporter, error) {
	setGzip, gz := s.gzip()
	if t.protocol == ProtocolGRPC {
		var o []otlploggrpc.Option
		if t.url != "" {
			o = append(o, otlploggrpc.WithEndpointURL(t.url))
		}
		if t.hostPort != "" {
			o = append(o, otlploggrpc.WithEndpoint(t.hostPort))
		}
		if t.insecure {
			o = append(o, otlploggrpc.WithInsecure())
		}
		if t.headers != nil {
			o = append(o, otlploggrpc.WithHeaders(t.headers))
		}
		o = append(o, otlploggrpc.WithTimeout(t.grpcTimeout(s)))
		if setGzip {
			o = append(o, otlploggrpc.WithCompressor(map[bool]string{true: "gzip", false: "none"}[gz]))
		}
		o = append(o, otlploggrpc.WithRetry(otlploggrpc.RetryConfig(s.retryConfig())))
		return otlploggrpc.New(ctx, o...)
	}
	var o []otlploghttp.Option
	if t.url != "" {
		o = append(o, otlploghttp.WithEndpointURL(t.url))
	}
	if t.hostPort != "" {
		o = append(o, otlploghttp.WithEndpoint(t.hostPort), otlploghttp.WithURLPath("/v1/logs"))
	}
	if t.insecure {
		o = append(o, otlploghttp.WithInsecure())
	}
	if t.headers != nil {
		o = append(o, otlploghttp.WithHeaders(t.headers))
	}
	if s.Timeout > 0 {
		o = append(o, otlploghttp.WithTimeout(s.Timeout))
	}
	if setGzip {
		c := otlploghttp.NoCompression
		if gz {
			c = otlploghttp.GzipCompression
		}
		o = append(o, otlploghttp.WithCompression(c))
	}
	o = append(o, otlploghttp.WithRetry(otlploghttp.RetryConfig(s.retryConfig())))
	return otlploghttp.New(ctx, o...)
}

func newMetricExporter(ctx context.Context, s *settings, t target) (sdkmetric.Exporter, error) {
	setGzip, gz := s.gzip()
	if t.protocol == ProtocolGRPC {
		var o []otlpmetricgrpc.Option
		if t.url != "" {
			o = append(o, otlpmetricgrpc.WithEndpointURL(t.url))
		}
		if t.hostPort != "" {
			o = append(o, otlpmetricgrpc.WithEndpoint(t.hostPort))
		}
		if t.insecure {
			o = append(o, otlpmetricgrpc.WithInsecure())
		}
		if t.headers != nil {
			o = append(o, otlpmetricgrpc.WithHeaders(t.headers))
		}
		o = append(o, otlpmetricgrpc.WithTimeout(t.grpcTimeout(s)))
		if setGzip {
			o = append(o, otlpmetricgrpc.WithCompressor(map[bool]string{true: "gzip", false: "none"}[gz]))
		}
		o = append(o, otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig(s.retryConfig())))
		return otlpmetricgrpc.New(ctx, o...)
	}
	var o []otlpmetrichttp.Option
	if t.url != "" {
		o = append(o, otlpmetrichttp.WithEndpointURL(t.url))
	}
	if t.hostPort != "" {
		o = append(o, otlpmetrichttp.WithEndpoint(t.hostPort), otlpmetrichttp.WithURLPath("/v1/metrics"))
	}
	if t.insecure {
		o = append(o, otlpmetrichttp.WithInsecure())
	}
	if t.headers != nil {
		o = append(o, otlpmetrichttp.WithHeaders(t.headers))
	}
	if s.Timeout > 0 {
		o = append(o, otlpmetrichttp.WithTimeout(s.Timeout))
	}
	if setGzip {
		c := otlpmetrichttp.NoCompression
		if gz {
			c = otlpmetrichttp.GzipCompression
		}
		o = append(o, otlpmetrichttp.WithCompression(c))
	}
	o = append(o, otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig(s.retryConfig())))
	return otlpmetrichttp.New(ctx, o...)
}

// retryConfig is the SDK's retry.Config, the underlying type of every
// exporter's RetryConfig.
type sdkRetry = struct {
	Enabled         bool
	InitialInterval time.Duration
	MaxInterval     time.Duration
	MaxElapsedTime  time.Duration
}

func (s *settings) retryConfig() sdkRetry {
	return sdkRetry{
		Enabled:         s.retry.enabled,
		InitialInterval: s.retry.initial,
		MaxInterval:     s.retry.max,
		MaxElapsedTime:  s.retry.maxElapsed,
	}
}
