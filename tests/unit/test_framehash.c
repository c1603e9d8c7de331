/* test_framehash.c - a captured stack's id (include/framehash.h): pinned
 * values, only the first nr frames (at most MAX_STACK_DEPTH) count, order
 * and every bit of every frame count, never STACK_ID_LOST, kernel ids
 * apart from user ids, no collisions among many similar stacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "framehash.h"

static struct stack_trace mk(uint32_t nr, const uint64_t *ips)
{
	struct stack_trace st;

	memset(&st, 0xa5, sizeof(st));	/* garbage past nr must not count */
	st.nr = nr;
	memcpy(st.ips, ips, nr * sizeof(ips[0]));
	return st;
}

static uint64_t hash_of(uint32_t nr, const uint64_t *ips)
{
	struct stack_trace st = mk(nr, ips);

	return hash_frames(&st);
}

/* Ids are only compared within a run, but a changed hash is a changed
 * format of the stack map: it should be deliberate.  The value is FNV-1a
 * with the xorshift, worked out apart from this code (in Python). */
static void test_pinned(void **state)
{
	const uint64_t ips[] = { 0x401136, 0x7f0000029d90, 0x7f0000029e40 };
	struct stack_trace st = mk(3, ips);

	assert_int_equal(hash_of(0, ips), FRAMEHASH_BASIS);
	assert_int_equal(hash_frames(&st), 0x650261eb45822a1bULL);
	assert_int_equal(hash_kernel_frames(&st),
			 0x650261eb45822a1bULL ^ FRAMEHASH_KERNEL_SALT);
}

static void test_only_first_nr_frames(void **state)
{
	uint64_t ips[MAX_STACK_DEPTH];
	struct stack_trace a, b;

	for (int i = 0; i < MAX_STACK_DEPTH; i++)
		ips[i] = 0x400000 + 16 * i;
	a = mk(5, ips);
	b = a;
	b.ips[5] = 1;		/* past nr */
	b.ips[MAX_STACK_DEPTH - 1] = 2;
	assert_int_equal(hash_frames(&a), hash_frames(&b));
	b.nr = 6;
	assert_int_not_equal(hash_frames(&a), hash_frames(&b));
	/* nr beyond the array: the array is all there is */
	a = mk(MAX_STACK_DEPTH, ips);
	b = a;
	b.nr = 1000;
	assert_int_equal(hash_frames(&a), hash_frames(&b));
	b.nr = MAX_STACK_DEPTH - 1;
	assert_int_not_equal(hash_frames(&a), hash_frames(&b));
}

static void test_order_and_bits(void **state)
{
	const uint64_t ab[] = { 0x401000, 0x402000 }, ba[] = { 0x402000, 0x401000 };
	uint64_t ips[4] = { 0x7f1234567890, 0x7f1234560000, 0x401000, 0x400500 };
	struct stack_trace base = mk(4, ips);

	assert_int_not_equal(hash_of(2, ab), hash_of(2, ba));
	assert_int_not_equal(hash_of(1, ab), hash_of(2, ab));
	for (int f = 0; f < 4; f++) {
		for (int bit = 0; bit < 64; bit++) {
			struct stack_trace s = base;

			s.ips[f] ^= 1ULL << bit;
			assert_int_not_equal(hash_frames(&s), hash_frames(&base));
		}
	}
}

/* The one frame that makes the FNV state 0 (it is invertible): 1, not
 * the id that means "no stack". */
static void test_never_lost(void **state)
{
	const uint64_t zero_maker[] = { FRAMEHASH_BASIS };

	assert_int_equal(hash_of(1, zero_maker), 1);
	assert_int_not_equal(hash_of(1, zero_maker), STACK_ID_LOST);
}

static void test_kernel_apart(void **state)
{
	const uint64_t ips[] = { 0xffffffff81234567ULL, 0xffffffff81000000ULL };
	struct stack_trace st = mk(2, ips);

	assert_int_not_equal(hash_kernel_frames(&st), hash_frames(&st));
	assert_int_equal(hash_kernel_frames(&st) ^ hash_frames(&st), FRAMEHASH_KERNEL_SALT);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Stacks as real programs make them: long shared outer frames, the
 * innermost few differing by a few bytes.  Distinct ids, and distinct in
 * the low 20 bits for nearly all (the hash map buckets by low bits). */
static void test_distinct(void **state)
{
	enum { N = 1 << 16 };
	uint64_t *ids = calloc(N, sizeof(*ids)), *low = calloc(N, sizeof(*low));
	uint64_t ips[12];
	size_t same_low = 0;

	assert_non_null(ids);
	assert_non_null(low);
	for (int i = 0; i < 12; i++)
		ips[i] = 0x7f0000100000ULL + 0x1000 * i;
	for (uint32_t n = 0; n < N; n++) {
		struct stack_trace st;

		ips[0] = 0x401000 + (n & 0xff) * 4;
		ips[1] = 0x402000 + (n >> 8) * 8;
		st = mk(12, ips);
		ids[n] = hash_frames(&st);
		low[n] = ids[n] & 0xfffff;
	}
	qsort(ids, N, sizeof(*ids), cmp_u64);
	qsort(low, N, sizeof(*low), cmp_u64);
	for (uint32_t n = 1; n < N; n++) {
		assert_true(ids[n] != ids[n - 1]);
		same_low += low[n] == low[n - 1];
	}
	/* random ids: ~N^2 / 2^21 = 2048 pairs share their low 20 bits */
	assert_true(same_low < 4096);
	free(ids);
	free(low);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_only_first_nr_frames),
		cmocka_unit_test(test_order_and_bits),
		cmocka_unit_test(test_never_lost),
		cmocka_unit_test(test_kernel_apart),
		cmocka_unit_test(test_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
