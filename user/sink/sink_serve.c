/* sink_serve.c - `leakscope serve`: the latest report over HTTP (serve.c).
 * A first report right after attaching, then every interval; no final
 * report (the agent stops answering when the trace ends). */
#include <limits.h>
#include <stdlib.h>

#include "sink/serve.h"
#include "sink/sink.h"

struct sink_serve {
	struct sink base;
	struct serve *serve;
};

static int update(struct sink *base, const struct report *r)
{
	struct sink_serve *s = (struct sink_serve *)base;

	serve__update(s->serve, r);
	return 0;
}

static enum sink_event requests(struct sink *base, int *interval_s)
{
	struct sink_serve *s = (struct sink_serve *)base;

	serve__run(s->serve);
	return SINK_NOTHING;
}

static void stop(struct sink *base)
{
	struct sink_serve *s = (struct sink_serve *)base;

	serve__update(s->serve, NULL);	/* 503 from here on */
}

static void sink_free(struct sink *base)
{
	struct sink_serve *s = (struct sink_serve *)base;

	serve__free(s->serve);
	free(s);
}

/* The kernel times BPF programs while serve holds its stats fd. */
static void attach(struct sink *base, struct trace *t)
{
	struct sink_serve *s = (struct sink_serve *)base;

	serve__attach(s->serve, t);
}

static const struct sink_ops ops = {
	.report = update,
	.ready = requests,
	.stop = stop,
	.attach = attach,
	.free = sink_free,
};

struct sink *sink_serve__new(const struct options *o)
{
	struct sink_serve *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &ops;
	/* a profile holds every stack; pprof's alloc_* also count stacks
	 * that freed all they allocated */
	s->base.needs = (struct sink_needs){ .top_n = INT_MAX, .with_freed = true,
					     .series = true, .periodic = true,
					     .first_at_once = true };
	s->serve = serve__new(o->listen, o->web_config);	/* a port in use fails now */
	if (!s->serve) {
		free(s);
		return NULL;
	}
	s->base.fd = serve__fd(s->serve);
	return &s->base;
}
