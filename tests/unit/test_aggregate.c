/* test_aggregate.c - the user-space aggregation pieces: the stack hash
 * table, sorting, per-block filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "collect/collect.h"
#include "util/stacktab.h"

static void test_stacktab_insert_find_grow(void **state)
{
	struct stacktab t;

	assert_int_equal(stacktab__init(&t, 4), 0);
	for (uint32_t i = 0; i < 5000; i++) {
		struct stack_key k = { .tgid = 100 + i % 3, .id = i };
		int64_t *v = stacktab__upsert(&t, &k, -1);

		assert_non_null(v);
		assert_int_equal(*v, -1);
		*v = i * 10;
	}
	assert_int_equal(t.n, 5000);
	for (uint32_t i = 0; i < 5000; i++) {
		struct stack_key k = { .tgid = 100 + i % 3, .id = i };
		int64_t *v = stacktab__find(&t, &k);

		assert_non_null(v);
		assert_int_equal(*v, i * 10);
	}
	/* same id, other process: a different stack */
	struct stack_key other = { .tgid = 999, .id = 7 };
	assert_null(stacktab__find(&t, &other));
	/* same captured stack behind another lead frame: another stack */
	struct stack_key led = { .tgid = 101, .id = 7, .lead_pc = 0x401000 };
	assert_null(stacktab__find(&t, &led));
	*stacktab__upsert(&t, &led, 0) = 5;
	assert_int_equal(*stacktab__find(&t, &led), 5);
	/* upsert of an existing key keeps its value */
	struct stack_key k7 = { .tgid = 101, .id = 7 };
	assert_int_equal(*stacktab__upsert(&t, &k7, 0), 70);
	stacktab__clear(&t);
	assert_null(stacktab__find(&t, &k7));
	stacktab__free(&t);
}

static void test_sort_by_bytes_then_count(void **state)
{
	struct report_stack v[4];

	memset(v, 0, sizeof(v));
	v[0].bytes = 10, v[0].allocs = 1, v[0].key.id = 1;
	v[1].bytes = 500, v[1].allocs = 2, v[1].key.id = 2;
	v[2].bytes = 10, v[2].allocs = 5, v[2].key.id = 3;
	v[3].bytes = 7000, v[3].allocs = 1, v[3].key.id = 4;
	collect__sort(v, 4);
	assert_int_equal(v[0].key.id, 4);
	assert_int_equal(v[1].key.id, 2);
	assert_int_equal(v[2].key.id, 3);	/* tie on bytes: more blocks first */
	assert_int_equal(v[3].key.id, 1);
}

static void test_block_filter(void **state)
{
	struct collect_filter f = { .min_age_ns = 2000000000ULL, .min_size = 16,
				    .max_size = 1024, .top_n = 10 };
	uint64_t now = 10000000000ULL;

	assert_true(collect__block_passes(&f, 16, now - 2000000000ULL, now));
	assert_false(collect__block_passes(&f, 16, now - 1999999999ULL, now));	/* too young */
	assert_false(collect__block_passes(&f, 15, 0, now));			/* too small */
	assert_false(collect__block_passes(&f, 1025, 0, now));			/* too big */
	assert_true(collect__block_passes(&f, 1024, 0, now));
	assert_false(collect__block_passes(&f, 100, now + 5, now));		/* future ts */
	f.min_age_ns = 0;
	assert_true(collect__block_passes(&f, 100, now + 5, now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stacktab_insert_find_grow),
		cmocka_unit_test(test_sort_by_bytes_then_count),
		cmocka_unit_test(test_block_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
