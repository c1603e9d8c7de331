/* test_placement.c - probe placement on hand-assembled x86-64 code, and
 * on the real code of the allocators installed here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "symbols/elfsym.h"
#include "probe/placement.h"

#define VADDR 0x98ef0

static struct placement place(const uint8_t *code, size_t len, int nargs,
			      int mode)
{
	struct placement p;

	assert_int_equal(placement__choose(code, len, VADDR, nargs, mode, &p), 0);
	return p;
}

/* glibc 2.36 free(): test %rdi,%rdi; je <ret>; push %rbp ... */
static void test_free_skips_null_test(void **state)
{
	uint8_t code[32];

	memset(code, 0x90, sizeof(code));
	memcpy(code, "\x48\x85\xff"			/* test rdi, rdi */
		     "\x0f\x84\x0b\x00\x00\x00"		/* je +11 -> offset 20 */
		     "\x55\x53", 11);			/* push rbp; push rbx */
	code[20] = 0xc3;				/* ret */
	struct placement p = place(code, sizeof(code), 1, true);

	assert_int_equal(p.offset, 9);
	assert_true(p.emulated);
	assert_string_equal(p.insn, "push rbp");
	assert_non_null(strstr(p.why, "NULL test whose branch only returns"));
}

/* When the NULL path does work, both paths must stay probed: the probe
 * goes on the je itself (emulated, and every call executes it). */
static void test_null_branch_that_does_work_probes_the_branch(void **state)
{
	uint8_t code[32];

	memset(code, 0x90, sizeof(code));
	memcpy(code, "\x48\x85\xff\x0f\x84\x0b\x00\x00\x00\x55", 10);
	memcpy(code + 20, "\x48\x89\xf8\xc3", 4);	/* mov rax, rdi; ret */
	struct placement p = place(code, sizeof(code), 1, true);

	assert_int_equal(p.offset, 3);
	assert_true(p.emulated);
	assert_string_equal(p.insn, "je 0x98f04");
}

static void test_push_at_entry_stays(void **state)
{
	const uint8_t code[] = "\x41\x54\x55\x48\x89\xfd";	/* push r12; push rbp; mov rbp, rdi */
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 0);
	assert_true(p.emulated);
	assert_string_equal(p.insn, "push r12");
}

static void test_endbr64_then_push(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x55\x48\x89\xfd";
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 4);
	assert_true(p.emulated);
	assert_non_null(strstr(p.why, "endbr64"));
}

/* libstdc++'s operator new(size_t): endbr64; test %rdi,%rdi (no branch);
 * mov $1,%eax; push %rbx */
static void test_operator_new(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x48\x85\xff\xb8\x01\x00\x00\x00\x53"
			       "\x48\x0f\x45\xc7\xc3";
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 12);
	assert_string_equal(p.insn, "push rbx");
}

static void test_endbr64_then_jmp(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\xe9\xf7\x02\xff\xff";	/* endbr64; jmp rel32 */
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 4);
	assert_true(p.emulated);
}

static void test_stack_pointer_change_stays(void **state)
{
	/* operator new(size_t, nothrow_t): endbr64; sub $8,%rsp; call ... */
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x48\x83\xec\x08\xe8\x13\x03\xff\xff";
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 0);
	assert_false(p.emulated);
}

static void test_argument_overwritten_stays(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x48\x89\xc7\x55";	/* mov rdi, rax; push rbp */
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 0);
	/* the same write to rsi is fine when only rdi is an argument */
	const uint8_t code2[] = "\xf3\x0f\x1e\xfa\x48\x89\xc6\x55";	/* mov rsi, rax */
	p = place(code2, sizeof(code2) - 1, 1, true);
	assert_int_equal(p.offset, 7);
	p = place(code2, sizeof(code2) - 1, 2, true);
	assert_int_equal(p.offset, 0);
}

static void test_memory_write_stays(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x48\x89\x07\x55";	/* mov [rdi], rax */
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 0);
}

static void test_branch_into_prefix_stays(void **state)
{
	/* endbr64; push rbp; ...; jmp back to the push */
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x55\x90\xeb\xfc";
	struct placement p = place(code, sizeof(code) - 1, 1, true);

	assert_int_equal(p.offset, 0);
	assert_non_null(strstr(p.why, "branch"));
}

static void test_fixed_site_never_moves(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x55";
	struct placement p = place(code, sizeof(code) - 1, 1, PLACE_FIXED);

	assert_int_equal(p.offset, 0);
	assert_false(p.emulated);
}

/* jemalloc 5.3 malloc: cmp rdi, 0x1000; ja slow; ...  Entry and return
 * probe both go to the ja: rsp and [rsp] are untouched before it. */
static void test_shared_site_moves_past_cmp(void **state)
{
	uint8_t code[32];

	memset(code, 0x90, sizeof(code));
	memcpy(code, "\x48\x81\xff\x00\x10\x00\x00"	/* cmp rdi, 0x1000 */
		     "\x0f\x87\x10\x00\x00\x00"		/* ja +16 */
		     "\x53", 14);				/* push rbx */
	struct placement p = place(code, sizeof(code), 1, PLACE_SHARED);

	assert_int_equal(p.offset, 7);
	assert_true(p.emulated);
	assert_string_equal(p.insn, "ja 0x98f0d");
	assert_non_null(strstr(p.why, "return probe too"));
}

