/* site.h - where a stack's program allocated: the one frame of a stack a
 * user reads as "where" (its site), the same in every output (text,
 * JSON, `top`, HTML, pprof).
 *
 * The site is the stack's first Python frame; else its first frame with
 * a function name outside the allocator's libraries (the C library,
 * libstdc++, jemalloc, tcmalloc, mimalloc, musl, and the modules given,
 * e.g. an allocator named with --obj); else its first frame outside them;
 * else its innermost frame.  Frames of a module are matched by the
 * module's path as the process names it: the modules given match by full
 * path, by file name, or by file name plus a version suffix
 * ("libmy.so" matches ".../libmy.so.1").
 */
#ifndef LEAKSCOPE_SITE_H
#define LEAKSCOPE_SITE_H

#include "report/report.h"

/* The index into s->frames of its site; -1 when it has no frames.
 * alloc_modules: more allocator modules, NULL-terminated, or NULL. */
int site__of(const struct report_stack *s, const char *const *alloc_modules);

/* Sets the site of every stack of r (after symbolization). */
void site__mark(struct report *r, const char *const *alloc_modules);

/* The site's frame of s, or NULL (no frames, or a site out of range). */
const struct frame *site__frame(const struct report_stack *s);

#endif
