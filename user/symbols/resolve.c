/* resolve.c - the resolve stage of a report (see resolve.h).  Cost: the
 * top N stacks' frames (cached by build-id across processes and reports)
 * plus, per process, what its symbolizer has not read yet.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/stacktab.h"
#include "procs/procs.h"
#include "python/pygc.h"
#include "python/pyproc.h"
#include "python/pysym.h"
#include "python/python.h"
#include "report/site.h"
#include "symbols/ksym.h"
#include "symbols/resolve.h"
#include "symbols/symbolize.h"

struct resolver {
	struct procs *procs;
	struct resolve_config c;
	const char *alloc_modules[2];	/* site.h's list: --obj, NULL */
	struct ksym *ksym;		/* --kernel's names, loaded when first needed */
	struct report_stack *scratch;	/* one process's stacks */
	size_t capscratch;
	struct frame *kframes;
	size_t capkframes;
	struct report_mapping *maps;
	size_t nmaps, capmaps;
};

struct resolver *resolver__new(struct procs *p, const struct resolve_config *c)
{
	struct resolver *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->procs = p;
	rs->c = *c;
	rs->alloc_modules[0] = c->alloc_module;
	return rs;
}

void resolver__free(struct resolver *rs)
{
	if (!rs)
		return;
	ksym__free(rs->ksym);
	free(rs->scratch);
	free(rs->kframes);
	free(rs->maps);
	free(rs);
}

/* Every kernel stack of r, from index i on: kallsyms names. */
static int kernel_frames(struct resolver *rs, struct report *r, size_t i)
{
	size_t need = 0, used = 0;

	if (!rs->ksym)
		rs->ksym = ksym__load();
	for (size_t j = i; j < r->nstacks; j++)
		if (!r->stacks[j].key.tgid)
			need += r->stacks[j].nips;
	if (need > rs->capkframes) {
		struct frame *v = realloc(rs->kframes, need * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->kframes = v;
		rs->capkframes = need;
	}
	for (size_t j = i; j < r->nstacks; j++) {
		struct report_stack *s = &r->stacks[j];

		if (s->key.tgid)
			continue;
		s->frames = rs->kframes + used;
		s->nframes = s->nips;
		for (int f = 0; f < s->nips; f++)
			ksym__resolve(rs->ksym, s->ips[f], &s->frames[f]);
		used += s->nips;
		s->comm = "[kernel]";
	}
	return 0;
}

static int add_mapping(struct resolver *rs, struct stacktab *seen, pid_t pid,
		       const struct module_info *mi)
{
	struct stack_key k = { .tgid = pid, .id = mi->start };
	int64_t *slot = stacktab__upsert(seen, &k, -1);

	if (!slot)
		return -ENOMEM;
	if (*slot >= 0)
		return 0;
	if (rs->nmaps == rs->capmaps) {
		size_t cap = rs->capmaps ? 2 * rs->capmaps : 64;
		struct report_mapping *v = realloc(rs->maps, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->maps = v;
		rs->capmaps = cap;
	}
	*slot = rs->nmaps;
	rs->maps[rs->nmaps].pid = pid;
	rs->maps[rs->nmaps].start = mi->start;
	rs->maps[rs->nmaps].end = mi->end;
	rs->maps[rs->nmaps].path = mi->path;
	snprintf(rs->maps[rs->nmaps].build_id, sizeof(rs->maps[0].build_id), "%s", mi->build_id);
	rs->nmaps++;
	return 0;
}

/* The mappings the native frames of one process's stacks are in. */
static int list_mappings(struct resolver *rs, struct stacktab *seen, struct symbolizer *sym,
			 pid_t pid, const struct report *sub)
{
	struct module_info mi;
	int err = 0;

	for (size_t i = 0; i < sub->nstacks && !err; i++)
		for (int f = 0; f < sub->stacks[i].nframes && !err; f++) {
			const struct frame *fr = &sub->stacks[i].frames[f];

			if (!fr->python && fr->addr && !symbolizer__module(sym, fr->addr, &mi))
				err = add_mapping(rs, seen, pid, &mi);
		}
	return err;
}

static const char *comm_of(const struct report *r, struct proc *pr)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == proc__pid(pr))
			return r->procs[i].comm;
	return proc__comm(pr, false);
}

