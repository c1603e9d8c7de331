/* sink_top.c - `leakscope top` on a terminal: the live view (tui.c).  It
 * takes the terminal once tracing began (messages before - an error, the
 * "tracing" line - stay readable); keys may pause it, change the interval
 * or quit; when the trace ends the terminal is given back and the final
 * report is printed as text. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "report/report_text.h"
#include "sink/sink.h"
#include "sink/tui.h"
#include "util/log.h"

struct sink_top {
	struct sink base;
	struct tui *tui;	/* NULL before tracing began, and after */
	double start_s;
	int interval_s;
	double sample_bytes;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int final(struct sink *s, const struct report *r);

static int draw(struct sink *s, const struct report *r)
{
	struct sink_top *t = (struct sink_top *)s;

	if (!t->tui)		/* no live view: reports as text */
		return final(s, r);
	tui__update(t->tui, r, mono_s() - t->start_s, t->interval_s);
	return 0;
}

/* Tracing began: the terminal is the view's from now on. */
static void attach(struct sink *s, struct trace *tr)
{
	struct sink_top *t = (struct sink_top *)s;

	t->start_s = mono_s();
	t->tui = tui__new(t->sample_bytes);
	if (!t->tui) {
		log__error("cannot start the live view; printing reports\n");
		s->fd = -1;
	}
}

static enum sink_event keys(struct sink *s, int *interval_s)
{
	struct sink_top *t = (struct sink_top *)s;
	enum tui_result res;

	if (!t->tui)
		return SINK_NOTHING;
	res = tui__handle_keys(t->tui, interval_s);
	t->interval_s = *interval_s;
	s->paused = tui__paused(t->tui);
	return res == TUI_QUIT ? SINK_QUIT : res == TUI_INTERVAL ? SINK_INTERVAL : SINK_NOTHING;
}

static void stop(struct sink *s)
{
	struct sink_top *t = (struct sink_top *)s;

	tui__free(t->tui);	/* the terminal back first */
	t->tui = NULL;
	s->fd = -1;
	s->paused = false;
}

static int final(struct sink *s, const struct report *r)
{
	int err = report_text__print(stdout, r);

	if (err)
		log__error("cannot write the report to stdout; stopping\n");
	return err;
}

static void sink_free(struct sink *s)
{
	stop(s);
	free(s);
}

static const struct sink_ops ops = {
	.report = draw,
	.final = final,
	.ready = keys,
	.stop = stop,
	.attach = attach,
	.free = sink_free,
};

struct sink *sink_top__new(const struct options *o)
{
	struct sink_top *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &ops;
	s->base.fd = STDIN_FILENO;
	/* the view sorts and filters them itself */
	s->base.needs = (struct sink_needs){ .top_n = o->top_n < 1000 ? 1000 : o->top_n,
					     .periodic = true, .final = true };
	s->interval_s = o->interval_s;
	s->sample_bytes = o->sample_bytes;
	return &s->base;
}
