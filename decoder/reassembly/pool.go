package reassembly

import "math/bits"

// minClass is the smallest buffer size class (1<<minClass bytes): tiny
// segments share a class instead of each size getting its own free list.
const minClass = 6

// maxClass is the largest size class a Pool keeps. Bigger buffers (a TSO
// super-segment of several hundred KiB) are allocated exactly and dropped on
// release: they are too rare to be worth holding.
const maxClass = 20

// Pool recycles the buffers that hold out-of-order segments, so that a
// stream that keeps reordering settles into zero allocations. Buffers are
// kept in power-of-two size classes up to a byte budget; past the budget a
// released buffer is left to the garbage collector, which bounds what an
// idle pool pins.
//
// One Pool may be shared by every Stream of a tracker to spread the budget
// across connections. It is not safe for concurrent use: share it only among
// streams driven by one goroutine.
type Pool struct {
	free     [maxClass + 1][][]byte
	retained int // bytes of capacity on the free lists
	max      int
}

// NewPool returns a Pool that keeps at most maxRetained bytes of free buffers.
func NewPool(maxRetained int) *Pool {
	return &Pool{max: maxRetained}
}

// get returns a buffer of length n.
func (p *Pool) get(n int) []byte {
	c := class(n)
	if c <= maxClass {
		if l := p.free[c]; len(l) > 0 {
			b := l[len(l)-1]
			l[len(l)-1] = nil
			p.free[c] = l[:len(l)-1]
			p.retained -= cap(b)
			return b[:n]
		}
		return make([]byte, n, 1<<c)
	}
	return make([]byte, n)
}

// put gives a buffer obtained from get back to the pool.
func (p *Pool) put(b []byte) {
	c := class(cap(b))
	if c > maxClass || cap(b) != 1<<c || p.retained+cap(b) > p.max {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
	p.retained += cap(b)
}

// class is the size class that fits n bytes.
func class(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}
