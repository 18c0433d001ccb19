package otlp_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/export/otlp"
	"github.com/iggytrace/iggytrace/internal/otelcol"
)

// Write must not wait on the network. A Write that waited would take an
// exporter timeout (200 ms or more here), and once the queues are full
// every Write would. So: the 99th percentile must stay under maxP99, and
// at most maxSlow Writes may take over slowWrite: a loaded machine stalls
// any thread now and then (a bare CPU loop measured stalls of up to 96 ms
// on the loaded 2-core machine these tests were written on). The first
// Writes of a sink are not timed: the first event of each command and
// status makes its metric series.
const (
	maxP99  = time.Millisecond
	maxSlow = 3
)

func checkWriteTimes(t *testing.T, wt writeTimes, what string) {
	t.Helper()
	if wt.p99 > maxP99 || wt.slow > maxSlow {
		t.Errorf("Write waits with %s: %v", what, wt)
	}
}

// TestUnreachable: with nothing listening, or a listener that accepts and
// never answers, Write stays fast, every span and log record is counted as
// dropped, one warning is logged, and Close keeps to its timeout.
func TestUnreachable(t *testing.T) {
	evs, _ := lossySession(t)
	const rounds = 20
	nExch := 0
	for _, ev := range evs {
		if isExchange(ev) {
			nExch++
		}
	}
	for _, tc := range []struct {
		name string
		addr func(testing.TB) string
	}{
		{"down", closedPort},
		{"slow", blackHole},
	} {
		for _, proto := range []string{otlp.ProtocolGRPC, otlp.ProtocolHTTP} {
			t.Run(tc.name+"/"+strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
				logs := &logRecorder{}
				const closeTimeout = time.Second
				sink, err := otlp.New(otlp.Config{
					Endpoint:        "http://" + tc.addr(t),
					Protocol:        proto,
					Timeout:         200 * time.Millisecond,
					RetryMaxElapsed: 300 * time.Millisecond,
					QueueSize:       256,
					BatchSize:       32,
					BatchDelay:      10 * time.Millisecond,
					MetricInterval:  100 * time.Millisecond,
					CloseTimeout:    closeTimeout,
					Logger:          slog.New(logs),
				})
				if err != nil {
					t.Fatal(err)
				}
				timedWrites(t, sink, evs, 1) // warm-up
				wt := timedWrites(t, sink, evs, rounds)
				// Let the exports fail (after their retries) before closing.
				deadline := time.Now().Add(10 * time.Second)
				for sink.Stats().ExportFailures == 0 && sink.Stats().QueueDropped == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("no export failed and nothing was dropped: %+v", sink.Stats())
					}
					time.Sleep(10 * time.Millisecond)
				}
				// More writes while failing: still fast.
				wt = wt.merge(timedWrites(t, sink, evs, rounds))
				start := time.Now()
				cerr := sink.Close()
				took := time.Since(start)
				st := sink.Stats()
				t.Logf("%v; Close %v (%v); stats %+v", wt, took, cerr, st)
				checkWriteTimes(t, wt, "the endpoint "+tc.name)
				if took > closeTimeout+250*time.Millisecond {
					t.Errorf("Close took %v, timeout %v", took, closeTimeout)
				}
				wantSpans, wantLogs := uint64((2*rounds+1)*nExch), uint64((2*rounds+1)*len(evs))
				if st.Events != wantLogs || st.SpansExported != 0 || st.LogsExported != 0 ||
					st.SpansDropped != wantSpans || st.LogsDropped != wantLogs || st.Dropped() != wantSpans+wantLogs {
					t.Errorf("Stats = %+v, want all %d spans and %d log records dropped", st, wantSpans, wantLogs)
				}
				if st.ExportFailures == 0 && tc.name == "down" {
					t.Errorf("no export failure counted: %+v", st)
				}
				if n := logs.count(slog.LevelWarn); n != 1 {
					t.Errorf("%d warnings logged, want 1:\n%s", n, logs)
				}
				if err := sink.Write(evs[0]); err != otlp.ErrClosed {
					t.Errorf("Write after Close: %v", err)
				}
			})
		}
	}
}

// TestCollectorPaused: the Collector stops answering (SIGSTOP) while events
// are written, then resumes; Write stays fast and the exporters' retries
// deliver everything once it is back.
func TestCollectorPaused(t *testing.T) {
	evs, _ := lossySession(t)
	const rounds = 10 // enough Writes for a 99th percentile
	nExch := 0
	for _, ev := range evs {
		if isExchange(ev) {
			nExch += rounds
		}
	}
	for _, proto := range []string{otlp.ProtocolGRPC, otlp.ProtocolHTTP} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			col := otelcol.Start(t)
			endpoint := col.HTTPEndpoint
			if proto == otlp.ProtocolGRPC {
				endpoint = "http://" + col.GRPCEndpoint
			}
			logs := &logRecorder{}
			sink, err := otlp.New(otlp.Config{
				Endpoint:        endpoint,
				Protocol:        proto,
				Timeout:         300 * time.Millisecond,
				RetryMaxElapsed: 10 * time.Second,
				BatchSize:       32,
				BatchDelay:      10 * time.Millisecond,
				MetricInterval:  time.Hour,
				CloseTimeout:    15 * time.Second,
				Logger:          slog.New(logs),
			})
			if err != nil {
				t.Fatal(err)
			}
			col.Pause()
			timedWrites(t, sink, evs, 1) // warm-up
			wt := timedWrites(t, sink, evs, rounds-1)
			time.Sleep(time.Second) // exports time out and retry meanwhile
			col.Resume()
			if err := sink.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			st := sink.Stats()
			t.Logf("%v; stats %+v", wt, st)
			checkWriteTimes(t, wt, "the Collector paused")
			if st.SpansExported != uint64(nExch) || st.LogsExported != uint64(rounds*len(evs)) || st.Dropped() != 0 {
				t.Errorf("Stats = %+v, want every span and log record exported after the retries", st)
			}
			got := col.WaitFor(30*time.Second, func(r otelcol.Received) bool {
				return len(r.Spans()) >= nExch && len(r.LogRecords()) >= rounds*len(evs)
			})
			// A retried export may arrive twice (the Collector took the first
			// while paused but could not answer): at least once each.
			seen := map[string]bool{}
			for _, s := range got.Spans() {
				seen[string(s.SpanId)] = true
			}
			if len(seen) != nExch {
				t.Errorf("%d distinct spans received, want %d", len(seen), nExch)
			}
			if n := logs.count(slog.LevelWarn); n > 1 {
				t.Errorf("%d warnings logged, want at most 1:\n%s", n, logs)
			}
		})
	}
}
