/* sink.h - where reports go: each output (text or JSON on stdout, the
 * live view, a recorded profile, the HTTP agent) is a sink.  The session
 * makes reports and hands them over; it knows nothing of the formats.
 * A sink says what it needs of collection (sink_needs), may own an fd to
 * wait on (keys, HTTP requests), and returns errors: a closed stdout or
 * a full disk ends the trace, after detaching, with a non-zero exit.
 */
#ifndef LEAKSCOPE_SINK_H
#define LEAKSCOPE_SINK_H

#include <stdbool.h>

#include "cli/cli.h"
#include "report/report.h"

struct sink;
struct trace;

/* What the sink asks of the session. */
struct sink_needs {
	int top_n;		/* stacks per report (INT_MAX: every one) */
	bool with_freed;	/* also stacks that freed all they allocated (pprof) */
	bool series;		/* the top stacks' outstanding bytes over the run */
	bool periodic;		/* a report every interval (else only the final one) */
	bool first_at_once;	/* the first report right after attaching */
	bool final;		/* a final report when the trace ends */
};

enum sink_event {
	SINK_NOTHING,
	SINK_QUIT,		/* the user asked to leave (top: q) */
	SINK_INTERVAL,		/* the interval changed (top: + -) */
};

struct sink_ops {
	/* A periodic report (r stays valid until the next one).  0 or -errno
	 * (said already): the trace ends. */
	int (*report)(struct sink *s, const struct report *r);
	/* The last report; NULL ops member: none wanted. */
	int (*final)(struct sink *s, const struct report *r);
	/* Its fd became readable (or a wake-up passed): keys, requests. */
	enum sink_event (*ready)(struct sink *s, int *interval_s);
	/* The trace ended (before the final report): let go of the screen,
	 * stop answering. */
	void (*stop)(struct sink *s);
	/* Tracing began (serve: its BPF run-time statistics).  Optional. */
	void (*attach)(struct sink *s, struct trace *t);
	void (*free)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
	struct sink_needs needs;
	int fd;			/* to wait on; -1: none */
	bool paused;		/* top: p (no reports while set) */
};

/* The sink for the command in o: text/JSON reports, `top`, `record`,
 * `serve`.  Files and ports are opened now (a wrong -o or a port in use
 * fails before anything is attached).  NULL after saying why. */
struct sink *sink__new(const struct options *o);

/* Tracing began: the sink may look at the trace (serve: BPF run times). */
void sink__attach(struct sink *s, struct trace *t);

void sink__free(struct sink *s);

/* Per output (sink_*.c). */
struct sink *sink_stdout__new(const struct options *o);
struct sink *sink_top__new(const struct options *o);
struct sink *sink_record__new(const struct options *o);
struct sink *sink_serve__new(const struct options *o);

#endif
