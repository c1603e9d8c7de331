/* symbolize.h - addresses of a process -> function, file, line (libdw). */
#ifndef LEAKSCOPE_SYMBOLIZE_H
#define LEAKSCOPE_SYMBOLIZE_H

#include <stdint.h>
#include <sys/types.h>

#include "report.h"

struct symbolizer;

struct symbolizer *symbolizer__new(pid_t pid);
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

/* Symbolizes every stack of a report (frames owned by the symbolizer,
 * valid until the next call). 0 or -ENOMEM. */
int symbolizer__report(struct symbolizer *s, struct report *r);

/* "_ZN3foo3barEv" -> "foo::bar()"; other names are copied.  Caller frees. */
char *symbolize__demangle(const char *name);

#endif
