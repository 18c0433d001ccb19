package workload

import (
	"encoding/binary"
	"fmt"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
)

// batch is a set of messages to send together with the payloads for Args.
type batch struct {
	msgs     []iggcon.IggyMessage
	payloads [][]byte
}

// makeBatch builds n messages of size bytes each (at least the label).
// Payloads are deterministic: "<label>-<i>:" followed by a repeating
// pattern. firstID > 0 gives message i the id firstID+i; 0 leaves ids zero
// so the server assigns them. withHeaders adds two user headers.
func makeBatch(label string, n, size int, firstID uint64, withHeaders bool) (batch, error) {
	var b batch
	for i := range n {
		p := []byte(fmt.Sprintf("%s-%04d:", label, i))
		for len(p) < size {
			p = append(p, byte('a'+len(p)%26))
		}
		var opts []iggcon.IggyMessageOpt
		if firstID > 0 {
			var id [16]byte
			binary.LittleEndian.PutUint64(id[:8], firstID+uint64(i))
			opts = append(opts, iggcon.WithID(id))
		}
		if withHeaders {
			opts = append(opts, iggcon.WithUserHeaders(userHeaders(label, i)))
		}
		m, err := iggcon.NewIggyMessage(p, opts...)
		if err != nil {
			return batch{}, fmt.Errorf("workload: build message %d of %q: %w", i, label, err)
		}
		b.msgs = append(b.msgs, m)
		b.payloads = append(b.payloads, p)
	}
	return b, nil
}

// userHeaders are two G3 user headers: a string and a uint32.
func userHeaders(label string, i int) []iggcon.HeaderEntry {
	seq := make([]byte, 4)
	binary.LittleEndian.PutUint32(seq, uint32(i))
	return []iggcon.HeaderEntry{
		{
			Key:   iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("source")},
			Value: iggcon.HeaderValue{Kind: iggcon.String, Value: []byte(label)},
		},
		{
			Key:   iggcon.HeaderKey{Kind: iggcon.String, Value: []byte("seq")},
			Value: iggcon.HeaderValue{Kind: iggcon.Uint32, Value: seq},
		},
	}
}

func partitioningArg(p iggcon.Partitioning) string {
	switch p.Kind {
	case iggcon.PartitionIdKind:
		return fmt.Sprintf("partition:%d", binary.LittleEndian.Uint32(p.Value))
	case iggcon.MessageKey:
		return "key:" + string(p.Value)
	default:
		return "balanced"
	}
}

// send logs one SendMessages call.
func (c *sdkConn) send(stream, topic iggcon.Identifier, part iggcon.Partitioning, b batch, want uint32) error {
	args := map[string]any{
		"stream": idArg(stream), "topic": idArg(topic), "partitioning": partitioningArg(part),
		"count": len(b.msgs), "payloads": b.payloads,
	}
	return sdkExec(c, "SendMessages", codeSendMessages, args, want, func(cli iggcon.Client) error {
		return cli.SendMessages(stream, topic, part, b.msgs)
	})
}

func strategyArg(s iggcon.PollingStrategy) string {
	switch s.Kind {
	case iggcon.POLLING_OFFSET:
		return fmt.Sprintf("offset:%d", s.Value)
	case iggcon.POLLING_TIMESTAMP:
		return fmt.Sprintf("timestamp:%d", s.Value)
	case iggcon.POLLING_FIRST:
		return "first"
	case iggcon.POLLING_LAST:
		return "last"
	default:
		return "next"
	}
}

func consumerArg(c iggcon.Consumer) string {
	kind := "consumer"
	if c.Kind == iggcon.ConsumerKindGroup {
		kind = "group"
	}
	return fmt.Sprintf("%s:%v", kind, idArg(c.Id))
}

// poll logs one PollMessages call.
func (c *sdkConn) poll(stream, topic iggcon.Identifier, consumer iggcon.Consumer, s iggcon.PollingStrategy, count uint32, autoCommit bool, partition *uint32, want uint32) *iggcon.PolledMessage {
	args := map[string]any{
		"stream": idArg(stream), "topic": idArg(topic), "consumer": consumerArg(consumer),
		"strategy": strategyArg(s), "count": count, "auto_commit": autoCommit,
	}
	if partition != nil {
		args["partition"] = *partition
	}
	return sdkDo(c, "PollMessages", codePollMessages, args, want, func(cli iggcon.Client) (*iggcon.PolledMessage, error) {
		return cli.PollMessages(stream, topic, consumer, s, count, autoCommit, partition)
	})
}

func ptr[T any](v T) *T { return &v }
