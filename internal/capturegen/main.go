// Command capturegen records the captures committed under testdata: real
// loopback traffic of the official Go SDK (driven by internal/workload)
// against iggytrace's test server, captured from an AF_PACKET socket on lo
// and written as pcapng. It needs root (raw sockets).
//
//	go run ./internal/capturegen -out testdata
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/iggytrace/iggytrace/export/pcapng"
	"github.com/iggytrace/iggytrace/internal/afpacket"
	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
)

func main() {
	out := flag.String("out", "testdata", "directory to write the captures to")
	addr := flag.String("addr", "127.0.0.1:8090", "address the test server listens on")
	flag.Parse()
	if err := run(*out, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "capturegen:", err)
		os.Exit(1)
	}
}

func run(dir, addr string) error {
	ctx := context.Background()
	_, err := record(ctx, filepath.Join(dir, "session.pcapng"), addr, func(ctx context.Context, addr string) ([]workload.Call, error) {
		return workload.Full(ctx, addr)
	})
	return err
}

// record captures the loopback traffic of one scenario into path.
func record(ctx context.Context, path, addr string, scenario func(context.Context, string) ([]workload.Call, error)) ([]workload.Call, error) {
	srv, _, err := testserver.Start(ctx, testserver.Config{RootPassword: workload.RootPassword, Logger: slog.New(slog.DiscardHandler)}, addr)
	if err != nil {
		return nil, fmt.Errorf("start test server: %w", err)
	}
	defer srv.Close()

	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, err := pcapng.NewWriter(f, pcapng.Options{})
	if err != nil {
		return nil, err
	}
	h, err := afpacket.Open("lo", []uint16{port(addr)})
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	defer h.Close()
	capCtx, stopCapture := context.WithCancel(ctx)
	done := make(chan error, 1)
	var stats afpacket.Stats
	go func() {
		var err error
		stats, err = h.Run(capCtx, w)
		done <- err
	}()

	calls, err := scenario(ctx, addr)
	if err != nil {
		stopCapture()
		<-done
		return nil, fmt.Errorf("scenario: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // let the last FINs through
	stopCapture()
	if err := <-done; err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: %+v, %d calls\n", path, stats, len(calls))
	return calls, f.Close()
}

func port(addr string) uint16 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 8090
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 8090
	}
	return uint16(n)
}
