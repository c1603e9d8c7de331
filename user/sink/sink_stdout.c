/* sink_stdout.c - reports as text or JSON Lines on stdout (the default
 * command, and `top` without a terminal).  A write that fails - a closed
 * pipe (`| head`), a full disk - ends the trace with a message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_json.h"
#include "report/report_text.h"
#include "sink/sink.h"
#include "util/log.h"

struct sink_stdout {
	struct sink base;
	bool json;
};

static int print(struct sink *s, const struct report *r)
{
	struct sink_stdout *o = (struct sink_stdout *)s;
	int err;

	errno = 0;
	err = o->json ? report_json__print(stdout, r) : report_text__print(stdout, r);
	if (!err)
		return 0;
	err = errno ? -errno : err;
	log__error("cannot write the report to stdout: %s; stopping\n",
		strerror(-err));
	return err;
}

static void sink_free(struct sink *s)
{
	free(s);
}

static const struct sink_ops ops = {
	.report = print,
	.final = print,
	.free = sink_free,
};

struct sink *sink_stdout__new(const struct options *o)
{
	struct sink_stdout *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &ops;
	s->base.fd = -1;
	s->base.needs = (struct sink_needs){ .top_n = o->top_n, .periodic = true, .final = true };
	s->json = o->json;
	return &s->base;
}
