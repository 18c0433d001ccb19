// Package iouring is a minimal io_uring binding for TCP servers, written
// against the raw kernel interface (io_uring_setup, io_uring_enter and the
// mmap'd rings) with golang.org/x/sys/unix and no other dependency.
//
// It exists because the real Iggy server (0.6+) does its network I/O through
// io_uring (the compio runtime), so syscall-level hooks on read/write/
// sendmsg/recvmsg see none of its traffic. iggytrace captures below the I/O
// interface, and its end-to-end tests prove that by tracing a test server
// whose socket I/O goes through this package: accepting is an
// IORING_OP_ACCEPT, every Conn.Read an IORING_OP_RECV and every Conn.Write
// one or more IORING_OP_SEND, so the process never calls read(2), write(2),
// recvfrom(2), sendto(2), recvmsg(2) or sendmsg(2) on a connection.
//
// The design favours being obviously correct over being fast:
//
//   - One Ring serves any number of listeners and connections. Submitting is
//     serialised by a mutex: the caller writes one SQE, publishes the new SQ
//     tail and calls io_uring_enter to hand it to the kernel, all under the
//     lock, so the SQ never holds more than one unsubmitted entry.
//   - One reaper goroutine per Ring blocks in io_uring_enter(GETEVENTS),
//     drains the CQ and hands each result to the goroutine waiting for it.
//     Every operation is synchronous for its caller, who blocks until its
//     completion arrives; it never returns before that, which is what keeps
//     the buffer the kernel reads or writes alive and in place.
//   - The number of operations in flight is capped below the CQ size, so the
//     completion queue can never overflow.
//   - Closing a socket with operations pending first shuts it down
//     (shutdown(2)), which makes every pending RECV, SEND or ACCEPT on it
//     complete, waits for those completions, and only then closes the
//     descriptor, so that neither the descriptor number nor a caller's
//     buffer is reused while the kernel still works on it. Closing the Ring
//     closes every socket it still owns the same way, stops the reaper and
//     unmaps the rings.
//
// Linux 5.6 or later is needed (IORING_OP_SEND/RECV).
package iouring
