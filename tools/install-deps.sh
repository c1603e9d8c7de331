#!/bin/sh
# install-deps.sh - installs what leakscope needs to build and test, from
# Debian's archive only.  Idempotent: does nothing when all is present.
set -eu

PKGS="make clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev
      pkg-config libcapstone-dev libncurses-dev libcmocka-dev tmux python3 python3-pytest binutils gcc g++
      protobuf-c-compiler libprotobuf-c-dev libmicrohttpd-dev golang-go prometheus
      libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev redis-server
      valgrind dpkg-dev lld libyaml-dev libcrypt-dev openssl xxd chromium"

# `--bench`: also what `make bench` drives (a real server and its load tool)
[ "${1:-}" = "--bench" ] && PKGS="$PKGS redis-tools"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run 'sudo $0' (or make deps as root)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
