/* test_ksym.c - kallsyms parsing and address lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "symbols/ksym.h"

static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81000100 t helper\n"
	"ffffffff81000200 D some_data\n"		/* not a function: skipped */
	"ffffffff81000300 T __kmalloc\n"
	"0000000000000000 T zero_hidden\n"		/* kptr_restrict: skipped */
	"ffffffffc0001000 t ext4_thing\t[ext4]\n"
	"garbage line\n"
	"ffffffff81000050 W weak_fn\n";		/* out of order: sorted */

static void test_lookup(void **state)
{
	struct ksym *k = ksym__parse(kallsyms);
	struct frame f;

	assert_non_null(k);
	ksym__resolve(k, 0xffffffff81000310, &f);
	assert_string_equal(f.function, "__kmalloc");
	assert_int_equal(f.func_offset, 0x10);
	assert_string_equal(f.module, "kernel");
	ksym__resolve(k, 0xffffffff81000060, &f);
	assert_string_equal(f.function, "weak_fn");
	ksym__resolve(k, 0xffffffff81000250, &f);	/* data is not a function */
	assert_string_equal(f.function, "helper");
	ksym__resolve(k, 0xffffffffc0001004, &f);
	assert_string_equal(f.function, "ext4_thing");
	assert_string_equal(f.module, "ext4");
	ksym__resolve(k, 0x1000, &f);			/* below everything */
	assert_null(f.function);
	assert_int_equal(f.addr, 0x1000);
	ksym__free(k);
}

static void test_restricted(void **state)
{
	/* what a non-root reader sees: every address 0 */
	assert_null(ksym__parse("0000000000000000 T _stext\n0000000000000000 t foo\n"));
	assert_null(ksym__parse(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_restricted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
