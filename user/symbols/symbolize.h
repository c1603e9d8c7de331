/* symbolize.h - addresses of a process -> function, file, line (libdw). */
#ifndef LEAKSCOPE_SYMBOLIZE_H
#define LEAKSCOPE_SYMBOLIZE_H

#include <stdint.h>
#include <sys/types.h>

#include "report/report.h"

struct symbolizer;

struct symbolizer *symbolizer__new(pid_t pid);

/* The same, with the resolved addresses kept in shared (by build-id and
 * offset: a library mapped by many processes is resolved once; its
 * frames outlive the process).  shared must outlive s. */
struct symcache;
struct symbolizer *symbolizer__new_shared(pid_t pid, struct symcache *shared);
void symbolizer__free(struct symbolizer *s);

/* Forgets every module (the target called execve). */
int symbolizer__reset(struct symbolizer *s);

/* Reads /proc/PID/maps again and adds modules mapped since (dlopen).
 * Cheap when nothing changed.  Fails quietly once the process is gone:
 * what was seen stays usable. */
void symbolizer__refresh(struct symbolizer *s);

/* Symbolizes a return address (as stacks hold them) into up to max
 * frames, innermost first: inlined functions become frames of their own.
 * Always returns at least one frame (unknown fields NULL/0). */
int symbolizer__resolve(struct symbolizer *s, uint64_t addr,
			struct frame *out, int max);

/* The module (ELF file) mapped at a return address, for pprof mappings. */
struct module_info {
	uint64_t start, end;	/* load address of the ELF, end of its last segment */
	const char *path;	/* as the maps file names it; lives as long as s */
	char build_id[129];	/* lower-case hex; "" when the file has none */
};

/* 0, or -ENOENT when no known module holds addr. */
int symbolizer__module(struct symbolizer *s, uint64_t addr, struct module_info *out);

/* Symbolizes every stack of a report (frames owned by the symbolizer,
 * valid until the next call). 0 or -ENOMEM. */
int symbolizer__report(struct symbolizer *s, struct report *r);

/* "_ZN3foo3barEv" -> "foo::bar()"; other names are copied.  Caller frees. */
char *symbolize__demangle(const char *name);

#endif
