package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"
)

// Names of the entities the benchmark loads use; they are created when
// missing.
const (
	BenchStream     = "bench"
	BenchTopic      = "load"
	benchPartitions = 4
)

// Produce is producer load for benchmarks: conns connections each log in
// and send batches batches of batchSize messages of msgSize bytes (at least
// 16) to BenchStream/BenchTopic with balanced partitioning. Nothing is
// logged; the first failure of each connection is returned.
func Produce(ctx context.Context, addr string, conns, batches, batchSize, msgSize int) error {
	if conns <= 0 || batches < 0 || batchSize <= 0 {
		return fmt.Errorf("workload: produce: invalid load conns=%d batches=%d batch=%d", conns, batches, batchSize)
	}
	s, t, err := benchSetup(ctx, addr)
	if err != nil {
		return err
	}
	b, err := makeBatch("bench", batchSize, max(msgSize, 16), 0, false)
	if err != nil {
		return err
	}
	return fanOut(ctx, addr, conns, func(cli iggcon.Client, i int) error {
		for n := range batches {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := cli.SendMessages(numID(s), numID(t), iggcon.None(), b.msgs); err != nil {
				return fmt.Errorf("workload: produce conn %d batch %d: %w", i, n, err)
			}
		}
		return nil
	})
}

// SmallCommands is a small-command load for benchmarks: conns connections
// each log in and send n small requests cycling through Ping, GetStream,
// GetTopic, StoreConsumerOffset and GetConsumerOffset on
// BenchStream/BenchTopic.
func SmallCommands(ctx context.Context, addr string, conns, n int) error {
	if conns <= 0 || n < 0 {
		return fmt.Errorf("workload: small commands: invalid load conns=%d n=%d", conns, n)
	}
	s, t, err := benchSetup(ctx, addr)
	if err != nil {
		return err
	}
	return fanOut(ctx, addr, conns, func(cli iggcon.Client, i int) error {
		consumer := iggcon.NewSingleConsumer(numID(uint32(i)))
		partition := uint32(i % benchPartitions)
		for k := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			switch k % 5 {
			case 0:
				err = cli.Ping()
			case 1:
				_, err = cli.GetStream(numID(s))
			case 2:
				_, err = cli.GetTopic(numID(s), numID(t))
			case 3:
				err = cli.StoreConsumerOffset(consumer, numID(s), numID(t), uint64(k), &partition)
			default:
				_, err = cli.GetConsumerOffset(consumer, numID(s), numID(t), &partition)
			}
			if err != nil {
				return fmt.Errorf("workload: small commands conn %d request %d: %w", i, k, err)
			}
		}
		return nil
	})
}

// benchSetup logs in once and creates BenchStream/BenchTopic if needed.
func benchSetup(ctx context.Context, addr string) (stream, topic uint32, err error) {
	cli, closeCli, err := connect(ctx, addr)
	if err != nil {
		return 0, 0, err
	}
	defer closeCli()
	if _, err := cli.LoginUser(RootUsername, RootPassword); err != nil {
		return 0, 0, fmt.Errorf("workload: bench setup login: %w", err)
	}
	sd, err := cli.CreateStream(BenchStream)
	if errors.Is(err, ierror.ErrStreamNameAlreadyExists) {
		sd, err = cli.GetStream(nameID(BenchStream))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("workload: bench stream %q: %w", BenchStream, err)
	}
	td, err := cli.CreateTopic(numID(sd.Id), BenchTopic, benchPartitions, iggcon.CompressionAlgorithmNone, 0, 0, nil)
	if errors.Is(err, ierror.ErrTopicNameAlreadyExists) {
		td, err = cli.GetTopic(numID(sd.Id), nameID(BenchTopic))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("workload: bench topic %q: %w", BenchTopic, err)
	}
	return sd.Id, td.Id, nil
}

// fanOut runs fn on conns logged-in connections in parallel.
func fanOut(ctx context.Context, addr string, conns int, fn func(cli iggcon.Client, i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli, closeCli, err := connect(ctx, addr)
			if err != nil {
				errs[i] = err
				return
			}
			defer closeCli()
			if _, err := cli.LoginUser(RootUsername, RootPassword); err != nil {
				errs[i] = fmt.Errorf("workload: conn %d login: %w", i, err)
				return
			}
			errs[i] = fn(cli, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
