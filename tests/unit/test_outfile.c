/* test_outfile.c - profiles written as root in a world-writable directory:
 * a symlink planted at the destination is replaced, never followed; an
 * interrupted write leaves nothing; the file is 0600. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/outfile.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_outfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect(const char *path, const char *text)
{
	char buf[64] = { 0 };
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) <= strlen(text));
	fclose(f);
	assert_string_equal(buf, text);
}

static int entries(void)
{
	DIR *d = opendir(dir);
	int n = 0;

	while (d && readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

static void test_symlink_replaced_not_followed(void **state)
{
	char victim[128], dest[128];
	struct outfile o;
	struct stat st;

	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(dest, sizeof(dest), "%s/heap.pb.gz", dir);
	put(victim, "precious");
	assert_int_equal(symlink(victim, dest), 0);
	assert_int_equal(outfile__open(&o, dest), 0);
	fputs("profile", o.f);
	assert_int_equal(outfile__commit(&o), 0);
	expect(victim, "precious");
	assert_int_equal(lstat(dest, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	expect(dest, "profile");
	assert_int_equal(entries(), 2);		/* victim, heap.pb.gz: no temporary left */
}

static void test_abort_leaves_the_old_file(void **state)
{
	char dest[128];
	struct outfile o;

	snprintf(dest, sizeof(dest), "%s/old.json", dir);
	put(dest, "old");
	assert_int_equal(outfile__open(&o, dest), 0);
	fputs("half a prof", o.f);
	outfile__abort(&o);
	expect(dest, "old");
	assert_int_equal(entries(), 3);
}

static void test_bad_destinations(void **state)
{
	struct outfile o;

	assert_int_not_equal(outfile__open(&o, "/nonexistent-dir/x.pb.gz"), 0);
	assert_int_equal(outfile__open(&o, "/tmp"), -EISDIR);	/* a directory */
	assert_int_not_equal(outfile__open(&o, "/"), 0);
	assert_int_not_equal(outfile__open(&o, ".."), 0);
	assert_null(o.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symlink_replaced_not_followed),
		cmocka_unit_test(test_abort_leaves_the_old_file),
		cmocka_unit_test(test_bad_destinations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
