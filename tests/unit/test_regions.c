/* test_regions.c - what munmap/mremap leave of an anonymous mmap region
 * (include/regions.h): misses, whole, head, tail and middle cuts at and
 * around every edge, the byte accounting BPF builds on them, page
 * rounding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "regions.h"

#define P	4096ULL
#define START	0x7f0000010000ULL
#define LEN	(8 * P)
#define END	(START + LEN)

static enum region_cut_kind cut(uint64_t lo, uint64_t hi, struct region_cut *c)
{
	return region_cut(START, LEN, lo, hi, c);
}

static void test_page_round(void **state)
{
	assert_int_equal(page_round(0), 0);
	assert_int_equal(page_round(1), P);
	assert_int_equal(page_round(P - 1), P);
	assert_int_equal(page_round(P), P);
	assert_int_equal(page_round(P + 1), 2 * P);
	assert_int_equal(page_round(10 * P), 10 * P);
	assert_int_equal(page_round(UINT64_MAX - P + 1), UINT64_MAX - P + 1);
	/* within a page of 2^64 the sum wraps: 0 (the kernel fails it) */
	assert_int_equal(page_round(UINT64_MAX - P + 2), 0);
	assert_int_equal(page_round(UINT64_MAX), 0);
}

/* Ranges that touch the region without covering a byte of it. */
static void test_outside(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(START - 4 * P, START, &c), REGION_CUT_NONE);	/* ends at start */
	assert_int_equal(cut(END, END + P, &c), REGION_CUT_NONE);		/* begins at end */
	assert_int_equal(cut(0, P, &c), REGION_CUT_NONE);
	assert_int_equal(cut(END + P, UINT64_MAX, &c), REGION_CUT_NONE);
	/* one byte in, at either edge, is a cut */
	assert_int_equal(cut(START - P, START + 1, &c), REGION_CUT_HEAD);
	assert_int_equal(cut(END - 1, END + P, &c), REGION_CUT_TAIL);
}

static void test_whole(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(START, END, &c), REGION_CUT_WHOLE);
	assert_int_equal(c.unmapped_bytes, LEN);
	assert_int_equal(c.freed_bytes, LEN);
	assert_int_equal(c.len_bytes, 0);
	assert_int_equal(c.tail_len_bytes, 0);
	/* a range beyond it on both sides takes only the region's bytes */
	assert_int_equal(cut(START - P, END + 3 * P, &c), REGION_CUT_WHOLE);
	assert_int_equal(c.unmapped_bytes, LEN);
	assert_int_equal(c.freed_bytes, LEN);
	assert_int_equal(cut(0, UINT64_MAX, &c), REGION_CUT_WHOLE);
	assert_int_equal(c.unmapped_bytes, LEN);
}

static void test_head(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(START, START + P, &c), REGION_CUT_HEAD);
	assert_int_equal(c.start, START + P);
	assert_int_equal(c.len_bytes, LEN - P);
	assert_int_equal(c.unmapped_bytes, P);
	assert_int_equal(c.freed_bytes, P);
	assert_int_equal(c.tail_len_bytes, 0);
	/* from below the region: only its own bytes count */
	assert_int_equal(cut(START - 2 * P, START + 3 * P, &c), REGION_CUT_HEAD);
	assert_int_equal(c.start, START + 3 * P);
	assert_int_equal(c.len_bytes, LEN - 3 * P);
	assert_int_equal(c.unmapped_bytes, 3 * P);
	assert_int_equal(c.freed_bytes, 3 * P);
	/* all but the last page */
	assert_int_equal(cut(START, END - P, &c), REGION_CUT_HEAD);
	assert_int_equal(c.start, END - P);
	assert_int_equal(c.len_bytes, P);
}

