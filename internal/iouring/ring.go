package iouring

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultMaxInFlight is the number of operations a Ring created with
// NewRing(0) lets wait for completion at once.
const DefaultMaxInFlight = 1024

// sqEntries is the size of the submission queue. Submissions are serialised
// and each is handed to the kernel before the next one is written, so the SQ
// never holds more than one entry; the kernel requires cq_entries >=
// sq_entries, and a small SQ keeps its SQE array to a single page.
const sqEntries = 8

// ringState says what a Ring still accepts.
type ringState int

const (
	stateOpen    ringState = iota
	stateClosing           // no new sockets; operations on sockets not yet closed still run
	stateClosed            // nothing may be submitted anymore
)

// Ring is one io_uring instance shared by the listeners and connections
// created from it. All its methods are safe for concurrent use. Close
// releases everything it owns.
type Ring struct {
	fd int

	// The three shared mappings. cqMap aliases sqMap when the kernel maps
	// both rings at once (IORING_FEAT_SINGLE_MMAP, Linux 5.4+).
	sqMap, cqMap, sqeMap []byte
	cqShared             bool

	// Views into the mappings. head/tail words are shared with the kernel
	// and only ever accessed atomically; the masks are constant.
	sqHead, sqTail *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []sqe
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe

	// slots is a counting semaphore with one token per operation in
	// flight. Its capacity is below the CQ size (one entry stays free for
	// the reaper's wake-up NOP), so the kernel never has to hold back
	// completions for lack of CQ space.
	slots chan struct{}
	// closing is closed when Close starts, to release callers waiting for
	// a slot.
	closing chan struct{}

	// mu guards the SQ (including the io_uring_enter that submits it) and
	// the fields below.
	mu     sync.Mutex
	ops    map[uint64]chan int32 // waiting callers by user_data
	nextID uint64                // last user_data handed out; 0 is the wake-up
	socks  map[*socket]struct{}  // sockets to close on Close
	state  ringState

	reaperDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// NewRing creates an io_uring instance and starts its completion reaper.
// maxInFlight bounds how many operations (pending Accept, Read and Write
// calls) may wait for completion at once; further calls block until one
// finishes. 0 means DefaultMaxInFlight. Every blocked Read counts, so a
// server needs about one slot per idle connection plus one per listener.
//
// It fails with ENOSYS on kernels without io_uring and with EPERM where it
// is disabled (kernel.io_uring_disabled) or filtered (e.g. Docker's default
// seccomp profile).
func NewRing(maxInFlight int) (*Ring, error) {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	// The kernel limits cq_entries to 65536 (IORING_MAX_CQ_ENTRIES).
	maxInFlight = min(maxInFlight, 1<<16-1)
	p := params{
		flags:     setupCQSize | setupClamp,
		cqEntries: uint32(max(maxInFlight+1, sqEntries)), // the kernel wants cq >= sq
	}
	// The kernel fills p (ring sizes and the offsets of the ring fields in
	// the mappings); it does not keep the pointer.
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, sqEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("iouring: io_uring_setup: %w", errno)
	}
	r := &Ring{
		fd:         int(fd),
		closing:    make(chan struct{}),
		ops:        map[uint64]chan int32{},
		socks:      map[*socket]struct{}{},
		reaperDone: make(chan struct{}),
	}
	if err := r.mapRings(&p); err != nil {
		r.unmap()
		_ = unix.Close(r.fd)
		return nil, err
	}
	r.slots = make(chan struct{}, min(maxInFlight, len(r.cqes)-1))
	go r.reap()
	return r, nil
}

