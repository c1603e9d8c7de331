/* session.c - the loop: wait (epoll) for the next tick, an event from BPF
 * (the target exec'd or mapped new code: refresh symbols), or the target's
 * exit (its pidfd; for our own child, SIGCHLD); report; repeat.  The final report is printed before the probes are
 * detached: detaching takes the kernel seconds, the report does not.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "cgroup.h"
#include "collect.h"
#include "elfsym.h"
#include "keeper.h"
#include "launch.h"
#include "leakscope.h"
#include "leakscope.skel.h"
#include "privs.h"
#include "procmaps.h"
#include "pygc.h"
#include "pysym.h"
#include "python.h"
#include "report_folded.h"
#include "report_json.h"
#include "report_pprof.h"
#include "report_text.h"
#include "serve.h"
#include "session.h"
#include "symbolize.h"
#include "sympool.h"
#include "multi.h"
#include "target.h"
#include "tui.h"
#include "unwinder.h"

#define POLL_MS 500	/* upper bound on a wait; events wake us at once */

struct loop {
	struct session *s;
	struct collector *col;
	struct symbolizer *sym;
	struct ring_buffer *rb;
	int pidfd;		/* readable when the target exits */
	int sigfd;		/* `-- CMD`: SIGCHLD */
	int epfd;
	bool exec_seen;		/* `-- CMD`: symbols are the child's only after exec */
	bool exited;
	int exit_code;
	char comm[32];
	struct cgroup_labels labels;	/* the target's service (single process) */
	struct report last;	/* the latest report: the live view redraws it */
	struct tui *tui;	/* `top` on a terminal; else reports are printed */
	struct pysym *pysym;	/* the target runs a supported Python */
	struct pygc gc;		/* its collections, when it has USDT probes */
	struct sympool pool;	/* several processes: a symbolizer each */
	pid_t *gone;		/* several processes: exited, not forgotten yet */
	size_t ngone, capgone;
	uint64_t forgot_ms;	/* when they were last forgotten */
	bool gc_on;
	struct bpf_link *py_hold;	/* python_finalize on Py_FinalizeEx (-- only) */
	uint64_t py_prefetch_ms;	/* when Python code objects were last read */
	bool py_prefetch_due;	/* new Python stacks since */
	__u64 py_new[256];	/* their ids (EV_PY_STACK), read at once */
	size_t py_nnew;
	bool py_new_lost;	/* more than py_new holds: read every stack */
	uint32_t unw_pool_full;	/* unwind tables that did not fit, as last said */
	uint32_t unw_procs_full;
	uint64_t start_ms;
	double start_wall_s;
	int interval_s;
};

static double wall_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

/* The interpreter's gc__start/gc__done USDT probes, if it has them. */
static void python_gc_attach(struct loop *l)
{
	l->gc_on = !pygc__attach(&l->gc, l->s->skel, l->s->pid, l->s->py->open_path);
	if (!l->gc_on)
		fprintf(stderr, "leakscope: no gc__start/gc__done USDT probes in %s "
			"(built without --with-dtrace): no GC statistics\n", l->s->py->module);
}

/* `-- python ...`: hold the interpreter as it begins to finalize, to read
 * the code objects finalization frees (check_exit, CHILD_HELD).  Only a
 * child leakscope ptraces: the stop is taken back by its tracer. */
static void python_hold_attach(struct loop *l)
{
	const struct child *c = l->s->child;
	uint64_t off = 0, size;
	struct elfsym *e;

	if (!c || !c->traced || l->py_hold)
		return;
	/* the function's entry: its symbol's own address, read by elfsym
	 * (pread; libbpf's lookup by name would map the file) */
	e = elfsym__open(l->s->py->open_path);
	if (e && !elfsym__func(e, "Py_FinalizeEx", &off, &size))
		l->py_hold = bpf_program__attach_uprobe(l->s->skel->progs.python_finalize,
							false, l->s->pid, l->s->py->open_path,
							off);
	elfsym__close(e);
	if (l->py_hold)
		keeper__hold(bpf_link__fd(l->py_hold));
	else
		fprintf(stderr, "leakscope: no Py_FinalizeEx in %s: leaks made just before "
			"the interpreter exits may show \"??\"\n", l->s->py->module);
}

static void python_hold_detach(struct loop *l)
{
	bpf_link__destroy(l->py_hold);
	l->py_hold = NULL;
}

