package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/internal/childserver"
	"github.com/iggytrace/iggytrace/internal/testserver"
	"github.com/iggytrace/iggytrace/internal/workload"
	"github.com/iggytrace/iggytrace/loader"
)

func newDemoCmd() *cobra.Command {
	var out outputFlags
	var capt captureFlags
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Trace iggytrace's own Iggy test server, driven by the official Go SDK, live",
		Long: `demo shows live tracing with no Iggy install: it starts iggytrace's in-memory
Iggy test server as a child process inside a cgroup of its own, attaches the
eBPF capture to that cgroup, drives the server with the official Go SDK (a
login, stream and topic admin, producers sending batches, consumers polling
in a consumer group, an error or two) and prints the decoded events.
Needs root, as tracing does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lcfg, err := capt.loaderConfig(nil)
			if err != nil {
				return err
			}
			if lcfg.Logger, err = out.logger(cmd.ErrOrStderr()); err != nil {
				return err
			}
			p, err := out.pipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), lcfg, p, capt.writePcap, duration, cmd.ErrOrStderr())
		},
	}
	out.register(cmd)
	capt.register(cmd)
	cmd.Flags().DurationVar(&duration, "duration", 3*time.Second, "how long the SDK workload runs")
	for _, f := range []string{"port", "cgroup", "pid"} {
		_ = cmd.Flags().MarkHidden(f) // the demo chooses these itself
	}
	return cmd
}

func runDemo(ctx context.Context, lcfg loader.Config, p *pipeline, pcapPath string, d time.Duration, stderr io.Writer) error {
	// The Go SDK reports its leader detection on the standard logger at every
	// login; in the demo that is noise between the events.
	log.SetOutput(io.Discard)
	root, err := loader.CgroupV2Root()
	if err != nil {
		return err
	}
	cg := filepath.Join(root, "iggytrace-demo-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return fmt.Errorf("create the demo cgroup: %w", err)
	}
	defer os.Remove(cg)

	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv, err := childserver.Start(ctx, self, cg, addr, false)
	if err != nil {
		return err
	}
	defer srv.Stop()

	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.ParseUint(portStr, 10, 16)
	lcfg.CgroupPath = cg
	lcfg.Ports = []uint16{uint16(port)}
	fmt.Fprintf(stderr, "demo: Iggy test server (pid %d) at %s in cgroup %s; tracing it while the Go SDK runs for %v\n",
		srv.PID(), addr, cg, d)

	traceCtx, stopTrace := context.WithCancel(ctx)
	defer stopTrace()
	workErr := make(chan error, 1)
	ready := func(*loader.Tracer) {
		go func() {
			_, err := workload.Demo(traceCtx, addr, d)
			// Let the last responses and FINs reach the ring before stopping.
			time.Sleep(200 * time.Millisecond)
			stopTrace()
			workErr <- err
		}()
	}
	if err := runTrace(traceCtx, lcfg, p, pcapPath, stderr, ready); err != nil {
		return err
	}
	select {
	case err := <-workErr:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("SDK workload: %w", err)
		}
	default: // interrupted before the workload started
	}
	return nil
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// newServeTestCmd runs the test server in the foreground: the demo and the
// end-to-end tests start it as a child process inside a cgroup. Hidden: it is
// a test double, not a product feature.
func newServeTestCmd() *cobra.Command {
	var addr string
	var ioUring bool
	cmd := &cobra.Command{
		Use:    "serve-test",
		Short:  "Run iggytrace's in-memory Iggy test server (for the demo and tests)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := testserver.Config{RootPassword: workload.RootPassword, Logger: slog.New(slog.DiscardHandler)}
			start := testserver.Start
			if ioUring {
				start = testserver.StartIOUring
			}
			srv, _, err := start(cmd.Context(), cfg, addr)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			<-cmd.Context().Done()
			return srv.Close()
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	cmd.Flags().BoolVar(&ioUring, "io-uring", false, "do the socket I/O through io_uring, as the real Iggy server does")
	return cmd
}
