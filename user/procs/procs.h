/* procs.h - the process table: every traced process, one or many.
 *
 * Driven by the events BPF sends (exec, new executable mapping, exit), a
 * process owns what leakscope knows of it: its name and service labels,
 * its symbolizer, its interpreter (Python layout pushed to BPF, frames
 * read from its memory, GC statistics), its own allocator probes (-p,
 * -- CMD) and --pymalloc probes; it is forgotten when it exits.  `-p PID`
 * is a table of one; several -p, --comm and --all are the same code.
 * The symbolize stage (procs__symbolize) turns a report's addresses into
 * frames, names its processes and lists the mappings its frames are in.
 */
#ifndef LEAKSCOPE_PROCS_H
#define LEAKSCOPE_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "report/report.h"

struct procs;
struct proc;
struct trace;
struct unwinder;
struct collector;
struct target_libs;
struct prober;
struct snapshot;

struct procs_config {
	struct trace *trace;
	struct prober *prober;		/* each process's allocator and pymalloc */
	struct unwinder *unw;		/* NULL: --unwind fp */
	bool python;			/* look for interpreters (not --no-python) */
	bool pymalloc;			/* probe each interpreter's object allocator */
	bool python_only;		/* reports: Python frames alone */
	bool several;			/* messages name the process */
	bool python_hint_only;		/* --all: look for an interpreter at each new
					 * code mapping only in processes whose name
					 * or executable says "python" (others: once
					 * they have stacks in a report) */
};

struct procs *procs__new(const struct procs_config *c);
/* Detaches every process's probes; frees the table. */
void procs__free(struct procs *p);

/* A process to trace from the start (-p, -- CMD's child).  named: its
 * maps are its own (false for a child that has not exec'd: they are
 * leakscope's until then).  NULL on ENOMEM. */
struct proc *procs__add(struct procs *p, pid_t pid, bool named);

/* Probes the allocator libs names for pid alone.  0, or -errno after
 * saying why. */
int procs__probe(struct procs *p, struct proc *pr, const struct target_libs *libs);

/* --all / --comm (comm: NULL for every process): the processes running
 * now, with their interpreters (before the probes: their first
 * allocations get Python frames).  Said by procs__say_pythons(), in one
 * line, with those found until then. */
void procs__scan_host(struct procs *p, const char *comm);

/* pid maps a libpython (an interpreter embedded in a program of another
 * name): its interpreter is looked for now (once per program). */
void procs__python_mapped(void *procs, pid_t pid);

/* After the "tracing" line: the interpreters procs__scan_host() found. */
void procs__say_pythons(struct procs *p);

/* Looks for pid's interpreter now (at start: before the probes). */
void procs__look_python(struct procs *p, struct proc *pr);

/* `-- CMD`: pr is ours and held by BPF at the moments user space must see
 * first; it is also held as its interpreter starts to finalize. */
void procs__set_held(struct procs *p, struct proc *pr);

/* An event from BPF (struct event and its kinds); work that reads the
 * process (symbols, interpreters) waits for procs__flush(). */
void procs__on_event(struct procs *p, const void *data, size_t len);

/* Reads pid's maps again now (held at its exit: the last chance). */
void procs__refresh(struct procs *p, pid_t pid);

/* Does what the events at hand asked for. */
void procs__flush(struct procs *p);

/* Reads the code objects of new Python stacks (all: of every captured
 * stack, from snap's keys) while their processes live. */
void procs__prefetch(struct procs *p, const struct snapshot *snap, bool all);
bool procs__prefetch_due(const struct procs *p);
/* More new stacks came than were listed: every stack must be read (from
 * a snapshot taken now). */
bool procs__prefetch_all_due(const struct procs *p);

/* Processes that exited (events, or found gone): their BPF records are
 * deleted (trace__forget) and their entries freed.  0 or -errno. */
int procs__forget_gone(struct procs *p);
/* Exited processes waiting to be forgotten. */
size_t procs__ngone(const struct procs *p);

/* Names the processes of r, symbolizes its stacks (native, kernel,
 * Python), fills r->mappings; for a report of one process, its name,
 * labels, Python version and GC statistics.  Everything stays owned by
 * the table until the next call.  0 or -ENOMEM. */
int procs__symbolize(struct procs *p, struct report *r);

/* Probe sites attached for processes (start-up message). */
int procs__count_sites(const struct procs *p);

/* The process's interpreter status for messages: NULL if none found. */
const struct py_target *procs__python(const struct proc *pr);

#endif
