package iouring

import "unsafe"

// The kernel ABI of io_uring, from include/uapi/linux/io_uring.h. Only what
// this package uses is declared; golang.org/x/sys/unix has the syscall
// numbers but not these definitions.

// Offsets passed to mmap to map the three shared regions of a ring.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// io_uring_setup flags.
const (
	setupCQSize = 1 << 3 // IORING_SETUP_CQSIZE: cq_entries is set by the caller
	setupClamp  = 1 << 4 // IORING_SETUP_CLAMP: clamp entries instead of EINVAL
)

// io_uring_params.features bits.
const (
	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP: SQ and CQ rings share one mapping
)

// io_uring_enter flags.
const enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS

// Opcodes (enum io_uring_op). RECV and SEND exist since Linux 5.6, ACCEPT
// since 5.5.
const (
	opNop    = 0  // IORING_OP_NOP
	opAccept = 13 // IORING_OP_ACCEPT
	opSend   = 26 // IORING_OP_SEND
	opRecv   = 27 // IORING_OP_RECV
)

// sqe is struct io_uring_sqe (64 bytes). The kernel's unions are flattened
// to the member this package uses at each offset.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // off / addr2 (ACCEPT: pointer to addrlen)
	addr        uint64 // buffer (RECV, SEND) or sockaddr (ACCEPT)
	len         uint32
	opFlags     uint32 // msg_flags (RECV, SEND) / accept_flags (ACCEPT)
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// cqe is struct io_uring_cqe without IORING_SETUP_CQE32 (16 bytes).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqRingOffsets
	cqOff        cqRingOffsets
}

// Compile-time checks that the Go layouts match the kernel's sizes: each
// line fails to compile if the size differs in either direction.
var (
	_ [unsafe.Sizeof(sqe{}) - 64]byte
	_ [64 - unsafe.Sizeof(sqe{})]byte
	_ [unsafe.Sizeof(cqe{}) - 16]byte
	_ [16 - unsafe.Sizeof(cqe{})]byte
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [120 - unsafe.Sizeof(params{})]byte
)
