/* test_symbols.c - symbol cache, demangling, ELF symbol offsets, JSON
 * escaping, and symbolizing this very test's own functions with libdw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "util/json.h"
#include "symbols/symbolize.h"
#include "symbols/symcache.h"

static void test_cache_put_get(void **state)
{
	struct symcache c;
	struct frame f[2] = { { .function = "inner", .line = 3, .inlined = true },
			      { .function = "outer", .line = 9 } };
	uint64_t lib = symcache__module_id("\x01\x02\x03", 3);
	uint64_t other = symcache__module_id("\x01\x02\x04", 3);

	assert_int_equal(symcache__init(&c), 0);
	assert_null(symcache__get(&c, lib, 0x1234));
	assert_non_null(symcache__put(&c, lib, 0x1234, f, 2));
	const struct symcache_entry *e = symcache__get(&c, lib, 0x1234);
	assert_non_null(e);
	assert_int_equal(e->nframes, 2);
	assert_string_equal(e->frames[1].function, "outer");
	assert_null(symcache__get(&c, other, 0x1234));	/* other build-id */
	assert_null(symcache__get(&c, lib, 0x1235));
	/* many entries force rehashing; all stay reachable */
	for (uint64_t a = 0; a < 20000; a++)
		assert_non_null(symcache__put(&c, other, a, f, 1));
	for (uint64_t a = 0; a < 20000; a += 997)
		assert_non_null(symcache__get(&c, other, a));
	assert_non_null(symcache__get(&c, lib, 0x1234));
	symcache__free(&c);
}

static void test_intern(void **state)
{
	struct symcache c;

	assert_int_equal(symcache__init(&c), 0);
	const char *a = symcache__intern(&c, "foo.c");
	char buf[8] = "foo.c";
	const char *b = symcache__intern(&c, buf);

	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, symcache__intern(&c, "bar.c"));
	symcache__free(&c);
}

static void test_demangle(void **state)
{
	char *d = symbolize__demangle("_ZN4shop5Cache11leak_ordersEv");

	assert_string_equal(d, "shop::Cache::leak_orders()");
	free(d);
	d = symbolize__demangle("malloc");
	assert_string_equal(d, "malloc");
	free(d);
	d = symbolize__demangle("_Zgarbage!");	/* invalid: kept as is */
	assert_string_equal(d, "_Zgarbage!");
	free(d);
}

static void test_elf_offsets(void **state)
{
	struct elfsym *e = elfsym__open("/proc/self/exe");
	uint64_t off, size;

	assert_non_null(e);
	assert_true(elfsym__is_dynamic(e));
	assert_int_equal(elfsym__func(e, "main", &off, &size), 0);
	assert_true(off > 0);
	assert_int_equal(elfsym__func(e, "no_such_function_xyz", &off, &size), -ENOENT);
	elfsym__close(e);
	assert_null(elfsym__open("/etc/hostname"));	/* not ELF */
	assert_null(elfsym__open("/nonexistent"));
}

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	json__string(f, s);
	fclose(f);
	return buf;
}

static void test_json_escaping(void **state)
{
	char *j;

	j = json_of("a\"b\\c\n\x01");
	assert_string_equal(j, "\"a\\\"b\\\\c\\n\\u0001\"");
	free(j);
	j = json_of("caf\xc3\xa9");		/* valid UTF-8 passes */
	assert_string_equal(j, "\"caf\xc3\xa9\"");
	free(j);
	j = json_of("bad\xff\xc3");		/* invalid bytes replaced */
	assert_string_equal(j, "\"bad\\ufffd\\ufffd\"");
	free(j);
	j = json_of(NULL);
	assert_string_equal(j, "null");
	free(j);
}

__attribute__((noinline)) static uint64_t return_address_here(void)
{
	return (uint64_t)__builtin_return_address(0);
}

static void test_symbolize_self(void **state)
{
	struct symbolizer *s = symbolizer__new(getpid());
	struct frame f[16];
	uint64_t ra = return_address_here();	/* a return address in this function */
	int n;

	assert_non_null(s);
	symbolizer__refresh(s);
	n = symbolizer__resolve(s, ra, f, 16);
	assert_true(n >= 1);
	assert_non_null(f[n - 1].function);
	assert_string_equal(f[n - 1].function, "test_symbolize_self");
	assert_non_null(f[0].file);
	assert_non_null(strstr(f[0].file, "test_symbols.c"));
	assert_true(f[0].line > 0);
	/* cached the second time, same answer */
	n = symbolizer__resolve(s, ra, f, 16);
	assert_string_equal(f[n - 1].function, "test_symbolize_self");
	/* an address in no module */
	n = symbolizer__resolve(s, 0x10, f, 16);
	assert_int_equal(n, 1);
	assert_null(f[0].function);
	symbolizer__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_put_get),
		cmocka_unit_test(test_intern),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_elf_offsets),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_symbolize_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
