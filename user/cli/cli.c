/* cli.c - parses leakscope's command line into struct options.
 *
 *   leakscope [OPTIONS] -p PID [INTERVAL [COUNT]]
 *   leakscope [OPTIONS] [INTERVAL [COUNT]] -- CMD [ARGS...]
 *   leakscope probes [--obj PATH] (-p PID | -- CMD)
 *   leakscope top [OPTIONS] (-p PID | -- CMD)
 *   leakscope record [--duration SECS] [-o FILE] [--format F] (-p PID | -- CMD)
 *   leakscope serve [--listen ADDR:PORT] [INTERVAL] (-p PID | -- CMD)
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "version.h"
#include "collect/collect.h"
#include "leakscope.h"

enum {
	OPT_JSON = 0x100,
	OPT_MIN_AGE,
	OPT_MIN_SIZE,
	OPT_MAX_SIZE,
	OPT_OBJ,
	OPT_MAX_ALLOCS,
	OPT_EMPTY_PROBES,
	OPT_MAX_STACKS,
	OPT_SAMPLE_BYTES,
	OPT_NO_PLACEMENT,
	OPT_NO_UPROBE_MULTI,
	OPT_WEB_CONFIG,
	OPT_VERSION,
	OPT_SCAN_LIMIT,
	OPT_DURATION,
	OPT_HISTORY_INTERVAL,
	OPT_FORMAT,
	OPT_LISTEN,
	OPT_PYTHON_ONLY,
	OPT_NO_PYTHON,
	OPT_PYMALLOC,
	OPT_ALL,
	OPT_COMM,
	OPT_KERNEL,
	OPT_UNWIND,
	OPT_UNWIND_ROWS,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "top", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "min-age", required_argument, NULL, OPT_MIN_AGE },
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "obj", required_argument, NULL, OPT_OBJ },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "empty-probes", no_argument, NULL, OPT_EMPTY_PROBES },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "sample-bytes", required_argument, NULL, OPT_SAMPLE_BYTES },
	{ "no-placement", no_argument, NULL, OPT_NO_PLACEMENT },
	{ "no-uprobe-multi", no_argument, NULL, OPT_NO_UPROBE_MULTI },
	{ "web-config", required_argument, NULL, OPT_WEB_CONFIG },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "scan-limit", required_argument, NULL, OPT_SCAN_LIMIT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "history-interval", required_argument, NULL, OPT_HISTORY_INTERVAL },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "python-only", no_argument, NULL, OPT_PYTHON_ONLY },
	{ "no-python", no_argument, NULL, OPT_NO_PYTHON },
	{ "pymalloc", no_argument, NULL, OPT_PYMALLOC },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "unwind-rows", required_argument, NULL, OPT_UNWIND_ROWS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

void cli__usage(FILE *out)
{
	fprintf(out,
"Usage: leakscope [OPTIONS] -p PID [INTERVAL [COUNT]]\n"
"       leakscope [OPTIONS] [INTERVAL [COUNT]] -- CMD [ARGS...]\n"
"       leakscope probes [--obj PATH] (-p PID... | -- CMD)\n"
"       leakscope top [OPTIONS] [INTERVAL] TARGET\n"
"       leakscope record [--duration TIME] [-o FILE] [--format pprof|folded|json|html]\n"
"                        [OPTIONS] TARGET\n"
"       leakscope serve [--listen ADDR:PORT] [OPTIONS] [INTERVAL] TARGET\n"
"\n"
"TARGET: -p PID (once or more), --comm NAME, --all, --kernel, or -- CMD: every\n"
"command traces one process or many the same way.\n"
"\n"
"Traces the outstanding allocations of a live process by call stack and\n"
"reports the stacks holding the most memory every INTERVAL (seconds, or\n"
"30s, 5m, 1h; default 5 s), COUNT times (default: until Ctrl-C or the\n"
"target exits).  Durations (--duration, --min-age) take ms/s/m/h too.\n"
"\n"
"  -p, --pid PID        attach to a running process (never restarted); give -p\n"
"                       several times for several processes\n"
"      --all            every process on the host (each distinct C library,\n"
"                       containers' too, and processes started later)\n"
"      --comm NAME      every process whose command name is NAME\n"
"      --kernel         the kernel's allocations too (kmalloc, kmem caches, pages,\n"
"                       percpu, vmalloc areas), as process 0 [kernel]; alone\n"
"                       or with --all / --comm / -p\n"
"  -n, --top N          stacks per report (default 10)\n"
"      --json           one JSON object per report (JSON Lines)\n"
"      --min-age TIME   only count blocks at least TIME old\n"
"      --min-size BYTES only count blocks of at least BYTES\n"
"      --max-size BYTES only count blocks of at most BYTES\n"
"      --obj PATH       probe the allocator in PATH instead of libc\n"
"                       (jemalloc, tcmalloc, a static binary)\n"
"      --max-allocs N   outstanding blocks tracked (default %u)\n"
"      --max-stacks N   distinct call stacks tracked (default %u)\n"
"      --unwind dwarf|fp how stacks are walked: dwarf (default) follows each\n"
"                       binary's .eh_frame, right without frame pointers;\n"
"                       fp follows frame pointers (cheaper, wrong in most\n"
"                       distribution binaries)\n"
"      --unwind-rows N  unwind-table rows kept in the kernel, 8 bytes each\n"
"                       (default %u: libc ~28k rows, python3.11 ~65k)\n"
"      --scan-limit N   up to N outstanding blocks, ages are exact (a scan of\n"
"                       every block); above, a stack's age is how long it has\n"
"                       held memory without a break (default %u)\n"
"      --history-interval TIME  how often every stack's outstanding bytes\n"
"                       are sampled for the classes and charts (default 1s;\n"
"                       classes need 5 samples); raise it for very many stacks\n"
"      --sample-bytes N sample allocations by bytes, one sample per N bytes\n"
"                       on average (Poisson, as tcmalloc); reports scale the\n"
"                       samples to unbiased estimates.  0 = every allocation\n"
"      --python-only    Python targets: Python frames alone (default: native\n"
"                       frames of C extensions, then the Python frames)\n"
"      --no-python      Python targets: native stacks only\n"
"      --pymalloc       Python targets: also probe PyObject_Malloc/Calloc/\n"
"                       Realloc/Free, for small objects (default: pymalloc's\n"
"                       arena mmaps show small-object growth, cheaper)\n"
"  -v, --verbose        print the probe plan and libbpf messages (twice: libbpf's\n"
"                       debug lines too)\n"
"      --empty-probes   benchmark floor: same probe sites, empty programs\n"
"      --no-placement   benchmark: every probe at its function's entry\n"
"      --no-uprobe-multi  a perf event per probe site, as on kernels before\n"
"                       uprobe-multi links (6.6): detaching takes seconds\n"
"\n"
"`leakscope probes` prints every probe site: function, offset, the\n"
"instruction probed and whether the kernel emulates or single-steps it.\n"
"`leakscope top` is a live view (default every 1 s): b c g a sort, < >\n"
"move the sort column, Enter shows a stack, / filters, p pauses, + -\n"
"change the interval, q quits.  Without a terminal it prints text reports.\n"
"`leakscope record` traces headless and at the end (--duration, Ctrl-C,\n"
"SIGTERM, the target's exit) writes one profile: pprof (default; gzip\n"
"profile.proto for go tool pprof, Parca, Pyroscope), folded stacks\n"
"(flamegraph.pl, speedscope, inferno) or json.\n"
"`leakscope serve` is an agent: /metrics (Prometheus) and /debug/pprof/heap\n"
"(pprof) on --listen (default " DEFAULT_LISTEN ", loopback), refreshed\n"
"every INTERVAL seconds (default 5).  --web-config FILE: HTTPS and basic\n"
"auth, in Prometheus exporters' format (tls_server_config: cert_file,\n"
"key_file; basic_auth_users: name: bcrypt hash).  Once attached, serve\n"
"keeps only the capabilities tracing needs, with no_new_privs.\n"
"  -h, --help           this help\n"
"      --version        leakscope's version (with -v: what this kernel offers)\n"
"\n"
"Examples:\n"
"  sudo leakscope -p 1234            report every 5 s until Ctrl-C\n"
"  sudo leakscope -p 1234 10 3       every 10 s, 3 reports, then detach\n"
"  sudo leakscope -- ./myprog args   trace a command from its first allocation\n"
"  sudo leakscope --json -p 1234     JSON Lines on stdout\n",
		DEFAULT_MAX_ALLOCS, DEFAULT_MAX_STACKS, UW_DEFAULT_ROWS, DEFAULT_SCAN_LIMIT);
}

/* Parses a non-negative integer no larger than max, decimal digits only;
 * -EINVAL otherwise. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')	/* strtoull would take "+1", " 1", "-1" */
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A duration: a number of seconds, or a number with a unit (500ms, 30s,
 * 5m, 1h); -EINVAL otherwise ("2x", "-1s", "1e999"). */
