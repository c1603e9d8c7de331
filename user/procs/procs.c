/* procs.c - the process table (see procs.h).
 *
 * Entries are made when a process is added (-p, -- CMD), sends an event
 * (exec, new code, exit) or shows up in a report, and freed a second or
 * so after it exits.  Looking for an interpreter reads the process's
 * maps: for one traced process at every new code mapping; with several,
 * when its name or executable says "python", and for any other process
 * (an embedded interpreter) once it has stacks in a report.  Everything
 * that attaches or reads a process happens in the flush, never while a
 * report is built.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/stacktab.h"
#include "leakscope.h"
#include "probe/attach.h"
#include "probe/prober.h"
#include "procs/cgroup.h"
#include "procs/procmaps.h"
#include "procs/procs.h"
#include "procs/target.h"
#include "python/pyproc.h"
#include "symbols/symbolize.h"
#include "symbols/symcache.h"
#include "trace/snapshot.h"
#include "trace/trace.h"
#include "unwind/unwinder.h"
#include "util/log.h"

/* Where the host keeps Kubernetes pods' logs: NAMESPACE_NAME_UID/ */
#define PODS_DIR "/var/log/pods"
#define PY_NEW_MAX 256		/* new Python stacks read per wake-up */
#define FORGET_MS 1000		/* exited processes forgotten this often */

struct proc {
	pid_t pid;
	char comm[32];
	struct cgroup_labels labels;
	bool named;		/* its maps are its own (a child: after exec) */
	bool labels_read;	/* labels: read when first needed */
	bool target;		/* named on the command line: symbols read eagerly */
	bool held;		/* `-- CMD`: BPF holds it (procs__set_held) */
	bool gone;
	bool found_gone;	/* by a report: its exit handled at the next flush */
	bool exec_pending;	/* exec'd: start afresh at the next flush */
	bool sym_dirty;		/* mapped code since the symbolizer read its maps */
	bool look_python;	/* new code: look for an interpreter at the next flush */
	bool look_python_now;	/* in a report: look at the next flush, whatever its name */
	bool python_looked;	/* looked since its last exec (several processes) */
	struct symbolizer *sym;	/* made when first needed */
	struct pyproc py;	/* its interpreter, when it has one */
	struct attachment *probes;	/* its own allocator's (-p, -- CMD) */
};

struct py_new {
	pid_t pid;
	uint64_t id;
};

/* A process named on the command line: the trace is over when all are.
 * Its pidfd decides, not the exit event: BPF sends that when the
 * thread-group leader exits, which may leave the other threads running. */
struct watched {
	pid_t pid;
	int pidfd;		/* readable once it exited; -1: kill(pid, 0) */
	bool gone;
};

