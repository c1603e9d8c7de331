/* test_session.c - the session loop (user/loop/session.c) with a fake
 * sink, a fake process table and fake trace readers: no root, no BPF.
 *
 * This file defines every function session.o calls from the table
 * (procs__*), the resolve stage (resolver__*), the trace (snapshot__*,
 * trace__*), the system-wide probes (syswide__*) and libbpf's ring buffer,
 * so the linker takes these and pulls none of procs.o, resolve.o,
 * snapshot.o, trace.o or syswide.o from libleakscope.a.  Collection
 * (collect.o) and the timeline are the real ones: they are pure.
 *
 * Every call is written to a log, one letter each, and every test checks
 * the log: before each report the table is flushed with forget_now, then
 * the snapshot is taken, then collection reads the top stacks' frames,
 * then resolve runs, then the sink gets the report, with no call to the
 * table in between but the timeline's tick.  The tests themselves: events
 * reach the table; COUNT reports, the last one final when the sink wants
 * one; the end when every named process is gone, or at the stop flag,
 * each with a final report; a snapshot failing in a report ends the run
 * with 1.  Reports come every second (interval 1, the first at once):
 * the file runs in about 3.5 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "cli/cli.h"
#include "collect/collect.h"
#include "leakscope.h"
#include "loop/session.h"
#include "procs/procs.h"
#include "procs/syswide.h"
#include "sink/sink.h"
#include "symbols/resolve.h"
#include "trace/snapshot.h"
#include "trace/trace.h"

#define PID 4242		/* the process reported on (-p PID) */
#define STACK_ID 7		/* the one stack the snapshots hold */
#define KMEM 65536		/* the maps' kernel memory, as the fake trace says */
#define MAX_REPORTS 16

/* ---- the log: one letter per call -------------------------------------------
 *   table:    E event, F flush, N flush with forget_now, T tick, A at_exit,
 *             G all_gone
 *   trace:    S snapshot__take, B snapshot__take_blocks, K trace__read_stack
 *   resolve:  R resolver__report
 *   sink:     P report, Z final, X stop
 *   syswide:  M mark, W flush */

static char calls[8192];
static size_t ncalls;

static void called(char c)
{
	if (ncalls < sizeof(calls) - 1)
		calls[ncalls++] = c;
}

/* ---- the fake process table ---------------------------------------------- */

struct procs {
	int nevents;
	struct {
		uint32_t type, tgid;
		size_t len;
	} ev[32];
	bool gone;			/* procs__all_gone()'s answer */
	int in_resolve;			/* table calls made while resolve ran */
};

static struct procs table;
static bool resolving;

static void table_call(struct procs *p, char c)
{
	assert_ptr_equal(p, &table);
	if (resolving)
		table.in_resolve++;
	called(c);
}

void procs__on_event(struct procs *p, const void *data, size_t len)
{
	const struct event *e = data;

	table_call(p, 'E');
	if (p->nevents < 32)
		p->ev[p->nevents++] = (typeof(p->ev[0])){ e->type, e->tgid, len };
}

int procs__flush(struct procs *p, bool forget_now)
{
	table_call(p, forget_now ? 'N' : 'F');
	return 0;
}

void procs__tick(struct procs *p, const struct snapshot *snap)
{
	table_call(p, 'T');
}

void procs__at_exit(struct procs *p, pid_t pid)
{
	table_call(p, 'A');
}

bool procs__all_gone(struct procs *p)
{
	table_call(p, 'G');
	return p->gone;
}

int procs__exit_fd(const struct procs *p)
{
	return -1;	/* the fake table's exits come through procs__all_gone() */
}

/* ---- the fake resolve stage ---------------------------------------------- */

struct resolver {
	int reports, freed;
	int stale;			/* reports not of the latest snapshot */
	int64_t want_bytes;		/* the bytes of the latest snapshot */
	int64_t got_bytes[MAX_REPORTS];	/* the report's top stack's */
};

static struct resolver resolver;

struct resolver *resolver__new(struct procs *p, const struct resolve_config *c)
{
	assert_ptr_equal(p, &table);
	return &resolver;
}

void resolver__free(struct resolver *rs)
{
	rs->freed++;
}

int resolver__report(struct resolver *rs, struct report *r)
{
	resolving = true;
	called('R');
	assert_int_equal(r->pid, PID);
	assert_int_equal(r->nstacks, 1);
	assert_int_equal(r->stacks[0].key.id, STACK_ID);
	if (r->stacks[0].bytes != rs->want_bytes)
		rs->stale++;
	if (rs->reports < MAX_REPORTS)
		rs->got_bytes[rs->reports] = r->stacks[0].bytes;
	rs->reports++;
	resolving = false;
	return 0;
}

