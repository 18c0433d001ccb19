package loader

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/iggytrace/iggytrace/bpf"
)

// Stats are the capture's counters: the kernel's, summed over CPUs, and
// Run's. Payload bytes obey BytesWire = BytesCaptured + BytesSkipped +
// DroppedBytes.
type Stats struct {
	PacketsSeen     uint64 // packets the cgroup programs ran on
	PacketsMatched  uint64 // server-side TCP packets of a configured port
	PacketsUnparsed uint64 // TCP-bearing packets not parsed (IPv4 fragments, IPv6 extension headers)

	Records       uint64 // segment records written to the ring
	BytesWire     uint64 // payload bytes of matched packets
	BytesCaptured uint64 // of which copied to user space
	BytesSkipped  uint64 // of which deliberately not copied (header-only mode), positions kept

	DroppedRecords uint64 // segment records lost: the ring was full
	DroppedBytes   uint64 // payload bytes those records covered
	DroppedNested  uint64 // of DroppedRecords: programs nested too deep on one CPU

	SyncLost    uint64 // header-only: frame boundaries lost (gap, impossible length)
	SyncFound   uint64 // header-only: boundaries found again at a packet start
	Midstream   uint64 // header-only: connections first seen without their SYN, by a packet larger than one small frame
	Retransmits uint64 // header-only: packets starting before the tracked point, small whole frames not included (user space counts those)
	Truncated   uint64 // packets needing more records than one program run writes

	StateRecords uint64 // connection open/close records written
	StateDropped uint64 // connection open/close records lost: the ring was full

	RecordsRead    uint64 // records Run decoded
	RecordsMissing uint64 // gaps Run saw in the per-CPU record counters
	RecordsBad     uint64 // records Run could not decode
}

// Lost is the number of records the kernel could not deliver.
func (s Stats) Lost() uint64 { return s.DroppedRecords + s.StateDropped }

// Stats sums the per-CPU kernel counters and adds Run's. After Close it
// returns the counters as they were when the capture was detached.
func (t *Tracer) Stats() Stats {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	var s Stats
	if t.final != nil {
		s = *t.final
	} else if t.objs.StatsMap != nil {
		s = t.kernelStats()
	}
	s.RecordsRead = t.read.Load()
	s.RecordsBad = t.bad.Load()
	if m := t.missing.Load(); m > 0 {
		s.RecordsMissing = uint64(m)
	}
	return s
}

// kernelStats sums the per-CPU counters. Callers hold statsMu.
func (t *Tracer) kernelStats() Stats {
	var s Stats
	var per []bpf.CaptureStats
	if err := t.objs.StatsMap.Lookup(uint32(0), &per); err != nil {
		t.log.Warn("read kernel counters", "err", err)
		return s
	}
	for _, c := range per {
		s.PacketsSeen += c.PktsSeen
		s.PacketsMatched += c.PktsMatched
		s.PacketsUnparsed += c.PktsUnparsed
		s.Records += c.Records
		s.BytesWire += c.BytesWire
		s.BytesCaptured += c.BytesCaptured
		s.BytesSkipped += c.BytesSkipped
		s.DroppedRecords += c.DropRecords
		s.DroppedBytes += c.DropBytes
		s.DroppedNested += c.DropNested
		s.SyncLost += c.SyncLost
		s.SyncFound += c.SyncFound
		s.Midstream += c.Midstream
		s.Retransmits += c.Retrans
		s.Truncated += c.Truncated
		s.StateRecords += c.StateRecords
		s.StateDropped += c.StateDrops
	}
	return s
}

// Format writes the counters for a person.
func (s Stats) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := []struct {
		name string
		v    uint64
	}{
		{"packets seen", s.PacketsSeen},
		{"packets matched", s.PacketsMatched},
		{"packets unparsed", s.PacketsUnparsed},
		{"records", s.Records},
		{"bytes on the wire", s.BytesWire},
		{"bytes captured", s.BytesCaptured},
		{"bytes skipped", s.BytesSkipped},
		{"records dropped (ring full)", s.DroppedRecords},
		{"bytes dropped (ring full)", s.DroppedBytes},
		{"records dropped (nesting)", s.DroppedNested},
		{"frame sync lost", s.SyncLost},
		{"frame sync found", s.SyncFound},
		{"connections seen mid-stream", s.Midstream},
		{"retransmitted packets", s.Retransmits},
		{"truncated packets", s.Truncated},
		{"state records", s.StateRecords},
		{"state records dropped", s.StateDropped},
		{"records read", s.RecordsRead},
		{"records missing (counter gaps)", s.RecordsMissing},
		{"records malformed", s.RecordsBad},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\n", r.name, r.v)
	}
	return tw.Flush()
}