/* A NULL test whose branch returns: an entry-only probe skips the je, a
 * shared one stops on it (a call returning through the branch must still
 * pass the return probe's site). */
static void test_shared_site_stops_on_the_branch(void **state)
{
	uint8_t code[32];

	memset(code, 0x90, sizeof(code));
	memcpy(code, "\x48\x85\xff"			/* test rdi, rdi */
		     "\x0f\x84\x0b\x00\x00\x00"		/* je +11 -> ret */
		     "\x55", 10);				/* push rbp */
	code[20] = 0xc3;
	assert_int_equal(place(code, sizeof(code), 1, PLACE_SHARED).offset, 3);
	assert_int_equal(place(code, sizeof(code), 1, PLACE_ENTRY_ONLY).offset, 9);
}

static void test_shared_site_stays_after_rsp_or_memory_change(void **state)
{
	const uint8_t sub_rsp[] = "\x48\x83\xec\x08\x53";		/* sub rsp, 8; push rbx */
	const uint8_t store[] = "\x48\x89\x3c\x24\x53";		/* mov [rsp], rdi; push rbx */
	const uint8_t branch_back[] = "\xf3\x0f\x1e\xfa\x53\x90\xeb\xfc"; /* jmp to the push */

	assert_int_equal(place(sub_rsp, sizeof(sub_rsp) - 1, 1, PLACE_SHARED).offset, 0);
	assert_int_equal(place(store, sizeof(store) - 1, 1, PLACE_SHARED).offset, 0);
	assert_int_equal(place(branch_back, sizeof(branch_back) - 1, 1, PLACE_SHARED).offset, 0);
}

static void test_shared_endbr64_and_tail_call(void **state)
{
	const uint8_t endbr_push[] = "\xf3\x0f\x1e\xfa\x55";	/* endbr64; push rbp */
	const uint8_t tail[] = "\xe9\x10\x00\x00\x00";		/* jmp: a tail call */

	assert_int_equal(place(endbr_push, sizeof(endbr_push) - 1, 1, PLACE_SHARED).offset, 4);
	struct placement p = place(tail, sizeof(tail) - 1, 1, PLACE_SHARED);

	assert_int_equal(p.offset, 0);
	assert_true(p.emulated);
}

/* The allocators installed here, decoded at test time: the hot entry+return
 * functions end up on an emulated instruction (or say why not). */
static void test_real_allocators(void **state)
{
	static const struct { const char *lib, *fn; int nargs; bool must; } cases[] = {
		{ "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "malloc", 1, true },
		{ "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "_Znwm", 1, true },
		{ "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "_ZnwmRKSt9nothrow_t", 2, true },
		{ "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "rallocx", 3, true },
		{ "/usr/lib/x86_64-linux-gnu/libc.so.6", "malloc", 1, true },
		{ "/usr/lib/x86_64-linux-gnu/libc.so.6", "posix_memalign", 3, true },
		{ "/usr/lib/x86_64-linux-gnu/libc.so.6", "aligned_alloc", 2, true },
		{ "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "tc_malloc", 1, false },
		{ "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "mi_malloc", 1, false },
	};
	int checked = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elfsym *e = elfsym__open(cases[i].lib);
		uint8_t code[512];
		uint64_t off, size;
		struct placement p;
		ssize_t n;

		if (!e)
			continue;	/* not installed here */
		if (elfsym__func(e, cases[i].fn, &off, &size) == 0 &&
		    (n = elfsym__read(e, off, code, size && size < sizeof(code) ? size : sizeof(code))) > 0) {
			assert_int_equal(placement__choose(code, n, off, cases[i].nargs,
							   PLACE_SHARED, &p), 0);
			if (cases[i].must)
				assert_true(p.emulated);
			assert_true(p.why[0]);
			checked++;
		}
		elfsym__close(e);
	}
	assert_true(checked >= 4);
}

static void test_undecodable(void **state)
{
	const uint8_t code[] = "\x0f\xff";	/* ud0 without operands: truncated */
	struct placement p;

	assert_int_equal(placement__choose(code, 1, VADDR, 1, true, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_skips_null_test),
		cmocka_unit_test(test_null_branch_that_does_work_probes_the_branch),
		cmocka_unit_test(test_push_at_entry_stays),
		cmocka_unit_test(test_endbr64_then_push),
		cmocka_unit_test(test_operator_new),
		cmocka_unit_test(test_endbr64_then_jmp),
		cmocka_unit_test(test_stack_pointer_change_stays),
		cmocka_unit_test(test_argument_overwritten_stays),
		cmocka_unit_test(test_memory_write_stays),
		cmocka_unit_test(test_branch_into_prefix_stays),
		cmocka_unit_test(test_fixed_site_never_moves),
		cmocka_unit_test(test_shared_site_moves_past_cmp),
		cmocka_unit_test(test_shared_site_stops_on_the_branch),
		cmocka_unit_test(test_shared_site_stays_after_rsp_or_memory_change),
		cmocka_unit_test(test_shared_endbr64_and_tail_call),
		cmocka_unit_test(test_real_allocators),
		cmocka_unit_test(test_undecodable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
