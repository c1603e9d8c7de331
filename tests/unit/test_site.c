/* test_site.c - where a stack's program allocated (report/site.h): the
 * first Python frame; else the first named frame outside the allocator's
 * libraries (libc, libstdc++, jemalloc, ... and modules given); else the
 * first frame outside them; else the innermost; -1 without frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report/site.h"

#define LIBC	"/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBCXX	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"
#define JEMALLOC "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
#define MUSL	"/lib/ld-musl-x86_64.so.1"
#define APP	"/srv/bin/app"
#define PYTHON	"/usr/bin/python3.11"

#define NFRAMES(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int site(struct frame *f, int n, const char *const *alloc_modules)
{
	struct report_stack s = { .frames = f, .nframes = n };

	return site__of(&s, alloc_modules);
}

static void test_python_frame_first(void **state)
{
	struct frame f[] = {	/* innermost first */
		{ .module = LIBC, .function = "malloc" },
		{ .module = PYTHON, .function = "list_resize", .inlined = true },
		{ .module = PYTHON, .function = "_PyList_AppendTakeRefListResize" },
		{ .function = "Cache.put", .file = "/srv/app/cache.py", .line = 41, .python = true },
		{ .function = "<module>", .file = "/srv/app/main.py", .line = 12, .python = true },
	};

	assert_int_equal(site(f, NFRAMES(f), NULL), 3);
}

static void test_libc_skipped(void **state)
{
	struct frame f[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .module = LIBC, .function = "strdup" },
		{ .module = APP, .function = "remember", .file = "app.c", .line = 33 },
		{ .module = APP, .function = "main", .file = "app.c", .line = 90 },
	};

	assert_int_equal(site(f, NFRAMES(f), NULL), 2);
}

/* operator new in libstdc++.so, called by std::__new_allocator, which
 * is compiled into the program (a header template): the first frame
 * outside libstdc++'s module is the site. */
static void test_libstdcxx_operator_new_skipped(void **state)
{
	struct frame f[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .module = LIBCXX, .function = "operator new(unsigned long)" },
		{ .module = APP, .function = "std::__new_allocator<char>::allocate(unsigned long, void const*)",
		  .file = "/usr/include/c++/12/bits/new_allocator.h", .line = 137, .inlined = true },
		{ .module = APP, .function = "Registry::add(Row const&)", .file = "registry.cc", .line = 58 },
	};

	assert_int_equal(site(f, NFRAMES(f), NULL), 2);
}

static void test_jemalloc_and_musl_skipped(void **state)
{
	struct frame je[] = {
		{ .module = JEMALLOC, .function = "je_malloc_default" },
		{ .module = JEMALLOC, .function = "malloc" },
		{ .module = APP, .function = "grow", .file = "grow.c", .line = 7 },
	};
	struct frame musl[] = {
		{ .module = MUSL, .function = "malloc" },
		{ .module = APP, .function = "grow" },
	};

	assert_int_equal(site(je, NFRAMES(je), NULL), 2);
	assert_int_equal(site(musl, NFRAMES(musl), NULL), 1);
}

/* A named frame wins over an unnamed one nearer the allocator; without
 * a named one, the first frame outside the allocator; without one, the
 * innermost. */
static void test_unnamed_frames(void **state)
{
	struct frame jit[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .addr = 0x7f0000001000 },			/* JIT code: no module */
		{ .module = APP, .addr = 0x401234 },		/* stripped */
		{ .module = APP, .function = "main" },
	};
	struct frame stripped[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .module = APP, .addr = 0x401234 },
		{ .module = APP, .addr = 0x401300 },
	};
	struct frame all_libc[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .module = LIBC, .function = "__libc_start_main" },
	};
	struct frame unknown[] = { { .addr = 0x1234 } };

	assert_int_equal(site(jit, NFRAMES(jit), NULL), 3);
	assert_int_equal(site(stripped, NFRAMES(stripped), NULL), 1);
	assert_int_equal(site(all_libc, NFRAMES(all_libc), NULL), 0);
	assert_int_equal(site(unknown, NFRAMES(unknown), NULL), 0);
}

/* --obj: an allocator of the user's, by path, by file name, or by file
 * name plus a version suffix; a longer name is another library. */
static void test_extra_allocator_module(void **state)
{
	struct frame f[] = {
		{ .module = "/opt/pool/lib/libpool.so.1", .function = "pool_alloc" },
		{ .module = APP, .function = "fill", .file = "fill.c", .line = 12 },
	};
	struct frame other[] = {
		{ .module = "/opt/pool/lib/libpoolx.so", .function = "poolx_alloc" },
		{ .module = APP, .function = "fill" },
	};
	const char *const by_path[] = { "/opt/pool/lib/libpool.so.1", NULL };
	const char *const by_name[] = { "./libpool.so.1", NULL };
	const char *const unversioned[] = { "/opt/pool/lib/libpool.so", NULL };
	const char *const none[] = { NULL };

	assert_int_equal(site(f, NFRAMES(f), NULL), 0);
	assert_int_equal(site(f, NFRAMES(f), none), 0);
	assert_int_equal(site(f, NFRAMES(f), by_path), 1);
	assert_int_equal(site(f, NFRAMES(f), by_name), 1);
	assert_int_equal(site(f, NFRAMES(f), unversioned), 1);
	assert_int_equal(site(other, NFRAMES(other), unversioned), 0);
}

static void test_no_frames(void **state)
{
	struct report_stack lost = { .key.id = STACK_ID_LOST };

	assert_int_equal(site__of(&lost, NULL), -1);
	lost.site = site__of(&lost, NULL);
	assert_null(site__frame(&lost));
}

/* site__mark sets every stack's site; site__frame reads it back, and
 * NULL for a site out of range. */
static void test_mark(void **state)
{
	struct frame a[] = {
		{ .module = LIBC, .function = "malloc" },
		{ .module = APP, .function = "leak" },
	};
	struct report_stack st[] = {
		{ .frames = a, .nframes = 2, .site = 7 },
		{ .key.id = STACK_ID_LOST, .site = 0 },
	};
	struct report r = { .stacks = st, .nstacks = 2 };

	site__mark(&r, NULL);
	assert_int_equal(st[0].site, 1);
	assert_ptr_equal(site__frame(&st[0]), &a[1]);
	assert_int_equal(st[1].site, -1);
	assert_null(site__frame(&st[1]));
	st[0].site = 2;
	assert_null(site__frame(&st[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python_frame_first),
		cmocka_unit_test(test_libc_skipped),
		cmocka_unit_test(test_libstdcxx_operator_new_skipped),
		cmocka_unit_test(test_jemalloc_and_musl_skipped),
		cmocka_unit_test(test_unnamed_frames),
		cmocka_unit_test(test_extra_allocator_module),
		cmocka_unit_test(test_no_frames),
		cmocka_unit_test(test_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
