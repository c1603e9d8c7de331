/* metrics.h - a report as Prometheus metrics (text format 0.0.4). */
#ifndef LEAKSCOPE_METRICS_H
#define LEAKSCOPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report/report.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Several processes: those with their own series (the rest summed). */
#define METRICS_TOP_PROCS 20

/* leakscope's own cost, exported next to the target's numbers. */
struct self_stats {
	double start_time_s;	/* wall clock, seconds since the epoch */
	double cpu_s;		/* user + system time of leakscope */
	double rss_bytes;
	double report_s;	/* the last report's duration */
	uint64_t reports;
	bool bpf_stats;		/* BPF run time below is measured */
	uint64_t bpf_run_ns;	/* all our BPF programs, since attach */
	uint64_t bpf_runs;
};

/* The exposition text (malloc'd, *len bytes), or NULL on ENOMEM.  No
 * per-stack series: only per-target totals and per-class counts. */
char *metrics__render(const struct report *r, const struct self_stats *st, size_t *len);

/* Writes s as a label value: \ " and newline escaped. */
void metrics__label_value(FILE *f, const char *s);

#endif
