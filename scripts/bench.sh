#!/usr/bin/env bash
# Decoder throughput benchmarks (`make bench`): runs them in one go and prints
# one row per stream with medians over COUNT runs and the ratio to the goal.
#
#   scripts/bench.sh                 # COUNT=5 BENCHTIME=1s, about a minute
#   COUNT=10 BENCHTIME=2s scripts/bench.sh
#   BENCHSTAT=1 scripts/bench.sh     # also benchstat's summary of the raw runs
#   RAW=out.txt scripts/bench.sh     # keep the raw `go test -bench` output
#
# Goals (from the issue): at least 1 GB/s on a SendMessages-heavy stream, at
# least 2 million small frames per second per core, and no allocation per
# frame in reassembly, framing and pairing once warm (decoding allocates only
# the event it returns).
#
# The benchmarks run with -cpu 1 (GOMAXPROCS=1): the decoder is one
# goroutine, and with one P the garbage collector's work lands on the same
# core, so the figures are per core. frames/s is wall-clock; cpu-ns/frame is
# the process's CPU time per frame, which other load on the machine disturbs
# less (the "per CPU-second" column). Both are printed, with the load average.
#
# Rows: each entry of ROWS below is
#   label | package | benchmark | goal kind | goal value
# goal kinds: MBps (MB/s ≥ value, 1 GB/s = 1000 MB/s), fps (frames/s ≥
# value), zero-allocs (allocs/frame = 0), none. The benchmarks of one
# package run in one `go test` invocation. To add rows (the kernel capture
# benchmarks in loader/, say), append entries; a benchmark must report
# frames/s and allocs/frame with b.ReportMetric for those columns to show
# (others print "-").
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--mod=mod}
# The iggytrace binary runs with GOGC=400 unless GOGC is set (its live heap
# is small; see cmd/iggytrace/main.go), so the benchmarks measure the decoder
# as it runs there. GOGC=100 scripts/bench.sh shows Go's default.
export GOGC=${GOGC:-400}
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
CPU=${CPU:-1}

ROWS=(
  "SendMessages-heavy, full pipeline|./decoder|BenchmarkTrackerSendMessages|MBps|1000"
  "SendMessages-heavy, full pipeline, --messages|./decoder|BenchmarkTrackerSendMessagesDetail|MBps|1000"
  "small commands, full pipeline|./decoder|BenchmarkTrackerSmallCommands|fps|2000000"
  "SendMessages-heavy, reassembly+framing+pairing|./decoder|BenchmarkPairingOnlySendMessages|zero-allocs|0"
  "small commands, reassembly+framing+pairing|./decoder|BenchmarkPairingOnlySmallCommands|zero-allocs|0"
)

raw=${RAW:-$(mktemp)}
: >"$raw"
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "# go test -bench -benchmem -count $COUNT -benchtime $BENCHTIME -cpu $CPU (GOGC=$GOGC)"

# One go test run per package, with every benchmark of that package.
pkgs=$(for r in "${ROWS[@]}"; do IFS='|' read -r _ pkg _ _ _ <<<"$r"; echo "$pkg"; done | awk '!seen[$0]++')
for pkg in $pkgs; do
  names=$(for r in "${ROWS[@]}"; do IFS='|' read -r _ p b _ _ <<<"$r"; [ "$p" = "$pkg" ] && echo "$b"; done | paste -sd'|')
  if ! go test -run '^$' -bench "^(${names})\$" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" \
      -cpu "$CPU" -timeout 30m "$pkg" >>"$raw" 2>&1; then
    cat "$raw" >&2
    echo "bench: go test $pkg failed" >&2
    exit 1
  fi
done
echo "# load average after:  $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
grep -h 'bytes per replay' "$raw" | sed 's/^.*_test.go:[0-9]*: /# /' | sort -u
echo

# median NAME UNIT: the median of the value before UNIT on NAME's result lines.
median() {
  awk -v name="$1" -v unit="$2" '
    { n = $1; sub(/-[0-9]+$/, "", n) }
    n == name { for (i = 3; i <= NF; i++) if ($i == unit) v[++k] = $(i - 1) }
    END {
      if (k == 0) { print "-"; exit }
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      print (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    }' "$raw"
}

fmt_rate() { # a rate in units/s, human-readable
  awk -v x="$1" -v u="$2" 'BEGIN {
    if (x == "-") { print "-"; exit }
    if (x >= 1e9) printf "%.2f G%s\n", x / 1e9, u; else if (x >= 1e6) printf "%.2f M%s\n", x / 1e6, u;
    else if (x >= 1e3) printf "%.1f k%s\n", x / 1e3, u; else printf "%.0f %s\n", x, u }'
}

printf '%-48s %11s %12s %10s %12s %9s %9s\n' "stream" "MB/s" "frames/s" "ns/frame" "frames/CPU-s" "allocs/fr" "allocs/pr"
verdicts=()
for r in "${ROWS[@]}"; do
  IFS='|' read -r label _ bench kind goal <<<"$r"
  mbs=$(median "$bench" MB/s)
  fps=$(median "$bench" frames/s)
  nsf=$(median "$bench" ns/frame)
  cpuf=$(median "$bench" cpu-ns/frame)
  apf=$(median "$bench" allocs/frame)
  app=$(median "$bench" allocs/pair)
  fpcpu=-
  [ "$cpuf" != - ] && fpcpu=$(awk -v c="$cpuf" 'BEGIN { printf "%.0f", 1e9 / c }')
  printf '%-48s %11s %12s %10s %12s %9s %9s\n' "$label" "$mbs" "$(fmt_rate "$fps" "")" "$nsf" \
    "$(fmt_rate "$fpcpu" "")" "$apf" "$app"
  case $kind in
    MBps)
      verdicts+=("$(awk -v x="$mbs" -v g="$goal" -v l="$label" 'BEGIN {
        if (x == "-") { printf "%s: no MB/s reported", l; exit }
        printf "%s: %.2f GB/s = %.1f× the %.0f GB/s goal%s", l, x / 1000, x / g, g / 1000, (x >= g) ? "" : "  ** BELOW GOAL **" }')")
      ;;
    fps)
      verdicts+=("$(awk -v x="$fps" -v c="$fpcpu" -v g="$goal" -v l="$label" 'BEGIN {
        if (x == "-") { printf "%s: no frames/s reported", l; exit }
        printf "%s: %.2f M frames/s = %.2f× the %.0f M/s per-core goal", l, x / 1e6, x / g, g / 1e6
        if (c != "-") printf " (by CPU time: %.2f M/CPU-s = %.2f×)", c / 1e6, c / g
        if (x < g) printf "  ** BELOW GOAL **" }')")
      ;;
    zero-allocs)
      verdicts+=("$(awk -v x="$apf" -v l="$label" 'BEGIN {
        if (x == "-") { printf "%s: no allocs/frame reported", l; exit }
        printf "%s: %s allocs/frame%s", l, x, (x + 0 == 0) ? " (goal: 0)" : "  ** goal is 0 **" }')")
      ;;
  esac
done
echo
for v in "${verdicts[@]}"; do echo "$v"; done

if [ -n "${BENCHSTAT:-}" ]; then
  echo
  go run golang.org/x/perf/cmd/benchstat@latest "$raw"
fi
[ -n "${RAW:-}" ] || rm -f "$raw"
