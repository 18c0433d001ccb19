package tracebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/iggytrace/iggytrace/bpf"
	"github.com/iggytrace/iggytrace/loader"
)

// RunFloor is the tracer of the "floor" condition: bpf/floor.c, a minimal
// per-packet capture (one fixed record per packet with payload, no frame
// tracking), attached to the bench cgroup, with a reader that drains the
// ring and counts what it read, no decoding. Its kernel ns per run is the
// yardstick for capture.c's: what doing only what any capture of the
// payload must do costs on this kernel. It prints a "tracing" line once
// attached and a summary when ctx ends.
func RunFloor(ctx context.Context, cgroup string, port uint16, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	spec, err := bpf.LoadFloor()
	if err != nil {
		return err
	}
	if err := spec.Variables[bpf.FloorVarServerPort].Set(port); err != nil {
		return fmt.Errorf("set the floor program's port: %w", err)
	}
	var objs bpf.FloorObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return fmt.Errorf("load the floor programs: %w", err)
	}
	defer objs.Close()
	for _, a := range []struct {
		p *ebpf.Program
		t ebpf.AttachType
	}{{objs.FloorIngress, ebpf.AttachCGroupInetIngress}, {objs.FloorEgress, ebpf.AttachCGroupInetEgress}} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: a.t, Program: a.p})
		if err != nil {
			return fmt.Errorf("attach the floor program to %s: %w", cgroup, err)
		}
		defer l.Close()
	}
	rd, err := ringbuf.NewReader(objs.FloorEvents)
	if err != nil {
		return err
	}
	defer rd.Close()
	log.Info("tracing", "cgroup", cgroup, "ports", []uint16{port}, "mode", "floor")

	// The programs never wake the reader: poll, at the loader's default
	// interval.
	var records, bytes uint64
	var rec ringbuf.Record
	for stopping := false; ; {
		if !stopping && ctx.Err() != nil {
			stopping = true // one more pass drains what is left
		}
		rd.SetDeadline(time.Now().Add(loader.DefaultPollInterval))
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if stopping {
				break
			}
			continue
		}
		if err != nil {
			return err
		}
		records++
		bytes += uint64(len(rec.RawSample))
	}
	var drops []uint64
	var dropped uint64
	if err := objs.FloorDrops.Lookup(uint32(0), &drops); err != nil {
		return err
	}
	for _, d := range drops {
		dropped += d
	}
	fmt.Fprintf(stderr, "floor: %d records read (%d bytes), %d dropped on a full ring\n", records, bytes, dropped)
	return nil
}
