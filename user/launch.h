/* launch.h - start a command held just before execve until probes are on. */
#ifndef LEAKSCOPE_LAUNCH_H
#define LEAKSCOPE_LAUNCH_H

#include <sys/types.h>

struct child {
	pid_t pid;
	int go_fd;	/* write a byte: the child execs */
	int err_fd;	/* the child writes errno here if exec fails */
	char path[4096];	/* resolved executable */
};

/* Resolves argv[0] through PATH, checks it, and forks a child that waits.
 * Returns 0, or a negative errno after printing why. */
int launch__prepare(char **argv, const char *obj, struct child *c);

/* Lets the child exec.  Returns 0, or -errno if execve failed (printed). */
int launch__go(struct child *c);

/* Kills and reaps a child that never got to run. */
void launch__abort(struct child *c);

#endif
