/* pyproc.h - the Python side of a traced process: its interpreter found
 * (python.c), the layout BPF walks its frames with, its code objects read
 * (pysym.c), its garbage collections (pygc.c, USDT), the hold at
 * Py_FinalizeEx of a held child, and its --pymalloc probes.
 *
 * The process table (procs.c) keeps one struct pyproc per process and
 * asks for a look when the process maps new code, from its flush - never
 * while a report is built: a look can attach probes.  The code objects
 * of new Python stacks are read through pyproc__prefetch() while their
 * process lives.
 */
#ifndef LEAKSCOPE_PYPROC_H
#define LEAKSCOPE_PYPROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct trace;
struct prober;
struct py_target;
struct pysym;
struct pygc;
struct attachment;
struct bpf_link;
struct py_trace;

/* What every look shares. */
struct pyproc_env {
	struct trace *trace;
	struct prober *prober;
	bool pymalloc;		/* --pymalloc: probe the object allocator */
	bool several;		/* messages name the process */
};

struct pyproc {
	struct py_target *py;	/* what a look found (NULL: not looked at) */
	struct pysym *pysym;	/* its code objects (a supported interpreter) */
	struct pygc *gc;	/* its collections (it has the USDT probes) */
	struct attachment *pymalloc;
	struct bpf_link *hold;	/* Py_FinalizeEx (a held child) */
};

/* Looks for pid's interpreter in its maps; a supported one gets its
 * layout pushed to BPF, a code-object reader, its GC probes, its hold
 * (held: a `-- CMD` child) and --pymalloc probes.  quiet: found while
 * scanning the host, said later by pyproc__say_found(). */
void pyproc__look(struct pyproc *pp, const struct pyproc_env *env, pid_t pid,
		  const char *comm, bool held, bool quiet);

/* Nothing found (or not looked at yet): a new code mapping is worth a
 * look. */
bool pyproc__none(const struct pyproc *pp);
bool pyproc__supported(const struct pyproc *pp);
bool pyproc__unsupported(const struct pyproc *pp);

/* An exec: what a report may still point at (the code-object reader and
 * the statistics) moves to old, freed with it later; the probes go now
 * (BPF dropped the layout itself). */
void pyproc__retire(struct pyproc *pp, struct pyproc *old);

/* Detaches and frees.  release: mid-trace, the keeper lets go of the
 * links too (at the end it closes everything at once). */
void pyproc__drop(struct pyproc *pp, bool release);

/* A collection its GC probes reported (struct gc_event). */
void pyproc__gc_event(struct pyproc *pp, const void *ev);

/* The code objects of Python stack pt, read now while the process lives
 * (cached ones cost nothing). */
void pyproc__prefetch(struct pyproc *pp, const struct py_trace *pt);

/* "PID 12 (comm, Python 3.12.1)" for the start-up line of several
 * processes; "" unless supported. */
void pyproc__describe(const struct pyproc *pp, pid_t pid, const char *comm,
		      char *buf, size_t len);

/* "PID 12 (comm): why (module); native stacks only" when unsupported. */
void pyproc__say_unsupported(const struct pyproc *pp, pid_t pid, const char *comm);

#endif
