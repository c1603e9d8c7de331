/* test_resolve.c - the resolve stage (no root, no BPF): a report's
 * frames, names and mapping table, and that it only marks what the
 * process table's next flush does - no interpreter is looked for (no
 * probe attached) and no exit handled while a report is built. */
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
#include "python/pyproc.h"
#include "symbols/resolve.h"

static __attribute__((noinline)) uint64_t here(void)
{
	return (uint64_t)__builtin_return_address(0);
}

/* One process (ourselves): a report's stack in this file is named, its
 * module is listed once in the mapping table, the site is set. */
static void test_one_process(void **state)
{
	struct procs_config c = { .python = false };
	struct procs *p = procs__new(&c);
	struct resolver *rs = resolver__new(p, &(struct resolve_config){ 0 });
	uint64_t ra = here();
	struct report_stack st[2] = {
		{ .key = { .tgid = getpid(), .id = 1 }, .ips = { ra }, .nips = 1 },
		{ .key = { .tgid = getpid(), .id = 2 }, .ips = { ra, ra }, .nips = 2 },
	};
	struct report r = { .pid = getpid(), .stacks = st, .nstacks = 2 };

	assert_non_null(rs);
	assert_non_null(procs__add(p, getpid(), true));
	assert_int_equal(resolver__report(rs, &r), 0);
	assert_string_equal(r.comm, "test_resolve");
	assert_true(st[0].nframes >= 1);
	assert_non_null(st[0].frames[0].function);
	assert_string_equal(st[0].frames[0].function, "test_one_process");
	assert_int_equal(st[0].site, 0);
	assert_int_equal(r.nmappings, 1);	/* both stacks: one module */
	assert_int_equal(r.mappings[0].pid, getpid());
	assert_true(r.mappings[0].start < ra && ra <= r.mappings[0].end);
	assert_ptr_equal(report__mapping(&r, getpid(), ra), &r.mappings[0]);
	assert_null(report__mapping(&r, getpid() + 1, ra));
	resolver__free(rs);
	procs__free(p);
}

/* A report of several processes: each named; ours, with stacks and
 * never looked at for an interpreter, is only marked - the look (which
 * attaches GC, finalize and pymalloc probes to a Python) is the next
 * flush's. */
static void test_marks_for_the_flush(void **state)
{
	struct procs_config c = { .several = true, .python = true };
	struct procs *p = procs__new(&c);
	struct resolver *rs = resolver__new(p, &(struct resolve_config){ 0 });
	struct report_proc rp[1] = { { .pid = getpid() } };
	struct report r = { .multi = true, .procs = rp, .nprocs = 1 };
	struct proc *pr;

	assert_int_equal(resolver__report(rs, &r), 0);
	assert_string_equal(rp[0].comm, "test_resolve");
	pr = procs__find(p, getpid());
	assert_non_null(pr);
	assert_null(procs__python(pr));		/* not looked at yet */
	assert_int_equal(procs__flush(p, false), 0);
	assert_non_null(procs__python(pr));	/* looked: no interpreter here */
	assert_true(pyproc__none(proc__python(pr)));
	resolver__free(rs);
	procs__free(p);
}

/* A process in a report found gone (its exit event lost): marked; its
 * exit is handled (queued to be forgotten) at the next flush. */
static void test_found_gone(void **state)
{
	struct procs_config c = { .several = true };
	struct procs *p = procs__new(&c);
	struct resolver *rs = resolver__new(p, &(struct resolve_config){ 0 });
	struct report_proc rp[1];
	struct report r = { .multi = true, .procs = rp, .nprocs = 1 };
	pid_t child = fork();

	if (!child)
		_exit(0);
	assert_non_null(procs__entry(p, child));	/* seen while it ran */
	waitpid(child, NULL, 0);
	memset(rp, 0, sizeof(rp));
	rp[0].pid = child;
	assert_int_equal(resolver__report(rs, &r), 0);
	assert_true(proc__gone(procs__find(p, child)));
	assert_int_equal(procs__ngone(p), 0);
	/* forget_now would delete its BPF records: there is no trace here */
	assert_int_equal(procs__flush(p, false), 0);
	assert_int_equal(procs__ngone(p), 1);
	resolver__free(rs);
	procs__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_process),
		cmocka_unit_test(test_marks_for_the_flush),
		cmocka_unit_test(test_found_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
