/* procs.c - the process table (see procs.h).
 *
 * Entries are made when a process is added (-p, -- CMD), sends an event
 * (exec, new code, exit) or shows up in a report, and freed a second or
 * so after it exits (procs__forget_gone).  Looking for an interpreter
 * reads the process's maps: for one traced process at every new code
 * mapping; with several, when its name or executable says "python", and
 * for any other process (an embedded interpreter) once it has stacks in a
 * report.  Cost per report: O(stacks) plus symbolization of the top N.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe/attach.h"
#include "probe/prober.h"
#include "procs/cgroup.h"
#include "collect/collect.h"
#include "symbols/elfsym.h"
#include "probe/keeper.h"
#include "symbols/ksym.h"
#include "procs/procmaps.h"
#include "procs/procs.h"
#include "python/pygc.h"
#include "python/pysym.h"
#include "python/python.h"
#include "trace/snapshot.h"
#include "collect/stacktab.h"
#include "symbols/symbolize.h"
#include "symbols/symcache.h"
#include "procs/target.h"
#include "collect/timeline.h"
#include "trace/trace.h"
#include "unwind/unwinder.h"

/* Where the host keeps Kubernetes pods' logs: NAMESPACE_NAME_UID/ */
#define PODS_DIR "/var/log/pods"
#define PY_NEW_MAX 256		/* new Python stacks read per wake-up */

struct proc {
	pid_t pid;
	char comm[32];
	struct cgroup_labels labels;
	bool named;		/* its maps are its own (a child: after exec) */
	bool labels_read;	/* labels: read when first needed */
	bool sym_named;		/* its symbolizer reads its own maps (not leakscope's) */
	bool target;		/* named on the command line: symbols read eagerly */
	bool held;		/* `-- CMD`: BPF holds it (procs__set_held) */
	bool gone;
	bool exec_pending;	/* exec'd: start afresh at the next flush */
	bool sym_dirty;		/* mapped code since the symbolizer read its maps */
	bool look_python;	/* look for an interpreter at the next flush */
	bool python_looked;	/* looked since its last exec (several processes) */
	struct symbolizer *sym;	/* made when first needed */
	struct py_target *py;	/* its interpreter (NULL: none found yet) */
	struct pysym *pysym;
	struct pygc *gc;	/* its USDT GC probes, when it has them */
	struct attachment *probes;	/* its own allocator's (-p, -- CMD) */
	struct attachment *pymalloc;
	struct bpf_link *py_hold;	/* Py_FinalizeEx (held processes) */
};

struct py_new {
	pid_t pid;
	uint64_t id;
};

struct procs {
	struct procs_config c;
	struct proc **v;
	size_t n, cap;
	struct stacktab index;		/* timeline__proc_key(pid) -> position */
	pid_t *gone;			/* exited, not forgotten yet */
	size_t ngone, capgone;
	bool dirty;			/* a flush has work */
	struct py_new py_new[PY_NEW_MAX];
	size_t py_nnew;
	bool py_new_lost;		/* more than py_new holds: read every stack */
	struct ksym *ksym;		/* --kernel's names */
	struct report_stack *scratch;	/* one process's stacks */
	size_t capscratch;
	struct frame *kframes;
	size_t capkframes;
	struct report_mapping *maps;
	size_t nmaps, capmaps;
	struct py_trace *pt;		/* read buffer */
	struct symcache symbols;	/* every process's resolved addresses, by build-id */
	bool quiet;			/* scanning the host: said in one line after */
	/* what the last report's frames may point into (a process that
	 * exited, an interpreter gone at exec): freed when the next report
	 * is symbolized, not before (the sink keeps the last report) */
	struct proc **retired;
	size_t nretired, capretired;
	bool drop_due;			/* exited entries to free at the next report */
	uint32_t unw_pool_full;		/* unwind tables that did not fit, as last said */
	uint32_t unw_procs_full;
};

