/* collect.h - builds a report (struct report) from a snapshot and the
 * timeline.  Pure: it reads no map; the frames of the top stacks come
 * through a struct stack_source (the trace, or a fake in tests). */
#ifndef LEAKSCOPE_COLLECT_H
#define LEAKSCOPE_COLLECT_H

#include <stdint.h>
#include <sys/types.h>

#include "report/report.h"

struct collector;
struct snapshot;
struct timeline;
struct stack_trace;
struct py_trace;

/* Where the frames of the report's top stacks are read. */
struct stack_source {
	/* 0, or nonzero when there is no such stack */
	int (*stack)(void *ctx, uint64_t id, struct stack_trace *st);
	int (*py_stack)(void *ctx, uint64_t id, struct py_trace *pt);
	void *ctx;
};

struct collect_filter {
	uint64_t min_age_ns;	/* 0 = none */
	uint64_t min_size;
	uint64_t max_size;	/* UINT64_MAX = none */
	int top_n;
	uint64_t sample_period;	/* --sample-bytes; 0 = every block recorded */
	uint64_t scan_limit;	/* --scan-limit */
	double min_age_s;	/* --min-age, for the "old" class */
	bool with_freed;	/* keep stacks that freed all they allocated (pprof) */
	bool python;		/* read Python frames (py_stacks) */
	bool series;		/* the top stacks' series over the run (charts) */
	int interval_s;		/* report interval: the classes' time scale */
};

struct collector *collector__new(const struct collect_filter *f, const struct stack_source *src);
void collector__free(struct collector *c);

/* Default of --scan-limit: outstanding blocks up to which a report scans
 * them for exact ages (~50 ms here); above, ages are "held since" from the
 * aggregate, O(stacks). */
#define DEFAULT_SCAN_LIMIT 65536

/* Whether a report of process pid (0: every process) from snap needs
 * the outstanding blocks (snapshot__take_blocks): when filters or
 * sampling ask for per-block sums, or when there are few enough blocks
 * (--scan-limit) for exact ages. */
bool collector__wants_blocks(const struct collector *c, const struct snapshot *snap, pid_t pid);

/* Fills r (stacks are owned by the collector until the next call) from
 * snap, with classes and series from tl, for process pid (0: every
 * process traced; r->procs then groups them).  Cost: O(stacks), plus
 * O(blocks) when snap has them, plus the frames of the top N from the
 * stack source.  0 or a negative errno (-EINVAL: the filters need
 * blocks snap does not have). */
int collector__collect(struct collector *c, const struct snapshot *snap,
		       const struct timeline *tl, pid_t pid, struct report *r);

/* --- pure helpers, exposed for unit tests --- */

/* Sorts stacks by outstanding bytes (then count, then id), descending. */
void collect__sort(struct report_stack *v, size_t n);

/* True if a block passes the filter at time now_ns. */
bool collect__block_passes(const struct collect_filter *f, uint64_t size,
			   uint64_t ts_ns, uint64_t now_ns);

#endif
