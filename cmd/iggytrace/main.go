// Command iggytrace traces the Apache Iggy binary protocol: from the kernel
// (eBPF on the server's cgroup) or from pcap/pcapng files, it prints every
// request paired with its response, decoded and with secrets redacted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The tracer's live heap is small (a few MB of connection state)
		// and it allocates one block per event: collecting at every 100 %
		// growth spends about a third of the decoder's time in the GC.
		// GOGC overrides this.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "iggytrace:", err)
		os.Exit(1)
	}
}
