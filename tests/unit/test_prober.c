/* test_prober.c - the prober's printed plans of this process's own
 * allocator (no root, no BPF: a prober without a trace only plans): the
 * settings reach every site, a failed plan writes nothing, a library set
 * without an allocator is libstdc++ alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/prober.h"
#include "procs/target.h"

static struct target_libs libs;	/* ours, as `leakscope probes -- CMD` finds them */

static int find_ours(void **state)
{
	dlopen("libstdc++.so.6", RTLD_NOW);	/* mapped, if installed */
	return target__find_libs(getpid(), -1, NULL, NULL, &libs);
}

/* The plan as prober__plan prints it (its return value in *rc). */
static char *plan(const struct prober_settings *s, const struct target_libs *l,
		  const struct cpython_elf *py, const char *title, int *rc)
{
	struct prober *p = prober__new(NULL, s);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(p);
	assert_non_null(out);
	*rc = prober__plan(p, l, py, title, out);
	fclose(out);
	prober__free(p);
	return buf;
}

/* The row of function fn ("FUNCTION ..." lines start with the name), or NULL. */
static const char *row(const char *text, const char *fn)
{
	size_t n = strlen(fn);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, fn, n) && l[n] == ' ')
			return l;
	return NULL;
}

/* needle is in the line that starts at l. */
static bool in_line(const char *l, const char *needle)
{
	const char *at = strstr(l, needle), *end = strchr(l, '\n');

	return at && (!end || at < end);
}

static void test_plan_of_our_allocator(void **state)
{
	struct prober_settings s = { .placement = true };
	int rc;
	char *text = plan(&s, &libs, NULL, NULL, &rc);

	assert_int_equal(rc, 0);
	assert_true(!strncmp(text, "allocator: ", 11));
	assert_non_null(strstr(text, "\nFUNCTION "));
	assert_non_null(row(text, "malloc"));
	assert_non_null(row(text, "free"));
	assert_null(row(text, "mmap"));		/* the wrappers: --unwind fp only */
	free(text);
}

static void test_title_first(void **state)
{
	struct prober_settings s = { .placement = true };
	int rc;
	char *text = plan(&s, &libs, NULL, "PID 42:", &rc);

	assert_int_equal(rc, 0);
	assert_true(!strncmp(text, "PID 42:\nallocator: ", 19));
	free(text);
}

static void test_mmap_wrappers(void **state)
{
	struct prober_settings s = { .placement = true, .mmap_wrappers = true };
	int rc;
	char *text = plan(&s, &libs, NULL, NULL, &rc);

	assert_int_equal(rc, 0);
	assert_non_null(row(text, "mmap"));
	assert_non_null(row(text, "munmap"));
	assert_non_null(row(text, "mremap"));
	free(text);
}

/* --no-placement: every probe at its function's entry. */
static void test_no_placement(void **state)
{
	struct prober_settings s = { .placement = false };
	int rc, rows = 0;
	char *text = plan(&s, &libs, NULL, NULL, &rc);
	const char *l = strstr(text, "\nFUNCTION ");

	assert_int_equal(rc, 0);
	assert_non_null(l);
	for (l = strchr(l + 1, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
		char fn[64], probes[16], off[32];

		assert_int_equal(sscanf(l + 1, "%63s %15s %31s", fn, probes, off), 3);
		assert_null(strchr(off, '+'));
		assert_true(in_line(l + 1, " emulated ") || in_line(l + 1, "entry: --no-placement") ||
			    in_line(l + 1, "alias of an earlier site"));
		rows++;
	}
	assert_true(rows >= 4);
	free(text);
}

/* Not a CPython: said on stderr, nothing on out. */
static void test_failed_plan_writes_nothing(void **state)
{
	struct prober_settings s = { .placement = true };
	struct cpython_elf py = { .path = libs.alloc_path, .name = "not-python" };
	int rc;
	char *text = plan(&s, &libs, &py, "PID 42:", &rc);

	assert_int_not_equal(rc, 0);
	assert_string_equal(text, "");
	free(text);
}

/* No allocator (system-wide, a new libstdc++): operator new alone. */
static void test_libstdcxx_alone(void **state)
{
	struct prober_settings s = { .placement = true };
	struct target_libs *cxx = calloc(1, sizeof(*cxx));
	int rc;
	char *text;

	if (!libs.has_cxx) {
		free(cxx);
		skip();
	}
	cxx->has_cxx = true;
	strcpy(cxx->cxx_path, libs.cxx_path);
	strcpy(cxx->cxx_name, libs.cxx_name);
	text = plan(&s, cxx, NULL, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(row(text, "_Znwm"));
	assert_null(row(text, "malloc"));
	assert_null(row(text, "free"));
	free(text);
	free(cxx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_of_our_allocator),
		cmocka_unit_test(test_title_first),
		cmocka_unit_test(test_mmap_wrappers),
		cmocka_unit_test(test_no_placement),
		cmocka_unit_test(test_failed_plan_writes_nothing),
		cmocka_unit_test(test_libstdcxx_alone),
	};

	return cmocka_run_group_tests(tests, find_ours, NULL);
}
