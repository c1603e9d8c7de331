/* test_files.h - whole files read and written by the unit tests that feed
 * truncated or corrupted copies of real objects to parsers (include after
 * cmocka.h: a failure is a test failure). */
#ifndef LEAKSCOPE_TEST_FILES_H
#define LEAKSCOPE_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

/* The whole of path, malloc'd; its size in *len. */
static char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void test_write_file(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

#endif
