/* procs.h - the process table: every traced process, one or many.
 *
 * Driven by the events BPF sends (exec, new executable mapping, exit), a
 * process owns what leakscope knows of it: its name and service labels,
 * its symbolizer, its Python side (python/pyproc.h), its own allocator
 * probes (-p, -- CMD); it is forgotten when it exits.  `-p PID` is a
 * table of one; several -p, --comm and --all are the same code.
 *
 * The session talks to it through a handful of calls: an event, the
 * flush of what events asked for (the only place probes are attached
 * after start-up), the tick of the timeline's clock, and whether the
 * processes named on the command line are all gone.  The resolve stage
 * (symbols/resolve.h) reads it while a report is built and only marks
 * what the next flush does.
 */
#ifndef LEAKSCOPE_PROCS_H
#define LEAKSCOPE_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct procs;
struct proc;
struct trace;
struct prober;
struct unwinder;
struct target_libs;
struct snapshot;
struct symbolizer;
struct cgroup_labels;
struct pyproc;
struct py_target;

struct procs_config {
	struct trace *trace;
	struct prober *prober;		/* every probe the table asks for */
	struct unwinder *unw;		/* NULL: --unwind fp */
	bool python;			/* look for interpreters (not --no-python) */
	bool pymalloc;			/* probe each interpreter's object allocator */
	bool several;			/* messages name the process */
	bool python_hint_only;		/* --all: look for an interpreter at each new
					 * code mapping only in processes whose name
					 * or executable says "python" (others: once
					 * they have stacks in a report) */
};

struct procs *procs__new(const struct procs_config *c);
/* Detaches every process's probes; frees the table. */
void procs__free(struct procs *p);

/* ---- start-up ------------------------------------------------------------ */

/* A process to trace from the start (-p, -- CMD's child); the trace is
 * over when every one added so is gone (procs__all_gone).  named: its
 * maps are its own (false for a child that has not exec'd: they are
 * leakscope's until then).  NULL on ENOMEM. */
struct proc *procs__add(struct procs *p, pid_t pid, bool named);

/* Probes the allocator libs names for pr alone.  0, or -errno after
 * saying why. */
int procs__probe(struct procs *p, struct proc *pr, const struct target_libs *libs);

/* Looks for pr's interpreter now (at start: before the probes). */
void procs__look_python(struct procs *p, struct proc *pr);

/* `-- CMD`: pr is ours and held by BPF at the moments user space must see
 * first; it is also held as its interpreter starts to finalize. */
void procs__set_held(struct procs *p, struct proc *pr);

/* --all / --comm (comm: NULL for every process): the processes running
 * now, with their interpreters (before the probes: their first
 * allocations get Python frames).  Said by procs__say_pythons(), in one
 * line, with those found until then. */
void procs__scan_host(struct procs *p, const char *comm);

/* After the "tracing" line: the interpreters procs__scan_host() found. */
void procs__say_pythons(struct procs *p);

/* pid maps a libpython (an interpreter embedded in a program of another
 * name): its interpreter is looked for now (once per program). */
void procs__python_mapped(void *procs, pid_t pid);

/* Probe sites attached for processes (start-up message). */
int procs__count_sites(const struct procs *p);

/* The process's interpreter status for messages: NULL if none found. */
const struct py_target *procs__python(const struct proc *pr);

/* ---- the session's calls ------------------------------------------------- */

/* An event from BPF (struct event and its kinds); work that reads the
 * process or attaches probes waits for procs__flush(). */
void procs__on_event(struct procs *p, const void *data, size_t len);

/* Does what the events and the last report asked for: symbols of new
 * code, interpreters to look for (and their probes), code objects of new
 * Python stacks, exits.  The records of exited processes are deleted
 * about once a second, or now if forget_now (before a report).  0, or
 * -errno when the trace cannot be read. */
int procs__flush(struct procs *p, bool forget_now);

/* A tick of the timeline's clock (snap: just taken): the code objects of
 * every captured Python stack, before their process can free them
 * (cached ones cost nothing). */
void procs__tick(struct procs *p, const struct snapshot *snap);

/* Held at its exit (`-- CMD`): pid's maps and every Python stack's code
 * objects are read now, the last chance. */
void procs__at_exit(struct procs *p, pid_t pid);

/* Every process added with procs__add() has exited (false if none was). */
bool procs__all_gone(struct procs *p);
/* Readable when one of them may have exited (for the session's poll), or
 * -1.  Level-triggered until procs__all_gone() has seen that exit. */
int procs__exit_fd(const struct procs *p);

/* Exited processes waiting to be forgotten. */
size_t procs__ngone(const struct procs *p);

/* ---- for the resolve stage: reads, and marks for the next flush ---------- */

/* A report is being built: entries the previous report pointed into
 * (exited processes, programs replaced by exec) are freed now. */
void procs__new_report(struct procs *p);

/* pid's entry (made if new: named as it is now), or NULL on ENOMEM. */
struct proc *procs__entry(struct procs *p, pid_t pid);
/* pid's entry if it has one. */
struct proc *procs__find(const struct procs *p, pid_t pid);

pid_t proc__pid(const struct proc *pr);
bool proc__gone(const struct proc *pr);
/* Its name: read again now if refresh and it still runs. */
const char *proc__comm(struct proc *pr, bool refresh);
/* Its service, container, pod (read from its cgroup when first asked). */
const struct cgroup_labels *proc__labels(struct proc *pr);
/* Its symbolizer, made (its maps read) when first asked, its maps read
 * again when it mapped code since.  NULL on ENOMEM. */
struct symbolizer *proc__symbolizer(struct procs *p, struct proc *pr);
const struct pyproc *proc__python(const struct proc *pr);

/* Found gone while a report was built (its exit event was lost): its exit
 * is handled at the next flush. */
void procs__mark_gone(struct procs *p, struct proc *pr);
/* It has stacks in a report: its interpreter is looked for at the next
 * flush, unless it was looked at since its last exec. */
void procs__mark_python(struct procs *p, struct proc *pr);

#endif
