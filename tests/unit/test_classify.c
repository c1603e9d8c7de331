/* test_classify.c - the leak classifier on synthetic histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "collect/classify.h"

/* one sample per second */
static struct history make(const double *bytes, int n)
{
	struct history h;

	memset(&h, 0, sizeof(h));
	for (int i = 0; i < n; i++)
		history__push(&h, i, bytes[i]);
	return h;
}

static void test_growing(void **state)
{
	double b[12];

	for (int i = 0; i < 12; i++)
		b[i] = 100000 + 4096.0 * i;	/* +4 KiB/s */
	struct history h = make(b, 12);
	struct verdict v = classify__stack(&h, 0.1, 0);

	assert_int_equal(v.cls, CLASS_GROWING);
	assert_true(fabs(v.growth_bytes_per_s - 4096) < 1e-6);
}

static void test_noisy_growing(void **state)
{
	/* +1 KiB/s under +-3 KiB of noise: no two neighbours ordered */
	static const double noise[] = { 3, -2, 1, -3, 2, -1, 3, -3, 0, 2, -2, 1, -1, 3 };
	double b[14];

	for (int i = 0; i < 14; i++)
		b[i] = 50000 + 1024.0 * i + 1024 * noise[i];
	struct history h = make(b, 14);
	struct verdict v = classify__stack(&h, 0.1, 0);

	assert_int_equal(v.cls, CLASS_GROWING);
	assert_true(v.growth_bytes_per_s > 500 && v.growth_bytes_per_s < 2000);
}

static void test_rose_once_is_not_growing(void **state)
{
	/* a single step up, then flat: a one-off allocation, not a trend */
	double b[12] = { 1e5, 1e5, 1e5, 1e5, 1e5, 3e5, 3e5, 3e5, 3e5, 3e5, 3e5, 3e5 };
	struct history h = make(b, 12);

	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_PLATEAU);
}

static void test_plateau(void **state)
{
	/* a bounded cache: fills for 8 s, then holds */
	double b[24];

	for (int i = 0; i < 24; i++)
		b[i] = i < 8 ? 12500.0 * i : 100000;
	struct history h = make(b, 24);
	struct verdict v = classify__stack(&h, 0.1, 0);

	assert_int_equal(v.cls, CLASS_PLATEAU);
	assert_true(fabs(v.growth_bytes_per_s) < 1);
	/* ...while it was still filling, it was growing */
	h = make(b, 8);
	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_GROWING);
}

static void test_plateau_with_jitter(void **state)
{
	/* an LRU at capacity: evictions and inserts jiggle it +-1% */
	static const double j[] = { 1, -1, 0, 1, -1, 1, 0, -1, 1, -1, 0, 1 };
	double b[12];

	for (int i = 0; i < 12; i++)
		b[i] = 200000 + 2000 * j[i];
	struct history h = make(b, 12);

	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_PLATEAU);
}

static void test_churn(void **state)
{
	double b[10] = { 0, 64, 128, 0, 64, 2048, 0, 0, 512, 256 };
	struct history h = make(b, 10);

	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_CHURN);
}

static void test_old(void **state)
{
	double b[10] = { 8e5, 8e5, 8e5, 8e5, 8e5, 8e5, 8e5, 8e5, 8e5, 8e5 };
	struct history h = make(b, 10);

	assert_int_equal(classify__stack(&h, 120, 60).cls, CLASS_OLD);
	assert_int_equal(classify__stack(&h, 30, 60).cls, CLASS_PLATEAU);	/* recent blocks */
	assert_int_equal(classify__stack(&h, 120, 0).cls, CLASS_PLATEAU);	/* no --min-age */
}

static void test_too_little_history(void **state)
{
	double b[3] = { 1, 2, 3 };
	struct history h = make(b, 3);

	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_UNKNOWN);
}

static void test_ring_keeps_the_newest(void **state)
{
	struct history h;

	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 100; i++)	/* long flat past, growing lately */
		history__push(&h, i, i < 80 ? 5e5 : 5e5 + 1e4 * (i - 79));
	assert_int_equal(h.n, HISTORY_LEN);
	assert_int_equal(classify__stack(&h, 0.1, 0).cls, CLASS_GROWING);
	assert_true(h.bytes[(h.next + HISTORY_LEN - 1) % HISTORY_LEN] == 5e5f + 1e4f * 20);
}

static void test_mann_kendall(void **state)
{
	double up[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, flat[8] = { 5, 5, 5, 5, 5, 5, 5, 5 };
	double down[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };

	assert_true(classify__mk_z(up, 8) > 3);
	assert_true(classify__mk_z(flat, 8) == 0);
	assert_true(classify__mk_z(down, 8) < -3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growing),
		cmocka_unit_test(test_noisy_growing),
		cmocka_unit_test(test_rose_once_is_not_growing),
		cmocka_unit_test(test_plateau),
		cmocka_unit_test(test_plateau_with_jitter),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_old),
		cmocka_unit_test(test_too_little_history),
		cmocka_unit_test(test_ring_keeps_the_newest),
		cmocka_unit_test(test_mann_kendall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
