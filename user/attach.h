/* attach.h - places leakscope's probes on a target's allocator. */
#ifndef LEAKSCOPE_ATTACH_H
#define LEAKSCOPE_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct leakscope_bpf;
struct attachment;

struct attach_opts {
	pid_t pid;		/* perf-event filter: only this process */
	const char *libc_path;	/* path to open the allocator library by */
	const char *libc_name;	/* its name as the target sees it */
	const char *cxx_path;	/* libstdc++ to probe operator new in, or NULL */
	const char *cxx_name;
	bool verbose;
};

/* Attaches every allocator probe and the syscall/sched tracepoints.
 * Returns NULL after printing why; nothing stays attached then. */
struct attachment *attach__probes(struct leakscope_bpf *skel,
				  const struct attach_opts *o);

/* Number of uprobe sites attached (for the report header). */
int attach__count(const struct attachment *a);

/* Detaches everything (reverse order). NULL is fine. */
void attach__free(struct attachment *a);

#endif
