/* test_array_bytes.c - calloc/reallocarray's nmemb * size as BPF computes
 * it (include/array_bytes.h): exact below the overflow boundary, 0 from
 * one past it, checked against the compiler's overflow builtin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "array_bytes.h"

/* The answer the allocator gives: the product, or 0 (NULL) on overflow. */
static uint64_t oracle(uint64_t nmemb, uint64_t size)
{
	uint64_t r;

	return __builtin_mul_overflow(nmemb, size, &r) ? 0 : r;
}

static void test_zero_and_small(void **state)
{
	assert_int_equal(array_bytes(0, 0), 0);
	assert_int_equal(array_bytes(0, 1000), 0);
	assert_int_equal(array_bytes(1000, 0), 0);
	assert_int_equal(array_bytes(0, UINT64_MAX), 0);
	assert_int_equal(array_bytes(1, 1), 1);
	assert_int_equal(array_bytes(10, 30), 300);
	assert_int_equal(array_bytes(1, UINT64_MAX), UINT64_MAX);
	assert_int_equal(array_bytes(UINT64_MAX, 1), UINT64_MAX);
}

/* The largest size that fits, and one more, for nmemb of every shape:
 * powers of two (the product lands exactly on 2^64 - 2^k), odd numbers
 * (3 * 0x5555...5 is exactly UINT64_MAX), the extremes. */
static void test_overflow_boundary(void **state)
{
	const uint64_t nmembs[] = { 1, 2, 3, 7, 8, 255, 256, 4096, 1000003,
				    1ULL << 32, (1ULL << 32) + 1, 1ULL << 63,
				    UINT64_MAX - 1, UINT64_MAX };

	for (size_t i = 0; i < sizeof(nmembs) / sizeof(nmembs[0]); i++) {
		uint64_t n = nmembs[i], max = UINT64_MAX / n;

		assert_int_equal(array_bytes(n, max), n * max);
		assert_true(array_bytes(n, max) != 0);
		if (max < UINT64_MAX)
			assert_int_equal(array_bytes(n, max + 1), 0);
		assert_int_equal(array_bytes(max, n), oracle(max, n));
	}
	assert_int_equal(array_bytes(3, 0x5555555555555555ULL), UINT64_MAX);
	assert_int_equal(array_bytes(3, 0x5555555555555556ULL), 0);
	assert_int_equal(array_bytes(1ULL << 32, 1ULL << 32), 0);
	assert_int_equal(array_bytes(1ULL << 32, (1ULL << 32) - 1),
			 (1ULL << 32) * ((1ULL << 32) - 1));
	assert_int_equal(array_bytes(1ULL << 33, 1ULL << 31), 0);	/* 2^64 exactly */
	assert_int_equal(array_bytes(UINT64_MAX, UINT64_MAX), 0);
}

/* xorshift64*: deterministic, so a failure replays. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Operands of every width, around the boundary and far from it. */
static void test_matches_overflow_builtin(void **state)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 200000; i++) {
		uint64_t n = rnd(&s) >> (rnd(&s) & 63);
		uint64_t m = rnd(&s) >> (rnd(&s) & 63);
		uint64_t edge = n ? UINT64_MAX / n : 0;

		assert_int_equal(array_bytes(n, m), oracle(n, m));
		assert_int_equal(array_bytes(n, edge), oracle(n, edge));
		assert_int_equal(array_bytes(n, edge + 1), oracle(n, edge + 1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_and_small),
		cmocka_unit_test(test_overflow_boundary),
		cmocka_unit_test(test_matches_overflow_builtin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
