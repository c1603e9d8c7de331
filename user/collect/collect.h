/* collect.h - turns the BPF maps into a report (struct report). */
#ifndef LEAKSCOPE_COLLECT_H
#define LEAKSCOPE_COLLECT_H

#include <stdint.h>
#include <sys/types.h>

#include "report/report.h"

struct trace;
struct collector;
struct snapshot;
struct timeline;

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

struct collector *collector__new(struct trace *t, const struct collect_filter *f);
void collector__free(struct collector *c);

/* Default of --scan-limit: outstanding blocks up to which a report scans
 * them for exact ages (~50 ms here); above, ages are "held since" from the
 * aggregate, O(stacks). */
#define DEFAULT_SCAN_LIMIT 65536

/* Fills r (stacks are owned by the collector until the next call) from
 * snap, with classes and series from tl, for process pid (0: every
 * process traced; r->procs then groups them).  Cost: O(stacks), plus
 * stack trace reads for the top N and a batched scan of the outstanding
 * blocks when filters or sampling need it, or when there are few enough
 * for exact ages.  0 or a negative errno. */
int collector__collect(struct collector *c, const struct snapshot *snap,
		       const struct timeline *tl, pid_t pid, struct report *r);

/* Drops every record of processes that exited (an exited process leaks
 * nothing): blocks, regions, per-stack aggregates.  Counted in the
 * totals of later reports (exited_*), each pid once (pids is sorted and
 * deduplicated in place).  0 or a negative errno. */
int collector__forget(struct collector *c, pid_t *pids, size_t n);

/* --- pure helpers, exposed for unit tests --- */

/* Sorts stacks by outstanding bytes (then count, then id), descending. */
void collect__sort(struct report_stack *v, size_t n);

/* True if a block passes the filter at time now_ns. */
bool collect__block_passes(const struct collect_filter *f, uint64_t size,
			   uint64_t ts_ns, uint64_t now_ns);

#endif
