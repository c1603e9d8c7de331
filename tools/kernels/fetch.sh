#!/bin/sh
# fetch.sh - finds and caches the vmlinuz of Debian's kernel packages.
#
#   tools/kernels/fetch.sh SERIES...      e.g. 6.1 6.12 6.18 7
#
# For each SERIES prints one line "SERIES VERSION PACKAGE VMLINUZ" (the
# package the vmlinuz came from, its Debian version, the cached file).
# A SERIES is one of
#   6.1   bookworm's newest linux-image-6.1.0-N-amd64
#   6.12  bookworm's newest linux-image-6.12.N+deb12-amd64 (bookworm-security
#         carries Debian 13's kernel for Debian 12; older ones are in
#         bookworm-backports)
#   6.18  trixie-backports' newest linux-image-6.18.N+deb13-amd64
#   7     sid's newest linux-image-7.N.N+debNN-amd64
#   X.Y   the newest linux-image-X.Y.N+debNN-amd64 of any suite below
#   linux-image-...-amd64 (or =VERSION appended): exactly that package
# Newer packages keep the vmlinuz in linux-binary-ABI (which linux-image-ABI
# depends on; usr/lib/modules/ABI/vmlinuz there): that one is downloaded then.
#
# apt runs with a private source list and private state under
# $KERNEL_CACHE/apt: the host's apt configuration, lists and cache are not
# touched.  Only Debian's archive is contacted (the mirror the host's own
# sources name, else deb.debian.org).  Lists are refreshed when older than
# a day (KERNELS_UPDATE=1 forces it); without network the cached lists and
# kernels are used.  Only boot/vmlinuz-* is kept from each package.
set -eu

CACHE=${KERNEL_CACHE:-/var/cache/leakscope-kernels}
APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc" "$CACHE/vmlinuz"

say() { echo "fetch: $*" >&2; }

# The mirror the host uses (deb822 or one-line sources), else deb.debian.org.
host_uri() {	# $1: path suffix, "debian" or "debian-security"
	cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -o "https\?://[^ ]*/$1/\?\( \|$\)" | sed 's:/\? *$::' | head -n1
}
MIRROR=${KERNEL_MIRROR:-$(host_uri debian)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${KERNEL_SECURITY_MIRROR:-$(host_uri debian-security)}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

cat > "$APTDIR/etc/sources.list.new" <<EOF
deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR bookworm-updates main
deb [signed-by=$KEYRING] $SECURITY bookworm-security main
deb [signed-by=$KEYRING] $MIRROR bookworm-backports main
deb [signed-by=$KEYRING] $MIRROR trixie-backports main
deb [signed-by=$KEYRING] $MIRROR sid main
EOF
if ! cmp -s "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"; then
	mv "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"
	KERNELS_UPDATE=1
else
	rm -f "$APTDIR/etc/sources.list.new"
fi

# sid's Release can be past Valid-Until in a mirror snapshot: not checked.
APT_OPTS="-o Dir::Etc::SourceList=$APTDIR/etc/sources.list
 -o Dir::Etc::SourceParts=/dev/null
 -o Dir::State::Lists=$APTDIR/lists
 -o Dir::State::status=/dev/null
 -o Dir::Cache=$APTDIR/cache
 -o Acquire::Check-Valid-Until=false
 -o APT::Sandbox::User=root"

# shellcheck disable=SC2086
apt_get() { apt-get -q $APT_OPTS "$@"; }
# shellcheck disable=SC2086
apt_cache() { apt-cache $APT_OPTS "$@"; }

stamp=$APTDIR/updated
if [ "${KERNELS_UPDATE:-0}" = 1 ] || [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
	say "apt-get update (private lists in $APTDIR)"
	if apt_get update >"$APTDIR/update.log" 2>&1; then
		touch "$stamp"
	else
		say "apt-get update failed (see $APTDIR/update.log): using the cached lists"
	fi
fi

# pattern and suites of a series
series_spec() {
	case $1 in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' 'bookworm bookworm-updates bookworm-security' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' 'bookworm bookworm-updates bookworm-security bookworm-backports' ;;
	6.18) echo '^linux-image-6\.18\.[0-9]+\+deb13-amd64$' 'trixie-backports' ;;
	7) echo '^linux-image-7\.[0-9]+\.[0-9]+\+deb[0-9]+-amd64$' 'sid' ;;
	[0-9]*.[0-9]*) echo "^linux-image-$(echo "$1" | sed 's/\./\\./g')\\.[0-9]+\\+deb[0-9]+-amd64\$" '*' ;;
	*) return 1 ;;
	esac
}

