/* report.h - one report: what every output format prints.
 *
 * Built by collect/collect.c from a snapshot and the timeline, its
 * addresses resolved by the symbols layer, printed by the formatters of
 * this folder and the sinks.  Formatters read only this.
 */
#ifndef LEAKSCOPE_REPORT_H
#define LEAKSCOPE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "procs/cgroup.h"
#include "collect/classify.h"
#include "python/pygc.h"
#include "leakscope.h"

struct frame {
	uint64_t addr;		/* address in the target */
	const char *module;	/* strings belong to the symbolizer; NULL = unknown */
	const char *function;
	uint64_t func_offset;	/* addr - function start (outermost frame of an inline chain) */
	const char *file;
	int line;		/* 0 = unknown */
	bool inlined;		/* inlined into the next frame */
	bool python;		/* a Python frame: addr is its code object */
};

/* Outstanding bytes over the run, oldest first, at most a few hundred
 * points (downsampled: timeline.c).  Owned by the timeline; valid until
 * the next sample. */
struct series_point {
	double t_s;		/* seconds since tracing began */
	double bytes;
};

struct report_series {
	const struct series_point *p;
	size_t n;
};

struct report_stack {
	struct stack_key key;
	int64_t bytes;		/* outstanding (after --min-age/--min/max-size) */
	int64_t allocs;
	uint64_t oldest_ts_ns;	/* 0: unknown */
	uint64_t last_alloc_ns;	/* from BPF: the newest block's allocation */
	enum leak_class cls;	/* from this stack's history */
	double growth_bytes_per_s;
	int64_t growth_bytes;	/* since the previous report */
	int64_t alloc_bytes;	/* allocated since attach, freed or not */
	int64_t alloc_count;
	int cut;		/* enum uw_stop: why the walk ended (UW_STOP_END: it did not) */
	int fp_first;		/* 1 + index in ips of the first frame found by
				 * frame pointer, 0 = none */
	uint64_t ips[MAX_STACK_DEPTH];
	int nips;
	const struct py_trace *py;	/* Python frames captured with it, or NULL */
	const char *comm;	/* several processes: its process's name (key.tgid) */
	struct frame *frames;	/* symbolized, innermost first */
	int nframes;
	int site;		/* index into frames of where the program
				 * allocated (report/site.h); -1: none */
	struct report_series series;	/* record/serve: its history (n 0: none) */
};

/* An ELF file mapped in a process, as the symbolize stage found it for
 * the report's frames (pprof's mappings). */
struct report_mapping {
	pid_t pid;
	uint64_t start, end;	/* load address of the ELF, end of its last segment */
	const char *path;	/* as the process names it; owned by the symbolizer */
	char build_id[129];	/* lower-case hex; "" when the file has none */
};

/* One process of a report of several (--all, --comm, -p A -p B). */
struct report_proc {
	pid_t pid;
	char comm[32];
	struct cgroup_labels labels;	/* its service, container, pod */
	int64_t bytes;
	int64_t allocs;
	size_t nstacks;
	enum leak_class cls;		/* from the process's own history */
	double growth_bytes_per_s;
	int64_t growth_bytes;		/* since the previous report */
};

struct report_totals {
	int64_t outstanding_bytes;
	int64_t outstanding_allocs;
	uint64_t allocs;
	uint64_t frees;
	uint64_t untracked_frees;
	uint64_t failed_allocs;
	uint64_t nested_calls;
	uint64_t kernel_mem_bytes;	/* held by leakscope's BPF maps */
	uint64_t exited_procs;	/* processes that exited: their records dropped */
	uint64_t exited_blocks;
	uint64_t exited_bytes;
	uint64_t dropped;	/* sum of the drop counters below */
	uint64_t drops[CNT__COUNT];	/* indexed by enum counter (CNT_DROP_*) */
	/* allocations whose stack walk ended early (bytes counted, on a
	 * shorter stack), by enum uw_stop; fp_fallback: with frames walked
	 * by frame pointer (code without a table) */
	uint64_t cut[UW_STOP__COUNT];
	uint64_t cut_total;
	uint64_t fp_fallback;
};

struct report {
	pid_t pid;
	char comm[32];
	struct cgroup_labels labels;	/* the target's service, container, pod */
	double timestamp;	/* wall clock, seconds since the epoch */
	uint64_t now_ns;	/* bpf_ktime clock when collected */
	bool final;
	bool filtered;		/* --min-age / --min-size / --max-size applied */
	uint64_t sample_period;	/* --sample-bytes: numbers are estimates; 0 = exact */
	struct report_totals totals;
	size_t nstacks_total;	/* stacks with outstanding memory */
	size_t blocks_scanned;	/* outstanding blocks read for ages/filters */
	bool ages_exact;	/* oldest_ts_ns from a block scan; else held_since */
	char python[16];	/* "3.12.1" when the target runs a supported Python */
	const struct gc_stats *gc;	/* its collections (NULL: no USDT probes) */
	bool multi;		/* several processes: pid is 0, see procs */
	struct report_proc *procs;	/* by bytes, descending */
	size_t nprocs;
	struct report_stack *stacks;	/* the top N, by bytes */
	size_t nstacks;
	struct report_mapping *mappings;	/* sorted by pid, start */
	size_t nmappings;
	double start_timestamp;	/* wall clock when tracing began */
	double build_s;		/* how long making this report took */
	struct report_series total_series;	/* record/serve: all stacks' sum */
};

/* The mapping of r holding return address addr in process pid, or NULL. */
const struct report_mapping *report__mapping(const struct report *r, pid_t pid, uint64_t addr);

/* Names of the drop counters, for both formats ("alloc_map_full", ...). */
const char *report__drop_name(enum counter c);

/* Why stack walks ended early ("no_table", ...), and what to do about it. */
const char *report__cut_name(int uw_stop);
const char *report__cut_advice(int uw_stop);

/* One name for the service of l: "NAMESPACE/POD" on Kubernetes, else
 * "RUNTIME:ID12" for a container, else the systemd unit; "" if none. */
void report__service(const struct cgroup_labels *l, char *buf, size_t len);

#endif
