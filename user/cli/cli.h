/* cli.h - command-line options of leakscope. */
#ifndef LEAKSCOPE_CLI_H
#define LEAKSCOPE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum record_format { FORMAT_PPROF = 0, FORMAT_FOLDED, FORMAT_JSON, FORMAT_HTML };

/* The command: `leakscope [probes|top|record|serve] ...` */
enum command {
	CMD_TRACE = 0,		/* reports every interval (text or JSON) */
	CMD_PROBES,		/* print the probe plan; nothing attached */
	CMD_TOP,		/* the live view */
	CMD_RECORD,		/* one profile at the end */
	CMD_SERVE,		/* HTTP agent (/metrics, pprof) */
};

#define DEFAULT_LISTEN "127.0.0.1:9464"

#define MAX_PIDS 64

struct options {
	pid_t pid;		/* -p: attach to this live process (the first -p) */
	pid_t pids[MAX_PIDS];	/* every -p given */
	int npids;
	bool all;		/* --all: every process on the host */
	const char *comm;	/* --comm NAME: every process of that command name */
	bool kernel;		/* --kernel: the kernel's own allocations */
	char **cmd;		/* -- CMD ARGS: start and trace this command */
	int interval_s;		/* seconds between reports */
	int count;		/* reports before detaching; 0 = until stopped */
	int top_n;		/* -n: stacks per report */
	bool json;		/* --json: JSON Lines instead of text */
	int verbose;		/* -v given: 1, twice: 2 */
	bool version;		/* --version: print it (with -v, the kernel's features) */
	double min_age_s;	/* --min-age: only blocks at least this old */
	uint64_t min_size;	/* --min-size / --max-size: block size filter */
	uint64_t max_size;
	const char *obj;	/* --obj: allocator library instead of libc */
	uint32_t max_allocs;	/* --max-allocs: outstanding blocks tracked */
	uint32_t max_stacks;	/* --max-stacks: distinct stacks tracked */
	uint64_t sample_bytes;	/* --sample-bytes: mean bytes between samples, 0 = all */
	uint64_t scan_limit;	/* --scan-limit: blocks up to which ages are exact */
	enum command command;
	double duration_s;	/* record --duration; 0 = until stopped or exit */
	double history_s;	/* --history-interval: the timeline's clock */
	const char *output;	/* record -o; "-" = stdout */
	int format;		/* record --format: enum record_format */
	const char *listen;	/* serve --listen ADDR:PORT */
	bool python_only;	/* --python-only: Python frames alone */
	bool no_python;		/* --no-python: native stacks only */
	bool pymalloc;		/* --pymalloc: probe PyObject_Malloc & co. too */
	bool empty_probes;	/* --empty-probes: benchmark floor, no tracing */
	bool no_placement;	/* --no-placement: every probe at the entry (benchmark) */
	const char *web_config;	/* serve --web-config FILE: TLS, basic auth */
	bool no_uprobe_multi;	/* --no-uprobe-multi: perf-event probes even if the
				 * kernel has uprobe-multi links */
	bool unwind_fp;		/* --unwind fp: frame pointers instead of DWARF CFI */
	uint32_t unwind_rows;	/* --unwind-rows: rows of unwind tables in the kernel */
	bool uprobe_multi;	/* not an option: the kernel has uprobe-multi links
				 * (probed at start), the probes go through them */
};

/* Several processes at once (--all, --comm, -p more than once). */
static inline bool cli__multi(const struct options *o)
{
	return o->all || o->comm || o->npids > 1 || o->kernel;
}

/* Parses argv into opts.  Returns 0 on success, 1 when help was printed
 * (exit 0), or -EINVAL after printing a message to err. */
int cli__parse(int argc, char **argv, struct options *opts, FILE *err);

void cli__usage(FILE *out);

/* A duration in seconds: "90", "1.5", "500ms", "30s", "5m", "1h".  0 or
 * -EINVAL.  Exposed for unit tests. */
int cli__parse_duration(const char *s, double *out);

#endif