/* ---- the fake trace: one stack that grows by 1000 bytes a snapshot ------- */

struct trace {
	int snapshots;			/* taken (each grows the stack) */
	int fail_from;			/* this snapshot__take and later fail (0: none) */
	int attempts;
	int freed;
};

static struct trace trace;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int snapshot__take(struct snapshot *s, const struct trace *t)
{
	struct trace *tr = (struct trace *)t;
	int64_t k;

	assert_ptr_equal(t, &trace);
	called('S');
	tr->attempts++;
	if (tr->fail_from && tr->attempts >= tr->fail_from)
		return -EIO;
	k = ++tr->snapshots;
	if (!s->v) {
		s->v = calloc(1, sizeof(*s->v));
		assert_non_null(s->v);
		s->cap = 1;
	}
	s->n = 1;
	s->v[0] = (struct snap_stack){
		.key = { .tgid = PID, .id = STACK_ID },
		.agg = { .outstanding_bytes = 1000 * k, .outstanding_allocs = k,
			 .held_since_ns = mono_ns() - 1000000000ULL, .last_alloc_ns = mono_ns(),
			 .alloc_bytes = 1000 * k, .alloc_count = k },
	};
	s->nblocks = 0;
	s->has_blocks = false;
	s->now_ns = mono_ns();
	s->wall_s = 1700000000.0 + k;
	s->ncpus = 1;
	resolver.want_bytes = 1000 * k;
	return 0;
}

/* The stack's blocks, 1000 bytes each: the scan's sums match the
 * aggregate's. */
int snapshot__take_blocks(struct snapshot *s, const struct trace *t, pid_t pid)
{
	size_t k = s->v[0].agg.outstanding_allocs;

	called('B');
	assert_int_equal(pid, PID);
	if (k > s->capblocks) {
		s->blocks = realloc(s->blocks, k * sizeof(*s->blocks));
		assert_non_null(s->blocks);
		s->capblocks = k;
	}
	for (size_t i = 0; i < k; i++)
		s->blocks[i] = (struct snap_block){ .key = s->v[0].key, .size = 1000,
						    .ts_ns = s->now_ns - 1000000000ULL };
	s->nblocks = k;
	s->has_blocks = true;
	s->blocks_pid = pid;
	return 0;
}

void snapshot__free(struct snapshot *s)
{
	free(s->v);
	free(s->blocks);
	memset(s, 0, sizeof(*s));
	trace.freed++;
}

static int map_asked = -1;

int trace__map_fd(const struct trace *t, enum trace_map m)
{
	map_asked = m;
	return 1000 + m;
}

uint64_t trace__kernel_memory(const struct trace *t)
{
	return KMEM;
}

int trace__read_stack(const struct trace *t, uint64_t id, struct stack_trace *st)
{
	called('K');
	if (id != STACK_ID)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->nr = 2;
	st->ips[0] = 0x401000;
	st->ips[1] = 0x402000;
	return 0;
}

int trace__read_py_stack(const struct trace *t, uint64_t id, struct py_trace *pt)
{
	return -ENOENT;
}

/* ---- the fake system-wide probes ----------------------------------------- */

static pid_t marked[32];
static int nmarked;

void syswide__mark(struct syswide *m, pid_t pid)
{
	called('M');
	if (nmarked < 32)
		marked[nmarked++] = pid;
}

void syswide__flush(struct syswide *m)
{
	called('W');
}

/* ---- the fake ring buffer: events the test queued, an eventfd to wait on - */

struct ring_buffer {
	ring_buffer_sample_fn cb;
	void *ctx;
	int efd;
	int freed;
	struct {
		unsigned char data[32];
		size_t len;
	} q[32];
	int nq, head;
};

static struct ring_buffer rb;

struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
				     const struct ring_buffer_opts *opts)
{
	assert_int_equal(map_fd, 1000 + TRACE_MAP_EVENTS);
	rb.cb = sample_cb;
	rb.ctx = ctx;
	rb.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(rb.efd >= 0);
	return &rb;
}

