// Command iggytrace traces the Apache Iggy binary protocol: from the kernel
// (eBPF on the server's cgroup) or from pcap/pcapng files, it prints every
// request paired with its response, decoded and with secrets redacted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "iggytrace:", err)
		os.Exit(1)
	}
}
