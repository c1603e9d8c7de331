/* trace.h - the one owner of leakscope's BPF object.
 *
 * Opens and loads the programs for a configuration, attaches the kernel's
 * tracepoints (--kernel), registers targets, and hands the rest of
 * leakscope what it needs by name: map fds for collection and the tables,
 * programs for the probe attacher, the hold counters of `-- CMD`.  No other
 * file includes the generated skeleton, so every other module can be
 * driven by a fake in tests.
 */
#ifndef LEAKSCOPE_TRACE_H
#define LEAKSCOPE_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct trace;
struct bpf_program;
struct stack_trace;
struct py_trace;

struct trace_config {
	uint64_t sample_bytes;	/* --sample-bytes; 0: every block */
	pid_t only_tgid;	/* exactly one target known at load: BPF compares
				 * instead of looking the targets map up */
	bool trace_all;		/* --all / --comm: BPF selects the processes */
	const char *comm;	/* --comm NAME, or NULL */
	bool kernel;		/* --kernel: load the kmem tracepoint programs */
	bool unwind_fp;		/* --unwind fp: no DWARF tables */
	bool python;		/* Python frames may be walked (layouts pushed later) */
	bool python_holds;	/* `-- CMD`: code objects seen (py_code_seen) */
	bool uprobe_multi;	/* uprobe programs loaded for uprobe-multi links */
	uint32_t max_allocs;
	uint32_t max_stacks;
	uint32_t unwind_rows;
	unsigned refuse_for_test; /* LEAKSCOPE_TEST_REFUSE: have these features'
				   * code refused (enum refusal_loss bits) */
};

/* The maps other modules read or write. */
enum trace_map {
	TRACE_MAP_COUNTERS,
	TRACE_MAP_STACK_AGGS,
	TRACE_MAP_ALLOCS,
	TRACE_MAP_REGIONS,
	TRACE_MAP_STACKS,
	TRACE_MAP_PY_STACKS,
	TRACE_MAP_PY_CONFIG,
	TRACE_MAP_EVENTS,
	TRACE_MAP_TARGETS,
	TRACE_MAP_UNWIND_ROWS,
	TRACE_MAP_UNWIND_BINS,
	TRACE_MAP_UNWIND_PROCS,
	TRACE_MAP_UNWIND_FILES,
	TRACE_MAP__COUNT
};

/* Opens and loads; NULL after saying why.  A program the kernel refuses
 * costs its feature where leakscope can go on without it (one line says
 * which, and the verifier's reason): see trace__lost(). */
struct trace *trace__open(const struct trace_config *c);

/* The features given up to load (enum refusal_loss bits, refusal.h). */
unsigned trace__lost(const struct trace *t);

/* Detaches the kernel tracepoints and unloads everything.  NULL is fine. */
void trace__free(struct trace *t);

/* A map's fd (always valid after trace__open). */
int trace__map_fd(const struct trace *t, enum trace_map m);

/* A loaded program by its C name ("malloc_enter"), or NULL (no such
 * program, or not loaded: its feature was not asked for or refused). */
struct bpf_program *trace__prog(const struct trace *t, const char *name);

/* Selects a process (-p, -- CMD): BPF records its allocations. */
int trace__add_target(struct trace *t, pid_t pid);

/* --kernel: attaches the loaded kmem tracepoints.  Their number, or
 * -errno after saying why. */
int trace__attach_kernel(struct trace *t);

/* `-- CMD`: BPF holds thread tid at the moments user space must see
 * first; *sent counts the holds it sent. */
void trace__hold(struct trace *t, pid_t tid, const volatile unsigned long long **sent);

/* The frames of stack id (stacks map) into *st; its Python frames
 * (py_stacks) into *pt.  0, or -ENOENT when the map has no such stack. */
int trace__read_stack(const struct trace *t, uint64_t id, struct stack_trace *st);
int trace__read_py_stack(const struct trace *t, uint64_t id, struct py_trace *pt);

/* Deletes the records of the processes pids[0..n) that exited (the array
 * is sorted and deduplicated in place): they are counted in
 * trace__exited().  0 or -errno. */
int trace__forget(struct trace *t, pid_t *pids, size_t n);

/* Processes forgotten so far, and the blocks and bytes they still held. */
void trace__exited(const struct trace *t, uint64_t *procs, uint64_t *blocks, uint64_t *bytes);

/* Kernel memory the maps hold, in bytes (fdinfo memlock). */
uint64_t trace__kernel_memory(const struct trace *t);

/* Run time and runs of every program (while BPF stats are on). */
void trace__bpf_stats(const struct trace *t, uint64_t *run_ns, uint64_t *runs);

#endif
