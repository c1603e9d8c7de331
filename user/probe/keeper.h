/* keeper.h - a small process of leakscope's own that holds a reference to
 * every probe link, so that the probes are removed cleanly even when
 * leakscope itself is killed (SIGKILL, the OOM killer) while detaching. */
#ifndef LEAKSCOPE_KEEPER_H
#define LEAKSCOPE_KEEPER_H

/* Forks the keeper.  Call once, early, while leakscope has no threads.
 * 0, or -errno (leakscope then runs without one). */
int keeper__start(void);

/* Gives the keeper its own reference to a link (or perf event) fd; the
 * caller keeps and closes its own as before.  A no-op without a keeper. */
void keeper__hold(int fd);

/* Mid-trace (a process that exited): the keeper closes its reference to
 * the same link (the caller then closes its own), so that links of gone
 * processes do not pile up there.  A no-op without a keeper. */
void keeper__release(int fd);

/* The end of a normal run, after leakscope closed its references: the
 * keeper closes its own (the probes go now) and exits; returns when it
 * has.  Anything else (leakscope killed): the keeper does the same by
 * itself when it sees leakscope gone. */
void keeper__finish(void);

#endif
