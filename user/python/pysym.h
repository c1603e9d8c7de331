/* pysym.h - Python frames (code object, instruction) -> file, function,
 * line, read from the target's memory; and the hybrid stack. */
#ifndef LEAKSCOPE_PYSYM_H
#define LEAKSCOPE_PYSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/python.h"
#include "report/report.h"

struct pysym;

/* NULL on ENOMEM.  t must stay valid as long as the pysym. */
struct pysym *pysym__new(pid_t pid, const struct py_target *t);
void pysym__free(struct pysym *s);

/* One Python frame: function = co_qualname, file = co_filename, line from
 * the location table; "[freed code]" when the code object at that address
 * is no longer the one captured.  Strings live as long as s. */
void pysym__resolve(struct pysym *s, const struct py_frame *f, struct frame *out);

/* Reads the code object of a captured frame now, while the process
 * lives (unless cached with the same token): a report made after it
 * exited names the frame from the cache. */
void pysym__prefetch(struct pysym *s, const struct py_frame *f);

/* Gives every stack of r that has Python frames its hybrid frames:
 * native frames (C extensions, libraries) down to the first function of
 * the interpreter, the one that allocated (e.g. list_resize), then the
 * Python frames in place of the interpreter's eval loop (python_only:
 * Python frames alone).  Frames belong to s until
 * the next call.  0 or -ENOMEM. */
int pysym__report(struct pysym *s, struct report *r, bool python_only);

/* Line of code unit `instr` (-1: before the first) of a code object whose
 * first line is firstlineno, from its 3.11+ location table; 0 if none. */
int pysym__line(const uint8_t *table, size_t len, int firstlineno, int instr);

/* The same from a 3.6-3.9 co_lnotab, offset in bytes (f_lasti). */
int pysym__line_lnotab(const uint8_t *table, size_t len, int firstlineno, int offset);

/* The same from a 3.10 co_linetable, offset in bytes (2 x f_lasti). */
int pysym__line_310(const uint8_t *table, size_t len, int firstlineno, int offset);

#endif
