package loader

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ringReader reads a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) in place: each
// record is handed to the caller as a slice of the kernel's mapping and
// released only after the caller returns. cilium/ebpf's ringbuf.Reader
// copies every record into a buffer of its own; in full mode that copy was
// 36 % of the tracer's CPU (a 100-message batch is 100 KB of records).
//
// The layout is the kernel's (kernel/bpf/ringbuf.c): a consumer page the
// reader writes, a producer page it only reads, and the data area mapped
// twice in a row, so that a record that wraps around the end is still
// contiguous. Each record starts with an 8-byte header, a length word
// whose top bits say busy (being written) and discarded, then the
// sample; records are 8-byte aligned.
//
// One goroutine reads (read, wait); wake and close may come from others.
// The Go side never writes the data area: it is mapped read-only.
type ringReader struct {
	cons []byte // consumer page: consumer position at offset 0
	prod []byte // producer page, then the data area twice
	data []byte // the data area within prod, 2 × size bytes
	mask uint64

	epfd   int // epoll on the map (readable: records pending) and on wakefd
	wakefd int // eventfd: wake a wait from another goroutine

	// mu is held by the reading goroutine while it touches the mapping or
	// waits on epfd; close wakes it and takes mu before releasing them.
	mu     sync.Mutex
	closed atomic.Bool
	// wakeMu guards wakefd against wake racing with close.
	wakeMu sync.Mutex
}

const (
	ringBusy    = unix.BPF_RINGBUF_BUSY_BIT
	ringDiscard = unix.BPF_RINGBUF_DISCARD_BIT
	ringHdr     = unix.BPF_RINGBUF_HDR_SZ
	// ringReleaseEvery is how many bytes the reader consumes before it
	// tells the kernel: one store to the shared consumer page per batch
	// rather than per record. Far below any ring size the loader allows.
	ringReleaseEvery = 64 << 10
)

func newRingReader(m *ebpf.Map) (_ *ringReader, err error) {
	size := uint64(m.MaxEntries())
	page := os.Getpagesize()
	if size == 0 || size&(size-1) != 0 || size%uint64(page) != 0 {
		return nil, fmt.Errorf("ring buffer size %d is not a power of two multiple of the page size", size)
	}
	r := &ringReader{epfd: -1, wakefd: -1, mask: size - 1}
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	fd := m.FD()
	if r.cons, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("map the consumer page: %w", err)
	}
	if r.prod, err = unix.Mmap(fd, int64(page), page+int(2*size), unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("map the producer page and data: %w", err)
	}
	r.data = r.prod[page:]
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if r.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	for _, f := range []int{fd, r.wakefd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(f)}
		if err = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, f, &ev); err != nil {
			return nil, fmt.Errorf("epoll add: %w", err)
		}
	}
	return r, nil
}

func (r *ringReader) consPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.cons[0])) }
func (r *ringReader) prodPos() *uint64 { return (*uint64)(unsafe.Pointer(&r.prod[0])) }

// read passes every record the ring holds now to fn, in ring order. The
// sample is valid only until fn returns. It stops early at a record still
// being written (its writer may have been interrupted; a later read gets
// it). It returns os.ErrClosed after close, and an error for a record
// longer than the ring.
func (r *ringReader) read(fn func(sample []byte)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return os.ErrClosed
	}
	cons := atomic.LoadUint64(r.consPos())
	released := cons
	for {
		prod := atomic.LoadUint64(r.prodPos())
		if cons >= prod {
			break
		}
		off := cons & r.mask
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
		if hdr&ringBusy != 0 {
			break
		}
		size := uint64(hdr &^ (ringBusy | ringDiscard))
		if size > r.mask+1-ringHdr {
			// Only a kernel bug could write this; stop rather than read
			// past the mapping.
			atomic.StoreUint64(r.consPos(), cons)
			return fmt.Errorf("ring record of %d bytes in a %d-byte ring", size, r.mask+1)
		}
		if hdr&ringDiscard == 0 {
			start := off + ringHdr
			fn(r.data[start : start+size : start+size])
		}
		cons += (size + ringHdr + 7) &^ 7
		if cons-released >= ringReleaseEvery {
			atomic.StoreUint64(r.consPos(), cons)
			released = cons
		}
	}
	if cons != released {
		atomic.StoreUint64(r.consPos(), cons)
	}
	return nil
}

// errWoken: wait returned because of wake.
var errWoken = errors.New("ring reader woken")

// wait blocks until the kernel signals records (it does so only now and then,
// see ring_flags in capture.c), wake is called, or timeout passes; the caller
// reads in every case. It returns errWoken after a wake, os.ErrClosed after
// close.
func (r *ringReader) wait(timeout time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return os.ErrClosed
	}
	var evs [2]unix.EpollEvent
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	n, err := unix.EpollWait(r.epfd, evs[:], ms)
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("epoll_wait: %w", err)
	}
	if r.closed.Load() {
		return os.ErrClosed
	}
	for _, ev := range evs[:max(n, 0)] {
		if int(ev.Fd) == r.wakefd {
			var b [8]byte
			_, _ = unix.Read(r.wakefd, b[:])
			return errWoken
		}
	}
	return nil
}

// wake makes a wait in another goroutine return errWoken (or the next one,
// if none is in progress).
func (r *ringReader) wake() error {
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	if r.wakefd < 0 {
		return os.ErrClosed
	}
	one := [8]byte{1}
	if _, err := unix.Write(r.wakefd, one[:]); err != nil && err != unix.EAGAIN {
		return fmt.Errorf("wake ring reader: %w", err)
	}
	return nil
}

// close wakes a waiting reader, waits for it to leave the mapping, and
// unmaps it. Safe to call more than once.
func (r *ringReader) close() error {
	if r.closed.Swap(true) {
		return nil
	}
	_ = r.wake()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.release()
}

func (r *ringReader) release() error {
	var errs []error
	for _, m := range [][]byte{r.cons, r.prod} {
		if m != nil {
			if err := unix.Munmap(m); err != nil {
				errs = append(errs, fmt.Errorf("munmap: %w", err))
			}
		}
	}
	r.cons, r.prod, r.data = nil, nil, nil
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	for _, fd := range []*int{&r.epfd, &r.wakefd} {
		if *fd >= 0 {
			if err := unix.Close(*fd); err != nil {
				errs = append(errs, err)
			}
			*fd = -1
		}
	}
	return errors.Join(errs...)
}
