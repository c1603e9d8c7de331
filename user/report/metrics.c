/* metrics.c - Prometheus text exposition (format 0.0.4) of a report.
 *
 * Base units (bytes, seconds), `_total` for counters, one HELP and TYPE
 * per family, label values escaped.  Cardinality stays bounded: a target
 * is (pid, comm, service); with several processes, the METRICS_TOP_PROCS
 * holding the most bytes each get their series and the rest are summed
 * under pid="other"; classes are five, drop reasons a fixed list.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "report/metrics.h"

void metrics__label_value(FILE *f, const char *s)
{
	putc('"', f);
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			putc(*s, f);
	}
	putc('"', f);
}

/* Integers exactly, others to 15 significant digits. */
static void value(FILE *f, double v)
{
	if (v == (double)(int64_t)v && v < 9007199254740992.0 && v > -9007199254740992.0)
		fprintf(f, " %" PRId64 "\n", (int64_t)v);
	else
		fprintf(f, " %.15g\n", v);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pid="..",comm="..",service=".."} value; no comm: the processes
 * beyond the top, summed (pid="other"). */
static void series_of(FILE *f, const char *name, pid_t pid, const char *comm,
		      const struct cgroup_labels *labels, const char *extra_key,
		      const char *extra_val, double v)
{
	char svc[200];

	if (!comm) {
		fprintf(f, "%s{pid=\"other\",comm=\"other\"", name);
	} else {
		fprintf(f, "%s{pid=\"%d\",comm=", name, (int)pid);
		metrics__label_value(f, comm);
		report__service(labels, svc, sizeof(svc));
		if (svc[0]) {	/* the unit, container or pod of the target */
			fputs(",service=", f);
			metrics__label_value(f, svc);
		}
	}
	if (extra_key) {
		fprintf(f, ",%s=", extra_key);
		metrics__label_value(f, extra_val);
	}
	putc('}', f);
	value(f, v);
}

static void target_series(FILE *f, const char *name, const struct report *r,
			  const char *extra_key, const char *extra_val, double v)
{
	series_of(f, name, r->pid, r->comm, &r->labels, extra_key, extra_val, v);
}

static void target_metric(FILE *f, const char *name, const char *type,
			  const char *help, const struct report *r, double v)
{
	family(f, name, type, help);
	target_series(f, name, r, NULL, NULL, v);
}

static void plain_metric(FILE *f, const char *name, const char *type,
			 const char *help, double v)
{
	family(f, name, type, help);
	fputs(name, f);
	value(f, v);
}

static void class_metrics(FILE *f, const struct report *r)
{
	size_t per_class[CLASS_CHURN + 1] = { 0 };
	double growing_bytes = 0, growth = 0;

	for (size_t i = 0; i < r->nstacks; i++) {
		const struct report_stack *s = &r->stacks[i];

		if (s->bytes <= 0 && s->allocs <= 0)
			continue;	/* freed all it allocated: in pprof only */
		per_class[s->cls <= CLASS_CHURN ? s->cls : CLASS_UNKNOWN]++;
		if (s->cls == CLASS_GROWING) {
			growing_bytes += s->bytes;
			growth += s->growth_bytes_per_s;
		}
	}
	family(f, "leakscope_stacks", "gauge",
	       "Call stacks holding memory, by leak class (unknown: too little history yet).");
	for (int c = 0; c <= CLASS_CHURN; c++)
		target_series(f, "leakscope_stacks", r, "class", classify__label(c), per_class[c]);
	target_metric(f, "leakscope_growing_bytes", "gauge",
		      "Outstanding bytes of the stacks classified as growing.", r, growing_bytes);
	target_metric(f, "leakscope_growth_bytes_per_second", "gauge",
		      "Sum of the growth rates of the growing stacks.", r, growth);
}

static void drop_metrics(FILE *f, const struct report *r)
{
	family(f, "leakscope_kernel_memory_bytes", "gauge",
	       "Kernel memory held by leakscope's BPF maps (grows with what is traced).");
	fprintf(f, "leakscope_kernel_memory_bytes %" PRIu64 "\n", r->totals.kernel_mem_bytes);
	family(f, "leakscope_drops_total", "counter",
	       "Events leakscope could not record, by reason (numbers may be low by these).");
	for (int k = CNT_DROP_ALLOC_MAP_FULL; k < CNT_DROP__END; k++) {
		fputs("leakscope_drops_total{reason=", f);
		metrics__label_value(f, report__drop_name(k));
		fprintf(f, "} %" PRIu64 "\n", r->totals.drops[k]);
	}
	family(f, "leakscope_stacks_cut_total", "counter",
	       "Allocations whose stack walk ended early (bytes counted on a shorter stack), by cause.");
	for (int k = UW_STOP_NO_TABLE; k < UW_STOP__COUNT; k++) {
		fputs("leakscope_stacks_cut_total{reason=", f);
		metrics__label_value(f, report__cut_name(k));
		fprintf(f, "} %" PRIu64 "\n", r->totals.cut[k]);
	}
}

