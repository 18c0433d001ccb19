#!/bin/sh
# Installs what `go generate ./bpf` needs: clang and llvm-strip (compile and
# strip the BPF object), libbpf headers (bpf_helpers.h, bpf_endian.h) and
# bpftool (inspection). Debian/Ubuntu (apt). Idempotent: prints nothing and
# does nothing when everything is present.
#
# The committed bpf/capture_bpfel.{go,o} were built with Debian 12's clang
# 14.0.6 and libbpf 1.1.2; another clang version builds a working but
# different object, which `go generate ./bpf && git diff --exit-code bpf/`
# reports.
set -eu

missing=""
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v llvm-strip >/dev/null 2>&1 || missing="$missing llvm"
[ -f /usr/include/bpf/bpf_helpers.h ] || missing="$missing libbpf-dev"
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || missing="$missing bpftool"

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-bpf-toolchain: need$missing, and this script only knows apt-get" >&2
	exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

echo "install-bpf-toolchain: installing$missing" >&2
$sudo apt-get update -qq
# shellcheck disable=SC2086 # word splitting of $missing is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
