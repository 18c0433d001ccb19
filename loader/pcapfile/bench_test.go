package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/iggytrace/iggytrace/decoder"
)

// benchFile builds a capture of n TCP packets of payload bytes each,
// alternating request and response on one IPv4 connection over Ethernet,
// with one packet in ten on another port (skipped, as in real captures).
func benchFile(tb testing.TB, ng bool, n, payload int) []byte {
	tb.Helper()
	body := bytes.Repeat([]byte{0x5a}, payload)
	other := cli4
	var nb *ngBuilder
	var recs []record
	if ng {
		nb = (&ngBuilder{order: binary.LittleEndian}).shb().idb(1, 262144, 9, 0)
	}
	for i := range n {
		s := tcpSeg{src: cli4, dst: srv4, seq: uint32(i * payload), flags: fACK | fPSH, payload: body}
		switch {
		case i%10 == 9:
			s.dst = other
		case i%2 == 1:
			s.src, s.dst = srv4, cli4
		}
		f := eth(s.ip())
		if ng {
			nb.epb(0, uint64(i)*1000, f, len(f))
		} else {
			recs = append(recs, record{ts: int64(i) * 1000, data: f})
		}
	}
	if ng {
		return nb.b
	}
	return pcapFile(binary.LittleEndian, true, 1, 262144, recs...)
}

// BenchmarkReader reads an in-memory capture: MB/s is file throughput,
// packets/s counts every packet record (delivered or skipped).
func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name    string
		ng      bool
		payload int
	}{
		{"pcapng/64B", true, 64},
		{"pcapng/1400B", true, 1400},
		{"pcapng/16KiB", true, 16 << 10},
		{"pcap/64B", false, 64},
		{"pcap/1400B", false, 1400},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const packets = 10000
			file := benchFile(b, bc.ng, packets, bc.payload)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			var seg decoder.Segment
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(file), Config{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if err := r.Next(&seg); err != nil {
						if !errors.Is(err, io.EOF) {
							b.Fatal(err)
						}
						break
					}
				}
			}
			b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
