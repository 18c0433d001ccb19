package otlp_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iggytrace/iggytrace/export/otlp"
)

// quietSink is a Sink to an endpoint where nothing listens, with a long
// metric interval.
func quietSink(t testing.TB, queue int) *otlp.Sink {
	t.Helper()
	sink, err := otlp.New(otlp.Config{
		Endpoint:        "http://" + closedPort(t),
		Protocol:        otlp.ProtocolHTTP,
		QueueSize:       queue,
		MetricInterval:  time.Hour,
		RetryMaxElapsed: -1,
		CloseTimeout:    time.Second,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

// TestWriteAllocs: once its commands and statuses have been seen, Write
// allocates nothing, whether the event is queued or dropped.
func TestWriteAllocs(t *testing.T) {
	evs, _ := lossySession(t)
	sink := quietSink(t, 1)
	for _, ev := range evs {
		sink.Write(ev)
	}
	// AllocsPerRun counts the whole process's allocations, so the sink's
	// worker converting a queued event at the same time counts too. Write's
	// own allocations would show in every measurement; the worker's only
	// when the scheduler runs it inside the window. So: the fewest of a few
	// measurements must be zero.
	var allocs []float64
	for range 5 {
		n := testing.AllocsPerRun(20, func() {
			for _, ev := range evs {
				sink.Write(ev)
			}
		})
		if n == 0 {
			return
		}
		allocs = append(allocs, n)
	}
	t.Errorf("allocations per %d Writes, 5 measurements: %v", len(evs), allocs)
}

func BenchmarkWrite(b *testing.B) {
	evs, _ := lossySession(b)
	sink := quietSink(b, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sink.Write(evs[i%len(evs)])
	}
}
