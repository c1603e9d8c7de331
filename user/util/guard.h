/* guard.h - calls into a library that maps a file another process
 * controls, with SIGBUS (the file truncated under the mapping) turned into
 * an error instead of the end of leakscope. */
#ifndef LEAKSCOPE_GUARD_H
#define LEAKSCOPE_GUARD_H

/* Runs fn(arg) and returns what it returns, or -EFAULT if a SIGBUS hit
 * while it ran (then whatever fn held is lost: memory, a mapping, an fd,
 * never leakscope).  Not reentrant; leakscope is single-threaded there. */
int guard__call(int (*fn)(void *arg), void *arg);

#endif
