// Package sessiontest gives tests the committed capture of a full Go SDK
// session (testdata/session.pcapng), as segments and as decoded events, so
// that every sink's tests start from the same real traffic.
package sessiontest

import (
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

// Path is the capture's location, whatever the calling package's directory.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "session.pcapng")
}

// Segments reads the capture; each segment owns its bytes.
func Segments(tb testing.TB) []decoder.Segment {
	tb.Helper()
	rd, err := pcapfile.Open(Path(), pcapfile.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	defer rd.Close()
	var segs []decoder.Segment
	for {
		var seg decoder.Segment
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				return segs
			}
			tb.Fatal(err)
		}
		seg.Data = append([]byte(nil), seg.Data...)
		segs = append(segs, seg)
	}
}

// Decode feeds segs to a Tracker with a default configuration and returns
// its events and final counters.
func Decode(segs []decoder.Segment) ([]*decoder.Event, decoder.Stats) {
	var evs []*decoder.Event
	tr := decoder.NewTracker(decoder.Config{}, func(ev *decoder.Event) { evs = append(evs, ev) })
	for i := range segs {
		tr.Feed(&segs[i])
	}
	tr.Flush()
	return evs, tr.Stats()
}

// Events decodes the whole capture, leaving out the segments drop selects
// (nil keeps all), and fails the test if it yields implausibly few events.
func Events(tb testing.TB, drop func(*decoder.Segment) bool) ([]*decoder.Event, decoder.Stats) {
	tb.Helper()
	segs := Segments(tb)
	if drop != nil {
		kept := segs[:0]
		for i := range segs {
			if !drop(&segs[i]) {
				kept = append(kept, segs[i])
			}
		}
		segs = kept
	}
	evs, st := Decode(segs)
	if len(evs) < 100 {
		tb.Fatalf("only %d events from the session capture", len(evs))
	}
	return evs, st
}