# "PACKAGE VERSION" of the newest package of a series (from the lists)
resolve() {
	case $1 in
	linux-image-*=*) echo "${1%%=*} ${1#*=}"; return ;;
	linux-image-*)
		v=$(apt_cache madison "$1" | awk -F' *[|] *' '{print $2}' | sort -V | tail -n1)
		[ -n "$v" ] && echo "$1 $v"
		return ;;
	esac
	spec=$(series_spec "$1") || { say "unknown series '$1'"; return 1; }
	pat=${spec%% *}
	suites=${spec#* }
	names=$(apt_cache pkgnames linux-image- | grep -E "$pat" || true)
	[ -n "$names" ] || return 0
	# shellcheck disable=SC2086
	apt_cache madison $names | awk -F' *[|] *' -v suites=" $suites " '
		{ split($3, u, " "); split(u[2], s, "/") }
		suites == " * " || index(suites, " " s[1] " ") { print $2, $1 }' |
		sort -V | tail -n1 | awk '{print $2, $1}'
}

# A cached vmlinuz for a series when the archive cannot be reached.
cached_fallback() {
	printf '%s\n' "$CACHE"/vmlinuz/*.pkg | sort -V -r | while read -r f; do
		[ -f "$f" ] || continue
		read -r s v p k < "$f"
		[ "$s" = "$1" ] && [ -f "$k" ] && { echo "$s $v $p $k"; exit 3; }
	done
	[ $? = 3 ]
}

status=0
for s in "$@"; do
	r=$(resolve "$s" || true)
	if [ -z "$r" ]; then
		if cached_fallback "$s"; then
			say "series $s: not in the lists, using the newest cached kernel"
			continue
		fi
		say "series $s: no package found"
		status=1
		continue
	fi
	pkg=${r% *}
	ver=${r#* }
	abi=${pkg#linux-image-}
	out=$CACHE/vmlinuz/vmlinuz-$abi-$ver
	if [ ! -s "$out" ]; then
		# The image is in linux-binary-ABI when linux-image-ABI depends on it.
		src=$pkg
		if apt_cache show "$pkg=$ver" 2>/dev/null | grep '^Depends:' | grep -q "linux-binary-$abi "; then
			src=linux-binary-$abi
		fi
		tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
		say "downloading $src=$ver"
		if (cd "$tmp" && apt_get download "$src=$ver" >"$tmp/log" 2>&1) &&
			deb=$(ls "$tmp"/*.deb) &&
			dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards --no-anchored 'vmlinuz*' &&
			img=$(find "$tmp/boot" "$tmp/usr/lib/modules" -type f -name 'vmlinuz*' 2>/dev/null | head -n1) &&
			[ -n "$img" ] && mv "$img" "$out.tmp" && mv "$out.tmp" "$out"; then
			:
		else
			cat "$tmp/log" >&2 2>/dev/null || true
			rm -rf "$tmp"
			if cached_fallback "$s"; then
				say "series $s: $src=$ver could not be fetched, using the newest cached kernel"
				continue
			fi
			status=1
			continue
		fi
		rm -rf "$tmp"
	fi
	echo "$s $ver $pkg $out" > "$CACHE/vmlinuz/$abi-$ver.pkg"
	echo "$s $ver $pkg $out"
done
exit $status
