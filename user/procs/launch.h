/* launch.h - start a command held just before execve until probes are on. */
#ifndef LEAKSCOPE_LAUNCH_H
#define LEAKSCOPE_LAUNCH_H

#include <sys/types.h>

struct child {
	pid_t pid;
	int exit_code;	/* as a shell reports it: status, or 128 + signal */
	int traced;	/* PTRACE_SEIZEd for its exit event only */
	int go_fd;	/* write a byte: the child execs */
	int err_fd;	/* the child writes errno here if exec fails */
	char path[4096];	/* resolved executable */
	/* holds: HOLD_SIGNALs BPF sent the child (the session points this at
	 * the BPF counter), and how many of them came back here */
	const volatile unsigned long long *holds_sent;
	unsigned long long holds_taken;
};

/* Resolves argv[0] through PATH, checks it, and forks a child that waits.
 * Returns 0, or a negative errno after printing why. */
int launch__prepare(char **argv, const char *obj, struct child *c);

/* Lets the child exec.  Returns 0, or -errno if execve failed (printed). */
int launch__go(struct child *c);

/* Kills and reaps a child that never got to run. */
void launch__abort(struct child *c);

enum child_state {
	CHILD_RUNNING,
	CHILD_AT_EXIT,	/* held at its exit: its mappings are still readable */
	CHILD_HELD,	/* stopped by a BPF program of leakscope's (HOLD_SIGNAL
			 * sent by the kernel): launch__resume() when done */
	CHILD_GONE,	/* exited and reaped; exit_code is set */
};

/* Handles whatever the child reported (forwarding signals at once),
 * without blocking.  At CHILD_AT_EXIT call launch__release() when done
 * looking at the process. */
enum child_state launch__poll(struct child *c);

/* Lets a child held by CHILD_HELD go on (the HOLD_SIGNAL taken back). */
void launch__resume(struct child *c);

/* Lets a child held at its exit finish, and reaps it. */
void launch__release(struct child *c);

/* Stops holding the child (leakscope is leaving first); it runs on. */
void launch__detach(struct child *c);

#endif
