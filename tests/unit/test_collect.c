/* test_collect.c - collection (user/collect/collect.c) on synthetic
 * snapshots: no kernel, no root.  The aggregate's numbers, the blocks'
 * ages and filters, sampling weights, one process or several, the top N
 * and their frames from a fake stack source, growth between reports, the
 * exited processes' totals, and the refusal of a filter without blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "collect/collect.h"
#include "collect/timeline.h"
#include "trace/snapshot.h"

#define NOW 100000000000ULL	/* 100 s on the bpf_ktime clock */
#define SEC 1000000000ULL

/* ---- a fake trace: the frames of stacks 1..9, no Python frames ------------ */

static int fake_reads;

static int fake_stack(void *ctx, uint64_t id, struct stack_trace *st)
{
	fake_reads++;
	if (id == 0 || id > 9)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->nr = 3;
	st->ips[0] = 0x1000 * id;	/* innermost */
	st->ips[1] = 0x1000 * id + 1;
	st->ips[2] = 0x1000 * id + 2;
	st->stop = id == 9 ? UW_STOP_NO_TABLE : UW_STOP_END;
	return 0;
}

static int fake_py_stack(void *ctx, uint64_t id, struct py_trace *pt)
{
	return -ENOENT;
}

static const struct stack_source SRC = {
	.stack = fake_stack, .py_stack = fake_py_stack,
};

/* ---- building snapshots -------------------------------------------------- */

static struct snap_stack aggs[16];
static struct snap_block blocks[64];

static struct snapshot snap_of(size_t n, size_t nblocks)
{
	return (struct snapshot){
		.v = aggs, .n = n, .cap = n,
		.blocks = blocks, .nblocks = nblocks, .capblocks = nblocks,
		.has_blocks = nblocks > 0,
		.now_ns = NOW, .wall_s = 1700000000.0, .ncpus = 1,
		.totals = { .allocs = 50, .frees = 20, .exited_procs = 2,
			    .exited_blocks = 3, .exited_bytes = 300 },
	};
}

static void agg(size_t i, pid_t pid, uint64_t id, uint64_t bytes, uint64_t blocks_held,
		uint64_t alloc_bytes, uint64_t held_since_ns)
{
	aggs[i] = (struct snap_stack){
		.key = { .tgid = pid, .id = id },
		.agg = { .outstanding_bytes = bytes, .outstanding_allocs = blocks_held,
			 .alloc_bytes = alloc_bytes, .alloc_count = blocks_held + 1,
			 .held_since_ns = held_since_ns, .last_alloc_ns = NOW - SEC },
	};
}

static void block(size_t i, pid_t pid, uint64_t id, uint64_t size, uint64_t ts_ns)
{
	blocks[i] = (struct snap_block){
		.key = { .tgid = pid, .id = id }, .size = size, .ts_ns = ts_ns,
	};
}

/* The collector, timeline and report of the test running. */
static struct collector *c;
static struct timeline *tl;
static struct report r;
static struct snapshot s;

static void start(const struct collect_filter *f)
{
	c = collector__new(f, &SRC);
	tl = timeline__new(1);
	memset(&r, 0, sizeof(r));
	assert_non_null(c);
	assert_non_null(tl);
}

static int stop(void **state)
{
	timeline__free(tl);
	collector__free(c);
	return 0;
}

static struct collect_filter filter(void)
{
	return (struct collect_filter){
		.max_size = UINT64_MAX, .top_n = 10, .scan_limit = 1000, .interval_s = 5,
	};
}

/* Three stacks of process 7 (one holds nothing any more), one of 8. */
static void three_stacks_and_another_process(void)
{
	agg(0, 7, 1, 3000, 3, 5000, NOW - 50 * SEC);
	agg(1, 7, 2, 100, 1, 100, NOW - 10 * SEC);
	agg(2, 7, 3, 0, 0, 4096, 0);
	agg(3, 8, 4, 8000, 2, 8000, NOW - 20 * SEC);
}