/* The stacks of pr in r (from index i on): frames, Python frames,
 * mappings. */
static int resolve_proc(struct resolver *rs, struct proc *pr, struct report *r, size_t i,
			struct stacktab *seen)
{
	pid_t pid = proc__pid(pr);
	struct report sub = { .pid = pid, .stacks = rs->scratch };
	struct symbolizer *sym = proc__symbolizer(rs->procs, pr);
	struct pysym *pysym = proc__python(pr)->pysym;
	size_t k = 0;
	int err;

	if (!sym)
		return -ENOMEM;
	for (size_t j = i; j < r->nstacks; j++)
		if ((pid_t)r->stacks[j].key.tgid == pid)
			rs->scratch[k++] = r->stacks[j];
	sub.nstacks = k;
	err = symbolizer__report(sym, &sub);
	if (!err)
		err = list_mappings(rs, seen, sym, pid, &sub);
	if (!err && pysym)
		err = pysym__report(pysym, &sub, rs->c.python_only);
	if (err)
		return err;
	k = 0;
	for (size_t j = i; j < r->nstacks; j++) {
		if ((pid_t)r->stacks[j].key.tgid != pid)
			continue;
		r->stacks[j].frames = rs->scratch[k].frames;
		r->stacks[j].nframes = rs->scratch[k++].nframes;
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

/* Names and labels of the processes of r.  One found gone (its exit
 * event was lost), or one whose interpreter was never looked for (an
 * embedded Python), is marked for the table's next flush. */
static void name_procs(struct resolver *rs, struct report *r)
{
	for (size_t i = 0; i < r->nprocs; i++) {
		struct report_proc *rp = &r->procs[i];
		struct proc *pr;

		if (rp->pid == 0) {
			snprintf(rp->comm, sizeof(rp->comm), "[kernel]");
			continue;
		}
		pr = procs__entry(rs->procs, rp->pid);
		if (!pr) {
			snprintf(rp->comm, sizeof(rp->comm), "?");
			continue;
		}
		memcpy(rp->comm, proc__comm(pr, false), sizeof(rp->comm));
		rp->labels = *proc__labels(pr);
		if (!proc__gone(pr) && kill(rp->pid, 0) && errno == ESRCH)
			procs__mark_gone(rs->procs, pr);
		else if (!proc__gone(pr))
			procs__mark_python(rs->procs, pr);
	}
}

static int resolve_all(struct resolver *rs, struct report *r, struct stacktab *seen)
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
			err = kernel_frames(rs, r, i);
		} else {
			pr = procs__entry(rs->procs, pid);
			err = pr ? resolve_proc(rs, pr, r, i, seen) : -ENOMEM;
		}
		if (err)
			return err;
	}
	return 0;
}

/* A report of one process: its name, service, interpreter. */
static void describe_one(struct resolver *rs, struct report *r)
{
	struct proc *pr = procs__find(rs->procs, r->pid);
	const struct pyproc *py;

	if (!pr)
		return;
	memcpy(r->comm, proc__comm(pr, true), sizeof(r->comm));
	r->labels = *proc__labels(pr);
	py = proc__python(pr);
	if (py->pysym) {
		python__version_str(py->py, r->python, sizeof(r->python));
		r->gc = py->gc ? pygc__stats(py->gc) : NULL;	/* the median: now */
	}
}

int resolver__report(struct resolver *rs, struct report *r)
{
	struct stacktab seen;
	int err;

	if (r->nstacks > rs->capscratch) {
		struct report_stack *v = realloc(rs->scratch, r->nstacks * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->scratch = v;
		rs->capscratch = r->nstacks;
	}
	if (stacktab__init(&seen, 64))
		return -ENOMEM;
	procs__new_report(rs->procs);	/* the last report is being replaced */
	rs->nmaps = 0;
	if (r->pid)
		describe_one(rs, r);
	else
		name_procs(rs, r);
	err = resolve_all(rs, r, &seen);
	stacktab__free(&seen);
	qsort(rs->maps, rs->nmaps, sizeof(*rs->maps), cmp_mapping);
	r->mappings = rs->maps;
	r->nmappings = rs->nmaps;
	if (!err)
		site__mark(r, rs->alloc_modules);
	return err;
}