static void python_metrics(FILE *f, const struct report *r)
{
	const struct gc_stats *g = r->gc;

	if (!g)
		return;
	family(f, "leakscope_python_gc_collections_total", "counter",
	       "CPython garbage collections, by generation (USDT gc__start/gc__done).");
	for (int i = 0; i < GC_GENERATIONS; i++) {
		char gen[4];

		snprintf(gen, sizeof(gen), "%d", i);
		target_series(f, "leakscope_python_gc_collections_total", r, "generation", gen,
			      (double)g->collections[i]);
	}
	target_metric(f, "leakscope_python_gc_collected_objects_total", "counter",
		      "Objects the CPython collector freed.", r, (double)g->collected);
	family(f, "leakscope_python_gc_pause_seconds", "summary",
	       "CPython collection pauses (median of a uniform sample of 4096).");
	target_series(f, "leakscope_python_gc_pause_seconds", r, "quantile", "0.5",
		      g->pause_p50_s);
	fprintf(f, "leakscope_python_gc_pause_seconds_sum{pid=\"%d\",comm=", (int)r->pid);
	metrics__label_value(f, r->comm);
	putc('}', f);
	value(f, g->pause_sum_s);
	fprintf(f, "leakscope_python_gc_pause_seconds_count{pid=\"%d\",comm=", (int)r->pid);
	metrics__label_value(f, r->comm);
	putc('}', f);
	value(f, (double)g->total);
	target_metric(f, "leakscope_python_gc_pause_max_seconds", "gauge",
		      "The longest CPython collection pause seen.", r, g->pause_max_s);
}

static void self_metrics(FILE *f, const struct report *r, const struct self_stats *st)
{
	plain_metric(f, "leakscope_start_time_seconds", "gauge",
		     "When leakscope attached, seconds since the epoch.", st->start_time_s);
	plain_metric(f, "leakscope_sampling_period_bytes", "gauge",
		     "--sample-bytes: mean bytes between samples; 0 = every allocation.",
		     (double)r->sample_period);
	plain_metric(f, "leakscope_reports_total", "counter",
		     "Reports (map reads) made since attach.", (double)st->reports);
	plain_metric(f, "leakscope_report_duration_seconds", "gauge",
		     "Time the last report took (map reads, classification, symbols).",
		     st->report_s);
	plain_metric(f, "leakscope_cpu_seconds_total", "counter",
		     "User and system CPU time of leakscope's own process.", st->cpu_s);
	plain_metric(f, "leakscope_resident_memory_bytes", "gauge",
		     "Resident memory of leakscope's own process.", st->rss_bytes);
	if (!st->bpf_stats)
		return;
	plain_metric(f, "leakscope_bpf_run_seconds_total", "counter",
		     "Time spent in leakscope's BPF programs, in the target's threads.",
		     st->bpf_run_ns / 1e9);
	plain_metric(f, "leakscope_bpf_runs_total", "counter",
		     "Runs of leakscope's BPF programs (probe hits).", (double)st->bpf_runs);
}

/* ---- several processes ---------------------------------------------------- */

/* A process's series: the top ones by their pid, the rest as "other". */
static void proc_series(FILE *f, const char *name, const struct report_proc *p,
			const char *extra_key, const char *extra_val, double v)
{
	series_of(f, name, p ? p->pid : 0, p ? p->comm : NULL, p ? &p->labels : NULL,
		  extra_key, extra_val, v);
}

/* Per process (r->procs, biggest first): index of p among the top, or
 * METRICS_TOP_PROCS for the rest. */
static size_t slot_of(const struct report *r, pid_t pid)
{
	size_t n = r->nprocs < METRICS_TOP_PROCS ? r->nprocs : METRICS_TOP_PROCS;

	for (size_t i = 0; i < n; i++)
		if (r->procs[i].pid == pid)
			return i;
	return METRICS_TOP_PROCS;
}

struct proc_sums {
	double bytes, allocs, growing, growth;
	double per_class[CLASS_CHURN + 1];
};

static void proc_family(FILE *f, const char *name, const char *help, const struct report *r,
			const struct proc_sums *s, size_t field)
{
	size_t n = r->nprocs < METRICS_TOP_PROCS ? r->nprocs : METRICS_TOP_PROCS;

	family(f, name, "gauge", help);
	for (size_t i = 0; i <= n; i++) {
		const double *v = (const double *)((const char *)&s[i < n ? i : METRICS_TOP_PROCS] + field);

		if (i < n || r->nprocs > n)
			proc_series(f, name, i < n ? &r->procs[i] : NULL, NULL, NULL, *v);
	}
}

