/* test_untrusted_elf.c - files from a traced process (maybe a container's)
 * are untrusted: truncated or corrupted ELF files must give errors, never
 * a crash; random bytes must decode to a placement or an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "probe/placement.h"

/* Whatever the file holds, the calls leakscope makes return cleanly. */
static void exercise(const char *path)
{
	struct elfsym *e = elfsym__open(path);
	static const char *names[] = { "main", "malloc", "free", "exercise" };

	if (!e)
		return;
	elfsym__is_dynamic(e);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t off, size;
		uint8_t code[4096];
		struct placement p;
		ssize_t n;

		if (elfsym__func(e, names[i], &off, &size))
			continue;
		n = elfsym__read(e, off, code, size && size < sizeof(code) ? size : sizeof(code));
		if (n > 0)
			placement__choose(code, n, off, 1, true, &p);
	}
	elfsym__close(e);
}

static void test_truncated_and_corrupted(void **state)
{
	char path[] = "/tmp/leakscope-elf-XXXXXX";
	size_t len;
	char *orig = test_read_file("/proc/self/exe", &len);
	char *buf = malloc(len);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	srand(12345);
	/* cut anywhere: in the header, the program headers, sections, tables */
	for (size_t cut = 0; cut < len; cut += len / 97 + 1) {
		test_write_file(path, orig, cut);
		exercise(path);
	}
	/* flip bytes: headers and tables get random values */
	for (int round = 0; round < 300; round++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 16; k++) {
			size_t at = round < 150 ? (size_t)rand() % 4096 % len	/* headers */
						: (size_t)rand() % len;
			buf[at] = (char)rand();
		}
		test_write_file(path, buf, len);
		exercise(path);
	}
	/* and the intact file still works */
	test_write_file(path, orig, len);
	struct elfsym *e = elfsym__open(path);
	uint64_t off, size;

	assert_non_null(e);
	assert_int_equal(elfsym__func(e, "main", &off, &size), 0);
	elfsym__close(e);
	unlink(path);
	free(buf);
	free(orig);
}

static void test_random_code_decodes_safely(void **state)
{
	uint8_t code[256];
	struct placement p;

	srand(777);
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(code); i++)
			code[i] = (uint8_t)rand();
		/* any answer is fine; it must be an instruction boundary */
		if (placement__choose(code, sizeof(code), 0x1000, 2, true, &p) == 0)
			assert_true(p.offset < sizeof(code));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated_and_corrupted),
		cmocka_unit_test(test_random_code_decodes_safely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
