/* unwinder.h - the DWARF unwind tables in the kernel: one table per binary
 * (compiled by unwind_table.c, cached by build-id and shared by every
 * process that maps the binary) in a shared row pool, and per process a
 * sorted table of its executable mappings, kept as mappings appear and
 * dropped at exit.  BPF (bpf/unwind.bpf.h) walks stacks with them.
 */
#ifndef LEAKSCOPE_UNWINDER_H
#define LEAKSCOPE_UNWINDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct unwinder;

/* The BPF maps the tables go into, and their sizes.  Descriptors of -1:
 * tables are compiled and counted, nothing is written (`probes -v`). */
struct unwinder_maps {
	int rows_fd;		/* unwind_rows: the row pool */
	int bins_fd;		/* unwind_bins: binary -> slice of the pool */
	int procs_fd;		/* unwind_procs: tgid -> mappings */
	int files_fd;		/* unwind_files: (dev, inode) -> binary */
	uint32_t max_rows;
};

/* What the tables hold, for the start-up line, reports and metrics. */
struct unwinder_stats {
	uint32_t binaries;	/* with a table in the kernel */
	uint32_t failed;	/* binaries without one (no .eh_frame, unreadable, ...) */
	uint32_t pool_full;	/* binaries left out: the row pool was full */
	uint32_t rows;		/* rows used */
	uint32_t max_rows;
	uint32_t processes;	/* with a mapping table */
	uint32_t procs_full;	/* processes left out: the table map was full */
	uint32_t files_full;	/* binaries not findable by inode: that map was full */
	uint32_t mappings_cut;	/* processes with more than UW_MAX_MAPPINGS mappings */
	double build_ms;	/* time spent compiling tables */
};

struct unwinder *unwinder__new(const struct unwinder_maps *maps);

/* Reads pid's executable mappings, compiles the tables of binaries not
 * seen yet and writes the process's mapping table.  Returns 0 or a
 * negative errno (-ESRCH: the process is gone).  Cost: one read of
 * /proc/PID/maps and a stat per mapping, plus ~10 ms per MB of
 * .eh_frame for each new binary. */
int unwinder__sync(struct unwinder *u, pid_t pid);

/* Marks pid for unwinder__flush(): events come in bursts (a process
 * dlopen()s ten libraries, a shell forks and execs), one sync each would
 * read the same maps file again and again. */
void unwinder__mark(struct unwinder *u, pid_t pid);

/* Syncs the marked processes, once each. */
void unwinder__flush(struct unwinder *u);

/* unwinder__sync() for every process on the host but leakscope (--all),
 * or those whose command name is comm (--comm).  NULL u: nothing. */
void unwinder__sync_all(struct unwinder *u, const char *comm);

/* The libraries path needs (DT_NEEDED, searched in the usual places),
 * preloaded, and the file itself.  Best effort. */
void unwinder__preload_program(struct unwinder *u, const char *path);

/* The process is gone (or exec'd): its mapping table is dropped. */
void unwinder__forget(struct unwinder *u, pid_t pid);

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out);

/* One line: binaries, rows, kernel memory, build time. */
void unwinder__print_summary(const struct unwinder *u, FILE *out);

/* A line per binary: path, build-id, rows, or why it has no table. */
void unwinder__print_tables(const struct unwinder *u, FILE *out);

void unwinder__free(struct unwinder *u);

#endif
