package tracebench

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/iggytrace/iggytrace/bpf"
)

// KernelCounters are the capture's own kernel counters (bpf.CaptureStats,
// summed over CPUs) that say what a run cost in bytes and what it lost.
type KernelCounters struct {
	Records        uint64
	BytesWire      uint64
	BytesCaptured  uint64
	BytesSkipped   uint64
	DroppedRecords uint64 // the ring was full
	DroppedBytes   uint64
	SyncLost       uint64
}

func (k KernelCounters) sub(o KernelCounters) KernelCounters {
	return KernelCounters{k.Records - o.Records, k.BytesWire - o.BytesWire, k.BytesCaptured - o.BytesCaptured,
		k.BytesSkipped - o.BytesSkipped, k.DroppedRecords - o.DroppedRecords, k.DroppedBytes - o.DroppedBytes, k.SyncLost - o.SyncLost}
}

// openStatsMap finds the tracer's counter map (bpf "stats_map") among the
// file descriptors of process pid. The bench reads it itself, between runs,
// so that a drop is pinned to the run it happened in.
func openStatsMap(pid int) (*ebpf.Map, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	want := uint32(binary.Size(bpf.CaptureStats{}))
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err != nil || t != "anon_inode:bpf-map" {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			continue
		}
		id, ok := fdinfoField(string(b), "map_id")
		if !ok {
			continue
		}
		m, err := ebpf.NewMapFromID(ebpf.MapID(id))
		if err != nil {
			continue
		}
		info, err := m.Info()
		if err == nil && info.Name == bpf.CaptureMapStatsMap {
			if m.ValueSize() != want {
				m.Close()
				return nil, fmt.Errorf("stats_map values are %d bytes, bpf.CaptureStats %d: the tracer binary and this bench were built from different trees", m.ValueSize(), want)
			}
			return m, nil
		}
		m.Close()
	}
	return nil, fmt.Errorf("no stats_map among the file descriptors of process %d", pid)
}

func fdinfoField(s, key string) (uint32, bool) {
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}

// readCounters reads m; a nil m (the floor tracer has no such counters)
// reads as zero.
func readCounters(m *ebpf.Map) (KernelCounters, error) {
	if m == nil {
		return KernelCounters{}, nil
	}
	var per []bpf.CaptureStats
	if err := m.Lookup(uint32(0), &per); err != nil {
		return KernelCounters{}, fmt.Errorf("read the tracer's kernel counters: %w", err)
	}
	var k KernelCounters
	for _, c := range per {
		k.Records += c.Records
		k.BytesWire += c.BytesWire
		k.BytesCaptured += c.BytesCaptured
		k.BytesSkipped += c.BytesSkipped
		k.DroppedRecords += c.DropRecords
		k.DroppedBytes += c.DropBytes
		k.SyncLost += c.SyncLost
	}
	return k, nil
}
