/* sympool.h - one symbolizer per process, for reports of several. */
#ifndef LEAKSCOPE_SYMPOOL_H
#define LEAKSCOPE_SYMPOOL_H

#include <sys/types.h>

#include "report.h"

#define SYMPOOL_MAX 512

struct symbolizer;

struct sympool {
	pid_t pid[SYMPOOL_MAX];
	struct symbolizer *sym[SYMPOOL_MAX];
	int n;
	struct report_stack *scratch;	/* one process's stacks at a time */
	struct ksym *ksym;		/* --kernel: kallsyms, loaded when needed */
	struct frame *kframes;
	size_t capkframes;
	size_t capscratch;
};

/* The process exec'd, mapped code, or exited: forget / refresh it. */
void sympool__exec(struct sympool *p, pid_t pid);
void sympool__refresh(struct sympool *p, pid_t pid);
void sympool__exit(struct sympool *p, pid_t pid);

/* Symbolizes every stack of r with its own process's symbolizer, and
 * names each stack's process (from r->procs).  0 or -ENOMEM. */
int sympool__report(struct sympool *p, struct report *r);

/* The process's symbolizer (made on first use); NULL on ENOMEM. */
struct symbolizer *sympool__get(struct sympool *p, pid_t pid);

void sympool__free(struct sympool *p);

#endif
