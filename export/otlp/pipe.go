package otlp

import (
	"context"
	"sync/atomic"
	"time"
)

// pipe batches one signal's items (spans or log records) and exports them
// from a goroutine of its own, so that a slow or failing destination holds
// up neither Write nor the other signal. Batches wait in a queue of
// QueueSize/BatchSize batches (at least 4); when it is full, a new batch
// is dropped and counted.
//
// The logs pipe carries the audit stream's records too (Sink.Audit): isAudit
// picks them out, and every count of exported or dropped items also counts
// their share apart (Stats.AuditExported, Stats.AuditDropped).
//
// add, handOff and finish are called only by the sink's worker goroutine.
type pipe[T any] struct {
	sig    signal
	sink   *Sink
	export func(context.Context, []T) error
	max    int
	// deadline bounds one export call, retries included.
	deadline time.Duration

	cur      []T
	curAudit int // audit items in cur
	q        chan pipeItem[T]
	done     chan struct{}

	// isAudit reports whether an item belongs to the audit stream; nil: none.
	isAudit func(*T) bool

	exported atomic.Uint64
	dropped  atomic.Uint64
	// The audit stream's share of exported and dropped.
	auditExported atomic.Uint64
	auditDropped  atomic.Uint64
}

// pipeItem is a batch, or a marker acknowledged once everything queued
// before it has been exported (or dropped).
type pipeItem[T any] struct {
	batch []T
	audit int // how many of batch are audit records
	ack   chan struct{}
}

func newPipe[T any](sig signal, s *Sink, batchSize int, deadline time.Duration, export func(context.Context, []T) error) *pipe[T] {
	return &pipe[T]{
		sig: sig, sink: s, export: export, max: batchSize, deadline: deadline,
		cur:  make([]T, 0, batchSize),
		q:    make(chan pipeItem[T], max(minQueueBatches, s.cfg.QueueSize/batchSize)),
		done: make(chan struct{}),
	}
}

func (p *pipe[T]) add(x T) {
	p.cur = append(p.cur, x)
	if p.isAudit != nil && p.isAudit(&p.cur[len(p.cur)-1]) {
		p.curAudit++
	}
	if len(p.cur) >= p.max {
		p.handOff(nil)
	}
}

// handOff queues the current batch for export. With a nil ctx it never
// waits: a full queue drops the batch. With a ctx (Flush, Close) it waits
// for room until ctx ends.
func (p *pipe[T]) handOff(ctx context.Context) {
	if len(p.cur) == 0 {
		return
	}
	it := pipeItem[T]{batch: p.cur, audit: p.curAudit}
	p.cur, p.curAudit = make([]T, 0, p.max), 0
	if ctx == nil {
		select {
		case p.q <- it:
		default:
			p.drop(it, reasonQueueFull, nil)
		}
		return
	}
	select {
	case p.q <- it:
	case <-ctx.Done():
		p.drop(it, reasonClose, nil)
	}
}

// mark queues a marker and returns its channel, closed when everything
// before it is done; nil if ctx ended first.
func (p *pipe[T]) mark(ctx context.Context) chan struct{} {
	ack := make(chan struct{})
	select {
	case p.q <- pipeItem[T]{ack: ack}:
		return ack
	case <-ctx.Done():
		return nil
	}
}

// drop counts a batch as dropped, and warns unless Close is the reason.
func (p *pipe[T]) drop(it pipeItem[T], reason string, err error) {
	p.dropped.Add(uint64(len(it.batch)))
	if it.audit != 0 {
		p.auditDropped.Add(uint64(it.audit))
	}
	if reason != reasonClose {
		p.sink.problem(p.sig, reason, err)
	}
}

// run exports what the queue brings until it is closed. kill aborts the
// export in progress (Close past its deadline).
func (p *pipe[T]) run(kill context.Context) {
	defer close(p.done)
	for it := range p.q {
		if it.ack != nil {
			close(it.ack)
			continue
		}
		if kill.Err() != nil {
			p.drop(it, reasonClose, nil)
			continue
		}
		ctx, cancel := context.WithTimeout(kill, p.deadline)
		err := p.export(ctx, it.batch)
		cancel()
		switch {
		case err == nil:
			p.exported.Add(uint64(len(it.batch)))
			if it.audit != 0 {
				p.auditExported.Add(uint64(it.audit))
			}
			p.sink.recovered()
		case kill.Err() != nil:
			p.drop(it, reasonClose, nil)
		default:
			p.sink.exportFailures.Add(1)
			p.drop(it, reasonExportFailed, err)
		}
	}
}

// finish hands off the last batch (dropped if the queue is full: Close
// is past its flush) and closes the queue; the run goroutine ends when the
// queue is empty.
func (p *pipe[T]) finish() {
	if len(p.cur) > 0 {
		it := pipeItem[T]{batch: p.cur, audit: p.curAudit}
		select {
		case p.q <- it:
		default:
			p.drop(it, reasonClose, nil)
		}
		p.cur, p.curAudit = nil, 0
	}
	close(p.q)
}