struct procs {
	struct procs_config c;
	struct pyproc_env py_env;
	struct proc **v;
	size_t n, cap;
	struct stacktab index;		/* pid_key(pid) -> position */
	pid_t *gone;			/* exited, not forgotten yet */
	size_t ngone, capgone;
	uint64_t forgot_ms;
	bool dirty;			/* a flush has work */
	struct py_new py_new[PY_NEW_MAX];
	size_t py_nnew;
	bool py_new_lost;		/* more than py_new holds: read every stack */
	bool py_seen;			/* some process sent a Python stack, or */
	bool py_found;			/* ... runs a supported interpreter */
	struct py_trace *pt;		/* read buffer */
	struct snapshot snap;		/* every stack, when py_new_lost */
	struct symcache symbols;	/* every process's resolved addresses, by build-id */
	bool quiet;			/* scanning the host: said in one line after */
	/* what the last report's frames may point into (a process that
	 * exited, an interpreter gone at exec): freed when the next report
	 * is built, not before (the sink keeps the last report) */
	struct proc **retired;
	size_t nretired, capretired;
	bool drop_due;			/* exited entries to free at the next report */
	struct watched *watch;
	size_t nwatch;
	int watch_epfd;			/* readable when a watched pidfd is (-1: none) */
	uint32_t unw_pool_full;		/* unwind tables that did not fit, as last said */
	uint32_t unw_procs_full;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* The key of a process in the table's index. */
static struct stack_key pid_key(pid_t pid)
{
	return (struct stack_key){ .tgid = pid };
}

struct procs *procs__new(const struct procs_config *c)
{
	struct procs *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->c = *c;
	p->watch_epfd = -1;
	p->forgot_ms = now_ms();
	p->py_env = (struct pyproc_env){
		.trace = c->trace, .prober = c->prober, .pymalloc = c->pymalloc,
		.several = c->several,
	};
	p->pt = malloc(sizeof(*p->pt));
	if (!p->pt || stacktab__init(&p->index, 64) || symcache__init(&p->symbols)) {
		free(p->pt);
		stacktab__free(&p->index);
		free(p);
		return NULL;
	}
	return p;
}

/* ---- one process ------------------------------------------------------ */

static void proc_free(struct proc *pr, bool release)
{
	pyproc__drop(&pr->py, release);
	if (release)
		attach__release(pr->probes);
	else
		attach__free(pr->probes);
	symbolizer__free(pr->sym);
	free(pr);
}

struct proc *procs__find(const struct procs *p, pid_t pid)
{
	struct stack_key k = pid_key(pid);
	int64_t *idx = stacktab__find(&p->index, &k);

	return idx && *idx >= 0 ? p->v[*idx] : NULL;
}

/* Its name now (cheap: it may be gone soon); its service labels when a
 * report first needs them (a cgroup file and a directory to read: not
 * for each of hundreds of short processes a second). */
static void read_names(struct proc *pr)
{
	target__comm(pr->pid, pr->comm, sizeof(pr->comm));
	pr->labels_read = false;
}

const struct cgroup_labels *proc__labels(struct proc *pr)
{
	if (!pr->labels_read && !pr->gone) {
		cgroup__read(pr->pid, PODS_DIR, &pr->labels);
		pr->labels_read = true;
	}
	return &pr->labels;
}

/* pid's entry, made if new.  NULL on ENOMEM. */
static struct proc *get(struct procs *p, pid_t pid, bool named)
{
	struct stack_key k = pid_key(pid);
	struct proc *pr = procs__find(p, pid);
	int64_t *idx;

	if (pr)
		return pr;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct proc **v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	pr = calloc(1, sizeof(*pr));
	idx = pr ? stacktab__upsert(&p->index, &k, p->n) : NULL;
	if (!idx) {
		free(pr);
		return NULL;
	}
	pr->pid = pid;
	pr->named = named;
	read_names(pr);
	p->v[p->n++] = pr;
	return pr;
}

struct proc *procs__entry(struct procs *p, pid_t pid)
{
	return get(p, pid, true);
}

/* The symbolizer of a process, read from its maps when made. */
static struct symbolizer *sym_of(struct procs *p, struct proc *pr)
{
	if (!pr->sym) {
		pr->sym = symbolizer__new_shared(pr->named ? pr->pid : getpid(), &p->symbols);
		if (pr->sym && pr->named)
			symbolizer__refresh(pr->sym);
		pr->sym_dirty = false;
	}
	return pr->sym;
}

static int watch(struct procs *p, pid_t pid)
{
	struct watched *v = realloc(p->watch, (p->nwatch + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->watch = v;
	v[p->nwatch] = (struct watched){
		.pid = pid, .pidfd = (int)syscall(SYS_pidfd_open, pid, 0),
	};
	if (p->watch_epfd < 0)
		p->watch_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->watch_epfd >= 0 && v[p->nwatch].pidfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = v[p->nwatch].pidfd };

		epoll_ctl(p->watch_epfd, EPOLL_CTL_ADD, v[p->nwatch].pidfd, &ev);
	}
	p->nwatch++;
	return 0;
}

struct proc *procs__add(struct procs *p, pid_t pid, bool named)
{
	struct proc *pr = get(p, pid, named);

