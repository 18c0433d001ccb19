#!/usr/bin/env bash
# Installs the system packages iggytrace's tests and generators need, with
# apt-get, when they are missing (idempotent: silent when all are present):
#   - tshark, dumpcap: Wireshark's tools, the independent reference the pcap
#     reader, pcapng writer and live-capture tests compare against;
#   - strace: proves the io_uring test server makes no read/write syscalls;
#   - clang, llvm, libbpf-dev, bpftool: regenerate the BPF objects, which
#     `make check-generated` compares with the committed ones.
# Run as root (or with sudo). Without them those tests skip locally and fail
# under CI=true.
set -euo pipefail
cd "$(dirname "$0")"

if ! { command -v tshark && command -v dumpcap && command -v strace; } >/dev/null; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	# wireshark-common asks whether non-root users may capture; answer no, so
	# the install never waits for a terminal.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends tshark strace
fi

sh ./install-bpf-toolchain.sh

# The real OpenTelemetry Collector the OTLP tests send to, built from its Go
# modules (a few minutes the first time; cached afterwards).
bash ./build-collector.sh
