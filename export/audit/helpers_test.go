package audit_test

import (
	"errors"
	"io"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

// sessionSegments reads the real capture of a full SDK session.
func sessionSegments(t testing.TB) []decoder.Segment {
	t.Helper()
	rd, err := pcapfile.Open("../../testdata/session.pcapng", pcapfile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var segs []decoder.Segment
	for {
		var seg decoder.Segment
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		seg.Data = append([]byte(nil), seg.Data...)
		segs = append(segs, seg)
	}
	return segs
}

// decode feeds segments to a Tracker and returns its events.
func decode(segs []decoder.Segment) []*decoder.Event {
	var evs []*decoder.Event
	tr := decoder.NewTracker(decoder.Config{}, func(ev *decoder.Event) { evs = append(evs, ev) })
	for i := range segs {
		tr.Feed(&segs[i])
	}
	tr.Flush()
	return evs
}

func sessionEvents(t testing.TB) []*decoder.Event {
	t.Helper()
	evs := decode(sessionSegments(t))
	if len(evs) < 100 {
		t.Fatalf("only %d events from the session capture", len(evs))
	}
	return evs
}
