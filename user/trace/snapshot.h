/* snapshot.h - the one read of the trace per tick: every stack's
 * outstanding bytes and blocks (stack_aggs, batched), the counters, and
 * when a report asks for them, the outstanding blocks themselves (heap
 * records and mmap regions).  Everything after it - the timeline, the
 * collection of a report - reads the snapshot, not the maps.
 */
#ifndef LEAKSCOPE_SNAPSHOT_H
#define LEAKSCOPE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "leakscope.h"
#include "report/report.h"

struct trace;

struct snap_stack {
	struct stack_key key;
	struct stack_agg agg;
};

/* One outstanding block: a heap record or an mmap region. */
struct snap_block {
	struct stack_key key;	/* its stack (key.tgid: its process) */
	uint64_t size;
	uint64_t ts_ns;		/* when it was allocated (bpf_ktime) */
};

struct snapshot {
	struct snap_stack *v;		/* every aggregate, in map order */
	size_t n, cap;
	struct snap_block *blocks;	/* heap blocks, then regions */
	size_t nblocks, capblocks;
	bool has_blocks;		/* blocks were read with this snapshot */
	pid_t blocks_pid;		/* ... of this process only (0: all) */
	struct report_totals totals;	/* the counters and the exited
					 * processes' (outstanding_* not set) */
	uint64_t now_ns;		/* bpf_ktime clock when taken */
	double wall_s;			/* wall clock when taken */
	int ncpus;			/* possible CPUs: per-CPU counters */
};

/* Reads the aggregates and the counters into s, reusing its memory; the
 * blocks of an earlier take are dropped.  Cost: O(stacks), one batched
 * pass.  0 or -errno. */
int snapshot__take(struct snapshot *s, const struct trace *t);

/* Adds the outstanding blocks of process pid (0: of every process) to s,
 * just taken.  Cost: O(blocks) - ~0.3 s for a million here, mostly the
 * kernel walking the hash map - and 40 bytes a block, sized from the
 * aggregates' count and kept for the next report (allocating it afresh
 * each time costs more in page faults than the copy).  0 or -errno. */
int snapshot__take_blocks(struct snapshot *s, const struct trace *t, pid_t pid);

void snapshot__free(struct snapshot *s);

/* Sums the per-CPU counters sum[CNT__COUNT] into t's named fields. */
void snapshot__totals(const uint64_t *sum, struct report_totals *t);

#endif
