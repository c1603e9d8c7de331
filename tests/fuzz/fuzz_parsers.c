/* fuzz_parsers.c - one libFuzzer harness for leakscope's smaller parsers
 * of untrusted input; the first byte picks one:
 *
 *   0  the ELF symbol reader (user/elfsym.c) on a file a target maps:
 *      opened, symbols and objects looked up, code read
 *   1  probe placement (user/placement.c): the instructions of a function
 *      from a target's library, decoded by Capstone, in every mode
 *   2  a /proc/PID/maps line (user/procmaps.c)
 *   3  /proc/kallsyms text (user/ksym.c), then lookups
 *
 * ASan and UBSan watch every read.  Seeds: tests/fuzz/parser_seeds.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "symbols/ksym.h"
#include "probe/placement.h"
#include "procs/procmaps.h"

static void fuzz_elf(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static const char *names[] = { "malloc", "free", "_PyRuntime", "Py_Version", "je_malloc",
				       "_Znwm", "main", "" };
	struct elfsym *e;

	if (fd < 0) {
		fd = memfd_create("fuzz_elf", 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return;
	e = elfsym__open(path);
	if (!e)
		return;
	elfsym__is_dynamic(e);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t off = 0, sz = 0, addr = 0;
		uint8_t code[64];

		if (!elfsym__func(e, names[i], &off, &sz))
			elfsym__read(e, off, code, sizeof(code));
		elfsym__object(e, names[i], &addr);
	}
	elfsym__close(e);
}

static void fuzz_placement(const uint8_t *data, size_t size)
{
	struct placement p;

	for (int mode = PLACE_FIXED; mode <= PLACE_SHARED; mode++)
		placement__choose(data, size, 0x401000, 1 + size % 4, mode, &p);
}

static void fuzz_maps_line(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct vma v;

	if (!line)
		return;
	memcpy(line, data, size);
	line[size] = 0;
	if (!procmaps__parse_line(line, &v))
		procmaps__is_libc(v.path);
	free(line);
}

static void fuzz_kallsyms(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct ksym *k;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = 0;
	k = ksym__parse(text);
	if (k) {
		struct frame f;
		uint64_t probe[] = { 0, 1, 0xffffffff81000000ULL, ~0ULL, size * 4096 };

		for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
			ksym__resolve(k, probe[i], &f);
		ksym__free(k);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_elf(data + 1, size - 1);
		break;
	case 1:
		fuzz_placement(data + 1, size - 1);
		break;
	case 2:
		fuzz_maps_line(data + 1, size - 1);
		break;
	default:
		fuzz_kallsyms(data + 1, size - 1);
		break;
	}
	return 0;
}
