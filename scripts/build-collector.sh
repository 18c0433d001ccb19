#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the OTLP export tests send to, from its Go
# modules, with the project's own builder configuration
# (internal/otelcol/builder-config.yaml: the otlp receiver and the otlphttp
# exporter, nothing else). Idempotent: does nothing when the binary exists
# and was built from the current configuration.
#
#   scripts/build-collector.sh          build if missing, print the binary's path
#   scripts/build-collector.sh --force  rebuild
#
# The binary goes to $IGGYTRACE_OTELCOL_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/iggytrace/otelcol-v0.162.0/, where the tests
# (internal/otelcol) look for it; IGGYTRACE_OTELCOL names another binary.
# Needs Go and the module proxy (or a filled module cache). Takes a few
# minutes on two cores the first time.
set -euo pipefail

VERSION=v0.162.0
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${IGGYTRACE_OTELCOL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iggytrace/otelcol-$VERSION}"
bin="$dir/otelcol-iggytrace"

# The binary is rebuilt when the builder configuration changed since.
config="$root/internal/otelcol/builder-config.yaml"
sum="$(sha256sum "$config" | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -x "$bin" ] && [ "$(cat "$bin.config-sha256" 2>/dev/null)" = "$sum" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
src="$dir/src"
rm -rf "$src"
start=$(date +%s)
echo "building the OpenTelemetry Collector $VERSION into $dir (takes a few minutes) ..." >&2
# The builder is run as a module of its own (go run pkg@version), outside
# iggytrace's go.mod; the project's GOFLAGS (-mod=mod) do not apply to it.
(
	cd "$dir"
	GOFLAGS=-buildvcs=false go run "go.opentelemetry.io/collector/cmd/builder@$VERSION" \
		--config "$config" \
		--output-path "$src" >&2
)
mv -f "$src/otelcol-iggytrace" "$bin.tmp"
mv -f "$bin.tmp" "$bin"
echo "$sum" >"$bin.config-sha256"
rm -rf "$src"
echo "built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
