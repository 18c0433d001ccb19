package tracebench

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/iggy/foreign/go/client"
	"github.com/apache/iggy/foreign/go/client/tcp"
	iggcon "github.com/apache/iggy/foreign/go/contracts"
	ierror "github.com/apache/iggy/foreign/go/errors"

	"github.com/iggytrace/iggytrace/internal/workload"
)

// deleteBenchStream deletes workload.BenchStream (the next run creates it
// again). The SDK's connect has no context: it runs in a goroutine that is
// abandoned if ctx ends first.
func deleteBenchStream(ctx context.Context, addr string) error {
	done := make(chan error, 1)
	go func() {
		cli, err := client.NewIggyClient(func(o *client.Options) { *o = client.Options{} }, client.WithTcp(tcp.WithServerAddress(addr)))
		if err != nil {
			done <- err
			return
		}
		defer cli.Close()
		if _, err := cli.LoginUser(workload.RootUsername, workload.RootPassword); err != nil {
			done <- err
			return
		}
		id, _ := iggcon.NewIdentifier(workload.BenchStream)
		err = cli.DeleteStream(id)
		if errors.Is(err, ierror.ErrStreamNameNotFound) || errors.Is(err, ierror.ErrStreamIdNotFound) {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("delete the bench stream: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("delete the bench stream: %w", ctx.Err())
	}
}