// mapRings maps the SQ ring, the CQ ring and the SQE array and sets up the
// views into them from the offsets the kernel returned in p.
func (r *Ring) mapRings(p *params) error {
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const flags = unix.MAP_SHARED | unix.MAP_POPULATE
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(cqe{}))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMap, err = unix.Mmap(r.fd, offSQRing, sqSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: map submission ring: %w", err)
	}
	if single {
		r.cqMap, r.cqShared = r.sqMap, true
	} else if r.cqMap, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: map completion ring: %w", err)
	}
	if r.sqeMap, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), prot, flags); err != nil {
		return fmt.Errorf("iouring: map submission entries: %w", err)
	}

	// unsafe: the mappings are kernel-shared memory outside the Go heap,
	// sized above from the same offsets, so every view below lies inside
	// its mapping; the offsets are 4- (ring words) and 8-byte (CQEs)
	// aligned by the kernel. The views are dropped before unmapping.
	r.sqHead = u32At(r.sqMap, p.sqOff.head)
	r.sqTail = u32At(r.sqMap, p.sqOff.tail)
	r.sqMask = *u32At(r.sqMap, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32At(r.sqMap, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.cqHead = u32At(r.cqMap, p.cqOff.head)
	r.cqTail = u32At(r.cqMap, p.cqOff.tail)
	r.cqMask = *u32At(r.cqMap, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&r.cqMap[p.cqOff.cqes])), p.cqEntries)
	return nil
}

// u32At points at the 32-bit word at off in a ring mapping (bounds-checked
// by the index expression).
func u32At(m []byte, off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&m[off]))
}

// unmap drops the views and unmaps whatever is mapped. The caller makes
// sure that nothing reads the rings anymore.
func (r *Ring) unmap() []error {
	r.sqHead, r.sqTail, r.sqArray, r.sqes = nil, nil, nil, nil
	r.cqHead, r.cqTail, r.cqes = nil, nil, nil
	maps := [][]byte{r.sqeMap, r.sqMap}
	if !r.cqShared {
		maps = append(maps, r.cqMap)
	}
	r.sqeMap, r.sqMap, r.cqMap = nil, nil, nil
	var errs []error
	for _, m := range maps {
		if m == nil {
			continue
		}
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("iouring: unmap ring: %w", err))
		}
	}
	return errs
}

// enter calls io_uring_enter(2). It blocks the calling thread (not the Go
// scheduler) while waiting.
func (r *Ring) enter(toSubmit, minComplete, flags uint32) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// acquire takes a slot for one operation on s; release returns it once
// the operation's completion has been consumed. Waiting for a slot ends
// when the ring or s is closed, so that a caller blocked here never
// outlives them.
func (r *Ring) acquire(s *socket) error {
	select {
	case <-r.closing:
		return errRingClosed
	case <-s.done:
		return errSocketClosed
	default:
	}
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-r.closing:
		return errRingClosed
	case <-s.done:
		return errSocketClosed
	}
}

func (r *Ring) release() { <-r.slots }

// start submits one SQE and returns the channel its result (the CQE's res:
// a count, a descriptor or -errno) arrives on. The caller must hold a slot
// and must receive from the channel before reusing anything e points to.
func (r *Ring) start(e *sqe) (<-chan int32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == stateClosed {
		return nil, errRingClosed
	}
	r.nextID++
	id := r.nextID
	e.userData = id
	ch := make(chan int32, 1)
	r.ops[id] = ch
	if err := r.pushLocked(e); err != nil {
		delete(r.ops, id)
		return nil, err
	}
	return ch, nil
}

// pushLocked writes e into the SQ and submits it. r.mu must be held.
//
// Memory ordering: the SQE and its array slot are written with plain
// stores, then the new tail is published with an atomic store; Go's atomics
// are sequentially consistent, so the kernel's load-acquire of the tail
// sees the complete entry. The head is written by the kernel
// (store-release) and read here with an atomic load.
func (r *Ring) pushLocked(e *sqe) error {
	tail := atomic.LoadUint32(r.sqTail) // only this package writes the tail
	head := atomic.LoadUint32(r.sqHead)
	if tail-head >= uint32(len(r.sqes)) {
		// Cannot happen: every entry is submitted before r.mu is released.
		return errors.New("iouring: submission queue unexpectedly full")
	}
	idx := tail & r.sqMask
	r.sqes[idx] = *e
	r.sqArray[idx] = idx
	atomic.StoreUint32(r.sqTail, tail+1)
	for attempt := 0; ; attempt++ {
		n, err := r.enter(1, 0, 0)
		if n == 1 || atomic.LoadUint32(r.sqHead) == tail+1 {
			// Consumed. A bad entry is consumed too; its error comes as
			// its completion.
			return nil
		}
		if err == unix.EINTR || ((err == unix.EAGAIN || err == unix.EBUSY) && attempt < 100) {
			// EAGAIN/EBUSY: the kernel is short of memory or completion
			// space for a moment.
			if err != unix.EINTR {
				time.Sleep(time.Millisecond)
			}
			continue
		}
		// Withdraw the entry. Without SQPOLL the kernel reads the SQ only
		// inside io_uring_enter, and r.mu keeps other submitters out.
		atomic.StoreUint32(r.sqTail, tail)
		if err == nil {
			err = errors.New("kernel consumed no entry")
		}
		return fmt.Errorf("iouring: submit: %w", err)
	}
}

