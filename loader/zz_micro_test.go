package loader

import (
	"net/netip"
	"testing"
)

func TestMicro(t *testing.T) {
	for _, mode := range []Mode{Full, HeaderOnly} {
		for _, n := range []int{0, 100, 1400, 3400} {
			h := newHarness(t, Config{Mode: mode, RingSize: 1 << 30})
			c := conn{netip.AddrPortFrom(cli4, 40000), netip.AddrPortFrom(srv4, 8090)}
			var p tcpPacket
			if n == 0 {
				p = c.toServer(1, 0, nil) // pure ack: matched, nothing written
				p.dport = 9999            // not matched at all
			} else {
				p = c.toServer(1, thPSH, request(101, pattern(n-8, 1)))
			}
			_, d, err := h.tr.objs.Ingress.Benchmark(p.bytes(), 20000, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v %5d bytes: %v/run", mode, n, d)
		}
	}
}