	if (!pr || watch(p, pid))
		return NULL;
	pr->target = true;
	proc__labels(pr);
	if (named)		/* read now: it may exit before any event */
		sym_of(p, pr);
	return pr;
}

const struct py_target *procs__python(const struct proc *pr)
{
	return pr->py.py;
}

void procs__set_held(struct procs *p, struct proc *pr)
{
	pr->held = true;
}

pid_t proc__pid(const struct proc *pr)
{
	return pr->pid;
}

bool proc__gone(const struct proc *pr)
{
	return pr->gone || pr->found_gone;
}

const char *proc__comm(struct proc *pr, bool refresh)
{
	if (refresh && !proc__gone(pr) && pr->named)
		target__comm(pr->pid, pr->comm, sizeof(pr->comm));
	return pr->comm;
}

struct symbolizer *proc__symbolizer(struct procs *p, struct proc *pr)
{
	struct symbolizer *sym = sym_of(p, pr);

	if (sym && pr->sym_dirty && pr->named && !proc__gone(pr)) {
		symbolizer__refresh(sym);
		pr->sym_dirty = false;
	}
	return sym;
}

const struct pyproc *proc__python(const struct proc *pr)
{
	return &pr->py;
}

/* ---- interpreters ------------------------------------------------------ */

void procs__look_python(struct procs *p, struct proc *pr)
{
	pr->look_python = pr->look_python_now = false;
	pr->python_looked = true;
	if (!p->c.python || !pr->named)
		return;
	pyproc__look(&pr->py, &p->py_env, pr->pid, pr->comm, pr->held, p->quiet);
	p->py_found |= pyproc__supported(&pr->py);
}

/* Several processes: is this one worth reading the maps of, for an
 * interpreter, at every new code mapping?  Its name or executable says
 * so (others are looked at once they have stacks in a report). */
static bool looks_like_python(const struct proc *pr)
{
	char exe[PATH_MAX];

	if (strstr(pr->comm, "python"))
		return true;
	procmaps__exe(pr->pid, exe, sizeof(exe));
	return strstr(exe, "python") != NULL;
}

struct host_scan {
	struct procs *p;
	const char *comm;
};

static void scan_one(pid_t pid, void *ctx)
{
	struct host_scan *h = ctx;
	struct procs *p = h->p;
	char name[32];
	struct proc *pr;

	target__comm(pid, name, sizeof(name));
	if (h->comm && strcmp(name, h->comm))
		return;
	pr = get(p, pid, true);
	p->quiet = true;	/* until procs__say_pythons() */
	if (pr && p->c.python && (!p->c.python_hint_only || looks_like_python(pr)))
		procs__look_python(p, pr);
}

void procs__scan_host(struct procs *p, const char *comm)
{
	struct host_scan h = { p, comm };

	procmaps__each_pid(scan_one, &h);
}

void procs__python_mapped(void *procs, pid_t pid)
{
	struct procs *p = procs;
	struct proc *pr = get(p, pid, true);

	if (pr && !pr->gone && pr->named && pyproc__none(&pr->py))
		procs__look_python(p, pr);
}

void procs__say_pythons(struct procs *p)
{
	char line[1024];
	int shown = 0, n = 0, len;

	p->quiet = false;	/* processes found from now on: a line each */
	for (size_t i = 0; i < p->n; i++)
		n += pyproc__supported(&p->v[i]->py);
	len = snprintf(line, sizeof(line), "Python frames in every stack of %d process%s:", n,
		       n == 1 ? "" : "es");
	for (size_t i = 0; i < p->n && n; i++) {
		char what[96];

		pyproc__describe(&p->v[i]->py, p->v[i]->pid, p->v[i]->comm, what, sizeof(what));
		if (!*what)
			continue;
		if (shown++ == 8) {	/* 8 of ~100 bytes: the line has room */
			len += snprintf(line + len, sizeof(line) - len, " ...");
			break;
		}
		len += snprintf(line + len, sizeof(line) - len, "%s %s", shown > 1 ? "," : "", what);
		if (len >= (int)sizeof(line))
			break;
	}
	if (n)
		log__error("%s\n", line);
	for (size_t i = 0; i < p->n; i++)
		pyproc__say_unsupported(&p->v[i]->py, p->v[i]->pid, p->v[i]->comm);
}

/* ---- events ------------------------------------------------------------ */

static void gone(struct procs *p, pid_t pid)
{
	if (p->ngone == p->capgone) {
		size_t cap = p->capgone ? 2 * p->capgone : 1024;
		pid_t *v = realloc(p->gone, cap * sizeof(*v));

		if (!v)
			return;		/* out of memory: its records stay to the end */
		p->gone = v;
		p->capgone = cap;
	}
	p->gone[p->ngone++] = pid;
}

static void on_exit_event(struct procs *p, pid_t pid)
{
	struct proc *pr = procs__find(p, pid);

	if (pr)
		pr->gone = true;
	if (p->c.unw)
		unwinder__forget(p->c.unw, pid);
	/* several processes: an exited one leaks nothing, its records go;
	 * one process: its last report shows what it left */
	if (p->c.several)
		gone(p, pid);
}

static void on_py_stack(struct procs *p, const void *data, size_t len)
{
	const struct py_stack_event *ev = data;

	p->py_seen = true;
	if (len < sizeof(*ev) || p->py_nnew == PY_NEW_MAX) {
		p->py_new_lost = true;
		return;
	}
	p->py_new[p->py_nnew++] = (struct py_new){ ev->tgid, ev->id };
}

void procs__on_event(struct procs *p, const void *data, size_t len)
{
	const struct event *ev = data;
	struct proc *pr;

	if (len < sizeof(*ev))
		return;
	switch (ev->type) {
	case EV_EXEC:
	case EV_EXEC_MAPPING:
		if (p->c.unw)
			unwinder__mark(p->c.unw, ev->tgid);
		pr = procs__find(p, ev->tgid);
		if (!pr) {		/* new: named as it is now */
			pr = get(p, ev->tgid, true);
			if (!pr)
				return;
		} else if (ev->type == EV_EXEC) {
			read_names(pr);	/* now: it may be gone by the flush */
		}
		if (ev->type == EV_EXEC)
			pr->exec_pending = pr->named = true;
		pr->sym_dirty = true;
		pr->look_python = true;
		p->dirty = true;
		break;
	case EV_EXIT:
		on_exit_event(p, ev->tgid);
		break;
	case EV_GC:
		pr = procs__find(p, ev->tgid);
		if (pr && len >= sizeof(struct gc_event))
			pyproc__gc_event(&pr->py, data);
		break;
	case EV_PY_STACK:
		on_py_stack(p, data, len);
		break;
	case EV_PY_FINALIZE:	/* held: every stack read */
		p->py_new_lost = true;
		break;
	}
}

/* ---- the flush ------------------------------------------------------------ */

/* An entry holding what a report may still point at, freed at the next
 * report (procs__new_report); out of memory: freed now. */
static void retire(struct procs *p, struct proc *old)
{
	if (p->nretired == p->capretired) {
		size_t cap = p->capretired ? 2 * p->capretired : 16;
		struct proc **v = realloc(p->retired, cap * sizeof(*v));

		if (!v) {
			proc_free(old, true);
			return;
		}
		p->retired = v;
		p->capretired = cap;
	}
	p->retired[p->nretired++] = old;
}

/* A new program: whatever was known of the old one goes (its Python
 * frames' strings and its symbolizer's frames at the next report). */
static void start_afresh(struct procs *p, struct proc *pr)
{
	struct proc *old = calloc(1, sizeof(*old));

	pr->exec_pending = false;
	pyproc__retire(&pr->py, old ? &old->py : NULL);
	if (old) {
		/* the old program's symbolizer too: the last report's frames
		 * and mappings point into it; a new one reads the new maps */
		old->pid = pr->pid;
		old->sym = pr->sym;
		pr->sym = NULL;
		retire(p, old);
	}
	pr->python_looked = false;
	if (pr->sym)		/* out of memory: reused, the last report's strings go */
		symbolizer__reset(pr->sym);
}

static void flush_one(struct procs *p, struct proc *pr)
{
	if (pr->found_gone) {
		pr->found_gone = false;
		on_exit_event(p, pr->pid);
	}
	if (pr->gone)
		return;
	if (pr->exec_pending)
		start_afresh(p, pr);
	/* a target's symbols are read as it maps code (a library it
	 * dlclose()s later stays named); others' once they have stacks */
	if (pr->sym_dirty && (pr->sym || pr->target) && pr->named) {
		if (pr->sym)
			symbolizer__refresh(pr->sym);
		else
			sym_of(p, pr);
		pr->sym_dirty = false;
	}
	if (pr->look_python_now ||
	    (pr->look_python && (!p->c.python_hint_only || looks_like_python(pr))))
		procs__look_python(p, pr);
	pr->look_python = pr->look_python_now = false;
}

/* Syncs the tables the events asked for; says so once when tables stop
 * fitting (the walk falls back to frame pointers there). */
static void unwind_flush(struct procs *p)
{
	struct unwinder_stats st;

	unwinder__flush(p->c.unw);
	unwinder__stats(p->c.unw, &st);
	if (st.pool_full > p->unw_pool_full || st.procs_full > p->unw_procs_full)
		log__error("unwind tables full: %u binaries left out (raise "
			"--unwind-rows), %u processes without a mapping table; their stacks "
			"are walked by frame pointer\n", st.pool_full, st.procs_full);
	p->unw_pool_full = st.pool_full;
	p->unw_procs_full = st.procs_full;
}

/* The code objects of Python stack id of process pid. */
static void prefetch_stack(struct procs *p, pid_t pid, uint64_t id)
{
	struct proc *pr = procs__find(p, pid);

	if (pr && pr->py.pysym && !trace__read_py_stack(p->c.trace, id, p->pt))
		pyproc__prefetch(&pr->py, p->pt);
}

static void prefetch_all(struct procs *p, const struct snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++)
		if (snap->v[i].key.id != STACK_ID_LOST)
			prefetch_stack(p, snap->v[i].key.tgid, snap->v[i].key.id);
}