// reap is the completion loop: it blocks in io_uring_enter until at least
// one CQE is there, drains the CQ and hands every result to its waiter. It
// returns when it reaps the wake-up NOP (user_data 0) Close submits after
// all operations have completed.
//
// Memory ordering: the kernel writes a CQE and then store-releases the CQ
// tail; the atomic load of the tail here orders the reads of the CQEs after
// it. The head is advanced with an atomic store only after the entries were
// copied out, so the kernel never overwrites an entry still being read.
func (r *Ring) reap() {
	defer close(r.reaperDone)
	var batch []cqe
	backoff := time.Millisecond
	for {
		if _, err := r.enter(0, 1, enterGetEvents); err != nil {
			// EINTR (a signal, e.g. the Go scheduler's preemption) is
			// routine, EAGAIN/EBUSY are transient. With a valid ring
			// descriptor nothing else can fail here; should it anyway, it
			// is retried too: failing the waiters would release buffers
			// the kernel may still write into.
			if err != unix.EINTR {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		backoff = time.Millisecond
		head := atomic.LoadUint32(r.cqHead) // only the reaper writes the head
		tail := atomic.LoadUint32(r.cqTail)
		batch = batch[:0]
		for ; head != tail; head++ {
			batch = append(batch, r.cqes[head&r.cqMask])
		}
		atomic.StoreUint32(r.cqHead, head)
		if r.dispatch(batch) {
			return
		}
	}
}

// dispatch delivers completions to their waiters and reports whether the
// wake-up NOP was among them.
func (r *Ring) dispatch(batch []cqe) (stop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range batch {
		if c.userData == 0 {
			stop = true
			continue
		}
		if ch, ok := r.ops[c.userData]; ok {
			delete(r.ops, c.userData)
			ch <- c.res // buffered: never blocks
		}
	}
	return stop
}

// newSocket registers fd so that Close will close it.
func (r *Ring) newSocket(fd int) (*socket, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateOpen {
		return nil, errRingClosed
	}
	s := &socket{r: r, fd: fd, done: make(chan struct{})}
	r.socks[s] = struct{}{}
	return s, nil
}

func (r *Ring) forget(s *socket) {
	r.mu.Lock()
	delete(r.socks, s)
	r.mu.Unlock()
}

// Close closes every listener and connection created from the ring (their
// pending operations fail with an error wrapping net.ErrClosed), waits for
// all operations to complete, stops the reaper, unmaps the rings and closes
// the ring descriptor. It is safe to call more than once and concurrently;
// every call returns the result of the first.
func (r *Ring) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *Ring) close() error {
	close(r.closing)
	r.mu.Lock()
	r.state = stateClosing
	socks := make([]*socket, 0, len(r.socks))
	for s := range r.socks {
		socks = append(socks, s)
	}
	r.mu.Unlock()

	var errs []error
	for _, s := range socks {
		// Each socket's close waits for its own operations, and every
		// operation belongs to a socket, so none is left afterwards.
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}

	r.mu.Lock()
	r.state = stateClosed
	wakeErr := r.pushLocked(&sqe{opcode: opNop}) // user_data 0
	r.mu.Unlock()
	if wakeErr != nil {
		// The reaper cannot be woken. Leave the ring mapped and open
		// rather than unmap memory it still reads.
		return errors.Join(append(errs, fmt.Errorf("iouring: wake completion reaper: %w", wakeErr))...)
	}
	<-r.reaperDone
	errs = append(errs, r.unmap()...)
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, fmt.Errorf("iouring: close ring: %w", err))
	}
	return errors.Join(errs...)
}
