/* test_placement.c - probe placement on hand-assembled x86-64 code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "placement.h"

#define VADDR 0x98ef0

static struct placement place(const uint8_t *code, size_t len, int nargs,
			      bool movable)
{
	struct placement p;

	assert_int_equal(placement__choose(code, len, VADDR, nargs, movable, &p), 0);
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

static void test_return_probe_site_never_moves(void **state)
{
	const uint8_t code[] = "\xf3\x0f\x1e\xfa\x55";
	struct placement p = place(code, sizeof(code) - 1, 1, false);

	assert_int_equal(p.offset, 0);
	assert_false(p.emulated);
	assert_non_null(strstr(p.why, "return probe"));
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
		cmocka_unit_test(test_return_probe_site_never_moves),
		cmocka_unit_test(test_undecodable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
