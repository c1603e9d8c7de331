/* prober.h - the one place leakscope's probes are asked for.
 *
 * Made once, where the options are known (main.c), with the settings
 * every probe shares; then asked for a set of libraries (a process's
 * allocator, or a library system-wide), a Python process's pymalloc, the
 * shared tracepoints, or the printed plan of `leakscope probes`.  Each
 * request plans with attach.c and returns what it attached.
 */
#ifndef LEAKSCOPE_PROBER_H
#define LEAKSCOPE_PROBER_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct trace;
struct attachment;
struct target_libs;

struct prober_settings {
	bool placement;		/* move probes to emulated instructions (README
				 * "Probe placement"); false: --no-placement */
	bool multi_links;	/* attach through uprobe-multi links (the
				 * programs were loaded for them) */
	bool empty;		/* --empty-probes: the same sites, the empty
				 * program (the benchmark floor); no tracepoints */
	bool mmap_wrappers;	/* probe libc's mmap/munmap/mremap wrappers
				 * too (--unwind fp: the DWARF walk gets their
				 * callers from the syscall tracepoints) */
};

/* A CPython ELF (the executable or a libpython) whose object allocator
 * --pymalloc probes. */
struct cpython_elf {
	const char *path;	/* to open it by */
	const char *name;	/* as the process maps it (messages) */
};

/* t: the loaded programs; NULL for a prober that only plans
 * (prober__plan).  NULL on ENOMEM. */
struct prober *prober__new(struct trace *t, const struct prober_settings *s);
void prober__free(struct prober *p);

/* The allocator libs names (its API, its own operator new/delete, a
 * dlopen()ed allocator, libc's mmap wrappers as the settings say) and
 * libstdc++'s operator new, for pid (-1: every process).  A libs with
 * no allocator (alloc_path "") is libstdc++ alone.  NULL after saying
 * why; nothing stays attached then. */
struct attachment *prober__libs(struct prober *p, const struct target_libs *libs,
				pid_t pid);

/* --pymalloc: py's object allocator (PyObject_Malloc & co.) for pid.
 * NULL after saying why. */
struct attachment *prober__pymalloc(struct prober *p, const struct cpython_elf *py,
				    pid_t pid);

/* The tracepoints every traced process shares (mmap, munmap, mremap,
 * exec, exit): once per trace.  With empty probes, an attachment of
 * nothing.  NULL after saying why. */
struct attachment *prober__tracepoints(struct prober *p);

/* `leakscope probes`: title's line (NULL: none), "allocator: KIND
 * (NAME)" and the table of libs' probe sites (and py's pymalloc, py
 * non-NULL) on out; nothing is attached.  0, or -errno after saying why
 * on stderr (nothing written on out then). */
int prober__plan(struct prober *p, const struct target_libs *libs,
		 const struct cpython_elf *py, const char *title, FILE *out);

#endif
