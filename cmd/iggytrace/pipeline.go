package main

import (
	"fmt"
	"io"

	"github.com/iggytrace/iggytrace/decoder"
)

// pipeline connects a segment source to the tracker and the tracker to the
// sinks. It remembers the first sink error so that a closed stdout stops the run.
type pipeline struct {
	tracker *decoder.Tracker
	out     eventWriter
	err     error
}

// eventWriter is a sink of events: the stdout writer, and the others to come.
type eventWriter interface {
	Write(*decoder.Event) error
	Flush() error
}

func newPipeline(cfg decoder.Config, out eventWriter) *pipeline {
	p := &pipeline{out: out}
	p.tracker = decoder.NewTracker(cfg, p.emit)
	return p
}

func (p *pipeline) emit(ev *decoder.Event) {
	if p.err != nil {
		return
	}
	p.err = p.out.Write(ev)
}

func (p *pipeline) feed(seg *decoder.Segment) error {
	p.tracker.Feed(seg)
	return p.err
}

// finish flushes the tracker (reporting cut frames and unanswered requests)
// and the sinks.
func (p *pipeline) finish() error {
	p.tracker.Flush()
	if err := p.out.Flush(); p.err == nil {
		p.err = err
	}
	return p.err
}

// summary prints what was decoded and, above all, what was not: nothing is
// lost silently.
func (p *pipeline) summary(w io.Writer, name string, source fmt.Stringer) {
	s := p.tracker.Stats()
	fmt.Fprintf(w, "%s: %d connections, %d exchanges paired, %d unanswered, %d unmatched responses, %d decode errors\n",
		name, s.Conns, s.Pairs, s.Unanswered, s.Unmatched, s.DecodeErrors)
	if s.Gaps != 0 || s.DesyncBytes != 0 || s.SkippedBytes != 0 || s.Evicted != 0 {
		fmt.Fprintf(w, "%s: %d gaps (%d bytes lost), %d bytes undecodable, %d bytes not captured, %d connections evicted\n",
			name, s.Gaps, s.GapBytes, s.DesyncBytes, s.SkippedBytes, s.Evicted)
	}
	fmt.Fprintf(w, "%s: %s\n", name, source)
}
