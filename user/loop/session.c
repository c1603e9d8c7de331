/* session.c - the loop: wait (epoll) for the next tick, an event from BPF
 * (a process exec'd, mapped new code, exited: the process table and the
 * tables follow), the exit of a process named with -p (the table's
 * pidfds), our own child's SIGCHLD, or the sink's fd (keys, HTTP
 * requests).  Every second a snapshot of the aggregates goes into the
 * timeline; every interval a report is built (snapshot -> collect ->
 * resolve) and handed to the sink.  Building a report attaches nothing:
 * the process table's flush, before it, does what the last one asked.
 * The final report is made before the caller detaches the probes:
 * detaching takes the kernel seconds, the report does not.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "collect/collect.h"
#include "procs/launch.h"
#include "leakscope.h"
#include "procs/procs.h"
#include "loop/session.h"
#include "sink/sink.h"
#include "trace/snapshot.h"
#include "procs/syswide.h"
#include "symbols/resolve.h"
#include "collect/timeline.h"
#include "trace/trace.h"
#include "util/log.h"

#define POLL_MS 500		/* upper bound on a wait; events wake us at once */

struct loop {
	struct session *s;
	struct collector *col;
	struct resolver *res;
	struct timeline *tl;
	struct snapshot snap;		/* the latest (sample or report) */
	struct report last;		/* the latest report: the sink may keep it */
	struct ring_buffer *rb;
	int sigfd;			/* `-- CMD`: SIGCHLD */
	int epfd;
	bool exited;
	int exit_code;
	uint64_t start_ms, start_ns;
	double start_wall_s;
	uint64_t sampled_ms;
	double sample_cost_ms;		/* the last timeline sample took (-v) */
	uint64_t sample_ms;		/* the timeline's clock (--history-interval) */
	bool tick_failed;		/* said once */
	int interval_s;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct loop *l = ctx;
	const struct event *ev = data;

	if (len < sizeof(*ev))
		return 0;
	procs__on_event(l->s->procs, data, len);
	if (l->s->sw && (ev->type == EV_EXEC || ev->type == EV_EXEC_MAPPING))
		syswide__mark(l->s->sw, ev->tgid);
	return 0;
}

static int take_snapshot(struct loop *l)
{
	return snapshot__take(&l->snap, l->s->trace);
}

/* The events at hand, and what they ask for (tables, symbols,
 * interpreters, libraries to probe, exited processes forgotten about
 * once a second, or now before a report).  An error: the trace cannot
 * be read. */
static int drain_events(struct loop *l, bool forget_now)
{
	int err;

	ring_buffer__consume(l->rb);
	err = procs__flush(l->s->procs, forget_now);
	if (l->s->sw)
		syswide__flush(l->s->sw);
	return err;
}


/* One tick of the timeline's clock (l->snap is fresh): a sample, and the
 * code objects of every captured Python stack (cached ones cost nothing)
 * before their process can take them away.  Reports in between use the
 * samples taken: the timeline's spacing stays its own. */
static int push_sample(struct loop *l, uint64_t t0_ns)
{
	int err;

	l->sampled_ms = now_ms();
	err = timeline__sample(l->tl, &l->snap, (l->snap.now_ns - l->start_ns) / 1e9);
	l->sample_cost_ms = (mono_ns() - t0_ns) / 1e6;
	if (!err)
		procs__tick(l->s->procs, &l->snap);
	return err;
}

static void check_exit(struct loop *l)
{
	struct child *c = l->s->child;

	if (!c) {	/* -p: over when every one named is gone */
		l->exited = procs__all_gone(l->s->procs);
		return;
	}
	switch (launch__poll(c)) {
	case CHILD_RUNNING:
		return;
	case CHILD_HELD:
		/* held by BPF (exec, new code, a new code object, finalization):
		 * what the events ask for now, before it runs on */
		drain_events(l, false);
		launch__resume(c);
		return;
	case CHILD_AT_EXIT:
		/* held at exit: its mappings and objects are still there to read */
		drain_events(l, false);
		procs__at_exit(l->s->procs, c->pid);
		launch__release(c);
		break;
	case CHILD_GONE:
		break;
	}
	l->exited = true;
	l->exit_code = c->exit_code;
}