/* A Python target whose interpreter was not mapped yet (`-- CMD`, or
 * after exec): look again; once found, BPF walks its frames from then on. */
static void python_look(struct loop *l, bool exec)
{
	struct py_target *py = l->s->py;
	__u32 zero = 0;

	if (!py)
		return;
	if (exec) {		/* a new program: whatever was found is gone */
		struct py_offsets none = { 0 };

		bpf_map_update_elem(bpf_map__fd(l->s->skel->maps.py_config), &zero, &none, BPF_ANY);
		pysym__free(l->pysym);
		l->pysym = NULL;
		if (l->gc_on)
			pygc__detach(&l->gc);
		l->gc_on = false;
		python_hold_detach(l);
		py->status = PY_NONE;
	}
	if (py->status != PY_NONE)
		return;
	python__detect(l->s->pid, py);
	if (py->status == PY_SUPPORTED &&
	    (python__push(bpf_map__fd(l->s->skel->maps.py_config), py) ||
	     !(l->pysym = pysym__new(l->s->pid, py))))
		py->status = PY_UNSUPPORTED;
	python__announce(py);
	if (py->status == PY_SUPPORTED) {
		python_gc_attach(l);
		python_hold_attach(l);
	}
}

/* The process mapped new code or exec'd: its unwind table follows, once
 * the events at hand are read (unwind_flush). */
static void unwind_sync(struct loop *l, pid_t pid)
{
	unwinder__mark(l->s->unw, pid);
}

/* Syncs what the events asked for; says so once when tables stop
 * fitting (the walk falls back to frame pointers there). */
static void unwind_flush(struct loop *l)
{
	struct unwinder_stats st;

	if (!l->s->unw)
		return;
	unwinder__flush(l->s->unw);
	unwinder__stats(l->s->unw, &st);
	if (st.pool_full > l->unw_pool_full || st.procs_full > l->unw_procs_full)
		fprintf(stderr, "leakscope: unwind tables full: %u binaries left out (raise "
			"--unwind-rows), %u processes without a mapping table; their stacks "
			"are walked by frame pointer\n", st.pool_full, st.procs_full);
	l->unw_pool_full = st.pool_full;
	l->unw_procs_full = st.procs_full;
}

/* The code objects of one captured Python stack, unless cached. */
static void python_prefetch_stack(struct loop *l, int fd, __u64 id, struct py_trace *pt)
{
	if (bpf_map_lookup_elem(fd, &id, pt))
		return;
	for (__u32 i = 0; i < pt->nr && i < MAX_PY_DEPTH; i++)
		pysym__prefetch(l->pysym, &pt->f[i]);
}

/* The code objects of the new Python stacks (EV_PY_STACK), or of every
 * captured stack (every second, at the exit stop, when events were more
 * than the list holds), read while the interpreter lives (new ones only:
 * the rest are cached): a report made after it exited — `-- python3
 * script.py` without INTERVAL — still names every frame. */
static void python_prefetch(struct loop *l, bool all)
{
	int fd = bpf_map__fd(l->s->skel->maps.py_stacks);
	__u64 key, *prev = NULL;
	struct py_trace *pt;

	if (!l->pysym || !(pt = malloc(sizeof(*pt))))
		return;
	if (all || l->py_new_lost) {
		while (!bpf_map_get_next_key(fd, prev, &key)) {
			prev = &key;
			python_prefetch_stack(l, fd, key, pt);
		}
		l->py_prefetch_ms = now_ms();
	} else {
		for (size_t i = 0; i < l->py_nnew; i++)
			python_prefetch_stack(l, fd, l->py_new[i], pt);
	}
	free(pt);
	l->py_nnew = 0;
	l->py_new_lost = false;
	l->py_prefetch_due = false;
}

static void python_new_stack(struct loop *l, const void *data, size_t len)
{
	const struct py_stack_event *ev = data;

	l->py_prefetch_due = true;
	if (len < sizeof(*ev) || l->py_nnew == sizeof(l->py_new) / sizeof(l->py_new[0]))
		l->py_new_lost = true;
	else
		l->py_new[l->py_nnew++] = ev->id;
}

/* Where the host keeps Kubernetes pods' logs: NAMESPACE_NAME_UID/ */
#define PODS_DIR "/var/log/pods"

/* Several processes: the BPF maps' entries of those that exited are
 * deleted (and counted), whatever their number: every second, and before
 * each report. */
