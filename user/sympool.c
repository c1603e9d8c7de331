/* sympool.c - symbolizers for the processes of a system-wide report,
 * created when a process first has a stack among the reported ones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ksym.h"
#include "symbolize.h"
#include "sympool.h"

static int slot_of(const struct sympool *p, pid_t pid)
{
	for (int i = 0; i < p->n; i++)
		if (p->pid[i] == pid)
			return i;
	return -1;
}

void sympool__exit(struct sympool *p, pid_t pid)
{
	int i = slot_of(p, pid);

	if (i < 0)
		return;
	symbolizer__free(p->sym[i]);
	p->n--;
	p->pid[i] = p->pid[p->n];
	p->sym[i] = p->sym[p->n];
}

void sympool__exec(struct sympool *p, pid_t pid)
{
	sympool__exit(p, pid);	/* a new image: start afresh when needed */
}

void sympool__refresh(struct sympool *p, pid_t pid)
{
	int i = slot_of(p, pid);

	if (i >= 0)
		symbolizer__refresh(p->sym[i]);
}

struct symbolizer *sympool__get(struct sympool *p, pid_t pid)
{
	int i = slot_of(p, pid);

	if (i >= 0)
		return p->sym[i];
	if (p->n == SYMPOOL_MAX)	/* many processes: start over */
		while (p->n)
			sympool__exit(p, p->pid[0]);
	p->sym[p->n] = symbolizer__new(pid);
	if (!p->sym[p->n])
		return NULL;
	symbolizer__refresh(p->sym[p->n]);
	p->pid[p->n] = pid;
	return p->sym[p->n++];
}

static const char *comm_of(const struct report *r, pid_t pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return r->procs[i].comm;
	return "?";
}

/* Every kernel stack of r, from index i on: kallsyms names. */
static int kernel_frames(struct sympool *p, struct report *r, size_t i)
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

int sympool__report(struct sympool *p, struct report *r)
{
	if (r->nstacks > p->capscratch) {
		struct report_stack *v = realloc(p->scratch, r->nstacks * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->scratch = v;
		p->capscratch = r->nstacks;
	}
	for (size_t i = 0; i < r->nstacks; i++)
		r->stacks[i].nframes = -1;	/* not done yet */
	for (size_t i = 0; i < r->nstacks; i++) {
		pid_t pid = r->stacks[i].key.tgid;
		struct report sub = { .pid = pid, .stacks = p->scratch };
		struct symbolizer *sym;
		size_t k = 0;
		int err;

		if (r->stacks[i].nframes >= 0)
			continue;
		if (pid == 0) {		/* the kernel (--kernel) */
			int err = kernel_frames(p, r, i);

			if (err)
				return err;
			continue;
		}
		for (size_t j = i; j < r->nstacks; j++)	/* this process's stacks */
			if ((pid_t)r->stacks[j].key.tgid == pid)
				p->scratch[k++] = r->stacks[j];
		sub.nstacks = k;
		sym = sympool__get(p, pid);
		if (!sym)
			return -ENOMEM;
		err = symbolizer__report(sym, &sub);
		if (err)
			return err;
		k = 0;
		for (size_t j = i; j < r->nstacks; j++) {
			if ((pid_t)r->stacks[j].key.tgid != pid)
				continue;
			r->stacks[j].frames = p->scratch[k].frames;
			r->stacks[j].nframes = p->scratch[k++].nframes;
			r->stacks[j].comm = comm_of(r, pid);
		}
	}
	return 0;
}

void sympool__free(struct sympool *p)
{
	while (p->n)
		sympool__exit(p, p->pid[0]);
	free(p->scratch);
	p->scratch = NULL;
	free(p->kframes);
	p->kframes = NULL;
	p->capkframes = 0;
	ksym__free(p->ksym);
	p->ksym = NULL;
	p->capscratch = 0;
}
