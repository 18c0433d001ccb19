// Package export holds the destinations of decoded events: stdout (JSON
// lines, text), OTLP (traces, logs, metrics), Prometheus metrics, the audit
// trail and pcapng, each in a subpackage, plus the filters every sink shares.
package export

import "github.com/iggytrace/iggytrace/decoder"

// Sink receives decoded events. Events arrive from one goroutine, in the
// order the decoder produced them; a sink owns nothing of an Event it must
// keep beyond Write (Events are immutable once emitted, so keeping the
// pointer is fine). A sink that can fall behind (a network exporter) must
// never block Write for long: it queues with a bound and counts what it
// drops.
type Sink interface {
	Write(ev *decoder.Event) error
	// Flush hands on what is buffered; at the end of a run.
	Flush() error
	// Close releases the sink, flushing first.
	Close() error
}
