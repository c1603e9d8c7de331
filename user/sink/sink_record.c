/* sink_record.c - `leakscope record`: one profile of the whole trace,
 * written when it ends (--duration, Ctrl-C, the target's exit) to -o FILE
 * (a new file renamed into place when complete: outfile.c) or stdout. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/outfile.h"
#include "report/report_folded.h"
#include "report/report_html.h"
#include "report/report_json.h"
#include "report/report_pprof.h"
#include "sink/sink.h"
#include "util/log.h"

struct sink_record {
	struct sink base;
	const char *output;	/* -o; "-" = stdout */
	int format;		/* enum record_format */
	struct outfile out;	/* when output names a file */
	FILE *f;		/* NULL once written */
};

static int write_pprof(FILE *f, const struct report *r)
{
	struct pprof_meta m;
	uint8_t *buf;
	size_t len;
	int err;

	report_pprof__meta(&m, r->start_timestamp, r);
	err = report_pprof__encode(r, &m, &buf, &len);
	if (err)
		return err;
	if (fwrite(buf, 1, len, f) != len)
		err = errno ? -errno : -EIO;
	free(buf);
	return err;
}

static int write_format(struct sink_record *s, const struct report *r)
{
	switch (s->format) {
	case FORMAT_JSON:
		return report_json__print(s->f, r);
	case FORMAT_PPROF:
		return write_pprof(s->f, r);
	case FORMAT_HTML:
		return report_html__print(s->f, r);
	default:
		return report_folded__print(s->f, r);
	}
}

static int final(struct sink *base, const struct report *r)
{
	struct sink_record *s = (struct sink_record *)base;
	bool to_stdout = !strcmp(s->output, "-");
	int err;

	if (!s->f)
		return -EBADF;
	err = write_format(s, r);
	if (to_stdout && fflush(s->f) && !err)
		err = errno ? -errno : -EIO;
	if (!to_stdout && err)
		outfile__abort(&s->out);
	else if (!to_stdout)
		err = outfile__commit(&s->out);	/* complete: into place */
	s->f = NULL;
	if (err) {
		log__error("writing %s failed: %s\n", s->output, strerror(-err));
		return err;
	}
	log__error("wrote %s: %zu stacks, %lld bytes outstanding\n",
		to_stdout ? "the profile" : s->output, r->nstacks_total,
		(long long)r->totals.outstanding_bytes);
	return 0;
}

static void sink_free(struct sink *base)
{
	struct sink_record *s = (struct sink_record *)base;

	if (s->f && strcmp(s->output, "-"))	/* not written: removed */
		outfile__abort(&s->out);
	free(s);
}

static const struct sink_ops ops = {
	.final = final,
	.free = sink_free,
};

struct sink *sink_record__new(const struct options *o)
{
	struct sink_record *s;

	if (o->format == FORMAT_PPROF && !strcmp(o->output, "-") && isatty(STDOUT_FILENO)) {
		log__error("a pprof profile is binary: give -o FILE "
			"(e.g. -o heap.pb.gz), redirect stdout, or --format folded\n");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base.ops = &ops;
	s->base.fd = -1;
	/* a profile holds every stack; pprof's alloc_* also count stacks
	 * that freed all they allocated */
	s->base.needs = (struct sink_needs){ .top_n = INT_MAX, .final = true,
					     .with_freed = o->format == FORMAT_PPROF ||
							   o->format == FORMAT_HTML,
					     .series = o->format == FORMAT_HTML };
	s->output = o->output;
	s->format = o->format;
	/* a wrong -o fails now, not after the whole trace */
	if (strcmp(o->output, "-") && outfile__open(&s->out, o->output)) {
		free(s);
		return NULL;
	}
	s->f = strcmp(o->output, "-") ? s->out.f : stdout;
	return &s->base;
}