/* Every stack's code objects, from a snapshot taken now. */
static void prefetch_now(struct procs *p)
{
	if (!snapshot__take(&p->snap, p->c.trace))
		prefetch_all(p, &p->snap);
}

/* New Python stacks: their code objects now, before the interpreter can
 * free them; more than were listed: every stack's. */
static void prefetch_new(struct procs *p)
{
	for (size_t i = 0; i < p->py_nnew; i++)
		prefetch_stack(p, p->py_new[i].pid, p->py_new[i].id);
	if (p->py_new_lost)
		prefetch_now(p);
	p->py_nnew = 0;
	p->py_new_lost = false;
}

/* Processes that exited: their BPF records are deleted, their entries
 * freed at the next report. */
static int forget_gone(struct procs *p)
{
	int err;

	p->forgot_ms = now_ms();
	if (!p->ngone)
		return 0;
	err = trace__forget(p->c.trace, p->gone, p->ngone);
	p->ngone = 0;
	p->drop_due = true;
	return err;
}

int procs__flush(struct procs *p, bool forget_now)
{
	if (p->c.unw)
		unwind_flush(p);
	if (p->dirty) {
		p->dirty = false;
		for (size_t i = 0; i < p->n; i++)
			flush_one(p, p->v[i]);
	}
	if (p->py_nnew || p->py_new_lost)
		prefetch_new(p);
	if (forget_now || (p->ngone && now_ms() >= p->forgot_ms + FORGET_MS))
		return forget_gone(p);
	return 0;
}

