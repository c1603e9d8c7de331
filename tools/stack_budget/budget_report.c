/* budget_report.c - the stack budget report: each program's worst call
 * chain against the budget, one line each, for the build log and for
 * build/leakscope.budget.  Reads a struct budget (budget.c) and prints
 * only to the FILE it is given.
 */
#include <stdio.h>
#include <string.h>

#include "budget.h"

static void print_chain(const struct budget *b, const struct budget_chain *c,
			FILE *out)
{
	for (size_t i = 0; i < c->nframes; i++)
		fprintf(out, "%s%s %d", i ? " + " : "",
			budget__func(b, c->func[i])->name, c->frame_bytes[i]);
}

/* -v: every function, its frame and whom it calls. */
static void print_functions(const struct budget *b, const struct budget_opts *o,
			    FILE *out)
{
	fprintf(out, "functions (depth: deepest stack byte used; frame: as "
		"counted, rounded to %d):\n", o->round);
	for (size_t i = 0; i < budget__count(b); i++) {
		const struct budget_func *f = budget__func(b, i);

		fprintf(out, "  %-24s %-14.14s depth %3d frame %3d%s", f->name,
			f->section, f->depth_bytes,
			budget__frame_bytes(f->depth_bytes, o->round),
			f->ncallees ? "  calls" : "");
		for (size_t k = 0; k < f->ncallees; k++)
			fprintf(out, " %s", budget__func(b, f->callees[k])->name);
		fprintf(out, "\n");
	}
}

/* --first-over: the chain the verifier would name when refusing. */
static void print_first_over(const struct budget *b, size_t i,
			     const struct budget_opts *o, FILE *out)
{
	struct budget_chain c;
	char err[256];

	if (budget__first_over(b, i, o->round, o->first_over, &c, err,
			       sizeof(err)) <= 0)
		return;
	fprintf(out, "        verifier walk: combined stack size of %zu calls is %d (",
		c.nframes, c.total_bytes);
	print_chain(b, &c, out);
	fprintf(out, ")\n");
}

/* One program's line.  1 if it is over budget or its graph is refused. */
static int report_program(const struct budget *b, size_t i,
			  const struct budget_opts *o, int width, FILE *out)
{
	const char *name = budget__func(b, i)->name;
	struct budget_chain c;
	char err[512];
	int over;

	if (budget__worst_chain(b, i, o->round, &c, err, sizeof(err))) {
		fprintf(out, "  FAIL  %-*s %s\n", width, name, err);
		return 1;
	}
	over = c.total_bytes > o->budget_bytes;
	fprintf(out, "  %-4s  %-*s %4d = ", over ? "OVER" : "ok", width, name,
		c.total_bytes);
	print_chain(b, &c, out);
	fprintf(out, "\n");
	if (o->first_over)
		print_first_over(b, i, o, out);
	return over;
}

static int name_width(const struct budget *b)
{
	size_t w = 0;

	for (size_t i = 0; i < budget__count(b); i++) {
		const struct budget_func *f = budget__func(b, i);

		if (f->entry && strlen(f->name) > w)
			w = strlen(f->name);
	}
	return w > 40 ? 40 : (int)w;
}

int budget__report(const struct budget *b, const struct budget_opts *o, FILE *out)
{
	int width = name_width(b), over = 0, programs = 0;

	if (budget__frame_bytes(0, o->round) < 0)
		return -1;
	if (o->verbose)
		print_functions(b, o, out);
	fprintf(out, "%s: worst stack chain of each program, frames rounded up "
		"to %d bytes, budget %d bytes\n", o->label ? o->label : "object",
		o->round, o->budget_bytes);
	for (size_t i = 0; i < budget__count(b); i++) {
		if (!budget__func(b, i)->entry)
			continue;
		programs++;
		over += report_program(b, i, o, width, out);
	}
	if (!over)
		fprintf(out, "ok: %d programs within %d bytes\n", programs,
			o->budget_bytes);
	else
		fprintf(out, "FAIL: %d of %d programs over the %d-byte stack budget: "
			"move big locals to per-CPU scratch maps or shorten the "
			"chain (issue 21); -v lists every function's frame\n",
			over, programs, o->budget_bytes);
	return over;
}