static void test_tail(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(END - P, END, &c), REGION_CUT_TAIL);
	assert_int_equal(c.start, START);
	assert_int_equal(c.len_bytes, LEN - P);
	assert_int_equal(c.unmapped_bytes, P);
	assert_int_equal(c.freed_bytes, P);
	assert_int_equal(c.tail_len_bytes, 0);
	assert_int_equal(cut(END - 2 * P, END + 5 * P, &c), REGION_CUT_TAIL);
	assert_int_equal(c.len_bytes, LEN - 2 * P);
	assert_int_equal(c.unmapped_bytes, 2 * P);
	/* all but the first page */
	assert_int_equal(cut(START + P, END, &c), REGION_CUT_TAIL);
	assert_int_equal(c.start, START);
	assert_int_equal(c.len_bytes, P);
}

/* A hole: the slot keeps the part below, the part above is re-added, so
 * the stack loses the hole and the tail now and gets the tail back. */
static void test_middle(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(START + 2 * P, START + 3 * P, &c), REGION_CUT_MIDDLE);
	assert_int_equal(c.start, START);
	assert_int_equal(c.len_bytes, 2 * P);
	assert_int_equal(c.unmapped_bytes, P);
	assert_int_equal(c.tail_start, START + 3 * P);
	assert_int_equal(c.tail_len_bytes, LEN - 3 * P);
	assert_int_equal(c.freed_bytes, P + LEN - 3 * P);
	/* one page left on each side */
	assert_int_equal(cut(START + P, END - P, &c), REGION_CUT_MIDDLE);
	assert_int_equal(c.len_bytes, P);
	assert_int_equal(c.tail_start, END - P);
	assert_int_equal(c.tail_len_bytes, P);
	assert_int_equal(c.freed_bytes, LEN - P);
}

/* An empty range (mremap of 0 bytes of shared memory): at an edge it
 * misses, inside it splits the region and unmaps nothing. */
static void test_empty_range(void **state)
{
	struct region_cut c;

	assert_int_equal(cut(START, START, &c), REGION_CUT_NONE);
	assert_int_equal(cut(END, END, &c), REGION_CUT_NONE);
	assert_int_equal(cut(START + P, START + P, &c), REGION_CUT_MIDDLE);
	assert_int_equal(c.unmapped_bytes, 0);
	assert_int_equal(c.len_bytes, P);
	assert_int_equal(c.tail_start, START + P);
	assert_int_equal(c.tail_len_bytes, LEN - P);
	assert_int_equal(c.freed_bytes, LEN - P);	/* given back by the re-added tail */
}

/* Every non-empty range with edges on a byte grid around the region: the pieces
 * left plus the bytes unmapped are the region; nothing left is inside the
 * range; the stack's bytes after the BPF bookkeeping (lose freed_bytes,
 * re-add the tail) are the region's minus what was unmapped. */
static void test_accounting_invariants(void **state)
{
	const uint64_t s = 1000, len = 64;

	for (uint64_t lo = s - 8; lo <= s + len + 8; lo++) {
		for (uint64_t hi = lo + 1; hi <= s + len + 8; hi++) {
			struct region_cut c;
			enum region_cut_kind k = region_cut(s, len, lo, hi, &c);
			uint64_t left, after;

			if (hi <= s || lo >= s + len) {
				assert_int_equal(k, REGION_CUT_NONE);
				continue;
			}
			assert_int_not_equal(k, REGION_CUT_NONE);
			left = c.len_bytes + c.tail_len_bytes;
			assert_int_equal(left + c.unmapped_bytes, len);
			after = len - c.freed_bytes + c.tail_len_bytes;
			assert_int_equal(after, len - c.unmapped_bytes);
			if (c.len_bytes)
				assert_true(c.start + c.len_bytes <= lo || c.start >= hi);
			if (c.tail_len_bytes) {
				assert_int_equal(k, REGION_CUT_MIDDLE);
				assert_int_equal(c.tail_start, hi);
				assert_int_equal(c.tail_start + c.tail_len_bytes, s + len);
			}
			assert_int_equal(k == REGION_CUT_WHOLE, lo <= s && hi >= s + len);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_round),
		cmocka_unit_test(test_outside),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_tail),
		cmocka_unit_test(test_middle),
		cmocka_unit_test(test_empty_range),
		cmocka_unit_test(test_accounting_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
