/* launch.c - `leakscope -- CMD`: the child is forked first and waits on a
 * pipe, so the probes (filtered to its PID) are in place before its first
 * instruction; then it execs.  Uprobes filter by the process's mm, which
 * they follow across execve, so nothing of the new program is missed.
 *
 * The child is PTRACE_SEIZEd with PTRACE_O_TRACEEXIT and nothing else: no
 * code is injected and it runs freely, but it is held for a moment at its
 * exit, while its mappings still exist, so that libraries it dlopen()ed
 * just before exiting can be symbolized in the final report.  Signals it
 * receives are passed on at once (the session wakes on SIGCHLD).  The
 * child is also held at moments when it would outrun leakscope (exec, a
 * new executable mapping: tables and Python's layout first) or when what
 * leakscope must read is about to vanish (a new Python code object, the
 * start of finalization): a BPF program sends its main thread
 * HOLD_SIGNAL, which stops it in a ptrace signal stop; leakscope reads,
 * then resumes it without the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "procs/launch.h"
#include "leakscope.h"
#include "util/log.h"

static int resolve(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, len, "%s/%s", *dir ? dir : ".", cmd);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK)) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	return -ENOENT;
}

/* A static program carries its own malloc (found and probed there); one
 * without any has nothing leakscope could probe. */
static int check_dynamic(const char *path, const char *obj)
{
	struct elfsym *e;
	uint64_t off, size;
	int ok;

	if (obj)
		return 0;
	e = elfsym__open(path);
	if (!e)
		return 0;	/* a script: its interpreter is checked by exec */
	ok = elfsym__is_dynamic(e) || !elfsym__func(e, "malloc", &off, &size) ||
	     !elfsym__func(e, "je_malloc", &off, &size);
	elfsym__close(e);
	if (ok)
		return 0;
	log__error("%s is statically linked and has no malloc of its own "
		"that leakscope knows.\nUse --obj %s with a program whose allocator "
		"exports malloc/free.\n", path, path);
	return -ENOEXEC;
}

static void child_main(char **argv, const char *path, int go_rd, int err_wr)
{
	sigset_t none;
	char b;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* leakscope blocks SIGCHLD */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (read(go_rd, &b, 1) != 1)	/* leakscope gave up before "go" */
		_exit(127);
	close(go_rd);
	execv(path, argv);
	e = errno;
	if (write(err_wr, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int launch__prepare(char **argv, const char *obj, struct child *c)
{
	int go[2], errp[2], err;

	memset(c, 0, sizeof(*c));
	c->pid = c->go_fd = c->err_fd = -1;
	err = resolve(argv[0], c->path, sizeof(c->path));
	if (err) {
		log__error("cannot run '%s': %s\n", argv[0], strerror(-err));
		return err;
	}
	err = check_dynamic(c->path, obj);
	if (err)
		return err;
	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid < 0) {
		err = -errno;
		log__error("fork failed: %s\n", strerror(errno));
		return err;
	}
	if (c->pid == 0) {
		close(go[1]);
		close(errp[0]);
		child_main(argv, c->path, go[0], errp[1]);
	}
	close(go[0]);
	close(errp[1]);
	c->go_fd = go[1];
	c->err_fd = errp[0];
	/* Without ptrace (e.g. Yama ptrace_scope=3) all still works, except
	 * that a library loaded just before exit may stay unsymbolized. */
	c->traced = ptrace(PTRACE_SEIZE, c->pid, NULL, (void *)PTRACE_O_TRACEEXIT) == 0;
	return 0;
}

static void set_exit_code(struct child *c, int status)
{
	c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
		     : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

/* A HOLD_SIGNAL from a BPF program of ours: sent by the kernel (si_code
 * SI_KERNEL; a user's kill says SI_USER) while BPF counts one more hold
 * than came back.  Anything else is the child's, passed on. */
static bool held_by_us(struct child *c, int status)
{
	siginfo_t si;

	if (WSTOPSIG(status) != HOLD_SIGNAL || !c->holds_sent ||
	    *c->holds_sent <= c->holds_taken ||
	    ptrace(PTRACE_GETSIGINFO, c->pid, NULL, &si) || si.si_code != SI_KERNEL)
		return false;
	c->holds_taken++;
	return true;
}

void launch__resume(struct child *c)
{
	ptrace(PTRACE_CONT, c->pid, NULL, NULL);	/* the HOLD_SIGNAL is dropped */
}

enum child_state launch__poll(struct child *c)
{
	int status;

	for (;;) {
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		int event;

		if (r <= 0)
			return r < 0 && errno == ECHILD ? CHILD_GONE : CHILD_RUNNING;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			set_exit_code(c, status);
			c->pid = -1;
			return CHILD_GONE;
		}
		if (!WIFSTOPPED(status))
			continue;
		event = status >> 16;
		if (event == PTRACE_EVENT_EXIT)
			return CHILD_AT_EXIT;
		if (event == PTRACE_EVENT_STOP)		/* group stop (SIGSTOP, ^Z) */
			ptrace(PTRACE_LISTEN, c->pid, NULL, NULL);
		else if (held_by_us(c, status))		/* bpf_send_signal_thread() */
			return CHILD_HELD;
		else					/* a signal for the child */
			ptrace(PTRACE_CONT, c->pid, NULL, (void *)(long)WSTOPSIG(status));
	}
}

void launch__release(struct child *c)
{
	int status;

	ptrace(PTRACE_DETACH, c->pid, NULL, NULL);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	set_exit_code(c, status);
	c->pid = -1;
}

void launch__detach(struct child *c)
{
	if (c->pid <= 0 || !c->traced)
		return;
	/* pass on anything pending; a child held by us is stopped already */
	if (launch__poll(c) == CHILD_HELD) {
		ptrace(PTRACE_DETACH, c->pid, NULL, NULL);	/* without the signal */
		c->traced = 0;
		return;
	}
	/* PTRACE_DETACH needs a stopped tracee: interrupt, wait, detach. */
	if (ptrace(PTRACE_INTERRUPT, c->pid, NULL, NULL) == 0) {
		int status;

		while (waitpid(c->pid, &status, 0) == c->pid && WIFSTOPPED(status)) {
			int sig = (status >> 16) ? 0 : WSTOPSIG(status);

			if (ptrace(PTRACE_DETACH, c->pid, NULL, (void *)(long)sig) == 0)
				break;
		}
	}
	c->traced = 0;
}

int launch__go(struct child *c)
{
	int e = 0;
	ssize_t n;

	if (write(c->go_fd, "g", 1) != 1)
		return -errno;
	close(c->go_fd);
	c->go_fd = -1;
	n = read(c->err_fd, &e, sizeof(e));	/* EOF: exec succeeded */
	close(c->err_fd);
	c->err_fd = -1;
	if (n == sizeof(e)) {
		log__error("cannot execute %s: %s\n", c->path, strerror(e));
		waitpid(c->pid, NULL, 0);
		return -e;
	}
	return 0;
}

void launch__abort(struct child *c)
{
	if (c->pid <= 0)
		return;
	if (c->go_fd >= 0)
		close(c->go_fd);	/* the child reads EOF and exits */
	if (c->err_fd >= 0)
		close(c->err_fd);
	waitpid(c->pid, NULL, 0);
	c->pid = -1;
}
