/* pygc.h - CPython garbage collections, from the interpreter's
 * gc__start/gc__done USDT probes: count per generation, pause times. */
#ifndef LEAKSCOPE_PYGC_H
#define LEAKSCOPE_PYGC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "leakscope.h"

#define GC_GENERATIONS	3
#define GC_RESERVOIR	4096	/* pauses kept for the median (uniform sample) */

struct gc_stats {
	uint64_t collections[GC_GENERATIONS];
	uint64_t total;
	uint64_t collected;	/* objects freed by the collector */
	double pause_sum_s;
	double pause_p50_s;
	double pause_max_s;
};

struct pygc {
	struct gc_stats st;
	uint64_t pauses[GC_RESERVOIR];	/* ns, Algorithm R */
	uint64_t seen, rng;
	struct bpf_link *start, *done;
};

struct trace;

/* Attaches to the USDT probes of the interpreter ELF at path (as the
 * target maps it: open_path reaches it from here).  0, -ENOENT when the
 * interpreter was built without them (pyenv builds usually are). */
int pygc__attach(struct pygc *g, struct trace *t, pid_t pid, const char *open_path);
void pygc__detach(struct pygc *g);

void pygc__event(struct pygc *g, const struct gc_event *ev);

/* The statistics so far (median computed on the call). */
const struct gc_stats *pygc__stats(struct pygc *g);

#endif