int ring_buffer__consume(struct ring_buffer *r)
{
	uint64_t v;
	int n = 0;

	if (read(r->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		fail_msg("eventfd: %s", strerror(errno));
	for (; r->head < r->nq; r->head++, n++)
		r->cb(r->ctx, r->q[r->head].data, r->q[r->head].len);
	return n;
}

int ring_buffer__epoll_fd(const struct ring_buffer *r)
{
	return r->efd;
}

void ring_buffer__free(struct ring_buffer *r)
{
	close(r->efd);
	r->efd = -1;
	r->freed++;
}

/* Queues an event; wake: the eventfd turns readable (the loop wakes). */
static void queue(const void *data, size_t len, bool wake)
{
	uint64_t one = 1;

	assert_true(rb.nq < 32 && len <= sizeof(rb.q[0].data));
	memcpy(rb.q[rb.nq].data, data, len);
	rb.q[rb.nq++].len = len;
	if (wake)
		assert_int_equal(write(rb.efd, &one, sizeof(one)), sizeof(one));
}

static void queue_event(uint32_t type, pid_t pid, bool wake)
{
	struct event e = { .type = type, .tgid = pid };

	queue(&e, sizeof(e), wake);
}

/* ---- the fake sink ------------------------------------------------------- */

struct got {
	bool final;		/* r->final */
	bool via_final;		/* handed over by ops->final */
	int64_t bytes;		/* its top stack's */
	uint64_t kmem;
	int nevents;		/* events the table had by then */
};

struct fake_sink {
	struct sink base;
	int reports, finals, stops;
	struct got got[MAX_REPORTS];
	int n;
	void (*hook)(int nth);	/* after the nth report or final (0 first) */
};

static struct fake_sink sink;

static int got_report(struct sink *k, const struct report *r, bool via_final)
{
	struct fake_sink *f = (struct fake_sink *)k;
	int nth = f->n;

	assert_ptr_equal(f, &sink);
	called(via_final ? 'Z' : 'P');
	assert_int_equal(r->nstacks, 1);
	if (f->n < MAX_REPORTS)
		f->got[f->n++] = (struct got){ .final = r->final, .via_final = via_final,
					       .bytes = r->stacks[0].bytes,
					       .kmem = r->totals.kernel_mem_bytes,
					       .nevents = table.nevents };
	if (f->hook)
		f->hook(nth);
	return 0;
}

static int sink_report(struct sink *k, const struct report *r)
{
	sink.reports++;
	return got_report(k, r, false);
}

static int sink_final(struct sink *k, const struct report *r)
{
	sink.finals++;
	return got_report(k, r, true);
}

static void sink_stop(struct sink *k)
{
	called('X');
	sink.stops++;
}

static const struct sink_ops ops_final = {
	.report = sink_report, .final = sink_final, .stop = sink_stop,
};
static const struct sink_ops ops_no_final = {
	.report = sink_report, .stop = sink_stop,
};

/* ---- a session ----------------------------------------------------------- */

static struct options opts;
static volatile sig_atomic_t stop_flag;
static struct syswide sw;
static struct session sess;

/* A session of -p PID: a report every second, the first at once, and a
 * final one.  --duration 6 bounds every run: a test whose end were missed
 * fails on what the sink got instead of hanging. */
static int setup(void **state)
{
	memset(calls, 0, sizeof(calls));
	ncalls = 0;
	memset(&table, 0, sizeof(table));
	memset(&resolver, 0, sizeof(resolver));
	memset(&trace, 0, sizeof(trace));
	memset(&rb, 0, sizeof(rb));
	rb.efd = -1;
	memset(&sink, 0, sizeof(sink));
	memset(&sw, 0, sizeof(sw));
	nmarked = 0;
	map_asked = -1;
	resolving = false;
	stop_flag = 0;
	opts = (struct options){
		.pid = PID, .interval_s = 1, .top_n = 10, .max_size = UINT64_MAX,
		.history_s = 1, .scan_limit = DEFAULT_SCAN_LIMIT,
		.duration_s = 6,	/* bounds a run whose end were missed */
	};
	sink.base = (struct sink){
		.ops = &ops_final, .fd = -1,
		.needs = { .top_n = 10, .periodic = true, .first_at_once = true, .final = true },
	};
	sess = (struct session){
		.opts = &opts, .trace = &trace, .procs = &table, .sink = &sink.base,
		.report_pid = PID, .stop = &stop_flag,
	};
	return 0;
}

/* Each report and final in the log is made of, from the flush before it:
 * N [W] S [T] [B] K... R, then P or Z (W: with --all or --comm, the
 * system-wide probes' flush follows the table's).  Nothing but the
 * timeline's tick (T) calls the table between the flush and the sink;
 * resolve is followed by the sink at once; resolve had the latest
 * snapshot's stack, and the sink had what resolve had. */
static void check_reports(void)
{
	int seen = 0;

	calls[ncalls] = 0;
	for (size_t j = 0; j < ncalls; j++) {
		size_t i = j, p;

		if (calls[j] != 'P' && calls[j] != 'Z')
			continue;
		while (i > 0 && calls[i] != 'N')
			i--;
		if (calls[i] != 'N')
			fail_msg("report %d without a flush(forget_now) before it: %s", seen,
				 calls);
		p = i + 1;
		if (calls[p] == 'W')
			p++;
		if (calls[p++] != 'S')
			fail_msg("report %d: no snapshot right after the flush: %s", seen, calls);
		if (calls[p] == 'T')
			p++;
		if (calls[p] == 'B')
			p++;
		if (calls[p] != 'K')
			fail_msg("report %d: no collection after the snapshot: %s", seen, calls);
		while (calls[p] == 'K')
			p++;
		if (calls[p++] != 'R' || p != j)
			fail_msg("report %d: not resolved right before the sink: %s", seen, calls);
		seen++;
	}
	assert_int_equal(seen, sink.n);
	assert_int_equal(resolver.reports, sink.n);
	assert_int_equal(resolver.stale, 0);
	for (int k = 0; k < sink.n && k < MAX_REPORTS; k++) {
		assert_int_equal(sink.got[k].kmem, KMEM);
		assert_int_equal(sink.got[k].bytes, resolver.got_bytes[k]);
		if (k > 0)	/* the stack grows: each report is a newer snapshot */
			assert_true(sink.got[k].bytes > sink.got[k - 1].bytes);
	}
	assert_int_equal(table.in_resolve, 0);
	/* torn down */
	assert_int_equal(map_asked, TRACE_MAP_EVENTS);
	assert_int_equal(rb.freed, 1);
	assert_int_equal(resolver.freed, 1);
	assert_int_equal(trace.freed, 1);
}

/* ---- events -------------------------------------------------------------- */

static void events_hook(int nth)
{
	if (nth == 0) {
		queue_event(EV_EXEC_MAPPING, 200, true);
		stop_flag = 1;
	}
}

/* Events queued before the run reach the table before its first flush,
 * whole (a py_stack_event is longer than struct event), and a fragment
 * shorter than struct event does not; an exec or new code marks the
 * process for the system-wide probes.  An event queued while the loop
 * runs reaches the table before the final report. */
static void test_events_reach_table(void **state)
{
	struct py_stack_event py = { .type = EV_PY_STACK, .tgid = PID, .id = STACK_ID };
	uint32_t fragment = EV_EXEC;

	sess.sw = &sw;
	sink.hook = events_hook;
	queue_event(EV_EXEC, 100, false);
	queue(&fragment, sizeof(fragment), false);
	queue(&py, sizeof(py), false);
	queue_event(EV_EXIT, 100, false);

	assert_int_equal(session__run(&sess), 0);
	check_reports();

	assert_int_equal(sink.n, 2);
	assert_int_equal(sink.got[0].nevents, 3);	/* before the first report */
	assert_int_equal(table.nevents, 4);		/* the last one before the final */
	assert_true(sink.got[1].via_final);
	assert_null(strchr(strchr(calls, 'P'), 'G'));	/* stopped: no more rounds */
	assert_int_equal(table.ev[0].type, EV_EXEC);
	assert_int_equal(table.ev[0].tgid, 100);
	assert_int_equal(table.ev[0].len, sizeof(struct event));
	assert_int_equal(table.ev[1].type, EV_PY_STACK);
	assert_int_equal(table.ev[1].len, sizeof(struct py_stack_event));
	assert_int_equal(table.ev[2].type, EV_EXIT);
	assert_int_equal(table.ev[3].type, EV_EXEC_MAPPING);
	assert_int_equal(table.ev[3].tgid, 200);
	/* the first three reached the table before its first flush */
	assert_int_equal(strcspn(calls, "FN"), strlen("EMEE"));
	assert_memory_equal(calls, "EMEE", 4);
	/* exec and new code mark their process for the libraries' probes,
	 * and each flush of the table flushes those too */
	assert_int_equal(nmarked, 2);
	assert_int_equal(marked[0], 100);
	assert_int_equal(marked[1], 200);
	for (char *f = calls; (f = strpbrk(f, "FN")); f++)
		assert_int_equal(f[1], 'W');
}

/* ---- COUNT reports ------------------------------------------------------- */

/* The sink wants a final report: COUNT - 1 reports, then the last as the
 * final one, after stop (top: the last one as text). */
static void test_count_final(void **state)
{
	opts.count = 2;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 1);
	assert_int_equal(sink.finals, 1);
	assert_false(sink.got[0].final);
	assert_true(sink.got[1].final);
	assert_true(sink.got[1].via_final);
	assert_true(strchr(calls, 'X') && strchr(calls, 'X') < strchr(calls, 'Z'));
	assert_false(sess.child_gone);
}

/* No final wanted: COUNT reports, none final. */
static void test_count_no_final(void **state)
{
	sink.base.ops = &ops_no_final;
	sink.base.needs.final = false;
	opts.count = 2;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 2);
	assert_int_equal(sink.finals, 0);
	assert_false(sink.got[0].final);
	assert_false(sink.got[1].final);
}