int cli__parse_duration(const char *s, double *out)
{
	static const struct { const char *unit; double scale; } units[] = {
		{ "", 1 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	char *end;
	double v;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -EINVAL;		/* no sign, no space, no "inf" */
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].scale;
		if (v > 1e9)
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

static int bad(FILE *err, const char *what, const char *val)
{
	fprintf(err, "leakscope: invalid %s '%s' (try --help)\n", what,
		val ? val : "");
	return -EINVAL;
}

/* The positional INTERVAL [COUNT] that may follow the options. */
static int parse_positional(int n, char **args, struct options *o, FILE *err)
{
	uint64_t v;

	if (n > 2) {
		fprintf(err, "leakscope: unexpected argument '%s' (try --help)\n",
			args[2]);
		return -EINVAL;
	}
	if (n >= 1) {
		double secs;

		if (cli__parse_duration(args[0], &secs) || secs < 1 || secs > 86400 ||
		    secs != (double)(int)secs)
			return bad(err, "interval (whole seconds, 1s-24h: 10, 30s, 5m, 1h)", args[0]);
		o->interval_s = (int)secs;
	}
	if (n == 2) {
		if (parse_u64(args[1], INT_MAX, &v) || v == 0)
			return bad(err, "count (a positive number)", args[1]);
		o->count = v;
	}
	return 0;
}

static void defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_s = 5;
	o->history_s = 1;
	o->top_n = 10;
	o->max_size = UINT64_MAX;
	o->max_allocs = DEFAULT_MAX_ALLOCS;
	o->max_stacks = DEFAULT_MAX_STACKS;
	o->scan_limit = DEFAULT_SCAN_LIMIT;
	o->output = "-";
	o->unwind_rows = UW_DEFAULT_ROWS;
}

int cli__parse(int argc, char **argv, struct options *o, FILE *err)
{
	int c, dashdash = -1;
	uint64_t v;

	defaults(o);
	if (argc > 1 && (!strcmp(argv[1], "probes") || !strcmp(argv[1], "top") ||
			 !strcmp(argv[1], "record") || !strcmp(argv[1], "serve"))) {
		o->command = argv[1][0] == 'p' ? CMD_PROBES : argv[1][0] == 't' ? CMD_TOP
			     : argv[1][0] == 'r' ? CMD_RECORD : CMD_SERVE;
		if (o->command == CMD_TOP || o->command == CMD_RECORD)
			o->interval_s = 1;	/* live view; record: history for classes */
		argv++;
		argc--;
	}
	/* Split at "--" ourselves: what follows is the command, untouched. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			dashdash = i;
			break;
		}
	}
	if (dashdash >= 0) {
		o->cmd = &argv[dashdash + 1];
		argc = dashdash;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:n:o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u64(optarg, INT_MAX, &v) || v == 0)
				return bad(err, "PID", optarg);
			if (o->npids == MAX_PIDS) {
				fprintf(err, "leakscope: at most %d -p (use --all or --comm)\n", MAX_PIDS);
				return -EINVAL;
			}
			if (!o->npids)
				o->pid = v;
			o->pids[o->npids++] = v;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_KERNEL:
			o->kernel = true;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) > 15)
				return bad(err, "--comm (a command name, at most 15 characters)", optarg);
			o->comm = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, 100000, &v) || v == 0)
				return bad(err, "--top (1-100000)", optarg);
			o->top_n = v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_MIN_AGE:
			if (cli__parse_duration(optarg, &o->min_age_s))
				return bad(err, "--min-age (a duration: 90, 30s, 5m, 1h)", optarg);
			break;
		case OPT_MIN_SIZE:
			if (parse_u64(optarg, UINT64_MAX, &o->min_size))
				return bad(err, "--min-size (bytes)", optarg);
			break;
		case OPT_MAX_SIZE:
			if (parse_u64(optarg, UINT64_MAX, &o->max_size))
				return bad(err, "--max-size (bytes)", optarg);
			break;
		case OPT_OBJ:
			if (!*optarg)
				return bad(err, "--obj path", optarg);
			o->obj = optarg;
			break;
		case OPT_MAX_STACKS:
			if (parse_u64(optarg, 1u << 22, &v) || v < 256)
				return bad(err, "--max-stacks (256-4194304)", optarg);
			o->max_stacks = v;
			break;
		case OPT_UNWIND:
			if (strcmp(optarg, "fp") && strcmp(optarg, "dwarf"))
				return bad(err, "--unwind (dwarf or fp)", optarg);
			o->unwind_fp = !strcmp(optarg, "fp");
			break;
		case OPT_UNWIND_ROWS:
			if (parse_u64(optarg, 1u << 26, &v) || v < 1024)
				return bad(err, "--unwind-rows (1024-67108864)", optarg);
			o->unwind_rows = v;
			break;
		case OPT_SAMPLE_BYTES:
			if (parse_u64(optarg, 1ULL << 40, &o->sample_bytes))
				return bad(err, "--sample-bytes (bytes, 0-2^40)", optarg);
			break;
		case OPT_HISTORY_INTERVAL:
			if (cli__parse_duration(optarg, &o->history_s) || o->history_s < 0.1 ||
			    o->history_s > 3600)
				return bad(err, "--history-interval (a duration from 100ms to 1h)", optarg);
			break;
		case OPT_DURATION:
			if (cli__parse_duration(optarg, &o->duration_s) || o->duration_s <= 0)
				return bad(err, "--duration (a duration: 90, 500ms, 30s, 5m, 1h)", optarg);
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "pprof"))
				o->format = FORMAT_PPROF;
			else if (!strcmp(optarg, "folded"))
				o->format = FORMAT_FOLDED;
			else if (!strcmp(optarg, "json"))
				o->format = FORMAT_JSON;
			else if (!strcmp(optarg, "html"))
				o->format = FORMAT_HTML;
			else
				return bad(err, "--format (pprof, folded, json or html)", optarg);
			break;
		case OPT_PYTHON_ONLY:
			o->python_only = true;
			break;
		case OPT_NO_PYTHON:
			o->no_python = true;
			break;
		case OPT_PYMALLOC:
			o->pymalloc = true;
			break;
		case OPT_LISTEN:
			if (!*optarg)
				return bad(err, "--listen ADDR:PORT", optarg);
			o->listen = optarg;
			break;
		case 'o':
			if (!*optarg)
				return bad(err, "-o path", optarg);
			o->output = optarg;
			break;
		case OPT_SCAN_LIMIT:
			if (parse_u64(optarg, UINT64_MAX, &o->scan_limit))
				return bad(err, "--scan-limit (blocks)", optarg);
			break;
		case OPT_NO_PLACEMENT:
			o->no_placement = true;
			break;
		case OPT_NO_UPROBE_MULTI:
			o->no_uprobe_multi = true;
			break;
		case OPT_VERSION:
			o->version = true;
			break;
		case OPT_WEB_CONFIG:
			if (!*optarg)
				return bad(err, "--web-config file", optarg);
			o->web_config = optarg;
			break;
		case OPT_EMPTY_PROBES:
			o->empty_probes = true;
			break;
		case OPT_MAX_ALLOCS:
			if (parse_u64(optarg, 1u << 26, &v) || v < 1024)
				return bad(err, "--max-allocs (1024-67108864)", optarg);
			o->max_allocs = v;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			cli__usage(stdout);
			return 1;
		case ':':
			fprintf(err, "leakscope: option '%s' needs a value (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(err, "leakscope: unknown option '%s' (try --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (o->version) {
		printf("leakscope %s\n", LEAKSCOPE_VERSION);
		return o->verbose ? 0 : 1;	/* -v: the kernel's features follow */
	}
	if (parse_positional(argc - optind, &argv[optind], o, err))
		return -EINVAL;
	if (o->command != CMD_RECORD && (o->duration_s || strcmp(o->output, "-"))) {
		fprintf(err, "leakscope: --duration and -o go with `leakscope record`\n");
		return -EINVAL;
	}
	if (o->command != CMD_SERVE && (o->listen || o->web_config)) {
		fprintf(err, "leakscope: --listen and --web-config go with `leakscope serve`\n");
		return -EINVAL;
	}
	if (!o->listen)
		o->listen = DEFAULT_LISTEN;
	if (o->pymalloc && o->no_python) {
		fprintf(err, "leakscope: --pymalloc and --no-python contradict each other\n");
		return -EINVAL;
	}
	if (o->python_only && o->no_python) {
		fprintf(err, "leakscope: --python-only and --no-python contradict each other\n");
		return -EINVAL;
	}
	if (o->min_size > o->max_size) {
		fprintf(err, "leakscope: --min-size is larger than --max-size\n");
		return -EINVAL;
	}
	if (o->cmd && !o->cmd[0]) {
		fprintf(err, "leakscope: '--' must be followed by a command\n");
		return -EINVAL;
	}
	if ((o->all || o->comm) && (o->npids || o->cmd)) {
		fprintf(err, "leakscope: --all and --comm choose the processes themselves: "
			"no -p or -- CMD with them\n");
		return -EINVAL;
	}
	if (o->all && o->comm) {
		fprintf(err, "leakscope: --comm already means all processes named NAME; drop --all\n");
		return -EINVAL;
	}
	if (o->kernel && o->cmd) {
		fprintf(err, "leakscope: --kernel traces the whole kernel: no -- CMD with it\n");
		return -EINVAL;
	}
	if (o->all || o->comm || (o->kernel && !o->pid))
		return 0;
	if (!o->pid == !o->cmd) {
		fprintf(err, o->pid
			? "leakscope: give either -p PID or -- CMD, not both\n"
			: "leakscope: nothing to trace: give -p PID or -- CMD (try --help)\n");
		return -EINVAL;
	}
	return 0;
}
