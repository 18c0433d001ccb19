// Package bpf holds the kernel side of iggytrace: the eBPF programs in
// capture.c (and floor.c) and the Go bindings bpf2go generates from them.
// The generated *_bpfel.go and *_bpfel.o are committed, so building needs
// no C toolchain; `go generate ./bpf` (after
// scripts/install-bpf-toolchain.sh) rebuilds them, byte for byte the same
// with the same clang.
//
// The loader package is the only user of the Capture bindings. floor.c is a
// yardstick, not part of iggytrace: a minimal per-packet capture, which the
// tracing benchmark (internal/tracebench) runs next to capture.c to show
// what any per-packet capture costs on the kernel at hand.
package bpf

// -mcpu=v3 for atomic fetch-and-add (kernel 5.12+) and 32-bit jumps; the ring
// buffer already needs 5.8. Only little-endian targets are built.
//go:generate go tool bpf2go -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type rec_hdr -type state_rec -type stats -type config -type flow_key -type flow -type capture_mode Capture capture.c
//go:generate go tool bpf2go -tags linux -target bpfel -cflags "-O2 -g -Wall -Werror -mcpu=v3" Floor floor.c
