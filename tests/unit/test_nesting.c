/* test_nesting.c - which allocator call of a thread is the outermost
 * (include/nesting.h): calls and syscalls deeper, level with and above
 * the in-flight call's entry rsp, at any depth; returns matched to their
 * call; operator new's adoption; the free chain's address, rsp and time
 * windows at their edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nesting.h"

#define SP	0x7ffc00001000ULL	/* the in-flight call's entry rsp */

static void test_by_sp(void **state)
{
	assert_int_equal(nest_by_sp(SP, SP - 8, false), NEST_INSIDE);
	assert_int_equal(nest_by_sp(SP, SP - 1, false), NEST_INSIDE);
	assert_int_equal(nest_by_sp(SP, SP - 1, true), NEST_INSIDE);
	assert_int_equal(nest_by_sp(SP, SP + 1, false), NEST_STALE);
	assert_int_equal(nest_by_sp(SP, SP + 8, true), NEST_STALE);	/* after longjmp */
	/* level: a wrapper's syscall is inside; a call asks the return slot */
	assert_int_equal(nest_by_sp(SP, SP, true), NEST_INSIDE);
	assert_int_equal(nest_by_sp(SP, SP, false), NEST_LEVEL);
	assert_int_equal(nest_by_sp(0, 0, false), NEST_LEVEL);
	assert_int_equal(nest_by_sp(UINT64_MAX, 0, false), NEST_INSIDE);
	assert_int_equal(nest_by_sp(0, UINT64_MAX, false), NEST_STALE);
}

/* One saved rsp covers nesting of any depth: no counter, no limit. */
static void test_any_depth(void **state)
{
	for (uint64_t depth = 1; depth <= 100000; depth++) {
		uint64_t sp = SP - depth * 64;

		assert_int_equal(nest_by_sp(SP, sp, false), NEST_INSIDE);
		assert_int_equal(nest_return_of(SP, sp + 8), NEST_RET_NESTED);
	}
}

/* realloc(NULL, n) jumping to malloc: malloc enters at realloc's rsp,
 * whose return slot still holds the trampoline; a new call from the same
 * frame after an unwind finds a plain return address there. */
static void test_at_level(void **state)
{
	assert_int_equal(nest_at_level(true), NEST_INSIDE);
	assert_int_equal(nest_at_level(false), NEST_STALE);
}

static void test_stale_missed(void **state)
{
	struct inflight cur = { .entry_only = 0 };

	assert_true(nest_stale_is_missed(&cur));
	cur.entry_only = 1;	/* operator new that threw: nothing lost */
	assert_false(nest_stale_is_missed(&cur));
}

/* operator new adopts its first nested allocator call, never an mmap,
 * never a second one; an ordinary call adopts nothing. */
static void test_adopts(void **state)
{
	struct inflight cur = { .fn = FN_CXX_NEW, .entry_only = 1, .entry_sp = SP };

	assert_true(nest_adopts(&cur, FN_MALLOC, SP - 64));
	assert_true(nest_adopts(&cur, FN_POSIX_MEMALIGN, SP - 64));
	assert_false(nest_adopts(&cur, FN_MMAP, SP - 64));
	cur.adopt_sp = SP - 64;
	assert_false(nest_adopts(&cur, FN_MALLOC, SP - 64));
	cur.adopt_sp = 0;
	cur.entry_only = 0;
	cur.fn = FN_REALLOC;
	assert_false(nest_adopts(&cur, FN_MALLOC, SP - 64));
}

/* new's malloc returned NULL: a retry from the same place (after the
 * new_handler) is adopted; the malloc of the exception it throws, made
 * deeper (__cxa_allocate_exception), is not - it would be recorded with
 * the failed request's size. */
static void test_adopt_after_null(void **state)
{
	struct inflight cur = { .fn = FN_CXX_NEW, .entry_only = 1, .entry_sp = SP,
				.adopt_sp = SP - 64 };

	assert_false(nest_new_gave_up(&cur, SP - 160));		/* still live */
	nest_adopted_null(&cur);
	assert_int_equal(cur.adopt_sp, 0);
	assert_false(nest_adopts(&cur, FN_MALLOC, SP - 160));	/* the exception's */
	assert_true(nest_new_gave_up(&cur, SP - 160));		/* ... a call of its own */
	assert_true(nest_new_gave_up(&cur, SP - 8));		/* a caller's helper after catch */
	assert_false(nest_new_gave_up(&cur, SP - 64));
	assert_true(nest_adopts(&cur, FN_MALLOC, SP - 64));	/* the retry */
	cur.entry_only = 0;					/* realloc's nested calls */
	assert_false(nest_new_gave_up(&cur, SP - 160));
}

/* `ret` pops the return address: the call's own return is at entry + 8. */
static void test_return_of(void **state)
{
	assert_int_equal(nest_return_of(SP, SP + 8), NEST_RET_OURS);
	assert_int_equal(nest_return_of(SP, SP), NEST_RET_NESTED);	/* a tail call's */
	assert_int_equal(nest_return_of(SP, SP - 56), NEST_RET_NESTED);
	for (uint64_t d = 1; d < 8; d++)
		assert_int_equal(nest_return_of(SP, SP + d), NEST_RET_UNWOUND);
	assert_int_equal(nest_return_of(SP, SP + 9), NEST_RET_UNWOUND);
	assert_int_equal(nest_return_of(SP, SP + 4096), NEST_RET_UNWOUND);
}

static void test_adopted_returns(void **state)
{
	assert_false(nest_adopted_returns(0, 8));	/* nothing adopted yet */
	assert_false(nest_adopted_returns(0, SP + 8));
	assert_true(nest_adopted_returns(SP, SP + 8));
	assert_false(nest_adopted_returns(SP, SP));
	assert_false(nest_adopted_returns(SP, SP + 16));
}

/* The same block, nearly the same rsp, within a millisecond. */
static void test_free_chained(void **state)
{
	const uint64_t ptr = 0x5555deadbe00ULL, t0 = 5000000000ULL;
	struct inflight cur = { .last_free_addr = ptr, .last_free_sp = SP,
				.last_free_ns = t0 };

	assert_true(nest_free_chained(&cur, ptr, SP, t0));
	assert_true(nest_free_chained(&cur, ptr, SP - 512, t0 + 10));	/* deeper */
	assert_true(nest_free_chained(&cur, ptr, SP + FREE_CHAIN_SP, t0));
	assert_false(nest_free_chained(&cur, ptr, SP + FREE_CHAIN_SP + 1, t0));
	assert_true(nest_free_chained(&cur, ptr, SP, t0 + FREE_CHAIN_NS - 1));
	assert_false(nest_free_chained(&cur, ptr, SP, t0 + FREE_CHAIN_NS));
	assert_false(nest_free_chained(&cur, ptr + 16, SP, t0));	/* another block */
	assert_false(nest_free_chained(&cur, ptr, SP, t0 - 1));	/* clock went back */
	/* a fresh thread state (all 0) chains nothing real */
	cur = (struct inflight){ 0 };
	assert_false(nest_free_chained(&cur, ptr, SP, t0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_sp),
		cmocka_unit_test(test_any_depth),
		cmocka_unit_test(test_at_level),
		cmocka_unit_test(test_stale_missed),
		cmocka_unit_test(test_adopts),
		cmocka_unit_test(test_adopt_after_null),
		cmocka_unit_test(test_return_of),
		cmocka_unit_test(test_adopted_returns),
		cmocka_unit_test(test_free_chained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
