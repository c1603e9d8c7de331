/* serve.h - `leakscope serve`: the session's latest report over HTTP,
 * /metrics for Prometheus and /debug/pprof/heap for pprof scrapers. */
#ifndef LEAKSCOPE_SERVE_H
#define LEAKSCOPE_SERVE_H

#include "report/report.h"

struct trace;
struct serve;

/* Starts listening on listen (see http.h), over HTTPS and with basic
 * authentication as web_config (a file, NULL: none) says.  NULL after
 * saying why.  Requests get 503 until serve__attach() and the first
 * report. */
struct serve *serve__new(const char *listen, const char *web_config);
/* The trace to answer from: its programs' run-time stats. */
void serve__attach(struct serve *s, struct trace *t);
void serve__free(struct serve *s);

/* The fd to wait on (readable: requests to answer). */
int serve__fd(const struct serve *s);
/* Answers the requests that are ready. */
void serve__run(struct serve *s);
/* The report answered from now on (it must stay valid until the next
 * call: the session's latest); NULL: none (the session is over). */
void serve__update(struct serve *s, const struct report *r);

#endif
