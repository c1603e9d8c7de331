/* test_refusal.c - what the verifier refused (user/refusal.c): the program
 * and the one-line reason read from libbpf's messages as real kernels
 * print them (6.1, 6.18), and what is given up next: a program of one
 * feature costs that feature; the allocator programs' shared capture
 * gives up its Python walk, then its DWARF walk, then both, then nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "trace/refusal.h"

/* As this machine's 6.18.44 refused the object before the stack budget. */
static const char *log_618 =
	"prog 'cxx_new_enter': -- BEGIN PROG LOAD LOG --\n"
	"Func#2 ('stack_capture_once') is safe for any args that match its prototype\n"
	"combined stack size of 5 calls is 576. Too large\n"
	"processed 55358 insns (limit 1000000) max_states_per_insn 16 total_states 3199 "
	"peak_states 4497 mark_read 0\n"
	"-- END PROG LOAD LOG --\n";

/* As 6.1 refused the Python walk (the instruction stream, then the reason). */
static const char *log_61 =
	"prog 'alloc_return': -- BEGIN PROG LOAD LOG --\n"
	"reg type unsupported for arg#0 function stack_capture#36\n"
	"3141: (bf) r2 = r7\n"
	"3142: (0f) r2 += r1\n"
	"3143: (71) r1 = *(u8 *)(r2 +0)\n"
	"invalid unbounded variable-offset read from stack R2\n"
	"processed 41240 insns (limit 1000000) max_states_per_insn 4 total_states 2811 "
	"peak_states 2176 mark_read 305\n"
	"-- END PROG LOAD LOG --\n";

static struct refusal fed(const char *failed, const char *log)
{
	struct refusal r;

	memset(&r, 0, sizeof(r));
	refusal__feed(&r, "libbpf: map 'unwind_rows': created\n");
	refusal__feed(&r, failed);
	if (log)
		refusal__feed(&r, log);
	refusal__feed(&r, "libbpf: prog 'cxx_new_enter': failed to load: -13\n");
	refusal__feed(&r, "libbpf: failed to load object 'leakscope_bpf'\n");
	return r;
}

static void test_reads_program_and_reason(void **state)
{
	struct refusal r = fed("libbpf: prog 'cxx_new_enter': BPF program load failed: "
			       "Permission denied\n", log_618);

	assert_string_equal(r.prog, "cxx_new_enter");
	assert_string_equal(r.reason, "combined stack size of 5 calls is 576. Too large");
	r = fed("prog 'alloc_return': BPF program load failed: Permission denied\n", log_61);
	assert_string_equal(r.prog, "alloc_return");
	assert_string_equal(r.reason, "invalid unbounded variable-offset read from stack R2");
}

static void test_reason_without_log(void **state)
{
	struct refusal r = fed("libbpf: prog 'kmem_kfree': BPF program load failed: "
			       "Invalid argument\n", NULL);

	assert_string_equal(r.prog, "kmem_kfree");
	assert_string_equal(r.reason, "Invalid argument");
}

static void test_log_of_another_program_ignored(void **state)
{
	struct refusal r = fed("libbpf: prog 'malloc_enter': BPF program load failed: "
			       "Permission denied\n", log_618);

	assert_string_equal(r.prog, "malloc_enter");
	assert_string_equal(r.reason, "Permission denied");
}

static void test_reason_line(void **state)
{
	char out[32];

	refusal__reason("", out, sizeof(out));
	assert_string_equal(out, "");
	refusal__reason("a\nthe reason\nprocessed 1 insns\nverification time 5 usec\n",
			out, sizeof(out));
	assert_string_equal(out, "the reason");
	/* no "processed" line (a truncated log): the last line that says something */
	refusal__reason("x\nlast words\nstack depth 8\n", out, sizeof(out));
	assert_string_equal(out, "last words");
	refusal__reason("a line longer than the thirty-two bytes of out\nprocessed 1\n",
			out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
}

#define ALL (LOSS_PYTHON | LOSS_DWARF | LOSS_KERNEL | LOSS_PY_GC | LOSS_PY_FINALIZE)

static void test_capture_gives_up_walks_in_turn(void **state)
{
	int lost = 0;

	lost = refusal__next("alloc_return", lost, ALL);
	assert_int_equal(lost, LOSS_PYTHON);
	lost = refusal__next("alloc_return", lost, ALL);
	assert_int_equal(lost, LOSS_DWARF);
	lost = refusal__next("malloc_enter", lost, ALL);
	assert_int_equal(lost, LOSS_PYTHON | LOSS_DWARF);
	assert_int_equal(refusal__next("alloc_return", lost, ALL), -1);
}

static void test_capture_without_python(void **state)
{
	unsigned asked = ALL & ~LOSS_PYTHON;

	assert_int_equal(refusal__next("cxx_new_enter", 0, asked), LOSS_DWARF);
	assert_int_equal(refusal__next("cxx_new_enter", LOSS_DWARF, asked), -1);
	/* --unwind fp, no Python: nothing to give up */
	assert_int_equal(refusal__next("cxx_new_enter", 0, LOSS_KERNEL), -1);
}

static void test_feature_programs(void **state)
{

	assert_int_equal(refusal__next("kmem_kmalloc", 0, ALL), LOSS_KERNEL);
	assert_int_equal(refusal__next("kmem_kfree", LOSS_KERNEL, ALL), -1);
	assert_int_equal(refusal__next("kmem_kfree", 0, ALL & ~LOSS_KERNEL), -1);
	assert_int_equal(refusal__next("python_gc_done", LOSS_DWARF, ALL),
			 LOSS_DWARF | LOSS_PY_GC);
	assert_int_equal(refusal__next("python_finalize", 0, ALL), LOSS_PY_FINALIZE);
	/* a kernel loss stays when the capture then gives up its walks */
	assert_int_equal(refusal__next("alloc_return", LOSS_KERNEL, ALL),
			 LOSS_KERNEL | LOSS_PYTHON);
	/* a program that serves everything (the exec tracepoint): fatal once
	 * the walks are gone */
	assert_int_equal(refusal__next("sched_exec", LOSS_PYTHON | LOSS_DWARF,
				       ALL), -1);
}

static void test_loss_texts(void **state)
{
	assert_non_null(strstr(refusal__loss_text(LOSS_DWARF), "frame pointers"));
	assert_non_null(strstr(refusal__loss_text(LOSS_KERNEL), "--kernel"));
	assert_non_null(strstr(refusal__loss_text(LOSS_PYTHON), "Python"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_program_and_reason),
		cmocka_unit_test(test_reason_without_log),
		cmocka_unit_test(test_log_of_another_program_ignored),
		cmocka_unit_test(test_reason_line),
		cmocka_unit_test(test_capture_gives_up_walks_in_turn),
		cmocka_unit_test(test_capture_without_python),
		cmocka_unit_test(test_feature_programs),
		cmocka_unit_test(test_loss_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
