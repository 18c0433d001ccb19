#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed time each and prints, per
# target, the executions and new corpus entries Go reported at the end.
#   scripts/fuzz.sh 5m            # all targets, 5 minutes each
#   scripts/fuzz.sh 30s FuzzFraming
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5m}
only=${2:-}
export GOFLAGS=${GOFLAGS:--mod=mod}
log=$(mktemp -d)
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    [ -n "$only" ] && [ "$only" != "$target" ] && continue
    echo "== $pkg $target ($fuzztime)"
    out="$log/$target.log"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$out" 2>&1; then
      cat "$out"
      echo "FAIL: $target" >&2
      exit 1
    fi
    grep -E 'fuzz: elapsed' "$out" | tail -n 1
  done
done
