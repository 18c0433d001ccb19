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
	allocs := testing.AllocsPerRun(20, func() {
		for _, ev := range evs {
			sink.Write(ev)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d Writes", allocs, len(evs))
	}
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