static int forget_gone(struct loop *l)
{
	int err = collector__forget(l->col, l->gone, l->ngone);

	l->ngone = 0;
	l->forgot_ms = now_ms();
	return err;
}

static void process_gone(struct loop *l, pid_t pid)
{
	if (l->ngone == l->capgone) {
		size_t cap = l->capgone ? 2 * l->capgone : 1024;
		pid_t *v = realloc(l->gone, cap * sizeof(*v));

		if (!v) {		/* forget those at hand now, then this one */
			forget_gone(l);
			if (!l->capgone)
				return;
		} else {
			l->gone = v;
			l->capgone = cap;
		}
	}
	l->gone[l->ngone++] = pid;
}

/* Several processes: any of them exec'd, mapped code or exited. */
static int on_multi_event(struct loop *l, const struct event *ev)
{
	switch (ev->type) {
	case EV_EXEC:
		sympool__exec(&l->pool, ev->tgid);
		unwind_sync(l, ev->tgid);
		break;
	case EV_EXEC_MAPPING:
		sympool__refresh(&l->pool, ev->tgid);
		unwind_sync(l, ev->tgid);
		break;
	case EV_EXIT:
		sympool__exit(&l->pool, ev->tgid);
		if (l->s->unw)
			unwinder__forget(l->s->unw, ev->tgid);
		process_gone(l, ev->tgid);
		break;
	}
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct loop *l = ctx;
	const struct event *ev = data;

	if (len < sizeof(*ev))
		return 0;
	if (l->s->multi)
		return on_multi_event(l, ev);
	if ((pid_t)ev->tgid != l->s->pid)
		return 0;
	switch (ev->type) {
	case EV_EXEC:
		l->exec_seen = true;
		unwind_sync(l, l->s->pid);
		symbolizer__reset(l->sym);
		symbolizer__refresh(l->sym);
		target__comm(l->s->pid, l->comm, sizeof(l->comm));
		cgroup__read(l->s->pid, PODS_DIR, &l->labels);
		python_look(l, true);
		break;
	case EV_EXEC_MAPPING:
		if (l->exec_seen) {
			unwind_sync(l, l->s->pid);
			symbolizer__refresh(l->sym);
			python_look(l, false);
		}
		break;
	case EV_EXIT:
		l->exited = true;
		break;
	case EV_GC:
		if (l->gc_on && len >= sizeof(struct gc_event))
			pygc__event(&l->gc, data);
		break;
	case EV_PY_STACK:	/* read after the events at hand (wait_events) */
		python_new_stack(l, data, len);
		break;
	case EV_PY_FINALIZE:	/* held: every stack read (check_exit) */
		l->py_new_lost = true;
		break;
	}
	return 0;
}

static void check_exit(struct loop *l)
{
	struct child *c = l->s->child;
	const struct multi *m = l->s->multi;

	if (m) {	/* -p A -p B: over when all are gone; --all, --kernel: never */
		int alive = 0;

		if (!m->npids)
			return;
		for (int i = 0; i < m->npids; i++)
			alive += kill(m->pids[i], 0) == 0 || errno != ESRCH;
		l->exited = !m->system_wide && !alive;
		return;
	}
	if (!c) {
		struct pollfd p = { .fd = l->pidfd, .events = POLLIN };

		/* a pidfd turns readable once the target has exited */
		if (l->pidfd >= 0 && poll(&p, 1, 0) == 1)
			l->exited = true;
		return;
	}
	switch (launch__poll(c)) {
	case CHILD_RUNNING:
		return;
	case CHILD_HELD:
		/* held by BPF (exec, new code, a new code object, finalization):
		 * what the events ask for now, before it runs on */
		ring_buffer__consume(l->rb);
		unwind_flush(l);
		python_prefetch(l, false);
		launch__resume(c);
		return;
	case CHILD_AT_EXIT:
		/* held at exit: its mappings and objects are still there to read */
		if (l->exec_seen)
			symbolizer__refresh(l->sym);
		python_prefetch(l, true);
		launch__release(c);
		break;
	case CHILD_GONE:
		break;
	}
	l->exited = true;
	l->exit_code = c->exit_code;
}

