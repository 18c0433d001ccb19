#!/usr/bin/env bash
# Installs the system packages iggytrace's tests need: Wireshark's command-line
# tools (tshark, dumpcap), which the capture reader, pcapng writer and live
# capture tests use as an independent reference. Run as root (or with sudo).
# Without them those tests skip locally and fail under CI=true.
set -euo pipefail

if command -v tshark >/dev/null && command -v dumpcap >/dev/null; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

# wireshark-common asks whether non-root users may capture; answer no, so the
# install never waits for a terminal.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends tshark
