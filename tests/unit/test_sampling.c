/* test_sampling.c - the fixed-point sampling probability against the
 * exact formula, and the weights built on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "trace/sampler.h"

static struct sample_tables t;

static int setup(void **state)
{
	sampling__init_tables(&t);
	return 0;
}

static void test_matches_exact_probability(void **state)
{
	const uint64_t periods[] = { 1, 4096, 524288, 1 << 20, 1ULL << 40 };

	for (size_t k = 0; k < sizeof(periods) / sizeof(periods[0]); k++) {
		uint64_t n = periods[k];

		for (uint64_t s = 1; s < 50 * n && s < (1ULL << 46); s = s * 3 / 2 + 1) {
			double exact = 1 - exp(-(double)s / n);
			double got = sample_threshold(&t, s, n) / 4294967296.0;
			/* size/period is quantized to 1/65536 of the period */
			double slack = exp(-(double)s / n) * (1.0 / 65536) + 4e-9;

			assert_true(fabs(got - exact) <= slack);
		}
	}
}

static void test_large_blocks_always_sampled(void **state)
{
	assert_true(sample_threshold(&t, 44 * 524288, 524288) == SAMPLE_ONE);
	assert_true(sample_threshold(&t, 1ULL << 40, 524288) == SAMPLE_ONE);
	assert_true(sampling__weight(&t, 1ULL << 30, 524288) == 1.0);
}

static void test_off_means_everything(void **state)
{
	assert_true(sample_threshold(&t, 1, 0) == SAMPLE_ONE);
	assert_true(sampling__weight(&t, 16, 0) == 1.0);
}

static void test_weight_is_inverse_probability(void **state)
{
	/* small blocks: p ~ s/N, so each sample stands for ~N bytes */
	double w = sampling__weight(&t, 16, 524288);

	assert_true(fabs(w * 16 - 524288) / 524288 < 0.001);
	/* and exactly 1/p of the fixed-point p BPF decides with */
	assert_true(fabs(w - 4294967296.0 / sample_threshold(&t, 16, 524288)) < 1e-9);
}

/* Bigger blocks are never less likely to be sampled, up to the rounding
 * of the table products (a few units of 2^-32; the weights use the same
 * function, so this does not bias the estimates). */
static void test_monotonic(void **state)
{
	uint64_t prev = 0;

	for (uint64_t s = 1; s < 44 * 4096; s++) {
		uint64_t p = sample_threshold(&t, s, 4096);

		assert_true(p + 8 >= prev);
		prev = p;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_exact_probability),
		cmocka_unit_test(test_large_blocks_always_sampled),
		cmocka_unit_test(test_off_means_everything),
		cmocka_unit_test(test_weight_is_inverse_probability),
		cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