/* ---- every process named gone -------------------------------------------- */

static void gone_hook(int nth)
{
	if (nth == 0)
		table.gone = true;
}

/* The table says every process named is gone after the first report:
 * the loop ends at its next exit check, and the final report follows. */
static void test_all_gone(void **state)
{
	sink.hook = gone_hook;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 1);
	assert_int_equal(sink.finals, 1);
	assert_true(sink.got[1].final);
	assert_true(sess.child_gone);
}

/* Gone before the first report was due: the final one only. */
static void test_all_gone_at_start(void **state)
{
	table.gone = true;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 0);
	assert_int_equal(sink.finals, 1);
	assert_true(sess.child_gone);
}

/* ---- the stop flag (SIGINT, SIGTERM) ------------------------------------- */

static void stop_hook(int nth)
{
	if (nth == 0)
		stop_flag = 1;
}

/* Set during the first report: the loop goes round no more (no exit
 * check after it), and the final report follows. */
static void test_stop(void **state)
{
	sink.hook = stop_hook;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 1);
	assert_int_equal(sink.finals, 1);
	assert_true(sink.got[1].final);
	calls[ncalls] = 0;
	assert_null(strchr(strchr(calls, 'P'), 'G'));
	assert_false(sess.child_gone);
}

/* Set before the loop began (a signal during start-up): the final one only. */
static void test_stop_at_start(void **state)
{
	stop_flag = 1;
	assert_int_equal(session__run(&sess), 0);
	check_reports();
	assert_int_equal(sink.reports, 0);
	assert_int_equal(sink.finals, 1);
	calls[ncalls] = 0;
	assert_null(strchr(calls, 'G'));	/* the loop never went round */
}