/* Sleeps until an event, the child's SIGCHLD, the target's exit, or ms. */
static void wait_events(struct loop *l, int ms)
{
	struct epoll_event evs[4];
	struct signalfd_siginfo si;

	if (epoll_wait(l->epfd, evs, 4, ms) < 0 && errno != EINTR)
		return;
	while (l->sigfd >= 0 && read(l->sigfd, &si, sizeof(si)) == sizeof(si))
		;
	ring_buffer__consume(l->rb);
	unwind_flush(l);
	/* new Python stacks: their code objects now, before the interpreter
	 * can free them (a burst of new stacks is one pass over the map) */
	if (l->py_prefetch_due)
		python_prefetch(l, false);
	if (l->s->serve)
		serve__run(l->s->serve);
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

static int module_of(void *ctx, pid_t pid, uint64_t addr, struct module_info *out)
{
	struct loop *l = ctx;
	struct symbolizer *sym = l->s->multi ? sympool__get(&l->pool, pid) : l->sym;

	return sym ? symbolizer__module(sym, addr, out) : -ENOENT;
}

static int write_pprof(struct loop *l, FILE *f, const struct report *r)
{
	struct pprof_meta m;
	uint8_t *buf;
	size_t len;
	int err;

	report_pprof__meta(&m, l->start_wall_s, r);
	err = report_pprof__encode(r, &m, module_of, l, &buf, &len);
	if (err)
		return err;
	if (fwrite(buf, 1, len, f) != len)
		err = -errno;
	free(buf);
	return err;
}

/* `record`: the one profile, to -o (or stdout). */
static int write_profile(struct loop *l, const struct report *r)
{
	const struct options *o = l->s->opts;
	bool to_stdout = !strcmp(o->output, "-");
	FILE *f = l->s->profile;
	int err = 0;

	l->s->profile = NULL;	/* written once */
	if (!f)
		return -EBADF;
	if (o->format == FORMAT_JSON)
		report_json__print(f, r);
	else if (o->format == FORMAT_PPROF)
		err = write_pprof(l, f, r);
	else
		err = report_folded__print(f, r);
	if (to_stdout && fflush(f) && !err)
		err = -errno;
	if (!to_stdout && err)
		outfile__abort(&l->s->outfile);
	else if (!to_stdout)
		err = outfile__commit(&l->s->outfile);	/* complete: into place */
	if (err) {
		fprintf(stderr, "leakscope: writing %s failed: %s\n", o->output, strerror(-err));
		return err;
	}
	fprintf(stderr, "leakscope: wrote %s: %zu stacks, %lld bytes outstanding\n",
		to_stdout ? "the profile" : o->output, r->nstacks_total,
		(long long)r->totals.outstanding_bytes);
	return 0;
}

static int output(struct loop *l, struct report *r, uint64_t t0);

/* A report of several processes: those that exited are forgotten first,
 * new C libraries probed (--all), every process named. */
static int report_multi(struct loop *l, bool final, uint64_t t0)
{
	struct report r = { .pid = 0, .final = final };
	int err;

	err = forget_gone(l);
	multi__rescan(l->s->multi);
	if (!err)
		err = collector__collect(l->col, 0, &r);
	for (size_t i = 0; !err && i < r.nprocs; i++) {
		if (r.procs[i].pid == 0)
			snprintf(r.procs[i].comm, sizeof(r.procs[i].comm), "[kernel]");
		else
			target__comm(r.procs[i].pid, r.procs[i].comm, sizeof(r.procs[i].comm));
		if (r.procs[i].pid > 0)
			cgroup__read(r.procs[i].pid, PODS_DIR, &r.procs[i].labels);
		/* gone without its exit event (the ring buffer was full):
		 * forgotten all the same, from the next second on */
		if (r.procs[i].pid > 0 && kill(r.procs[i].pid, 0) && errno == ESRCH)
			process_gone(l, r.procs[i].pid);
	}
	if (!err)
		err = sympool__report(&l->pool, &r);
	if (err) {
		fprintf(stderr, "leakscope: cannot read the trace: %s\n", strerror(-err));
		return err;
	}
	return output(l, &r, t0);
}

static int report(struct loop *l, bool final)
{
	struct report r = { .pid = l->s->pid, .final = final };
	uint64_t t0 = now_us();
	int err;

	if (l->tui && tui__paused(l->tui))
		return 0;
	if (l->s->multi)
		return report_multi(l, final, t0);
	if (!l->exited && l->exec_seen) {
		symbolizer__refresh(l->sym);
		target__comm(l->s->pid, l->comm, sizeof(l->comm));
	}
	memcpy(r.comm, l->comm, sizeof(r.comm));
	r.labels = l->labels;
	if (l->pysym) {
		python__version_str(l->s->py, r.python, sizeof(r.python));
		r.gc = l->gc_on ? pygc__stats(&l->gc) : NULL;
	}
	err = collector__collect(l->col, l->s->pid, &r);
	if (!err)
		err = symbolizer__report(l->sym, &r);
	if (!err && l->pysym)
		err = pysym__report(l->pysym, &r, l->s->opts->python_only);
	if (err) {
		fprintf(stderr, "leakscope: cannot read the trace: %s\n", strerror(-err));
		return err;
	}
	return output(l, &r, t0);
}

/* The report goes where the command says: a profile, the agent, the
 * live view, or stdout. */
static int output(struct loop *l, struct report *rp, uint64_t t0)
{
	struct report r = *rp;

	l->last = r;
	if (l->s->opts->record)
		return write_profile(l, &r);
	if (l->s->serve) {
		serve__update(l->s->serve, &l->last, (now_us() - t0) / 1e6);
		return 0;
	}
	if (l->tui)
		tui__update(l->tui, &l->last, (now_ms() - l->start_ms) / 1000.0,
			    l->interval_s);
	else if (l->s->opts->json)
		report_json__print(stdout, &r);
	else
		report_text__print(stdout, &r);
	/* a closed pipe (`| head`), a full disk: stop, detach, say so */
	if (!l->tui && (fflush(stdout) || ferror(stdout))) {
		int err = errno ? -errno : -EIO;

		fprintf(stderr, "leakscope: cannot write the report to stdout: %s; "
			"stopping\n", strerror(-err));
		return err;
	}
	if (l->s->opts->verbose)
		fprintf(stderr, "leakscope: report: %zu stacks, %lld blocks, %zu scanned, "
			"%.1f ms, peak RSS %.1f MiB\n", r.nstacks_total,
			(long long)r.totals.outstanding_allocs, r.blocks_scanned,
			(now_us() - t0) / 1000.0, peak_rss_kib() / 1024.0);
	return 0;
}

/* `record`: a sample of every stack's history between two profiles. */
static void collect_quietly(struct loop *l)
{
	struct report r = { .pid = l->s->pid };

	collector__collect(l->col, l->s->pid, &r);
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 ? 0 : epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup(struct loop *l, struct session *s)
{
	const struct options *o = s->opts;
	struct collect_filter f = {
		.min_age_ns = (uint64_t)(o->min_age_s * 1e9),
		.min_size = o->min_size,
		.max_size = o->max_size,
		.top_n = o->top_n,
		.sample_period = o->sample_bytes,
		.scan_limit = o->scan_limit,
		.min_age_s = o->min_age_s,
	};
	bool live = o->top && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);

	if (live && f.top_n < 1000)
		f.top_n = 1000;		/* the view sorts and filters them */
	if (o->record || o->serve)
		f.top_n = INT_MAX;	/* a profile holds every stack */
	f.python = s->py != NULL;
	/* pprof's alloc_* also count stacks that freed all they allocated */
	f.with_freed = o->serve || (o->record && o->format == FORMAT_PPROF);
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->start_ms = now_ms();
	l->start_wall_s = wall_now_s();
	l->interval_s = o->interval_s;
	l->sigfd = -1;
	l->pidfd = s->child || s->multi ? -1 : syscall(SYS_pidfd_open, s->pid, 0);
	l->exec_seen = !s->child;
	if (!s->multi) {
		target__comm(s->pid, l->comm, sizeof(l->comm));
		cgroup__read(s->pid, PODS_DIR, &l->labels);
	}
	l->col = collector__new(s->skel, &f);
	l->sym = symbolizer__new(s->multi ? getpid() : s->pid);
	l->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_event, l, NULL);
	if (!l->col || !l->sym || !l->rb) {
		fprintf(stderr, "leakscope: out of memory setting up the session\n");
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
	    watch(l->epfd, l->sigfd) || watch(l->epfd, l->pidfd)) {
		fprintf(stderr, "leakscope: cannot set up event polling: %s\n", strerror(errno));
		return -errno;
	}
	if (l->exec_seen && !s->multi)
		symbolizer__refresh(l->sym);
	if (s->py && s->py->status == PY_SUPPORTED) {
		if (!(l->pysym = pysym__new(s->pid, s->py)))
			return -ENOMEM;
		python_gc_attach(l);
	}
	if (s->serve) {
		serve__attach(s->serve, s->skel, l->sym);
		if (watch(l->epfd, serve__fd(s->serve)))
			return -errno;
	}
	if (live) {
		l->tui = tui__new(s->alloc_lib, s->cxx_lib, o->sample_bytes);
		if (!l->tui || watch(l->epfd, STDIN_FILENO))
			return -ENOMEM;
	}
	return 0;
}