static void multi_metrics(FILE *f, const struct report *r)
{
	struct proc_sums s[METRICS_TOP_PROCS + 1] = { 0 };
	size_t n = r->nprocs < METRICS_TOP_PROCS ? r->nprocs : METRICS_TOP_PROCS;

	for (size_t i = 0; i < r->nprocs; i++) {
		size_t k = i < n ? i : METRICS_TOP_PROCS;

		s[k].bytes += r->procs[i].bytes;
		s[k].allocs += r->procs[i].allocs;
	}
	for (size_t i = 0; i < r->nstacks; i++) {
		const struct report_stack *st = &r->stacks[i];
		size_t k = slot_of(r, st->key.tgid);

		if (st->bytes <= 0 && st->allocs <= 0)
			continue;
		s[k].per_class[st->cls <= CLASS_CHURN ? st->cls : CLASS_UNKNOWN]++;
		if (st->cls == CLASS_GROWING) {
			s[k].growing += st->bytes;
			s[k].growth += st->growth_bytes_per_s;
		}
	}
	proc_family(f, "leakscope_outstanding_bytes",
		    "Bytes the process allocated while traced and has not freed.", r, s,
		    offsetof(struct proc_sums, bytes));
	proc_family(f, "leakscope_outstanding_allocations",
		    "Blocks the process allocated while traced and has not freed.", r, s,
		    offsetof(struct proc_sums, allocs));
	family(f, "leakscope_stacks", "gauge",
	       "Call stacks holding memory, by leak class (unknown: too little history yet).");
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c <= CLASS_CHURN && (i < n || r->nprocs > n); c++)
			proc_series(f, "leakscope_stacks", i < n ? &r->procs[i] : NULL, "class",
				    classify__label(c), s[i < n ? i : METRICS_TOP_PROCS].per_class[c]);
	proc_family(f, "leakscope_growing_bytes",
		    "Outstanding bytes of the stacks classified as growing.", r, s,
		    offsetof(struct proc_sums, growing));
	proc_family(f, "leakscope_growth_bytes_per_second",
		    "Sum of the growth rates of the growing stacks.", r, s,
		    offsetof(struct proc_sums, growth));
	plain_metric(f, "leakscope_processes", "gauge",
		     "Processes holding traced memory (beyond the top 20, their series are summed as other).",
		     (double)r->nprocs);
	plain_metric(f, "leakscope_allocations_total", "counter",
		     "Allocations traced, every process (sampled ones, with --sample-bytes).",
		     (double)r->totals.allocs);
	plain_metric(f, "leakscope_frees_total", "counter", "Frees of traced blocks.",
		     (double)r->totals.frees);
	plain_metric(f, "leakscope_untracked_frees_total", "counter",
		     "Frees of blocks allocated before attach (or not sampled).",
		     (double)r->totals.untracked_frees);
	plain_metric(f, "leakscope_failed_allocations_total", "counter",
		     "Allocations that returned NULL.", (double)r->totals.failed_allocs);
	plain_metric(f, "leakscope_exited_processes_total", "counter",
		     "Traced processes that exited (their records dropped).",
		     (double)r->totals.exited_procs);
}

char *metrics__render(const struct report *r, const struct self_stats *st, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (r->multi) {
		multi_metrics(f, r);
		drop_metrics(f, r);
		self_metrics(f, r, st);
		goto out;
	}
	target_metric(f, "leakscope_outstanding_bytes", "gauge",
		      "Bytes the target allocated while traced and has not freed.",
		      r, (double)r->totals.outstanding_bytes);
	target_metric(f, "leakscope_outstanding_allocations", "gauge",
		      "Blocks the target allocated while traced and has not freed.",
		      r, (double)r->totals.outstanding_allocs);
	target_metric(f, "leakscope_allocations_total", "counter",
		      "Allocations traced (sampled ones, with --sample-bytes).",
		      r, (double)r->totals.allocs);
	target_metric(f, "leakscope_frees_total", "counter",
		      "Frees of traced blocks.", r, (double)r->totals.frees);
	target_metric(f, "leakscope_untracked_frees_total", "counter",
		      "Frees of blocks allocated before attach (or not sampled).",
		      r, (double)r->totals.untracked_frees);
	target_metric(f, "leakscope_failed_allocations_total", "counter",
		      "Allocations that returned NULL.", r, (double)r->totals.failed_allocs);
	class_metrics(f, r);
	drop_metrics(f, r);
	python_metrics(f, r);
	self_metrics(f, r, st);
out:
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
