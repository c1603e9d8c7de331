/* privs.h - what `serve`, a long-lived agent parsing HTTP, keeps of root
 * once it traces: the capabilities tracing still needs, no_new_privs. */
#ifndef LEAKSCOPE_PRIVS_H
#define LEAKSCOPE_PRIVS_H

#include <stdint.h>

/* The capabilities kept (bit mask of CAP_*). */
uint64_t privs__serve_mask(void);

/* Drops every capability outside privs__serve_mask() from the effective,
 * permitted, inheritable and bounding sets, and sets no_new_privs.  0, or
 * -errno (nothing may be half done: the caller stops). */
int privs__drop_for_serve(void);

#endif