struct procs *procs__new(const struct procs_config *c)
{
	struct procs *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->c = *c;
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

/* release: mid-trace, the keeper lets go of the links too (at the end
 * it closes everything at once). */
static void python_drop_links(struct proc *pr, bool release)
{
	if (pr->py_hold && release)
		keeper__release(bpf_link__fd(pr->py_hold));
	bpf_link__destroy(pr->py_hold);
	pr->py_hold = NULL;
	if (release)
		attach__release(pr->pymalloc);
	else
		attach__free(pr->pymalloc);
	pr->pymalloc = NULL;
}

static void python_drop(struct procs *p, struct proc *pr, bool release)
{
	if (pr->gc) {
		pygc__detach(pr->gc);
		free(pr->gc);
		pr->gc = NULL;
	}
	python_drop_links(pr, release);
	pysym__free(pr->pysym);
	pr->pysym = NULL;
	free(pr->py);
	pr->py = NULL;
}

static void proc_free(struct procs *p, struct proc *pr, bool release)
{
	python_drop(p, pr, release);
	if (release)
		attach__release(pr->probes);
	else
		attach__free(pr->probes);
	symbolizer__free(pr->sym);
	free(pr);
}

static struct proc *find(const struct procs *p, pid_t pid)
{
	struct stack_key k = timeline__proc_key(pid);
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

static const struct cgroup_labels *labels_of(struct proc *pr)
{
	if (!pr->labels_read && !pr->gone) {
		cgroup__read(pr->pid, PODS_DIR, &pr->labels);
		pr->labels_read = true;
	}
	return &pr->labels;
}

static struct symbolizer *sym_of(struct procs *p, struct proc *pr);

/* pid's entry, made if new.  NULL on ENOMEM. */
static struct proc *get(struct procs *p, pid_t pid, bool named)
{
	struct stack_key k = timeline__proc_key(pid);
	struct proc *pr = find(p, pid);
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

struct proc *procs__add(struct procs *p, pid_t pid, bool named)
{
	struct proc *pr = get(p, pid, named);

