/* test_procs.c - the process table driven by synthetic events (no root,
 * no BPF): entries made by events, names read at exec, exits queued to be
 * forgotten only when several processes are traced, and the symbolize
 * stage naming a report's processes, frames and mappings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

static __attribute__((noinline)) uint64_t here(void)
{
	return (uint64_t)__builtin_return_address(0);
}

/* One process (ourselves): a report's stack in this file is named, its
 * module is listed once in the mapping table, an exit is not queued. */
static void test_one_process(void **state)
{
	struct procs_config c = { .python = false };
	struct procs *p = procs__new(&c);
	uint64_t ra = here();
	struct report_stack st[2] = {
		{ .key = { .tgid = getpid(), .id = 1 }, .ips = { ra }, .nips = 1 },
		{ .key = { .tgid = getpid(), .id = 2 }, .ips = { ra, ra }, .nips = 2 },
	};
	struct report r = { .pid = getpid(), .stacks = st, .nstacks = 2 };

	assert_non_null(p);
	assert_non_null(procs__add(p, getpid(), true));
	assert_int_equal(procs__symbolize(p, &r), 0);
	assert_string_equal(r.comm, "test_procs");
	assert_true(st[0].nframes >= 1);
	assert_non_null(st[0].frames[0].function);
	assert_string_equal(st[0].frames[0].function, "test_one_process");
	assert_int_equal(r.nmappings, 1);	/* both stacks: one module */
	assert_int_equal(r.mappings[0].pid, getpid());
	assert_true(r.mappings[0].start < ra && ra <= r.mappings[0].end);
	assert_ptr_equal(report__mapping(&r, getpid(), ra), &r.mappings[0]);
	assert_null(report__mapping(&r, getpid() + 1, ra));
	send(p, EV_EXIT, getpid());
	assert_int_equal(procs__ngone(p), 0);	/* one process: kept for its last report */
	procs__free(p);
}

/* Several processes: a child's exec event makes its entry and reads its
 * new name; its exit is queued; a report of both names each process. */
static void test_several(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);
	struct report_proc rp[2];
	struct report r = { .multi = true, .procs = rp, .nprocs = 2 };
	int go[2];
	pid_t child;
	char b;

	assert_int_equal(pipe(go), 0);
	child = fork();
	if (!child) {
		read(go[0], &b, 1);
		execl("/bin/sleep", "sleep", "30", NULL);
		_exit(127);
	}
	assert_non_null(procs__add(p, getpid(), true));
	write(go[1], "x", 1);
	for (int i = 0; i < 200; i++) {	/* until it runs sleep */
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", child);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, "sleep", 5)) {
			fclose(f);
			break;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	send(p, EV_EXEC, child);
	procs__flush(p);
	memset(rp, 0, sizeof(rp));
	rp[0].pid = child;
	rp[1].pid = getpid();
	assert_int_equal(procs__symbolize(p, &r), 0);
	assert_string_equal(rp[0].comm, "sleep");
	assert_string_equal(rp[1].comm, "test_procs");
	send(p, EV_EXIT, child);
	assert_int_equal(procs__ngone(p), 1);
	send(p, EV_EXIT, 999999999);	/* never seen: still forgotten in BPF */
	assert_int_equal(procs__ngone(p), 2);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
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
		cmocka_unit_test(test_bad_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
