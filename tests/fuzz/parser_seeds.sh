#!/bin/sh
# parser_seeds.sh OUTDIR - seeds for tests/fuzz/fuzz_parsers.c, each behind
# its one-byte selector: a small real ELF file (and libc's first 64 KiB),
# real function prologues (malloc, free of libc), real /proc maps lines,
# real kallsyms lines.
set -e
out=$1
mkdir -p "$out"
libc=$(ldd /bin/true | awk '/libc.so/ {print $3}')
{ printf '\000'; cat /bin/true; } > "$out/elf_true"
{ printf '\000'; head -c 65536 "$libc"; } > "$out/elf_libc_head"
for sym in malloc free calloc; do
	off=$(nm -D --defined-only "$libc" | awk -v s="$sym" '$3 == s || index($3, s "@") == 1 {print $1; exit}')
	[ -n "$off" ] || continue
	{ printf '\001'; dd if="$libc" bs=1 skip=$((0x$off)) count=64 status=none; } > "$out/code_$sym"
done
grep -m 3 -E 'r-xp|rw-p|\[' /proc/self/maps | while read -r line; do
	printf '\002%s' "$line" > "$out/maps_$(echo "$line" | md5sum | cut -c1-8)"
done
{ printf '\003'; head -n 200 /proc/kallsyms; } > "$out/kallsyms"