	if (!pr)
		return NULL;
	pr->target = true;
	labels_of(pr);
	if (named)		/* read now: it may exit before any event */
		sym_of(p, pr);
	return pr;
}

const struct py_target *procs__python(const struct proc *pr)
{
	return pr->py;
}

void procs__set_held(struct procs *p, struct proc *pr)
{
	pr->held = true;
}

/* The symbolizer of a process, read from its maps when made. */
static struct symbolizer *sym_of(struct procs *p, struct proc *pr)
{
	if (!pr->sym) {
		pr->sym = symbolizer__new_shared(pr->named ? pr->pid : getpid(), &p->symbols);
		pr->sym_named = pr->named;
		if (pr->sym && pr->named)
			symbolizer__refresh(pr->sym);
		pr->sym_dirty = false;
	}
	return pr->sym;
}

/* ---- interpreters ------------------------------------------------------ */

static void say_python(const struct procs *p, const struct proc *pr)
{
	if (p->quiet)
		return;
	if (p->c.several && pr->py->status != PY_NONE)
		fprintf(stderr, "leakscope: PID %d (%s): ", pr->pid, pr->comm);
	if (p->c.several && pr->py->status == PY_SUPPORTED) {
		char ver[32];

		python__version_str(pr->py, ver, sizeof(ver));
		fprintf(stderr, "Python %s (%s): Python frames in every stack\n", ver,
			pr->py->module);
		return;
	}
	if (p->c.several && pr->py->status == PY_UNSUPPORTED) {
		fprintf(stderr, "%s (%s); native stacks only\n", pr->py->why, pr->py->module);
		return;
	}
	python__announce(pr->py);
}

/* The interpreter's gc__start/gc__done USDT probes, if it has them. */
static void python_gc(struct procs *p, struct proc *pr)
{
	pr->gc = calloc(1, sizeof(*pr->gc));
	if (pr->gc && !pygc__attach(pr->gc, p->c.trace, pr->pid, pr->py->open_path))
		return;
	free(pr->gc);
	pr->gc = NULL;
	if (!p->c.several)
		fprintf(stderr, "leakscope: no gc__start/gc__done USDT probes in %s "
			"(built without --with-dtrace): no GC statistics\n", pr->py->module);
}

/* A held child: held again as the interpreter begins to finalize, to
 * read the code objects finalization frees. */
static void python_hold(struct procs *p, struct proc *pr)
{
	struct bpf_program *prog = trace__prog(p->c.trace, "python_finalize");
	uint64_t off = 0, size;
	struct elfsym *e;

	if (!pr->held || !prog)	/* refused by this kernel: said at load */
		return;
	/* the function's entry: its symbol's own address, read by elfsym
	 * (pread; libbpf's lookup by name would map the file) */
	e = elfsym__open(pr->py->open_path);
	if (e && !elfsym__func(e, "Py_FinalizeEx", &off, &size))
		pr->py_hold = bpf_program__attach_uprobe(prog, false, pr->pid,
							 pr->py->open_path, off);
	elfsym__close(e);
	if (pr->py_hold)
		keeper__hold(bpf_link__fd(pr->py_hold));
	else
		fprintf(stderr, "leakscope: no Py_FinalizeEx in %s: leaks made just before "
			"the interpreter exits may show \"??\"\n", pr->py->module);
}

/* --pymalloc: the interpreter's object allocator, for this process. */
static void python_pymalloc(struct procs *p, struct proc *pr)
{
	struct cpython_elf py = { .path = pr->py->open_path, .name = pr->py->module };

	pr->pymalloc = prober__pymalloc(p->c.prober, &py, pr->pid);
}

void procs__look_python(struct procs *p, struct proc *pr)
{
	pr->look_python = false;
	pr->python_looked = true;
	if (!p->c.python || (pr->py && pr->py->status != PY_NONE) || !pr->named)
		return;
	if (!pr->py && !(pr->py = calloc(1, sizeof(*pr->py))))
		return;
	python__detect(pr->pid, pr->py);
	if (pr->py->status == PY_SUPPORTED &&
	    (python__push(trace__map_fd(p->c.trace, TRACE_MAP_PY_CONFIG), pr->pid, pr->py) ||
	     !(pr->pysym = pysym__new(pr->pid, pr->py))))
		pr->py->status = PY_UNSUPPORTED;
	say_python(p, pr);
	if (pr->py->status != PY_SUPPORTED)
		return;
	python_gc(p, pr);
	python_hold(p, pr);
	if (p->c.pymalloc)
		python_pymalloc(p, pr);
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

	if (pr && !pr->gone && pr->named && (!pr->py || pr->py->status == PY_NONE))
		procs__look_python(p, pr);
}

void procs__say_pythons(struct procs *p)
{
	int shown = 0, n = 0;

	p->quiet = false;	/* processes found from now on: a line each */
	for (size_t i = 0; i < p->n; i++)
		n += p->v[i]->py && p->v[i]->py->status == PY_SUPPORTED;
	if (n)
		fprintf(stderr, "leakscope: Python frames in every stack of %d process%s:", n,
			n == 1 ? "" : "es");
	for (size_t i = 0; i < p->n && n; i++) {
		const struct proc *pr = p->v[i];
		char ver[32];

		if (!pr->py || pr->py->status != PY_SUPPORTED)
			continue;
		if (shown++ == 8) {
			fprintf(stderr, " ...");
			break;
		}
		python__version_str(pr->py, ver, sizeof(ver));
		fprintf(stderr, "%s PID %d (%s, Python %s)", shown > 1 ? "," : "", pr->pid,
			pr->comm, ver);
	}
	if (n)
		fputc('\n', stderr);
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->py && p->v[i]->py->status == PY_UNSUPPORTED)
			fprintf(stderr, "leakscope: PID %d (%s): %s (%s); native stacks only\n",
				p->v[i]->pid, p->v[i]->comm, p->v[i]->py->why, p->v[i]->py->module);
}

/* ---- events ------------------------------------------------------------ */

static void gone(struct procs *p, pid_t pid)
{
	if (p->ngone == p->capgone) {
		size_t cap = p->capgone ? 2 * p->capgone : 1024;
		pid_t *v = realloc(p->gone, cap * sizeof(*v));

		if (!v)
			return;		/* found again by the report's check */
		p->gone = v;
		p->capgone = cap;
	}
	p->gone[p->ngone++] = pid;
}

static void on_exit_event(struct procs *p, pid_t pid)
{
	struct proc *pr = find(p, pid);

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
		pr = find(p, ev->tgid);
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
		pr = find(p, ev->tgid);
		if (pr && pr->gc && len >= sizeof(struct gc_event))
			pygc__event(pr->gc, data);
		break;
	case EV_PY_STACK:
		on_py_stack(p, data, len);
		break;
	case EV_PY_FINALIZE:	/* held: every stack read */
		p->py_new_lost = true;
		break;
	}
}

/* An entry holding what a report may still point at, freed at the next
 * report (procs__symbolize); out of memory: freed now, as before. */
static void retire(struct procs *p, struct proc *old)
{
	if (p->nretired == p->capretired) {
		size_t cap = p->capretired ? 2 * p->capretired : 16;
		struct proc **v = realloc(p->retired, cap * sizeof(*v));

		if (!v) {
			proc_free(p, old, true);
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
	if (pr->gc)		/* its probes go now; its numbers stay a while */
		pygc__detach(pr->gc);
	if (old) {		/* the interpreter's reader and statistics */
		old->pid = pr->pid;
		old->py = pr->py;
		old->pysym = pr->pysym;
		old->gc = pr->gc;
		/* made before the exec, of leakscope's own maps (-- CMD):
		 * the process's own from now on */
		if (pr->sym && !pr->sym_named) {
			old->sym = pr->sym;
			pr->sym = NULL;
		}
		pr->py = NULL;
		pr->pysym = NULL;
		pr->gc = NULL;
		retire(p, old);
	}
	python_drop(p, pr, true);	/* probes; BPF dropped its layout itself */
	pr->python_looked = false;
	if (pr->sym)
		symbolizer__reset(pr->sym);
}

static void flush_one(struct procs *p, struct proc *pr)
{
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
	if (pr->look_python && (!p->c.python_hint_only || looks_like_python(pr)))
		procs__look_python(p, pr);
	pr->look_python = false;
}

/* Syncs the tables the events asked for; says so once when tables stop
 * fitting (the walk falls back to frame pointers there). */
static void unwind_flush(struct procs *p)
{
	struct unwinder_stats st;

	unwinder__flush(p->c.unw);
	unwinder__stats(p->c.unw, &st);
	if (st.pool_full > p->unw_pool_full || st.procs_full > p->unw_procs_full)
		fprintf(stderr, "leakscope: unwind tables full: %u binaries left out (raise "
			"--unwind-rows), %u processes without a mapping table; their stacks "
			"are walked by frame pointer\n", st.pool_full, st.procs_full);
	p->unw_pool_full = st.pool_full;
	p->unw_procs_full = st.procs_full;
}

void procs__flush(struct procs *p)
{
	if (p->c.unw)
		unwind_flush(p);
	if (!p->dirty)
		return;
	p->dirty = false;
	for (size_t i = 0; i < p->n; i++)
		flush_one(p, p->v[i]);
}

/* ---- Python code objects ------------------------------------------------ */

static void prefetch_stack(struct procs *p, pid_t pid, uint64_t id)
{
	struct proc *pr = find(p, pid);
	int fd = trace__map_fd(p->c.trace, TRACE_MAP_PY_STACKS);

	if (!pr || !pr->pysym || bpf_map_lookup_elem(fd, &id, p->pt))
		return;
	for (__u32 i = 0; i < p->pt->nr && i < MAX_PY_DEPTH; i++)
		pysym__prefetch(pr->pysym, &p->pt->f[i]);
}

void procs__refresh(struct procs *p, pid_t pid)
{
	struct proc *pr = find(p, pid);

	if (pr && pr->named && sym_of(p, pr))
		symbolizer__refresh(pr->sym);
}

bool procs__prefetch_due(const struct procs *p)
{
	return p->py_nnew || p->py_new_lost;
}

bool procs__prefetch_all_due(const struct procs *p)
{
	return p->py_new_lost;
}

void procs__prefetch(struct procs *p, const struct snapshot *snap, bool all)
{
	for (size_t i = 0; i < p->py_nnew; i++)
		prefetch_stack(p, p->py_new[i].pid, p->py_new[i].id);
	if ((all || p->py_new_lost) && snap)
		for (size_t i = 0; i < snap->n; i++)
			if (snap->v[i].key.id != STACK_ID_LOST)
				prefetch_stack(p, snap->v[i].key.tgid, snap->v[i].key.id);
	p->py_nnew = 0;
	p->py_new_lost = false;
}

/* ---- exits ---------------------------------------------------------------- */

size_t procs__ngone(const struct procs *p)
{
	return p->ngone;
}

/* The entries of processes that exited are freed; the index rebuilt. */
static void drop_gone(struct procs *p)
{
	size_t kept = 0;

	stacktab__clear(&p->index);
	for (size_t i = 0; i < p->n; i++) {
		struct stack_key k = timeline__proc_key(p->v[i]->pid);
		int64_t *idx;

		if (p->v[i]->gone) {
			proc_free(p, p->v[i], true);
			continue;
		}
		p->v[kept] = p->v[i];
		idx = stacktab__upsert(&p->index, &k, kept);
		if (idx)
			kept++;
		else	/* ENOMEM: not findable any more; freed now */
			proc_free(p, p->v[i], true);
	}
	p->n = kept;
}

int procs__forget_gone(struct procs *p)
{
	int err;

	if (!p->ngone)
		return 0;
	err = trace__forget(p->c.trace, p->gone, p->ngone);
	p->ngone = 0;
	p->drop_due = true;	/* their entries: at the next report */
	return err;
}

/* Frees what the previous report could point into: retired entries,
 * those of processes that exited. */
static void drop_retired(struct procs *p)
{
	while (p->nretired)
		proc_free(p, p->retired[--p->nretired], true);
	if (p->drop_due)
		drop_gone(p);
	p->drop_due = false;
}

/* ---- the symbolize stage ------------------------------------------------ */

/* Every kernel stack of r, from index i on: kallsyms names. */
static int kernel_frames(struct procs *p, struct report *r, size_t i)
{
	size_t need = 0, used = 0;

	if (!p->ksym)
		p->ksym = ksym__load();
	for (size_t j = i; j < r->nstacks; j++)
		if (!r->stacks[j].key.tgid)
			need += r->stacks[j].nips;
	if (need > p->capkframes) {
		struct frame *v = realloc(p->kframes, need * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->kframes = v;
		p->capkframes = need;
	}
	for (size_t j = i; j < r->nstacks; j++) {
		struct report_stack *s = &r->stacks[j];

		if (s->key.tgid)
			continue;
		s->frames = p->kframes + used;
		s->nframes = s->nips;
		for (int f = 0; f < s->nips; f++)
			ksym__resolve(p->ksym, s->ips[f], &s->frames[f]);
		used += s->nips;
		s->comm = "[kernel]";
	}
	return 0;
}

static int add_mapping(struct procs *p, struct stacktab *seen, pid_t pid,
		       const struct module_info *mi)
{
	struct stack_key k = { .tgid = pid, .id = mi->start };
	int64_t *slot = stacktab__upsert(seen, &k, -1);

	if (!slot)
		return -ENOMEM;
	if (*slot >= 0)
		return 0;
	if (p->nmaps == p->capmaps) {
		size_t cap = p->capmaps ? 2 * p->capmaps : 64;
		struct report_mapping *v = realloc(p->maps, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->maps = v;
		p->capmaps = cap;
	}
	*slot = p->nmaps;
	p->maps[p->nmaps].pid = pid;
	p->maps[p->nmaps].start = mi->start;
	p->maps[p->nmaps].end = mi->end;
	p->maps[p->nmaps].path = mi->path;
	snprintf(p->maps[p->nmaps].build_id, sizeof(p->maps[0].build_id), "%s", mi->build_id);
	p->nmaps++;
	return 0;
}

/* The mappings the native frames of one process's stacks are in. */
static int list_mappings(struct procs *p, struct stacktab *seen, struct symbolizer *sym,
			 pid_t pid, const struct report *sub)
{
	struct module_info mi;
	int err = 0;

	for (size_t i = 0; i < sub->nstacks && !err; i++)
		for (int f = 0; f < sub->stacks[i].nframes && !err; f++) {
			const struct frame *fr = &sub->stacks[i].frames[f];

			if (!fr->python && fr->addr && !symbolizer__module(sym, fr->addr, &mi))
				err = add_mapping(p, seen, pid, &mi);
		}
	return err;
}

static const char *comm_of(const struct report *r, const struct proc *pr)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pr->pid)
			return r->procs[i].comm;
	return pr->comm;
}

/* The stacks of pr in r (from index i on): frames, Python frames,
 * mappings. */
static int symbolize_proc(struct procs *p, struct proc *pr, struct report *r, size_t i,
			  struct stacktab *seen)
{
	struct report sub = { .pid = pr->pid, .stacks = p->scratch };
	struct symbolizer *sym = sym_of(p, pr);
	size_t k = 0;
	int err;

	if (!sym)
		return -ENOMEM;
	if (pr->sym_dirty && pr->named && !pr->gone) {
		symbolizer__refresh(sym);
		pr->sym_dirty = false;
	}
	for (size_t j = i; j < r->nstacks; j++)
		if ((pid_t)r->stacks[j].key.tgid == pr->pid)
			p->scratch[k++] = r->stacks[j];
	sub.nstacks = k;
	err = symbolizer__report(sym, &sub);
	if (!err)
		err = list_mappings(p, seen, sym, pr->pid, &sub);
	if (!err && pr->pysym)
		err = pysym__report(pr->pysym, &sub, p->c.python_only);
	if (err)
		return err;
	k = 0;
	for (size_t j = i; j < r->nstacks; j++) {
		if ((pid_t)r->stacks[j].key.tgid != pr->pid)
			continue;
		r->stacks[j].frames = p->scratch[k].frames;
		r->stacks[j].nframes = p->scratch[k++].nframes;
		r->stacks[j].comm = comm_of(r, pr);
	}
	return 0;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct report_mapping *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Names and labels of the processes of r; those found gone are forgotten
 * from the next second on (their exit event was lost).  Any without an
 * interpreter looked for is looked at now (an embedded Python). */
static void name_procs(struct procs *p, struct report *r)
{
	for (size_t i = 0; i < r->nprocs; i++) {
		struct report_proc *rp = &r->procs[i];
		struct proc *pr;

		if (rp->pid == 0) {
			snprintf(rp->comm, sizeof(rp->comm), "[kernel]");
			continue;
		}
		pr = get(p, rp->pid, true);
		if (!pr) {
			snprintf(rp->comm, sizeof(rp->comm), "?");
			continue;
		}
		memcpy(rp->comm, pr->comm, sizeof(rp->comm));
		rp->labels = *labels_of(pr);
		if (!pr->gone && kill(rp->pid, 0) && errno == ESRCH)
			on_exit_event(p, rp->pid);
		else if (!pr->gone && !pr->python_looked)
			procs__look_python(p, pr);
	}
}

static int symbolize_all(struct procs *p, struct report *r, struct stacktab *seen)
{
	for (size_t i = 0; i < r->nstacks; i++)
		r->stacks[i].nframes = -1;	/* not done yet */
	for (size_t i = 0; i < r->nstacks; i++) {
		pid_t pid = r->stacks[i].key.tgid;
		struct proc *pr;
		int err;

		if (r->stacks[i].nframes >= 0)
			continue;
		if (pid == 0) {		/* the kernel (--kernel) */
			err = kernel_frames(p, r, i);
		} else {
			pr = get(p, pid, true);
			err = pr ? symbolize_proc(p, pr, r, i, seen) : -ENOMEM;
		}
		if (err)
			return err;
	}
	return 0;
}

/* A report of one process: its name, service, interpreter. */
static void describe_one(struct procs *p, struct report *r)
{
	struct proc *pr = find(p, r->pid);

	if (!pr)
		return;
	if (!pr->gone && pr->named)
		target__comm(pr->pid, pr->comm, sizeof(pr->comm));
	memcpy(r->comm, pr->comm, sizeof(r->comm));
	r->labels = *labels_of(pr);
	if (pr->pysym) {
		python__version_str(pr->py, r->python, sizeof(r->python));
		r->gc = pr->gc ? &pr->gc->st : NULL;
	}
}

int procs__symbolize(struct procs *p, struct report *r)
{
	struct stacktab seen;
	int err;

	if (r->nstacks > p->capscratch) {
		struct report_stack *v = realloc(p->scratch, r->nstacks * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->scratch = v;
		p->capscratch = r->nstacks;
	}
	if (stacktab__init(&seen, 64))
		return -ENOMEM;
	drop_retired(p);	/* the last report is being replaced */
	p->nmaps = 0;
	if (r->pid)
		describe_one(p, r);
	else
		name_procs(p, r);
	err = symbolize_all(p, r, &seen);
	stacktab__free(&seen);
	qsort(p->maps, p->nmaps, sizeof(*p->maps), cmp_mapping);
	r->mappings = p->maps;
	r->nmappings = p->nmaps;
	return err;
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
		     (p->v[i]->pymalloc ? attach__count(p->v[i]->pymalloc) : 0);
	return n;
}

void procs__free(struct procs *p)
{
	if (!p)
		return;
	while (p->nretired)
		proc_free(p, p->retired[--p->nretired], false);
	free(p->retired);
	for (size_t i = p->n; i > 0; i--)	/* probes: in reverse */
		proc_free(p, p->v[i - 1], false);
	free(p->v);
	stacktab__free(&p->index);
	free(p->gone);
	ksym__free(p->ksym);
	free(p->scratch);
	free(p->kframes);
	free(p->maps);
	free(p->pt);
	symcache__free(&p->symbols);	/* after every symbolizer */
	free(p);
}
