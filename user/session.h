/* session.h - the reporting loop of one trace. */
#ifndef LEAKSCOPE_SESSION_H
#define LEAKSCOPE_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli.h"
#include "outfile.h"

struct leakscope_bpf;
struct attachment;
struct child;
struct py_target;
struct multi;

struct session {
	const struct options *opts;
	struct leakscope_bpf *skel;
	struct attachment **attach;	/* detached (and NULLed) at the end */
	pid_t pid;
	const char *alloc_lib;		/* allocator libraries, as the target names them */
	const char *cxx_lib;		/* (the live view skips their frames) */
	struct child *child;		/* `-- CMD`: ours to reap; its status is passed on */
	FILE *profile;			/* `record`: opened before attaching */
	struct outfile outfile;		/* ... when -o names a file: written there */
	struct serve *serve;		/* `serve`: listening before attaching */
	struct py_target *py;		/* the target may run Python (NULL: no) */
	struct multi *multi;		/* several processes (pid is 0) */
	struct unwinder *unw;		/* DWARF unwind tables (NULL: --unwind fp) */
	volatile sig_atomic_t *stop;	/* set by SIGINT/SIGTERM */
};

/* Reports every interval until COUNT, a signal or the target's exit, then
 * detaches and prints the final report.  Returns the process exit code. */
int session__run(struct session *s);

#endif
