package reassembly

import "testing"

// BenchmarkInOrder: 1448-byte segments in order, the common case.
func BenchmarkInOrder(b *testing.B) {
	const mss, n = 1448, 1024
	buf := make([]byte, mss)
	st := NewStream(Config{})
	st.Start(0)
	var seq uint32 = 1
	var k Sink = nopSink{}
	b.SetBytes(mss * n)
	b.ReportAllocs()
	for b.Loop() {
		for range n {
			st.Push(seq, buf, mss, 0, k)
			seq += mss
		}
	}
}

// BenchmarkReordered: every pair of 1448-byte segments swapped, so half
// the segments are held and copied.
func BenchmarkReordered(b *testing.B) {
	const mss, n = 1448, 1024
	buf := make([]byte, mss)
	st := NewStream(Config{})
	st.Start(0)
	var seq uint32 = 1
	var k Sink = nopSink{}
	b.SetBytes(mss * n)
	b.ReportAllocs()
	for b.Loop() {
		for range n / 2 {
			st.Push(seq+mss, buf, mss, 0, k)
			st.Push(seq, buf, mss, 0, k)
			seq += 2 * mss
		}
	}
}
