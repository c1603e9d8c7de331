/* test_stack_budget.c - the stack budget tool (tools/stack_budget) on a
 * tiny BPF object whose frames are known (tests/fixtures/bpf/
 * budget_tiny.bpf.c; loaded, the kernel verifier's "stack depth" for it
 * is 24+104+0+88+48: scan's 64 plus 24 for the bpf_loop it inlines after
 * the stack check): exact frames, the call graph with its callback, the
 * worst chain at both roundings, the verdict at and below its total, and
 * corrupt copies that must give errors, never a crash.
 * BUDGET_TINY_OBJ is the compiled object's path (budget.mk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"

#ifndef BUDGET_TINY_OBJ
#error "build with -DBUDGET_TINY_OBJ='\"path/to/budget_tiny.bpf.o\"' (tools/stack_budget/budget.mk)"
#endif

static struct budget *open_tiny(void)
{
	char err[512];
	struct budget *b = budget__open(BUDGET_TINY_OBJ, err, sizeof(err));

	if (!b)
		print_error("%s\n", err);
	assert_non_null(b);
	return b;
}

static const struct budget_func *func(const struct budget *b, const char *name)
{
	long i = budget__find(b, name);

	if (i < 0)
		print_error("no function %s in %s\n", name, BUDGET_TINY_OBJ);
	assert_true(i >= 0);
	return budget__func(b, (size_t)i);
}

static size_t index_of(const struct budget *b, const char *name)
{
	long i = budget__find(b, name);

	assert_true(i >= 0);
	return (size_t)i;
}

static void test_frames(void **state)
{
	struct budget *b = open_tiny();

	assert_int_equal(budget__count(b), 6);
	assert_int_equal(func(b, "tiny_entry")->depth_bytes, 24);
	assert_int_equal(func(b, "add_ids")->depth_bytes, 104);
	assert_int_equal(func(b, "mix")->depth_bytes, 0);
	assert_int_equal(func(b, "scan")->depth_bytes, 64);
	assert_int_equal(func(b, "loop_cb")->depth_bytes, 48);
	assert_int_equal(func(b, "tiny_empty")->depth_bytes, 0);
	assert_true(func(b, "tiny_entry")->entry);
	assert_true(func(b, "tiny_empty")->entry);
	assert_false(func(b, "scan")->entry);
	assert_string_equal(func(b, "add_ids")->section, ".text");
	budget__free(b);
}

static void assert_calls(const struct budget *b, const char *caller,
			 const char **callees, size_t n)
{
	const struct budget_func *f = func(b, caller);

	assert_int_equal(f->ncallees, n);
	for (size_t k = 0; k < n; k++)
		assert_string_equal(budget__func(b, f->callees[k])->name, callees[k]);
}

/* Every way a target is named: a global symbol, .text + imm, a relative
 * call, an ld_imm64 callback address. */
static void test_call_graph(void **state)
{
	struct budget *b = open_tiny();

	assert_calls(b, "tiny_entry", (const char *[]){ "add_ids", "scan" }, 2);
	assert_calls(b, "scan", (const char *[]){ "loop_cb" }, 1);
	assert_calls(b, "loop_cb", (const char *[]){ "add_ids" }, 1);
	assert_calls(b, "add_ids", (const char *[]){ "mix" }, 1);
	assert_calls(b, "mix", NULL, 0);
	assert_calls(b, "tiny_empty", NULL, 0);
	budget__free(b);
}

static void test_frame_rounding(void **state)
{
	assert_int_equal(budget__frame_bytes(0, 32), 32);	/* max(depth, 1) */
	assert_int_equal(budget__frame_bytes(1, 32), 32);
	assert_int_equal(budget__frame_bytes(104, 32), 128);
	assert_int_equal(budget__frame_bytes(0, 16), 0);
	assert_int_equal(budget__frame_bytes(24, 16), 32);
	assert_int_equal(budget__frame_bytes(104, 16), 112);
	assert_int_equal(budget__frame_bytes(8, 8), -EINVAL);
	assert_int_equal(budget__frame_bytes(-1, 32), -EINVAL);
}

static void assert_chain(const struct budget_chain *c, const struct budget *b,
			 const char **names, const int *bytes, size_t n, int total)
{
	assert_int_equal(c->nframes, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(budget__func(b, c->func[i])->name, names[i]);
		assert_int_equal(c->frame_bytes[i], bytes[i]);
	}
	assert_int_equal(c->total_bytes, total);
}

static const char *worst[] = { "tiny_entry", "scan", "loop_cb", "add_ids", "mix" };

static void test_worst_chain_6_1(void **state)
{
	struct budget *b = open_tiny();
	struct budget_chain c;
	char err[256];

	assert_int_equal(budget__worst_chain(b, index_of(b, "tiny_entry"), 32, &c,
					     err, sizeof(err)), 0);
	assert_chain(&c, b, worst, (const int[]){ 32, 64, 64, 128, 32 }, 5, 320);
	assert_int_equal(budget__worst_chain(b, index_of(b, "tiny_empty"), 32, &c,
					     err, sizeof(err)), 0);
	assert_chain(&c, b, (const char *[]){ "tiny_empty" }, (const int[]){ 32 }, 1, 32);
	budget__free(b);
}

static void test_worst_chain_jit(void **state)
{
	struct budget *b = open_tiny();
	struct budget_chain c;
	char err[256];

	assert_int_equal(budget__worst_chain(b, index_of(b, "tiny_entry"), 16, &c,
					     err, sizeof(err)), 0);
	assert_chain(&c, b, worst, (const int[]){ 32, 64, 48, 112, 0 }, 5, 256);
	assert_int_equal(budget__worst_chain(b, index_of(b, "tiny_empty"), 16, &c,
					     err, sizeof(err)), 0);
	assert_int_equal(c.total_bytes, 0);
	assert_int_equal(budget__worst_chain(b, 0, 24, &c, err, sizeof(err)), -EINVAL);
	budget__free(b);
}

