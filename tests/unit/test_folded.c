/* test_folded.c - the folded-stack writer: root first, merged, sorted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_folded.h"

static char *folded(struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(report_folded__print(f, r), 0);
	fclose(f);
	return buf;
}

static void test_root_first_merged_sorted(void **state)
{
	struct frame a[] = {	/* innermost first, as reports hold them */
		{ .function = "leak" }, { .function = "main" }, { .function = "_start" },
	};
	struct frame b[] = {	/* the same functions from another call site */
		{ .function = "leak" }, { .function = "main" }, { .function = "_start" },
	};
	struct frame c[] = {
		{ .function = "std::map<int; int>::insert" },	/* ';' must not split */
		{ .function = NULL, .module = "/usr/lib/libfoo.so.1" },
		{ .function = NULL },
	};
	struct report_stack st[4] = {
		{ .bytes = 300, .frames = a, .nframes = 3 },
		{ .bytes = 5000, .frames = c, .nframes = 3 },
		{ .bytes = 200, .frames = b, .nframes = 3 },
		{ .bytes = 0, .frames = a, .nframes = 3 },	/* nothing outstanding */
	};
	struct report r = { .stacks = st, .nstacks = 4 };
	char *out = folded(&r);

	assert_string_equal(out,
		"??;[libfoo.so.1];std::map<int: int>::insert 5000\n"
		"_start;main;leak 500\n");
	free(out);
}

static void test_empty(void **state)
{
	struct report r = { 0 };
	char *out = folded(&r);

	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_first_merged_sorted),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