static void teardown(struct loop *l)
{
	if (l->s->serve)	/* answers 503 from here on */
		serve__update(l->s->serve, NULL, 0);
	tui__free(l->tui);	/* the terminal back first */
	l->tui = NULL;
	ring_buffer__free(l->rb);
	sympool__free(&l->pool);
	free(l->gone);
	if (l->gc_on)
		pygc__detach(&l->gc);
	python_hold_detach(l);
	pysym__free(l->pysym);
	symbolizer__free(l->sym);
	collector__free(l->col);
	if (l->pidfd >= 0)
		close(l->pidfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd > 0)
		close(l->epfd);
}

/* `top`: keys may quit, or change the interval (the next tick moves). */
static bool handle_keys(struct loop *l, uint64_t *next)
{
	int before = l->interval_s;

	switch (tui__handle_keys(l->tui, &l->interval_s)) {
	case TUI_QUIT:
		return true;
	case TUI_INTERVAL:
		*next += (int64_t)(l->interval_s - before) * 1000;
		break;
	default:
		break;
	}
	return false;
}

int session__run(struct session *s)
{
	const struct options *o = s->opts;
	uint64_t next;
	int reports = 0, err = 0;
	bool last_was_final = false, quit = false;
	struct loop l;

	if (setup(&l, s)) {
		teardown(&l);
		return 1;
	}
	/* serve: everything is attached and the port bound; a long-lived
	 * agent that parses HTTP keeps only what tracing needs from here */
	if (o->serve && (err = privs__drop_for_serve())) {
		fprintf(stderr, "leakscope: cannot drop privileges: %s; not serving\n",
			strerror(-err));
		teardown(&l);
		return 1;
	}
	/* serve: a first report at once, then every interval */
	next = now_ms() + (o->serve ? 0 : l.interval_s * 1000ULL);
	while (!*s->stop && !l.exited && !quit) {
		uint64_t t = now_ms();
		int wait = next > t ? (int)(next - t) : 0;

		wait_events(&l, wait < POLL_MS ? wait : POLL_MS);
		if (l.ngone && now_ms() >= l.forgot_ms + 1000 && forget_gone(&l))
			break;		/* said why: cannot read the maps */
		if (l.pysym && now_ms() >= l.py_prefetch_ms + 1000)
			python_prefetch(&l, true);	/* before a process can take them away */
		check_exit(&l);
		if (l.tui)
			quit = handle_keys(&l, &next);
		if (o->record) {	/* no reports until the end */
			quit = o->duration_s && now_ms() >= l.start_ms + o->duration_s * 1000;
			if (!quit && now_ms() >= next) {
				collect_quietly(&l);	/* history, for the classes */
				next += l.interval_s * 1000ULL;
			}
			continue;
		}
		if (*s->stop || l.exited || quit || now_ms() < next)
			continue;
		reports++;
		last_was_final = o->count && reports >= o->count;
		err = report(&l, last_was_final);
		if (err || last_was_final)
			break;
		next += l.interval_s * 1000ULL;
	}
	tui__free(l.tui);	/* leaving the live view: the final report is text */
	l.tui = NULL;
	if (!last_was_final && !err && (!quit || o->record) && !o->serve) {
		ring_buffer__consume(l.rb);
		if (l.exited && !s->child)
			fprintf(stderr, s->multi ? "leakscope: the processes exited\n"
				: "leakscope: process %d exited\n", s->pid);
		err = report(&l, true);
	}
	if (s->multi) {
		fprintf(stderr, "leakscope: detaching\n");
		multi__detach(s->multi);
	} else {
		fprintf(stderr, "leakscope: detaching from PID %d\n", s->pid);
		if (s->child && !l.exited)
			launch__detach(s->child);	/* it runs on, untraced */
		attach__free(*s->attach);
		*s->attach = NULL;
	}
	teardown(&l);
	if (err)
		return 1;
	return s->child ? l.exit_code : 0;
}
