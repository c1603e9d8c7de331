/* report_folded.c - the folded-stack format of flame graph tools:
 * `root;caller;...;leaf VALUE`, one line per stack, integer values.
 * A frame without a function name is shown as [module] or ??; a ';' in
 * a name (never in C, possible in demangled C++) becomes ':' so that it
 * cannot split a frame. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_folded.h"

struct line {
	char *stack;
	int64_t bytes;
};

static void put_frame(FILE *f, const struct frame *fr)
{
	const char *name = fr->function, *base;

	if (!name && !fr->module) {
		fputs("??", f);
		return;
	}
	if (!name) {
		base = strrchr(fr->module, '/');
		fprintf(f, "[%s]", base ? base + 1 : fr->module);
		return;
	}
	for (; *name; name++)
		putc(*name == ';' ? ':' : *name, f);
}

static char *folded_stack(const struct report_stack *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (!s->nframes)
		fputs(s->key.id == STACK_ID_LOST ? "[stack lost]" : "??", f);
	for (int i = s->nframes - 1; i >= 0; i--) {
		put_frame(f, &s->frames[i]);
		if (i)
			putc(';', f);
	}
	fclose(f);
	return buf;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->stack, ((const struct line *)b)->stack);
}

int report_folded__print(FILE *out, const struct report *r)
{
	struct line *lines = calloc(r->nstacks ? r->nstacks : 1, sizeof(*lines));
	size_t n = 0;
	int err = 0;

	if (!lines)
		return -ENOMEM;
	for (size_t i = 0; i < r->nstacks; i++) {
		if (r->stacks[i].bytes <= 0)
			continue;
		lines[n].stack = folded_stack(&r->stacks[i]);
		if (!lines[n].stack) {
			err = -ENOMEM;
			break;
		}
		lines[n++].bytes = r->stacks[i].bytes;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	for (size_t i = 0; i < n && !err; i++) {
		int64_t sum = lines[i].bytes;

		while (i + 1 < n && !strcmp(lines[i].stack, lines[i + 1].stack))
			sum += lines[++i].bytes;	/* same functions, other call sites */
		fprintf(out, "%s %" PRId64 "\n", lines[i].stack, sum);
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].stack);
	free(lines);
	fflush(out);
	return err;
}
