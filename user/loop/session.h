/* session.h - the loop of one trace: events, the timeline's clock,
 * reports handed to the sink. */
#ifndef LEAKSCOPE_SESSION_H
#define LEAKSCOPE_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cli/cli.h"

struct trace;
struct procs;
struct syswide;
struct child;
struct sink;

struct session {
	const struct options *opts;
	struct trace *trace;
	struct procs *procs;		/* every traced process */
	struct syswide *sw;		/* --all / --comm: libraries probed for all */
	struct child *child;		/* `-- CMD`: ours to reap; its status is passed on */
	struct sink *sink;		/* where reports go */
	pid_t report_pid;		/* one process (-p PID, -- CMD): its pid; 0: several */
	bool python;			/* Python frames may be captured */
	volatile sig_atomic_t *stop;	/* set by SIGINT/SIGTERM */
	bool child_gone;		/* out: the child exited (else: detach it) */
};

/* Samples the timeline every second and reports every interval (as the
 * sink needs) until COUNT, a signal, the sink's quit, --duration or the
 * target's exit; then the final report.  Probes stay attached: the
 * caller detaches.  Returns the process exit code. */
int session__run(struct session *s);

#endif
