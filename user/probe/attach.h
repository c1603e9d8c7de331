/* attach.h - plans and places leakscope's probes on a target's allocator
 * (asked through the prober, prober.h), and the attachments it makes. */
#ifndef LEAKSCOPE_ATTACH_H
#define LEAKSCOPE_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "probe/placement.h"

struct trace;
struct attachment;

enum alloc_kind {
	ALLOC_LIBC = 0,		/* the C library's malloc (glibc, musl) */
	ALLOC_JEMALLOC,
	ALLOC_TCMALLOC,
	ALLOC_MIMALLOC,
	ALLOC_OTHER,		/* some other object defining malloc (--obj, static) */
};

struct attach_opts {
	const char *libc_path;	/* path to open the allocator library by */
	const char *libc_name;	/* its name as the target sees it */
	enum alloc_kind kind;
	const char *prefix;	/* "je_": its API is prefixed; NULL: none */
	bool alloc_cxx;		/* it defines operator new/delete itself */
	const char *mmap_path;	/* libc, for the mmap wrappers, when the
				 * allocator is another object; NULL: same */
	const char *mmap_name;
	const char *cxx_path;	/* libstdc++ to probe operator new in, or NULL */
	const char *cxx_name;
	const char *local_path;	/* an allocator a dlopen()ed library brought */
	const char *local_name;	/* (RTLD_LOCAL: its own callers'), or NULL */
	enum alloc_kind local_kind;
	const char *local_prefix;
	bool local_cxx;
	const char *pymalloc_path;	/* --pymalloc: the CPython ELF, or NULL */
	const char *pymalloc_name;
	bool entry_only_sites;	/* never move a probe (benchmark comparison) */
	bool mmap_wrappers;	/* probe libc's mmap/munmap/mremap wrappers too:
				 * only a frame-pointer walk needs them (to see
				 * the wrapper's caller); the DWARF walk gets it
				 * from the syscall tracepoint, without their
				 * single-stepped probes */
};

#define MAX_SITES 64

/* One probe site: a function, where its entry probe goes, and how the
 * kernel will treat that instruction. */
struct probe_site {
	const char *sym;	/* -> symbuf */
	char symbuf[64];
	const char *lib_path;	/* (borrowed from attach_opts) */
	const char *lib_name;
	uint64_t entry_off;	/* file offset of the function */
	struct placement place;	/* probe at entry_off + place.offset */
	const char *prog;	/* which BPF program (its name) */
	bool ret;		/* also a return probe (at entry_off) */
	bool alias;		/* same address as an earlier site: not probed */
};

struct probe_plan {
	struct probe_site sites[MAX_SITES];
	int n;
	bool multi_links;	/* attach through uprobe-multi links (the programs
				 * were loaded for them): one link per program
				 * and file, detached at once */
};

struct target_libs;

/* The options that probe the libraries target__find_libs() found (no
 * allocator when libs->alloc_path is "": libstdc++ alone). */
void attach__opts_for(const struct target_libs *libs, struct attach_opts *ao);

/* Resolves every allocator function and chooses its probe site by
 * decoding its instructions.  Prints why and returns -errno on failure. */
int attach__plan(const struct attach_opts *o, struct probe_plan *plan);

/* The plan as a table: symbol, library, offset, emulated or not, why. */
void attach__print_plan(FILE *out, const struct probe_plan *plan);

/* Attaches the plan, filtered to pid (-1: every process); empty: the
 * empty program at every site.  Returns NULL after printing why; nothing
 * stays attached then. */
struct attachment *attach__probes(struct trace *t,
				  const struct probe_plan *plan, pid_t pid,
				  bool empty);

/* The tracepoints every traced process shares (mmap, munmap, mremap,
 * exec, exit): once per trace, whatever the processes.  NULL after
 * saying why. */
struct attachment *attach__tracepoints(struct trace *t);

/* An attachment of nothing (the tracepoints of --empty-probes).  NULL on
 * ENOMEM. */
struct attachment *attach__nothing(void);

/* Number of uprobe sites attached (for the start-up message). */
int attach__count(const struct attachment *a);

/* Detaches everything (reverse order). NULL is fine. */
void attach__free(struct attachment *a);

/* The same mid-trace (a process that exited): the keeper lets go of its
 * references too, instead of holding them to the end. */
void attach__release(struct attachment *a);

#endif
