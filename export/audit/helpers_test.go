package audit_test

import (
	"testing"

	"github.com/iggytrace/iggytrace/decoder"

	"github.com/iggytrace/iggytrace/internal/sessiontest"
)

func sessionSegments(t testing.TB) []decoder.Segment { return sessiontest.Segments(t) }

func decode(segs []decoder.Segment) []*decoder.Event {
	evs, _ := sessiontest.Decode(segs)
	return evs
}

func sessionEvents(t testing.TB) []*decoder.Event {
	evs, _ := sessiontest.Events(t, nil)
	return evs
}
