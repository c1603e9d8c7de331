/* preflight.h - checks that this machine can run leakscope at all. */
#ifndef LEAKSCOPE_PREFLIGHT_H
#define LEAKSCOPE_PREFLIGHT_H

/* Privileges, kernel BTF, tracefs (mounted if missing).  Prints what to
 * do and returns a negative errno when something is missing. */
int preflight__check(void);

#endif