/* ---- a snapshot failing in a report -------------------------------------- */

static void fail_hook(int nth)
{
	if (nth == 0)
		trace.fail_from = trace.attempts + 1;	/* every later one */
}

/* The trace cannot be read from the first report on: the next report
 * ends the run with 1, and no final report is tried (session__run makes
 * none after an error). */
static void test_failing_snapshot(void **state)
{
	const char *after, *last;
	int reports_tried = 0;

	sink.hook = fail_hook;
	assert_int_equal(session__run(&sess), 1);
	check_reports();
	assert_int_equal(sink.reports, 1);
	assert_int_equal(sink.finals, 0);
	/* what ended it was the next report's snapshot: after the first
	 * report, one report was tried (one flush with forget_now), and its
	 * snapshot was the last one tried */
	calls[ncalls] = 0;
	after = strchr(calls, 'P');
	assert_non_null(after);
	for (const char *c = after; *c; c++)
		reports_tried += *c == 'N';
	assert_int_equal(reports_tried, 1);
	last = strrchr(calls, 'S');
	assert_true(last > after && last[-1] == 'N');
	assert_true(trace.attempts >= trace.fail_from);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup(test_events_reach_table, setup),
	cmocka_unit_test_setup(test_count_final, setup),
	cmocka_unit_test_setup(test_count_no_final, setup),
	cmocka_unit_test_setup(test_all_gone, setup),
	cmocka_unit_test_setup(test_all_gone_at_start, setup),
	cmocka_unit_test_setup(test_stop, setup),
	cmocka_unit_test_setup(test_stop_at_start, setup),
	cmocka_unit_test_setup(test_failing_snapshot, setup),
};

int main(void)
{
	alarm(60);	/* a loop that never ends fails instead of hanging */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
