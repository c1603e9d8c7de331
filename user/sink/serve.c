/* serve.c - the endpoints of `leakscope serve`.
 *
 *   /                  the HTML report of the latest data (report_html.c)
 *   /metrics           Prometheus text 0.0.4 (metrics.c)
 *   /debug/pprof/heap  the latest report as a gzip'd pprof profile, the
 *                      path Go services use, so Parca, Pyroscope and
 *                      `go tool pprof http://...` scrape it unchanged
 *
 * Answers come from the latest report (made every INTERVAL by the
 * session); a pprof profile is encoded at most once per report.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sink/http.h"
#include "leakscope.h"
#include "report/metrics.h"
#include "report/report_html.h"
#include "report/report_pprof.h"
#include "sink/serve.h"
#include "trace/trace.h"
#include "sink/webconfig.h"
#include "util/log.h"

struct serve {
	struct http *http;
	struct web_config web;		/* --web-config: TLS, users */
	struct trace *t;
	const struct report *r;		/* NULL until the first report */
	struct self_stats st;
	int stats_fd;			/* BPF run-time stats on while open */
	uint8_t *pprof;			/* encoded for the current report */
	size_t pprof_len;
};

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void read_self(struct serve *s)
{
	struct rusage ru;
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!getrusage(RUSAGE_SELF, &ru))
		s->st.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (f && fscanf(f, "%*s %ld", &pages) == 1)
		s->st.rss_bytes = (double)pages * sysconf(_SC_PAGESIZE);
	if (f)
		fclose(f);
}

static void read_bpf_stats(struct serve *s)
{
	trace__bpf_stats(s->t, &s->st.bpf_run_ns, &s->st.bpf_runs);
}

static void answer_pprof(struct serve *s, struct http_response *resp)
{
	struct pprof_meta m;

	report_pprof__meta(&m, s->st.start_time_s, s->r);
	if (!s->pprof &&
	    report_pprof__encode(s->r, &m, &s->pprof, &s->pprof_len)) {
		resp->status = 500;
		return;
	}
	resp->body = malloc(s->pprof_len);
	if (!resp->body) {
		resp->status = 500;
		return;
	}
	memcpy(resp->body, s->pprof, s->pprof_len);
	resp->len = s->pprof_len;
	resp->status = 200;
	resp->content_type = "application/octet-stream";
}

/* `/`: the latest report as the HTML page `record --format html` writes
 * (chart, flame graph, table), made when asked. */
static void answer_html(struct serve *s, struct http_response *resp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err = f ? report_html__print(f, s->r) : -ENOMEM;

	if (f && fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		resp->status = 500;
		return;
	}
	resp->body = buf;
	resp->len = len;
	resp->status = 200;
	resp->content_type = "text/html; charset=utf-8";
}

static void handle(void *ctx, const char *path, struct http_response *resp)
{
	struct serve *s = ctx;

	if (strcmp(path, "/metrics") && strcmp(path, "/debug/pprof/heap") &&
	    strcmp(path, "/")) {
		resp->status = 404;
		return;
	}
	if (!s->r || !s->t) {
		resp->status = 503;
		resp->body = strdup("leakscope: no report yet, retry in a moment\n");
		resp->len = resp->body ? strlen(resp->body) : 0;
		return;
	}
	if (!strcmp(path, "/debug/pprof/heap")) {
		answer_pprof(s, resp);
		return;
	}
	if (!strcmp(path, "/")) {
		answer_html(s, resp);
		return;
	}
	read_self(s);
	if (s->st.bpf_stats)
		read_bpf_stats(s);
	resp->body = metrics__render(s->r, &s->st, &resp->len);
	resp->status = resp->body ? 200 : 500;
	resp->content_type = METRICS_CONTENT_TYPE;
}

struct serve *serve__new(const char *listen, const char *web_config)
{
	struct serve *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->stats_fd = -1;
	s->st.start_time_s = wall_s();
	if (web_config && webconfig__load(web_config, &s->web)) {
		serve__free(s);
		return NULL;
	}
	s->http = http__start(listen, web_config ? &s->web : NULL, handle, s);
	if (!s->http) {
		serve__free(s);
		return NULL;
	}
	log__error("serving / (HTML), /metrics and /debug/pprof/heap on port %u%s%s\n",
		http__port(s->http), s->web.cert_pem ? " (HTTPS)" : "",
		s->web.nusers ? " (basic auth)" : "");
	return s;
}

void serve__attach(struct serve *s, struct trace *t)
{
	s->t = t;
	s->st.start_time_s = wall_s();
	/* the kernel times BPF programs only while someone holds this fd */
	if (s->stats_fd < 0)
		s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	s->st.bpf_stats = s->stats_fd >= 0;
}

void serve__free(struct serve *s)
{
	if (!s)
		return;
	http__stop(s->http);
	webconfig__free(&s->web);
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	free(s->pprof);
	free(s);
}

int serve__fd(const struct serve *s)
{
	return http__fd(s->http);
}

void serve__run(struct serve *s)
{
	http__run(s->http);
}

void serve__update(struct serve *s, const struct report *r)
{
	s->r = r;
	if (r) {
		s->st.reports++;
		s->st.report_s = r->build_s;
	}
	free(s->pprof);
	s->pprof = NULL;
}
