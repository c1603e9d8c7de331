/* test_timeline.c - the timeline: samples at several resolutions, classes
 * from the first seconds whatever the report interval, the whole run as
 * one series, series dropped a minute after their stack is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "trace/snapshot.h"
#include "collect/timeline.h"

static const struct stack_key GROW = { .tgid = 7, .id = 1 };
static const struct stack_key CACHE = { .tgid = 7, .id = 2 };

/* t seconds of a process with a leak growing 10 KiB/s and a cache that
 * filled in its first 2 s, sampled every second. */
static void run(struct timeline *tl, int from, int to)
{
	for (int t = from; t < to; t++) {
		timeline__begin(tl, t);
		assert_int_equal(timeline__add(tl, &GROW, 10240.0 * (t + 1)), 0);
		assert_int_equal(timeline__add(tl, &CACHE, t < 2 ? 5e5 * (t + 1) : 1e6), 0);
		timeline__end(tl);
	}
}

static void test_classes_at_ten_seconds(void **state)
{
	struct timeline *tl = timeline__new(1);

	run(tl, 0, 10);
	/* whatever the interval: 1 s samples while coarser tiers fill */
	for (int interval = 1; interval <= 60; interval *= 2) {
		struct verdict g = timeline__classify(tl, &GROW, interval, 0.5, 0);
		struct verdict c = timeline__classify(tl, &CACHE, interval, 0.5, 0);

		assert_int_equal(g.cls, CLASS_GROWING);
		assert_true(g.growth_bytes_per_s > 10000 && g.growth_bytes_per_s < 10500);
		assert_int_equal(c.cls, CLASS_PLATEAU);
	}
	assert_int_equal(timeline__classify(tl, &(struct stack_key){ .id = 99 }, 5, 0, 0).cls,
			 CLASS_UNKNOWN);
	timeline__free(tl);
}

static void test_too_early(void **state)
{
	struct timeline *tl = timeline__new(1);

	run(tl, 0, 3);
	assert_int_equal(timeline__classify(tl, &GROW, 5, 0.5, 0).cls, CLASS_UNKNOWN);
	timeline__free(tl);
}

/* An hour: the series covers it all, oldest first, a bounded number of
 * points; the newest point is the latest sample. */
static void test_series_whole_run(void **state)
{
	struct timeline *tl = timeline__new(1);
	struct series_point p[TIMELINE_SERIES_MAX];
	size_t n;

	run(tl, 0, 3600);
	n = timeline__series(tl, &GROW, p);
	assert_true(n >= 48 && n <= TIMELINE_SERIES_MAX);
	assert_true(p[0].t_s <= 1024);		/* reaches back near the start */
	assert_true(p[n - 1].t_s == 3599);
	for (size_t i = 1; i < n; i++)
		assert_true(p[i].t_s > p[i - 1].t_s);
	assert_true(p[n - 1].bytes == 10240.0f * 3600);
	/* a 5 s report interval judges on 4 s samples: still growing */
	assert_int_equal(timeline__classify(tl, &GROW, 5, 0.5, 0).cls, CLASS_GROWING);
	timeline__free(tl);
}

/* A stack no longer sampled is dropped after a minute; others stay. */
static void test_forgetting(void **state)
{
	struct timeline *tl = timeline__new(1);
	struct series_point p[TIMELINE_SERIES_MAX];

	run(tl, 0, 5);
	for (int t = 5; t < 200; t++) {
		timeline__begin(tl, t);
		timeline__add(tl, &GROW, t);
		timeline__end(tl);
	}
	assert_int_equal(timeline__series(tl, &CACHE, p), 0);
	assert_true(timeline__series(tl, &GROW, p) > 0);
	timeline__free(tl);
}

/* A snapshot's stacks, per-process sums and total, in one sample. */
static void test_sample_snapshot(void **state)
{
	struct timeline *tl = timeline__new(1);
	struct snap_stack v[3] = {
		{ .key = { .tgid = 1, .id = 1 }, .agg = { .outstanding_bytes = 100 } },
		{ .key = { .tgid = 1, .id = 2 }, .agg = { .outstanding_bytes = 50 } },
		{ .key = { .tgid = 2, .id = 3 }, .agg = { .outstanding_bytes = 0, .alloc_count = 9 } },
	};
	struct snapshot s = { .v = v, .n = 3 };
	struct series_point p[TIMELINE_SERIES_MAX];
	struct stack_key total = timeline__total_key(), p1 = timeline__proc_key(1);

	assert_int_equal(timeline__sample(tl, &s, 1.0), 0);
	assert_int_equal(timeline__series(tl, &total, p), 1);
	assert_true(p[0].bytes == 150);
	assert_int_equal(timeline__series(tl, &p1, p), 1);
	assert_true(p[0].bytes == 150);
	/* never held memory: no series */
	assert_int_equal(timeline__series(tl, &v[2].key, p), 0);
	assert_int_equal(timeline__samples(tl), 1);
	timeline__free(tl);
}

/* Samples 5 s apart (--history-interval 5s): a 20 s report interval
 * judges on 4-sample tiers (20 s apart) once they hold a window; the
 * growth rate stays per second. */
static void test_period(void **state)
{
	struct timeline *tl = timeline__new(5);
	struct verdict v;

	for (int i = 0; i < 48; i++) {
		timeline__begin(tl, 5.0 * i);
		timeline__add(tl, &GROW, 1000.0 * 5 * i);	/* 1000 B/s */
		timeline__end(tl);
	}
	v = timeline__classify(tl, &GROW, 20, 0.5, 0);
	assert_int_equal(v.cls, CLASS_GROWING);
	assert_true(v.growth_bytes_per_s > 999 && v.growth_bytes_per_s < 1001);
	timeline__free(tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_at_ten_seconds),
		cmocka_unit_test(test_too_early),
		cmocka_unit_test(test_series_whole_run),
		cmocka_unit_test(test_forgetting),
		cmocka_unit_test(test_sample_snapshot),
		cmocka_unit_test(test_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
