/* stack_budget.c - prints each program's worst stack chain in a BPF object
 * and fails when one is over budget (issue 21: every chain <= 448 bytes,
 * frames rounded up to 32 bytes as kernel 6.1 counts them).
 *
 *   stack_budget [--budget N] [--round 16|32] [--first-over N] [-v] OBJ
 *
 * Exit status: 0 all within budget, 1 a chain over budget (or a chain the
 * verifier would refuse outright: recursion, too many frames), 2 bad usage
 * or an unreadable object.  The analysis is budget.c, the report
 * budget_report.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"

struct opts {
	const char *path;
	struct budget_opts report;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stack_budget [--budget N] [--round 16|32] [--first-over N] [-v] OBJ\n"
		"Prints each BPF program's worst call chain (frames rounded up as the\n"
		"verifier does) and exits 1 if one is over the budget.\n"
		"  --budget N      bytes a chain may use (default 448)\n"
		"  --round 32      kernel 6.1 / interpreter rounding (default)\n"
		"  --round 16      newer kernels with the JIT on (an empty frame is 0)\n"
		"  --first-over N  also show the first chain the verifier's own walk\n"
		"                  finds above N bytes: what it reports as \"combined\n"
		"                  stack size of K calls is S\" (N = 512 to compare)\n"
		"  -v              list every function's frame and callees\n");
}

static int parse_int(const char *s, const char *what, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1 << 20) {
		fprintf(stderr, "stack_budget: %s wants a byte count, not '%s'\n", what, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* 0, or 2 (the exit status) after a message. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "budget", required_argument, NULL, 'b' },
		{ "round", required_argument, NULL, 'r' },
		{ "first-over", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct opts){ .report = { .budget_bytes = 448, .round = 32 } };
	while ((c = getopt_long(argc, argv, "vh", longs, NULL)) != -1) {
		if ((c == 'b' && parse_int(optarg, "--budget", &o->report.budget_bytes)) ||
		    (c == 'r' && parse_int(optarg, "--round", &o->report.round)) ||
		    (c == 'f' && parse_int(optarg, "--first-over", &o->report.first_over)))
			return 2;
		if (c == 'v')
			o->report.verbose = true;
		else if (c == 'h') {
			usage(stdout);
			exit(0);
		} else if (c == '?') {
			usage(stderr);
			return 2;
		}
	}
	if (o->report.round != 16 && o->report.round != 32) {
		fprintf(stderr, "stack_budget: --round is 16 or 32, not %d\n", o->report.round);
		return 2;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->path = argv[optind];
	o->report.label = o->path;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct budget *b;
	char err[512];
	int ret = parse_args(argc, argv, &o);

	if (ret)
		return ret;
	b = budget__open(o.path, err, sizeof(err));
	if (!b) {
		fprintf(stderr, "stack_budget: %s\n", err);
		return 2;
	}
	ret = budget__report(b, &o.report, stdout);
	budget__free(b);
	return ret ? 1 : 0;
}
