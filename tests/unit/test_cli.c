/* test_cli.c - argument parsing: the forms in the README, and rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "cli/cli.h"

static FILE *devnull;

static int parse(struct options *o, ...)
{
	static char *argv[32];	/* outlives parse(): o->cmd points into it */
	int argc = 1;
	va_list ap;

	memset(argv, 0, sizeof(argv));
	argv[0] = "leakscope";
	va_start(ap, o);
	for (char *a; (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	va_end(ap);
	return cli__parse(argc, argv, o, devnull);
}

static void test_pid_defaults(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, "-p", "1234", NULL), 0);
	assert_int_equal(o.pid, 1234);
	assert_int_equal(o.interval_s, 5);
	assert_int_equal(o.count, 0);
	assert_int_equal(o.top_n, 10);
	assert_false(o.json);
	assert_null(o.cmd);
	assert_true(o.max_size == UINT64_MAX);
}

static void test_interval_and_count(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, "-p", "1234", "10", "3", NULL), 0);
	assert_int_equal(o.interval_s, 10);
	assert_int_equal(o.count, 3);
}

static void test_command_after_dashdash(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, "--json", "-n", "3", "--", "./prog", "-p", "7", NULL), 0);
	assert_true(o.json);
	assert_int_equal(o.top_n, 3);
	assert_int_equal(o.pid, 0);	/* "-p 7" belongs to the command */
	assert_string_equal(o.cmd[0], "./prog");
	assert_string_equal(o.cmd[1], "-p");
	assert_string_equal(o.cmd[2], "7");
	assert_null(o.cmd[3]);
}

static void test_filters(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, "-p", "1", "--min-age", "2.5", "--min-size", "64",
			       "--max-size", "4096", "--obj", "/lib/libjemalloc.so.2", NULL), 0);
	assert_true(o.min_age_s > 2.49 && o.min_age_s < 2.51);
	assert_int_equal(o.min_size, 64);
	assert_int_equal(o.max_size, 4096);
	assert_string_equal(o.obj, "/lib/libjemalloc.so.2");
}

static void test_probes_and_tuning(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, "probes", "-p", "42", NULL), 0);
	assert_int_equal(o.command, CMD_PROBES);
	assert_int_equal(o.pid, 42);
	assert_int_equal(parse(&o, "--sample-bytes", "524288", "--max-stacks", "4096",
			       "--scan-limit", "0", "-p", "7", NULL), 0);
	assert_int_equal(o.command, CMD_TRACE);
	assert_int_equal(o.sample_bytes, 524288);
	assert_int_equal(o.max_stacks, 4096);
	assert_int_equal(o.scan_limit, 0);
	assert_int_equal(parse(&o, "-p", "7", NULL), 0);
	assert_int_equal(o.sample_bytes, 0);		/* default: every block */
	assert_int_equal(o.scan_limit, 65536);
	assert_int_equal(parse(&o, "-p", "7", "--max-stacks", "10", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "7", "--sample-bytes", "x", NULL), -EINVAL);
}

static void test_durations(void **state)
{
	struct options o;
	double v;

	assert_int_equal(cli__parse_duration("2s", &v), 0);
	assert_true(v == 2);
	assert_int_equal(cli__parse_duration("500ms", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(cli__parse_duration("1m", &v), 0);
	assert_true(v == 60);
	assert_int_equal(cli__parse_duration("1.5h", &v), 0);
	assert_true(v == 5400);
	assert_int_equal(cli__parse_duration("90", &v), 0);
	assert_true(v == 90);
	assert_int_equal(cli__parse_duration("2x", &v), -EINVAL);
	assert_int_equal(cli__parse_duration("-1s", &v), -EINVAL);
	assert_int_equal(cli__parse_duration(" 1s", &v), -EINVAL);
	assert_int_equal(cli__parse_duration("s", &v), -EINVAL);
	assert_int_equal(cli__parse_duration("inf", &v), -EINVAL);
	assert_int_equal(cli__parse_duration("1e99h", &v), -EINVAL);
	assert_int_equal(cli__parse_duration("", &v), -EINVAL);
	/* where they are used */
	assert_int_equal(parse(&o, "record", "--duration", "500ms", "-p", "1", NULL), 0);
	assert_true(o.duration_s == 0.5);
	assert_int_equal(parse(&o, "-p", "1", "5m", "3", NULL), 0);
	assert_int_equal(o.interval_s, 300);
	assert_int_equal(parse(&o, "-p", "1", "--min-age", "1m", NULL), 0);
	assert_true(o.min_age_s == 60);
	assert_int_equal(parse(&o, "-p", "1", "500ms", NULL), -EINVAL);	/* intervals: whole s */
	assert_int_equal(parse(&o, "-p", "1", "25h", NULL), -EINVAL);
	assert_int_equal(parse(&o, "record", "--duration", "2x", "-p", "1", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", NULL), 0);
	assert_true(o.history_s == 1);			/* the timeline's default */
	assert_int_equal(parse(&o, "--history-interval", "5s", "-p", "1", NULL), 0);
	assert_true(o.history_s == 5);
	assert_int_equal(parse(&o, "--history-interval", "50ms", "-p", "1", NULL), -EINVAL);
	assert_int_equal(parse(&o, "--history-interval", "2h", "-p", "1", NULL), -EINVAL);
}

static void test_rejects(void **state)
{
	struct options o;

	assert_int_equal(parse(&o, NULL), -EINVAL);			/* nothing to trace */
	assert_int_equal(parse(&o, "-p", "abc", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "-5", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "+1234", NULL), -EINVAL);	/* digits only */
	assert_int_equal(parse(&o, "-p", " 1234", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1234 ", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "0x10", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", "-n", "+3", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "0", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "99999999999", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", "0", NULL), -EINVAL);	/* interval 0 */
	assert_int_equal(parse(&o, "-p", "1", "5", "0", NULL), -EINVAL);	/* count 0 */
	assert_int_equal(parse(&o, "-p", "1", "5", "2", "9", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", "--", "x", NULL), -EINVAL);	/* both */
	assert_int_equal(parse(&o, "--", NULL), -EINVAL);		/* empty command */
	assert_int_equal(parse(&o, "-p", "1", "--bogus", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", NULL), -EINVAL);		/* missing value */
	assert_int_equal(parse(&o, "-p", "1", "--min-age", "-1", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", "--min-size", "10", "--max-size", "5", NULL), -EINVAL);
	assert_int_equal(parse(&o, "-p", "1", "-n", "0", NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_defaults),
		cmocka_unit_test(test_interval_and_count),
		cmocka_unit_test(test_command_after_dashdash),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_probes_and_tuning),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_rejects),
	};

	devnull = fopen("/dev/null", "w");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
