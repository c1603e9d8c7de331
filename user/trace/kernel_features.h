/* kernel_features.h - what the running kernel offers leakscope, probed (never
 * assumed from its version): the BPF map types, helpers and probe types
 * the programs use, the uprobe-multi link, a private BPF stack, the
 * tracepoints, and the task fields read by CO-RE.  Some are required
 * (leakscope refuses to start and names what is missing); the rest cost
 * a feature or choose a path (uprobe-multi or per-site probes).
 */
#ifndef LEAKSCOPE_KERNEL_FEATURES_H
#define LEAKSCOPE_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stdio.h>

enum feature {
	FEAT_RINGBUF,		/* events to user space (5.8) */
	FEAT_TASK_STORAGE,	/* per-thread in-flight calls (5.11) */
	FEAT_BPF_LOOP,		/* every walk (5.17) */
	FEAT_UPROBE,		/* perf-event uprobes (the per-site path) */
	FEAT_TP_SYSCALLS,	/* raw mmap/munmap/mremap (syscalls:*) */
	FEAT_TP_SCHED,		/* exec and exit (sched:*) */
	FEAT_UPROBE_MULTI,	/* one link for many sites (6.6) */
	FEAT_FIND_VMA,		/* the DWARF walk finds code mapped late (5.17) */
	FEAT_PRIV_STACK,	/* a private BPF stack for uprobe programs (x86, 6.13+) */
	FEAT_CORE_FSBASE,	/* thread.fsbase: Python 3.8-3.10 threads */
	FEAT_CORE_URETPROBE,	/* utask->return_instances: frames behind uretprobes */
	FEAT_TP_KMEM,		/* --kernel (kmem:*) */
	FEAT_JIT,		/* programs are JIT-compiled */
	FEAT__COUNT
};

struct features {
	bool has[FEAT__COUNT];
	char kernel[128];	/* uname -r */
};

/* Probes the required features and uprobe-multi (a few tiny programs and
 * maps); with all, every feature (the kernel's BTF read too). */
void features__probe(struct features *f, bool all);

/* The name of the first required feature missing, or NULL. */
const char *features__missing(const struct features *f);

/* One line per feature: yes/no and what it serves (after a probe of all). */
void features__print(const struct features *f, FILE *out);

#endif
