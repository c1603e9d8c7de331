#!/bin/sh
# initramfs.sh - the kernel matrix's guest: an initramfs (cpio, newc) with
# busybox-static, build/leakscope and its shared libraries, the fixtures
# the checks run, Debian's python3.11 with the part of /usr/lib/python3.11
# the checks and the Python fixtures import, bpftool, and /init
# (tools/kernels/init) which runs tools/kernels/checks.py.
#
#   tools/kernels/initramfs.sh REPO BUILD OUT.cpio
#
# Files keep their host paths (libraries, python3.11: leakscope finds libc
# and the interpreter through /proc/PID/maps as on any Debian 12 system);
# the repository's files go under /ls (REPO/build/... as /ls/build/...).
# busybox cpio writes the archive.  Uncompressed: the kernel unpacks it faster under software emulation than
# it would inflate a compressed one.
set -eu

REPO=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
OUT=$3
PY=/usr/bin/python3.11
BUSYBOX=/bin/busybox

for f in "$BUILD/leakscope" "$BUILD/fixtures/leaks" "$BUILD/fixtures/unwind_leaks_nofp" \
	"$PY" /usr/sbin/bpftool; do
	[ -x "$f" ] || { echo "initramfs: $f is missing" >&2; exit 1; }
done
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
	echo "initramfs: $BUSYBOX is not busybox-static (apt-get install busybox-static)" >&2
	exit 1
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/leakscope-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/sbin" "$STAGE/usr/lib" "$STAGE/usr/lib64" "$STAGE/usr/bin" \
	"$STAGE/usr/sbin" "$STAGE/proc" "$STAGE/sys" "$STAGE/dev" "$STAGE/tmp" "$STAGE/run" \
	"$STAGE/root" "$STAGE/etc" "$STAGE/ls"
ln -s usr/lib "$STAGE/lib"	# merged /usr, as on Debian 12
ln -s usr/lib64 "$STAGE/lib64"

# A host path into the stage: directories resolved (merged /usr), a final
# symlink kept as a symlink and its target added too.
add() {
	src=$1
	dir=$(realpath "$(dirname "$src")")
	dst=$STAGE$dir/$(basename "$src")
	[ -e "$dst" ] || [ -L "$dst" ] && return 0
	mkdir -p "$STAGE$dir"
	if [ -L "$src" ]; then
		cp -P "$src" "$dst"
		add "$(realpath "$src")"
	else
		cp -p "$src" "$dst"
	fi
}

# The libraries an ELF file loads (ldd: the loader and each => path).
add_libs() {
	ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\//{print $1}' | while read -r lib; do
		add "$lib"
	done
}

# A repository file under /ls.
add_repo() {	# $1: path relative to REPO or absolute under BUILD, $2: path under /ls
	mkdir -p "$STAGE/ls/$(dirname "$2")"
	cp -p "$1" "$STAGE/ls/$2"
}

cp "$BUSYBOX" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"
cp "$REPO/tools/kernels/init" "$STAGE/init"
chmod 0755 "$STAGE/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$STAGE/etc/passwd"
echo "root:x:0:" > "$STAGE/etc/group"

add_libs "$BUILD/leakscope"
add_repo "$BUILD/leakscope" build/leakscope
for fx in leaks unwind_leaks_nofp; do
	add_libs "$BUILD/fixtures/$fx"
	add_repo "$BUILD/fixtures/$fx" "build/fixtures/$fx"
done
for f in tests/fixtures/leaks.c tests/fixtures/py_leaks.py tests/fixtures/kernel_pipes.py \
	tests/e2e/expected.py tests/e2e/reports.py tools/kernels/checks.py; do
	add_repo "$REPO/$f" "$f"
done
add /usr/sbin/bpftool
add_libs /usr/sbin/bpftool

# Python: the interpreter, the modules checks.py and the fixtures import
# (checks.py --list-modules, run by this same interpreter with the flags
# the guest uses), each with its compiled .pyc when Debian has one, and
# the extension modules' libraries.
add "$PY"
add_libs "$PY"
LEAKSCOPE_ROOT=$REPO "$PY" -I -S "$REPO/tools/kernels/checks.py" --list-modules |
	grep "^/usr/lib/python3" | sort -u | while read -r m; do
	case $m in
	*.so) add "$m"; add_libs "$m" ;;
	*.py)
		add "$m"
		pyc=$(dirname "$m")/__pycache__/$(basename "$m" .py).cpython-311.pyc
		[ -f "$pyc" ] && add "$pyc"
		;;
	esac
done
for m in /usr/lib/python3.11/encodings/*.py; do add "$m"; done
# sys.prefix is found by this landmark
add /usr/lib/python3.11/os.py

(cd "$STAGE" && find . -print | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc -R 0:0) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "initramfs: $OUT, $(du -k "$OUT" | cut -f1) KiB, $(cd "$STAGE" && find . -type f | wc -l) files" >&2
