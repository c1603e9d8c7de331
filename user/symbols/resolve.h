/* resolve.h - the resolve stage of a report: its addresses become frames
 * (native with libdw, kernel with kallsyms, Python from the interpreter's
 * code objects), its processes get their names and service labels, its
 * mappings are listed (pprof), and every stack gets its site (the frame
 * that says where the program allocated, report/site.h).
 *
 * Read-only toward the traced processes and the kernel: it attaches no
 * probe and writes no map.  What it finds to do - a process found gone,
 * one with stacks whose interpreter was never looked for - it marks in
 * the process table, whose next flush does it.
 */
#ifndef LEAKSCOPE_RESOLVE_H
#define LEAKSCOPE_RESOLVE_H

#include <stdbool.h>

#include "report/report.h"

struct procs;
struct resolver;

struct resolve_config {
	bool python_only;		/* Python frames alone where a stack has any */
	const char *alloc_module;	/* --obj: an allocator of the user's, or NULL */
};

struct resolver *resolver__new(struct procs *p, const struct resolve_config *c);
void resolver__free(struct resolver *rs);

/* Frames, names, labels, mappings and sites of r (for a report of one
 * process: its name, labels, Python version and GC statistics).  What it
 * points to stays valid until the next call.  0 or -ENOMEM. */
int resolver__report(struct resolver *rs, struct report *r);

#endif
