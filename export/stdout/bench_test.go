package stdout

import (
	"context"
	"io"
	"log"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/benchdata"
	"github.com/iggytrace/iggytrace/internal/sessiontest"
)

// BenchmarkAppendJSON formats decoded events as JSON lines: every event of
// the recorded SDK session (every command once), and the SendMessages
// batches of the decoder's benchmark stream (100 messages of 1 KiB each, two
// timestamps and an id per message: what a full-mode produce trace prints).
func BenchmarkAppendJSON(b *testing.B) {
	b.Run("session", func(b *testing.B) {
		events, _ := sessiontest.Events(b, nil)
		benchAppendJSON(b, events)
	})
	b.Run("SendMessages", func(b *testing.B) {
		w := log.Writer() // the Go SDK logs its leader detection at every login
		log.SetOutput(io.Discard)
		s, err := benchdata.SendMessages(context.Background())
		log.SetOutput(w)
		if err != nil {
			b.Fatal(err)
		}
		var events []*decoder.Event
		tr := decoder.NewTracker(decoder.Config{}, func(ev *decoder.Event) {
			if ev.Kind == decoder.EventPair {
				events = append(events, ev)
			}
		})
		for _, sg := range s.Handshake() {
			tr.Feed(&sg)
		}
		for i := range s.Segments {
			tr.Feed(&s.Segments[i])
		}
		tr.Flush()
		if len(events) != s.Pairs {
			b.Fatalf("%d pairs decoded, want %d", len(events), s.Pairs)
		}
		benchAppendJSON(b, events)
	})
}

func benchAppendJSON(b *testing.B, events []*decoder.Event) {
	var buf []byte
	n := 0
	for _, ev := range events {
		buf = AppendJSON(buf[:0], ev)
		n += len(buf) + 1
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, ev := range events {
			buf = AppendJSON(buf[:0], ev)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}