static void test_aggregates_one_process(void **state)
{
	struct collect_filter f = filter();

	start(&f);
	three_stacks_and_another_process();
	s = snap_of(4, 0);
	/* 4 blocks of process 7, within --scan-limit: the report wants them */
	assert_true(collector__wants_blocks(c, &s, 7));
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_false(r.ages_exact);		/* the snapshot has none */
	assert_false(r.multi);
	assert_int_equal(r.nstacks, 2);		/* stack 3 holds nothing */
	assert_int_equal(r.nstacks_total, 2);
	assert_int_equal(r.stacks[0].key.id, 1);
	assert_int_equal(r.stacks[0].bytes, 3000);
	assert_int_equal(r.stacks[0].allocs, 3);
	assert_int_equal(r.stacks[0].alloc_bytes, 5000);
	/* without blocks, the age is the aggregate's "held since" */
	assert_int_equal(r.stacks[0].oldest_ts_ns, NOW - 50 * SEC);
	assert_int_equal(r.stacks[1].key.id, 2);
	assert_int_equal(r.totals.outstanding_bytes, 3100);
	assert_int_equal(r.totals.outstanding_allocs, 4);
	assert_int_equal(r.totals.allocs, 50);
	assert_int_equal(r.totals.exited_procs, 2);
	assert_int_equal(r.totals.exited_bytes, 300);
	assert_int_equal(r.now_ns, NOW);
	/* the frames of the top stacks, from the source */
	assert_int_equal(r.stacks[0].nips, 3);
	assert_int_equal(r.stacks[0].ips[0], 0x1000);
	assert_int_equal(r.stacks[0].cut, UW_STOP_END);
}

static void test_several_processes_grouped(void **state)
{
	struct collect_filter f = filter();

	start(&f);
	three_stacks_and_another_process();
	s = snap_of(4, 0);
	assert_int_equal(collector__collect(c, &s, tl, 0, &r), 0);
	assert_true(r.multi);
	assert_int_equal(r.nstacks, 3);
	assert_int_equal(r.stacks[0].key.id, 4);	/* biggest first */
	assert_int_equal(r.nprocs, 2);
	assert_int_equal(r.procs[0].pid, 8);
	assert_int_equal(r.procs[0].bytes, 8000);
	assert_int_equal(r.procs[1].pid, 7);
	assert_int_equal(r.procs[1].bytes, 3100);
	assert_int_equal(r.procs[1].nstacks, 2);
	assert_int_equal(r.totals.outstanding_bytes, 11100);
}

/* Blocks give exact ages: the oldest block of each stack. */
static void test_blocks_give_exact_ages(void **state)
{
	struct collect_filter f = filter();

	start(&f);
	three_stacks_and_another_process();
	block(0, 7, 1, 1000, NOW - 30 * SEC);
	block(1, 7, 1, 1000, NOW - 40 * SEC);
	block(2, 7, 1, 1000, NOW - 35 * SEC);
	block(3, 7, 2, 100, NOW - 5 * SEC);
	block(4, 8, 4, 4000, NOW - 90 * SEC);	/* another process's */
	s = snap_of(4, 5);
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_true(r.ages_exact);
	assert_int_equal(r.blocks_scanned, 4);
	assert_int_equal(r.stacks[0].oldest_ts_ns, NOW - 40 * SEC);
	assert_int_equal(r.stacks[1].oldest_ts_ns, NOW - 5 * SEC);
	/* the sums stay the aggregate's */
	assert_int_equal(r.stacks[0].bytes, 3000);
}

/* Above --scan-limit, no blocks are asked for. */
static void test_scan_limit(void **state)
{
	struct collect_filter f = filter();

	f.scan_limit = 3;
	start(&f);
	three_stacks_and_another_process();
	s = snap_of(4, 0);
	assert_false(collector__wants_blocks(c, &s, 0));	/* 6 blocks */
	assert_false(collector__wants_blocks(c, &s, 7));	/* 4 */
	assert_true(collector__wants_blocks(c, &s, 8));		/* 2 */
}

/* --min-age / --min-size: the blocks' sums replace the aggregate's. */
static void test_filters_sum_the_blocks(void **state)
{
	struct collect_filter f = filter();

	f.min_age_ns = 32 * SEC;
	f.min_size = 500;
	start(&f);
	three_stacks_and_another_process();
	block(0, 7, 1, 1000, NOW - 30 * SEC);	/* too young */
	block(1, 7, 1, 1000, NOW - 40 * SEC);
	block(2, 7, 1, 1000, NOW - 35 * SEC);
	block(3, 7, 2, 100, NOW - 50 * SEC);	/* too small */
	s = snap_of(4, 4);
	assert_true(collector__wants_blocks(c, &s, 7));
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_true(r.filtered);
	assert_int_equal(r.nstacks, 1);
	assert_int_equal(r.stacks[0].bytes, 2000);
	assert_int_equal(r.stacks[0].allocs, 2);
	assert_int_equal(r.totals.outstanding_bytes, 2000);
	/* a filter without blocks cannot be honoured: refused, not guessed */
	s = snap_of(4, 0);
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), -EINVAL);
}