/* Sleeps until an event, the child's SIGCHLD, the sink's fd, or ms; then
 * hands the sink what came for it (the events: tick()). */
static enum sink_event wait_events(struct loop *l, int ms)
{
	struct sink *k = l->s->sink;
	struct epoll_event evs[4];
	struct signalfd_siginfo si;

	if (epoll_wait(l->epfd, evs, 4, ms) < 0 && errno != EINTR)
		return SINK_NOTHING;
	while (l->sigfd >= 0 && read(l->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	return k->ops->ready && k->fd >= 0 ? k->ops->ready(k, &l->interval_s) : SINK_NOTHING;
}

/* Peak resident memory of leakscope itself, in KiB (VmHWM). */
static long peak_rss_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* flush -> snapshot -> timeline -> collect -> resolve -> the sink. */
static int report(struct loop *l, bool final)
{
	struct sink *k = l->s->sink;
	struct report r = { .pid = l->s->report_pid, .final = final };
	uint64_t t0 = now_ms();
	int err;

	if (k->paused && !final)
		return 0;
	err = drain_events(l, true);	/* exited processes leave the snapshot */
	if (!err)
		err = take_snapshot(l);
	if (!err && now_ms() >= l->sampled_ms + l->sample_ms)
		err = push_sample(l, mono_ns());
	if (!err && collector__wants_blocks(l->col, &l->snap, l->s->report_pid))
		err = snapshot__take_blocks(&l->snap, l->s->trace, l->s->report_pid);
	if (!err)
		err = collector__collect(l->col, &l->snap, l->tl, l->s->report_pid, &r);
	if (!err)
		err = resolver__report(l->res, &r);
	if (err) {
		log__error("cannot read the trace: %s\n", strerror(-err));
		return err;
	}
	r.totals.kernel_mem_bytes = trace__kernel_memory(l->s->trace);
	r.start_timestamp = l->start_wall_s;
	r.build_s = (now_ms() - t0) / 1000.0;
	l->last = r;
	err = final ? k->ops->final(k, &l->last) : k->ops->report(k, &l->last);
	if (!err)
		log__verbose("report: %zu stacks, %lld blocks, %zu scanned, "
			"%.1f ms (of which the timeline's sample %.1f ms), peak RSS %.1f MiB\n",
			r.nstacks_total, (long long)r.totals.outstanding_allocs, r.blocks_scanned,
			r.build_s * 1000, l->sample_cost_ms, peak_rss_kib() / 1024.0);
	return err;
}

static int read_stack(void *trace, uint64_t id, struct stack_trace *st)
{
	return trace__read_stack(trace, id, st);
}

static int read_py_stack(void *trace, uint64_t id, struct py_trace *pt)
{
	return trace__read_py_stack(trace, id, pt);
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(struct loop *l, struct session *s)
{
	const struct options *o = s->opts;
	const struct sink_needs *n = &s->sink->needs;
	struct collect_filter f = {
		.min_age_ns = (uint64_t)(o->min_age_s * 1e9),
		.min_size = o->min_size,
		.max_size = o->max_size,
		.top_n = n->top_n,
		.sample_period = o->sample_bytes,
		.scan_limit = o->scan_limit,
		.min_age_s = o->min_age_s,
		.with_freed = n->with_freed,
		.series = n->series,
		.python = s->python,
		.interval_s = o->interval_s,
	};
	struct resolve_config rc = {
		.python_only = o->python_only,
		.alloc_module = o->obj,	/* --obj: an allocator library of the user's */
	};
	struct stack_source src = {
		.stack = read_stack, .py_stack = read_py_stack, .ctx = s->trace,
	};
	struct timespec wall;

	memset(l, 0, sizeof(*l));
	l->s = s;
	l->start_ms = now_ms();
	l->start_ns = l->start_ms * 1000000ULL;
	clock_gettime(CLOCK_REALTIME, &wall);
	l->start_wall_s = wall.tv_sec + wall.tv_nsec / 1e9;
	l->interval_s = o->interval_s;
	l->sigfd = -1;
	l->col = collector__new(&f, &src);
	l->res = resolver__new(s->procs, &rc);
	l->tl = timeline__new(o->history_s);
	l->sample_ms = o->history_s > 0 ? (uint64_t)(o->history_s * 1000) : 1000;
	l->rb = ring_buffer__new(trace__map_fd(s->trace, TRACE_MAP_EVENTS), on_event, l, NULL);
	if (!l->col || !l->res || !l->tl || !l->rb) {
		log__error("out of memory setting up the session\n");
		return -ENOMEM;
	}
	if (s->child) {
		sigset_t chld;

		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, NULL);
		l->sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0 || watch(l->epfd, ring_buffer__epoll_fd(l->rb)) ||
	    watch(l->epfd, l->sigfd) ||
	    (!s->child && watch(l->epfd, procs__exit_fd(s->procs))) ||
	    watch(l->epfd, s->sink->fd)) {
		log__error("cannot set up event polling: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static void teardown(struct loop *l)
{
	ring_buffer__free(l->rb);
	timeline__free(l->tl);
	snapshot__free(&l->snap);
	collector__free(l->col);
	resolver__free(l->res);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd > 0)
		close(l->epfd);
}

/* The periodic work between reports: the timeline's clock, forgetting
 * exited processes.  A failure is said (once) and tried again at the next
 * tick; a report that cannot read the maps ends the trace. */
static void tick(struct loop *l)
{
	uint64_t t0 = mono_ns();
	int err = drain_events(l, false);

	if (!err && now_ms() >= l->sampled_ms + l->sample_ms) {
		err = take_snapshot(l);
		if (!err)
			err = push_sample(l, t0);
		else
			l->sampled_ms = now_ms();	/* not again at once */
	}
	if (err && !l->tick_failed)
		log__error("cannot read the trace: %s (tried again every "
			"second)\n", strerror(-err));
	l->tick_failed = err != 0;
}

int session__run(struct session *s)
{
	const struct options *o = s->opts;
	const struct sink_needs *n = &s->sink->needs;
	uint64_t next, end;
	int reports = 0, err = 0;
	bool last_was_final = false, quit = false, over = false;
	struct loop l;

	if (setup(&l, s)) {
		teardown(&l);
		return 1;
	}
	next = now_ms() + (n->first_at_once ? 0 : l.interval_s * 1000ULL);
	end = o->duration_s ? l.start_ms + (uint64_t)(o->duration_s * 1000) : 0;
	while (!*s->stop && !l.exited && !quit && !over) {
		uint64_t t = now_ms(), due = n->periodic ? next : l.sampled_ms + l.sample_ms;
		int wait = due > t ? (int)(due - t) : 0;

		switch (wait_events(&l, wait < POLL_MS ? wait : POLL_MS)) {
		case SINK_QUIT:
			quit = true;
			break;
		case SINK_INTERVAL:	/* the next report moves with it */
			next = now_ms() + l.interval_s * 1000ULL;
			break;
		default:
			break;
		}
		tick(&l);
		check_exit(&l);
		over = end && now_ms() >= end;
		if (!n->periodic || *s->stop || l.exited || quit || over || now_ms() < next)
			continue;
		reports++;
		last_was_final = o->count && reports >= o->count;
		if (last_was_final && n->final && s->sink->ops->stop)
			s->sink->ops->stop(s->sink);	/* top: the last one as text */
		err = report(&l, last_was_final && n->final);
		if (err || last_was_final)
			break;
		next += l.interval_s * 1000ULL;
	}
	if (s->sink->ops->stop)		/* leaving the live view: the final report is text */
		s->sink->ops->stop(s->sink);
	if (!last_was_final && !err && !quit && n->final) {
		if (l.exited && !s->child && s->report_pid)
			log__error("process %d exited\n", s->report_pid);
		else if (l.exited && !s->child)
			log__error("the processes exited\n");
		err = report(&l, true);
	}
	s->child_gone = l.exited;
	teardown(&l);
	if (err)
		return 1;
	return s->child ? l.exit_code : 0;
}
