#!/usr/bin/env bash
# bench-trace.sh: what tracing costs the Iggy server, measured side by side
# in one run. The real Go SDK workload (producers sending batches of 100
# 1 KiB messages; a small-command mix) runs against iggytrace's test server,
# one server per condition, each in a cgroup of its own: untraced, traced by
# bpf/floor.c (a minimal per-packet capture: a yardstick), traced by
# `iggytrace trace --mode header-only -o json > /dev/null`, and traced in
# full mode. Runs are interleaved, many short rounds, order permuted; medians
# reported. Prints, per workload and mode, the throughput kept (goal: 97%
# header-only, 80% full), the kernel's average ns per program run (BPF
# run-time statistics on for the run; goal < 300 ns header-only) and the
# tracer's CPU seconds per 100k requests. See internal/tracebench for the
# method. Needs root.
#
# It runs the whole bench twice (-layout shared,split): with every process
# on every CPU (the tracer's CPU is taken from the saturated workload), then
# with the tracer alone on the last CPU (what the server loses when the
# tracer has a CPU budget of its own, as a DaemonSet does). About 2-4
# minutes each on a 2-vCPU VM (each stops starting rounds after 3.5
# minutes: -max-time).
#
#   scripts/bench-trace.sh                      # the bench
#   scripts/bench-trace.sh -json out.json       # also every run as JSON
#   scripts/bench-trace.sh -rounds 3 -max-time 1m   # a quick look
#   scripts/bench-trace.sh -layout split        # one CPU layout only
#   scripts/bench-trace.sh -no-trace            # A/A test: the noise floor
#   scripts/bench-trace.sh -cpuprofile-dir prof # pprof of each mode's tracer
#                                               # (go tool pprof prof/tracer-full.pprof)
#   scripts/bench-trace.sh -h                   # every option
#
# Environment: GO (default go); IGGYTRACE (an iggytrace binary to use
# instead of building one); TRACEBENCH_BIN_DIR (where to build the binaries;
# default a temporary directory, removed at the end). The output is a
# table on stdout; progress lines go to stderr (-q: none).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export GOFLAGS=${GOFLAGS:--mod=mod}

if [ "$(id -u)" != 0 ]; then
	echo "bench-trace: needs root (BPF programs, cgroups)" >&2
	exit 1
fi

if [ -n "${TRACEBENCH_BIN_DIR:-}" ]; then
	bin=$TRACEBENCH_BIN_DIR
	mkdir -p "$bin"
else
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
fi
# IGGYTRACE=path uses an iggytrace binary already built (e.g. bin/iggytrace
# after `make build`) instead of building one from the working tree.
iggytrace=${IGGYTRACE:-}
if [ -z "$iggytrace" ]; then
	iggytrace=$bin/iggytrace
	"$GO" build -o "$iggytrace" ./cmd/iggytrace
fi
"$GO" build -o "$bin/tracebench" ./internal/tracebench/cmd/tracebench
echo "bench-trace: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
"$bin/tracebench" -iggytrace "$iggytrace" "$@"