/* The chain the verifier names when it refuses: the first, in its walk,
 * to pass the limit, not the largest. */
static void test_first_over(void **state)
{
	struct budget *b = open_tiny();
	size_t entry = index_of(b, "tiny_entry");
	struct budget_chain c;
	char err[256];

	assert_int_equal(budget__first_over(b, entry, 16, 200, &c, err, sizeof(err)), 1);
	assert_chain(&c, b, worst, (const int[]){ 32, 64, 48, 112 }, 4, 256);
	assert_int_equal(budget__first_over(b, entry, 32, 100, &c, err, sizeof(err)), 1);
	assert_chain(&c, b, (const char *[]){ "tiny_entry", "add_ids" },
		     (const int[]){ 32, 128 }, 2, 160);
	assert_int_equal(budget__first_over(b, entry, 32, 512, &c, err, sizeof(err)), 0);
	budget__free(b);
}

/* budget__report's verdict and what it prints, at a budget. */
static int report_at(const struct budget *b, int budget_bytes, char **text)
{
	struct budget_opts o = { .label = "tiny", .budget_bytes = budget_bytes,
				 .round = 32 };
	size_t len;
	FILE *f = open_memstream(text, &len);
	int over;

	assert_non_null(f);
	over = budget__report(b, &o, f);
	fclose(f);
	return over;
}

static void test_budget_verdict(void **state)
{
	struct budget *b = open_tiny();
	char *text;

	assert_int_equal(report_at(b, 320, &text), 0);
	assert_non_null(strstr(text, "ok    tiny_entry  320 = tiny_entry 32 + scan 64 + "
			       "loop_cb 64 + add_ids 128 + mix 32\n"));
	assert_non_null(strstr(text, "ok: 2 programs within 320 bytes"));
	free(text);
	assert_int_equal(report_at(b, 319, &text), 1);
	assert_non_null(strstr(text, "OVER  tiny_entry  320 = "));
	assert_non_null(strstr(text, "FAIL: 1 of 2 programs over the 319-byte"));
	free(text);
	budget__free(b);
}

/* ---- untrusted input ---------------------------------------------------- */

/* Opens path: an error with a message, or an object every query works on. */
static void exercise(const char *path)
{
	char err[512], *text;
	struct budget_chain c;
	struct budget *b = budget__open(path, err, sizeof(err));

	if (!b) {
		assert_true(errno != 0);
		assert_true(strlen(err) > 0);
		return;
	}
	for (size_t i = 0; i < budget__count(b); i++) {
		budget__worst_chain(b, i, 32, &c, err, sizeof(err));
		budget__first_over(b, i, 16, 64, &c, err, sizeof(err));
	}
	report_at(b, 448, &text);
	free(text);
	budget__free(b);
}

static void test_missing_file(void **state)
{
	char err[512];

	assert_null(budget__open("/nonexistent/x.bpf.o", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.bpf.o"));
}

static void test_truncated(void **state)
{
	char path[] = "/tmp/test_stack_budget.XXXXXX";
	int fd = mkstemp(path);
	size_t len;
	char *buf = test_read_file(BUDGET_TINY_OBJ, &len);

	assert_true(fd >= 0);
	close(fd);
	for (size_t n = 0; n < len; n += 7) {
		test_write_file(path, buf, n);
		exercise(path);
	}
	unlink(path);
	free(buf);
}

static void test_corrupted(void **state)
{
	char path[] = "/tmp/test_stack_budget.XXXXXX";
	int fd = mkstemp(path);
	size_t len;
	char *buf = test_read_file(BUDGET_TINY_OBJ, &len), *copy = malloc(len);

	assert_true(fd >= 0 && copy);
	close(fd);
	srand(21);
	for (int round = 0; round < 1500; round++) {
		memcpy(copy, buf, len);
		for (int k = 0; k < 1 + round % 8; k++)
			copy[(size_t)rand() % len] = (char)rand();
		test_write_file(path, copy, len);
		exercise(path);
	}
	unlink(path);
	free(copy);
	free(buf);
}

/* add_ids -> mix is a call with no relocation (imm 1): aimed elsewhere it
 * must be an error naming the call, not a wrong graph. */
static void test_call_into_nowhere(void **state)
{
	static const unsigned char call_mix[8] = { 0x85, 0x10, 0, 0, 1, 0, 0, 0 };
	char path[] = "/tmp/test_stack_budget.XXXXXX", err[512];
	int fd = mkstemp(path), found = 0;
	size_t len;
	char *buf = test_read_file(BUDGET_TINY_OBJ, &len);

	assert_true(fd >= 0);
	close(fd);
	for (size_t off = 0; off + 8 <= len; off += 8)
		if (!memcmp(buf + off, call_mix, 8)) {
			buf[off + 4] = 2;	/* one instruction past mix's start */
			found++;
		}
	assert_int_equal(found, 1);
	test_write_file(path, buf, len);
	assert_null(budget__open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not the start of a function"));
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_call_graph),
		cmocka_unit_test(test_frame_rounding),
		cmocka_unit_test(test_worst_chain_6_1),
		cmocka_unit_test(test_worst_chain_jit),
		cmocka_unit_test(test_first_over),
		cmocka_unit_test(test_budget_verdict),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_call_into_nowhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
