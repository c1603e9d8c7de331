/* test_procs.c - the process table driven by synthetic events (no root,
 * no BPF): entries made by events, names read at exec, exits queued to be
 * forgotten only when several processes are traced, and the end of the
 * trace when every process named on the command line is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leakscope.h"
#include "procs/procs.h"

static void send(struct procs *p, uint32_t type, pid_t pid)
{
	struct event ev = { .type = type, .tgid = pid };

	procs__on_event(p, &ev, sizeof(ev));
}

/* A child that runs sleep once go is written to. */
static pid_t sleeper(int go[2])
{
	pid_t child;
	char b;

	assert_int_equal(pipe(go), 0);
	child = fork();
	if (!child) {
		if (read(go[0], &b, 1) != 1)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", NULL);
		_exit(127);
	}
	return child;
}

static void wait_comm(pid_t pid, const char *want)
{
	for (int i = 0; i < 200; i++) {
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, want, strlen(want))) {
			fclose(f);
			return;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	fail_msg("PID %d never ran %s", pid, want);
}

/* One process: an exit is not queued (its last report shows what it
 * left), and it ends the trace. */
static void test_one_process(void **state)
{
	struct procs_config c = { .python = false };
	struct procs *p = procs__new(&c);
	struct proc *pr;

	assert_non_null(p);
	pr = procs__add(p, getpid(), true);
	assert_non_null(pr);
	assert_ptr_equal(procs__find(p, getpid()), pr);
	assert_string_equal(proc__comm(pr, false), "test_procs");
	assert_false(procs__all_gone(p));
	send(p, EV_EXIT, getpid());
	assert_int_equal(procs__ngone(p), 0);
	assert_true(proc__gone(pr));
	/* an exit event is the thread-group leader's: the process may run
	 * on (its other threads); only its pidfd ends the trace */
	assert_false(procs__all_gone(p));
	procs__free(p);
}

/* Several processes: a child's exec event makes its entry and reads its
 * new name; its exit is queued, and one never seen too (still in BPF). */
static void test_several(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);
	struct proc *pr;
	int go[2];
	pid_t child = sleeper(go);

	assert_non_null(procs__add(p, getpid(), true));
	assert_int_equal(write(go[1], "x", 1), 1);
	wait_comm(child, "sleep");
	send(p, EV_EXEC, child);
	assert_int_equal(procs__flush(p, false), 0);
	pr = procs__find(p, child);
	assert_non_null(pr);
	assert_string_equal(proc__comm(pr, false), "sleep");
	send(p, EV_EXIT, child);
	assert_int_equal(procs__ngone(p), 1);
	send(p, EV_EXIT, 999999999);
	assert_int_equal(procs__ngone(p), 2);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	procs__free(p);
}

/* -p A -p B: over when both are gone, seen without any exit event (a
 * zombie counts: its pidfd is readable). */
static void test_all_gone_without_events(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);
	int go1[2], go2[2];
	pid_t a = sleeper(go1), b = sleeper(go2);

	struct pollfd exit_fd;

	assert_non_null(procs__add(p, a, true));
	assert_non_null(procs__add(p, b, true));
	exit_fd = (struct pollfd){ .fd = procs__exit_fd(p), .events = POLLIN };
	assert_true(exit_fd.fd >= 0);
	assert_int_equal(poll(&exit_fd, 1, 0), 0);	/* nothing to wake for */
	assert_false(procs__all_gone(p));
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	assert_int_equal(poll(&exit_fd, 1, 5000), 1);	/* the session wakes */
	assert_false(procs__all_gone(p));
	assert_int_equal(poll(&exit_fd, 1, 0), 0);	/* seen: quiet again */
	kill(b, SIGKILL);		/* a zombie until reaped */
	for (int i = 0; i < 200 && !procs__all_gone(p); i++)
		usleep(10000);
	assert_true(procs__all_gone(p));
	waitpid(b, NULL, 0);
	procs__free(p);
}

/* A table with nothing added never ends the trace (--all, --comm). */
static void test_nothing_added(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);

	assert_false(procs__all_gone(p));
	procs__free(p);
}

/* Truncated and unknown events are ignored. */
static void test_bad_events(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);
	struct event ev = { .type = EV_EXIT, .tgid = 5 };

	procs__on_event(p, &ev, sizeof(ev) - 1);
	assert_int_equal(procs__ngone(p), 0);
	ev.type = 999;
	procs__on_event(p, &ev, sizeof(ev));
	assert_int_equal(procs__ngone(p), 0);
	procs__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_process),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_all_gone_without_events),
		cmocka_unit_test(test_nothing_added),
		cmocka_unit_test(test_bad_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