/* --sample-bytes: each sampled block weighs 1/p; the counts the
 * aggregate keeps are scaled by 2^16. */
static void test_sampling_weights(void **state)
{
	struct collect_filter f = filter();

	f.sample_period = 4096;
	start(&f);
	agg(0, 7, 1, (1 << 20) + 16, 2, 100ULL << 16, NOW - SEC);
	block(0, 7, 1, 1 << 20, NOW - SEC);	/* >> period: weight 1 */
	block(1, 7, 1, 16, NOW - SEC);		/* small: weight ~256 */
	s = snap_of(1, 2);
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_int_equal(r.sample_period, 4096);
	assert_int_equal(r.stacks[0].alloc_bytes, 100);
	assert_true(r.stacks[0].allocs > 200 && r.stacks[0].allocs < 300);
	assert_true(r.stacks[0].bytes > (1 << 20) + 3000 && r.stacks[0].bytes < (1 << 20) + 5000);
}

/* The top N are read for frames, the others not; growth is since the
 * previous report; a lost stack has no frames to read. */
static void test_top_n_and_growth(void **state)
{
	struct collect_filter f = filter();

	f.top_n = 2;
	start(&f);
	three_stacks_and_another_process();
	s = snap_of(4, 0);
	fake_reads = 0;
	assert_int_equal(collector__collect(c, &s, tl, 0, &r), 0);
	assert_int_equal(r.nstacks, 2);
	assert_int_equal(r.nstacks_total, 3);
	assert_int_equal(fake_reads, 2);
	assert_int_equal(r.stacks[0].growth_bytes, 8000);	/* first report */
	agg(3, 8, 4, 9000, 3, 9000, NOW - 20 * SEC);
	agg(0, 7, 1, 3000, 3, 5000, NOW - 50 * SEC);
	aggs[4] = (struct snap_stack){ .key = { .tgid = 7, .id = STACK_ID_LOST },
				       .agg = { .outstanding_bytes = 5000, .outstanding_allocs = 1 } };
	s = snap_of(5, 0);
	fake_reads = 0;
	assert_int_equal(collector__collect(c, &s, tl, 0, &r), 0);
	assert_int_equal(r.stacks[0].growth_bytes, 1000);
	assert_int_equal(r.stacks[1].key.id, STACK_ID_LOST);
	assert_int_equal(r.stacks[1].nips, 0);
	assert_int_equal(fake_reads, 1);	/* the lost one is not looked up */
	assert_int_equal(r.procs[0].growth_bytes, 1000);
}

/* A cut stack says why; with_freed keeps stacks that freed everything. */
static void test_cut_and_with_freed(void **state)
{
	struct collect_filter f = filter();

	f.with_freed = true;
	start(&f);
	agg(0, 7, 9, 64, 1, 64, NOW - SEC);
	agg(1, 7, 3, 0, 0, 4096, 0);
	s = snap_of(2, 0);
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_int_equal(r.nstacks, 2);
	assert_int_equal(r.stacks[0].key.id, 9);
	assert_int_equal(r.stacks[0].cut, UW_STOP_NO_TABLE);
	assert_int_equal(r.stacks[1].bytes, 0);
	assert_int_equal(r.stacks[1].alloc_bytes, 4096);
}

/* Classes come from the timeline's samples of the same snapshots. */
static void test_classes_from_the_timeline(void **state)
{
	struct collect_filter f = filter();

	start(&f);
	for (int t = 0; t < 12; t++) {
		agg(0, 7, 1, 10240 * (t + 1), t + 1, 10240 * (t + 1), NOW - 50 * SEC);
		s = snap_of(1, 0);
		assert_int_equal(timeline__sample(tl, &s, t), 0);
	}
	assert_int_equal(collector__collect(c, &s, tl, 7, &r), 0);
	assert_int_equal(r.stacks[0].cls, CLASS_GROWING);
	assert_true(r.stacks[0].growth_bytes_per_s > 9000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_aggregates_one_process, stop),
		cmocka_unit_test_teardown(test_several_processes_grouped, stop),
		cmocka_unit_test_teardown(test_blocks_give_exact_ages, stop),
		cmocka_unit_test_teardown(test_scan_limit, stop),
		cmocka_unit_test_teardown(test_filters_sum_the_blocks, stop),
		cmocka_unit_test_teardown(test_sampling_weights, stop),
		cmocka_unit_test_teardown(test_top_n_and_growth, stop),
		cmocka_unit_test_teardown(test_cut_and_with_freed, stop),
		cmocka_unit_test_teardown(test_classes_from_the_timeline, stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
