/* snapshot.h - one O(stacks) read of what BPF aggregates: every stack's
 * outstanding bytes and blocks (stack_aggs, batched) and the counters.
 * Taken every second for the timeline and at each report. */
#ifndef LEAKSCOPE_SNAPSHOT_H
#define LEAKSCOPE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "leakscope.h"
#include "report/report.h"

struct snap_stack {
	struct stack_key key;
	struct stack_agg agg;
};

struct snapshot {
	struct snap_stack *v;		/* every aggregate, in map order */
	size_t n, cap;
	struct report_totals totals;	/* the counters (outstanding_* not set) */
	uint64_t now_ns;		/* bpf_ktime clock when taken */
	double wall_s;			/* wall clock when taken */
	int ncpus;			/* possible CPUs: per-CPU counters */
};

/* Reads the aggregates (aggs_fd) and per-CPU counters (counters_fd) into
 * s, reusing its memory.  0 or -errno. */
int snapshot__take(struct snapshot *s, int aggs_fd, int counters_fd);

void snapshot__free(struct snapshot *s);

/* Sums the per-CPU counters sum[CNT__COUNT] into t's named fields. */
void snapshot__totals(const uint64_t *sum, struct report_totals *t);

#endif
