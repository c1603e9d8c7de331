/* test_procmaps.c - maps lines, as the kernel writes them, and libc names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "procs/procmaps.h"

static void test_file_line(void **state)
{
	struct vma v;

	assert_int_equal(procmaps__parse_line(
		"7f0a1c028000-7f0a1c1bd000 r-xp 00028000 fe:01 1835058                    /usr/lib/x86_64-linux-gnu/libc.so.6\n",
		&v), 0);
	assert_true(v.start == 0x7f0a1c028000ULL);
	assert_true(v.end == 0x7f0a1c1bd000ULL);
	assert_true(v.offset == 0x28000);
	assert_true(v.inode == 1835058);
	assert_string_equal(v.perms, "r-xp");
	assert_string_equal(v.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_false(v.deleted);
}

static void test_anonymous_and_special(void **state)
{
	struct vma v;

	assert_int_equal(procmaps__parse_line("55d0c5a8a000-55d0c5aab000 rw-p 00000000 00:00 0 \n", &v), 0);
	assert_string_equal(v.path, "");
	assert_int_equal(procmaps__parse_line("7ffc1a9e4000-7ffc1aa05000 rw-p 00000000 00:00 0                          [stack]\n", &v), 0);
	assert_string_equal(v.path, "[stack]");
}

static void test_deleted_and_spaces(void **state)
{
	struct vma v;

	assert_int_equal(procmaps__parse_line(
		"400000-401000 r-xp 00000000 08:01 42 /opt/my app/bin (deleted)\n", &v), 0);
	assert_string_equal(v.path, "/opt/my app/bin");
	assert_true(v.deleted);
}

static void test_malformed(void **state)
{
	struct vma v;

	assert_int_equal(procmaps__parse_line("", &v), -EINVAL);
	assert_int_equal(procmaps__parse_line("garbage\n", &v), -EINVAL);
	assert_int_equal(procmaps__parse_line("2000-1000 r-xp 0 08:01 1 /x\n", &v), -EINVAL);
}

static void test_is_libc(void **state)
{
	assert_true(procmaps__is_libc("/usr/lib/x86_64-linux-gnu/libc.so.6"));
	assert_true(procmaps__is_libc("/lib/libc-2.31.so"));
	assert_true(procmaps__is_libc("/lib/ld-musl-x86_64.so.1"));
	assert_false(procmaps__is_libc("/usr/lib/libcurl.so.4"));
	assert_false(procmaps__is_libc("/usr/lib/x86_64-linux-gnu/libcrypt.so.1"));
	assert_false(procmaps__is_libc("/usr/lib/libcap.so.2"));
}

static void test_read_self(void **state)
{
	struct vma_list l;
	int found = 0;

	assert_int_equal(procmaps__read(getpid(), &l), 0);
	assert_true(l.n > 5);
	for (size_t i = 0; i < l.n; i++)
		found |= procmaps__is_libc(l.v[i].path);
	assert_true(found);
	procmaps__free(&l);
	assert_int_equal(procmaps__read(0x7ffffff0, &l), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_line),
		cmocka_unit_test(test_anonymous_and_special),
		cmocka_unit_test(test_deleted_and_spaces),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_is_libc),
		cmocka_unit_test(test_read_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