void procs__tick(struct procs *p, const struct snapshot *snap)
{
	if (p->py_seen || p->py_found)
		prefetch_all(p, snap);
}

void procs__at_exit(struct procs *p, pid_t pid)
{
	struct proc *pr = procs__find(p, pid);

	if (pr && pr->named && sym_of(p, pr))
		symbolizer__refresh(pr->sym);
	prefetch_now(p);
}

bool procs__all_gone(struct procs *p)
{
	size_t alive = 0;

	for (size_t i = 0; i < p->nwatch; i++) {
		struct watched *w = &p->watch[i];
		struct pollfd pfd = { .fd = w->pidfd, .events = POLLIN };

		/* a pidfd turns readable once the process has exited (a
		 * zombie too, which kill() still finds) */
		if (!w->gone && w->pidfd >= 0 && poll(&pfd, 1, 0) == 1) {
			w->gone = true;	/* and no more wake-ups from it */
			epoll_ctl(p->watch_epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
		} else if (!w->gone && w->pidfd < 0) {
			w->gone = kill(w->pid, 0) && errno == ESRCH;
		}
		alive += !w->gone;
	}
	return p->nwatch && !alive;
}

int procs__exit_fd(const struct procs *p)
{
	return p->watch_epfd;
}

size_t procs__ngone(const struct procs *p)
{
	return p->ngone;
}

/* ---- for the resolve stage ------------------------------------------------ */

/* The entries of processes that exited are freed; the index rebuilt. */
static void drop_gone(struct procs *p)
{
	size_t kept = 0;

	stacktab__clear(&p->index);
	for (size_t i = 0; i < p->n; i++) {
		struct stack_key k = pid_key(p->v[i]->pid);
		int64_t *idx;

		if (p->v[i]->gone) {
			proc_free(p->v[i], true);
			continue;
		}
		p->v[kept] = p->v[i];
		idx = stacktab__upsert(&p->index, &k, kept);
		if (idx)
			kept++;
		else	/* ENOMEM: not findable any more; freed now */
			proc_free(p->v[i], true);
	}
	p->n = kept;
}

void procs__new_report(struct procs *p)
{
	while (p->nretired)
		proc_free(p->retired[--p->nretired], true);
	if (p->drop_due)
		drop_gone(p);
	p->drop_due = false;
}

void procs__mark_gone(struct procs *p, struct proc *pr)
{
	pr->found_gone = true;
	p->dirty = true;
}

void procs__mark_python(struct procs *p, struct proc *pr)
{
	if (pr->python_looked || !pyproc__none(&pr->py))
		return;
	pr->look_python_now = true;
	p->dirty = true;
}

/* ---- probes --------------------------------------------------------------- */

int procs__probe(struct procs *p, struct proc *pr, const struct target_libs *libs)
{
	pr->probes = prober__libs(p->c.prober, libs, pr->pid);
	return pr->probes ? 0 : -EINVAL;
}

int procs__count_sites(const struct procs *p)
{
	int n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += (p->v[i]->probes ? attach__count(p->v[i]->probes) : 0) +
		     (p->v[i]->py.pymalloc ? attach__count(p->v[i]->py.pymalloc) : 0);
	return n;
}

void procs__free(struct procs *p)
{
	if (!p)
		return;
	while (p->nretired)
		proc_free(p->retired[--p->nretired], false);
	free(p->retired);
	for (size_t i = p->n; i > 0; i--)	/* probes: in reverse */
		proc_free(p->v[i - 1], false);
	free(p->v);
	stacktab__free(&p->index);
	free(p->gone);
	for (size_t i = 0; i < p->nwatch; i++)
		if (p->watch[i].pidfd >= 0)
			close(p->watch[i].pidfd);
	free(p->watch);
	if (p->watch_epfd >= 0)
		close(p->watch_epfd);
	snapshot__free(&p->snap);
	free(p->pt);
	symcache__free(&p->symbols);	/* after every symbolizer */
	free(p);
}
