/* report_json.c - prints a report as a single JSON line; the schema is
 * documented in README.md ("JSON schema"). */
#include <errno.h>
#include <inttypes.h>

#include "util/json.h"
#include "report/report_json.h"
#include "report/site.h"

void report_json__totals(FILE *out, const struct report_totals *t)
{
	const char *sep = "";

	fprintf(out, "{\"outstanding_bytes\":%" PRId64 ",\"outstanding_allocs\":%" PRId64
		",\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"untracked_frees\":%" PRIu64
		",\"failed_allocs\":%" PRIu64 ",\"exited_processes\":%" PRIu64
		",\"exited_blocks\":%" PRIu64 ",\"exited_bytes\":%" PRIu64
		",\"kernel_memory_bytes\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"drops\":{",
		t->outstanding_bytes, t->outstanding_allocs, t->allocs, t->frees,
		t->untracked_frees, t->failed_allocs, t->exited_procs, t->exited_blocks,
		t->exited_bytes, t->kernel_mem_bytes, t->dropped);
	for (int c = CNT_DROP_ALLOC_MAP_FULL; c < CNT_DROP__END; c++) {
		fprintf(out, "%s\"%s\":%" PRIu64, sep, report__drop_name(c), t->drops[c]);
		sep = ",";
	}
	fprintf(out, "},\"stacks_cut\":%" PRIu64 ",\"cuts\":{", t->cut_total);
	sep = "";
	for (int c = UW_STOP_NO_TABLE; c < UW_STOP__COUNT; c++) {
		fprintf(out, "%s\"%s\":%" PRIu64, sep, report__cut_name(c), t->cut[c]);
		sep = ",";
	}
	fprintf(out, "},\"fp_fallback\":%" PRIu64 "}", t->fp_fallback);
}

void report_json__frame(FILE *out, const struct frame *f)
{
	fprintf(out, "{\"address\":\"0x%" PRIx64 "\",\"module\":", f->addr);
	json__string(out, f->module);
	fputs(",\"function\":", out);
	json__string(out, f->function);
	fputs(",\"file\":", out);
	json__string(out, f->file);
	if (f->line)
		fprintf(out, ",\"line\":%d", f->line);
	else
		fputs(",\"line\":null", out);
	fprintf(out, ",\"inlined\":%s,\"python\":%s}", f->inlined ? "true" : "false",
		f->python ? "true" : "false");
}

void report_json__site(FILE *out, const struct report_stack *s)
{
	if (site__frame(s))
		fprintf(out, "%d", s->site);
	else
		fputs("null", out);
}

static void print_stack(FILE *out, const struct report *r,
			const struct report_stack *s)
{
	fprintf(out, "{\"pid\":%u,\"outstanding_bytes\":%" PRId64 ",\"outstanding_allocs\":%" PRId64,
		s->key.tgid, s->bytes, s->allocs);
	if (s->oldest_ts_ns && r->now_ns >= s->oldest_ts_ns)
		fprintf(out, ",\"oldest_age_s\":%.3f", (r->now_ns - s->oldest_ts_ns) / 1e9);
	else
		fputs(",\"oldest_age_s\":null", out);
	fprintf(out, ",\"growth_bytes\":%" PRId64 ",\"class\":", s->growth_bytes);
	json__string(out, s->cls == CLASS_UNKNOWN ? NULL : classify__name(s->cls));
	fprintf(out, ",\"growth_bytes_per_s\":%.1f,\"stack_lost\":%s,\"cut\":",
		s->growth_bytes_per_s, s->key.id == STACK_ID_LOST ? "true" : "false");
	json__string(out, s->cut != UW_STOP_END ? report__cut_name(s->cut) : NULL);
	fprintf(out, ",\"fp_fallback\":%s,\"site\":", s->fp_first ? "true" : "false");
	report_json__site(out, s);
	fputs(",\"frames\":[", out);
	for (int i = 0; i < s->nframes; i++) {
		if (i)
			putc(',', out);
		report_json__frame(out, &s->frames[i]);
	}
	fputs("]}", out);
}

/* "python": null, or the version and its GC (null without USDT probes) */
static void print_python(FILE *out, const struct report *r)
{
	const struct gc_stats *g = r->gc;

	if (!r->python[0]) {
		fputs(",\"python\":null", out);
		return;
	}
	fputs(",\"python\":{\"version\":", out);
	json__string(out, r->python);
	if (!g) {
		fputs(",\"gc\":null}", out);
		return;
	}
	fprintf(out, ",\"gc\":{\"collections\":[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "],"
		"\"collected\":%" PRIu64 ",\"pause_p50_s\":%.6f,\"pause_max_s\":%.6f,"
		"\"pause_sum_s\":%.6f}}", g->collections[0], g->collections[1], g->collections[2],
		g->collected, g->pause_p50_s, g->pause_max_s, g->pause_sum_s);
}

/* ,"labels":{...}: the process's service (null where unknown). */
static void print_labels(FILE *out, const struct cgroup_labels *l)
{
	const char *keys[] = { "unit", "container", "runtime", "pod_uid", "pod", "namespace" };
	const char *vals[] = { l->unit, l->container, l->runtime, l->pod_uid, l->pod, l->ns };

	fputs(",\"labels\":{", out);
	for (int i = 0; i < 6; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", keys[i]);
		json__string(out, vals[i][0] ? vals[i] : NULL);
	}
	fputc('}', out);
}

static void print_procs(FILE *out, const struct report *r)
{
	if (!r->multi)
		return;
	fputs(",\"processes\":[", out);
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct report_proc *p = &r->procs[i];

		fprintf(out, "%s{\"pid\":%d,\"comm\":", i ? "," : "", p->pid);
		json__string(out, p->comm);
		print_labels(out, &p->labels);
		fprintf(out, ",\"outstanding_bytes\":%" PRId64 ",\"outstanding_allocs\":%" PRId64
			",\"stacks\":%zu,\"growth_bytes\":%" PRId64 ",\"growth_bytes_per_s\":%.1f,"
			"\"class\":", p->bytes, p->allocs, p->nstacks, p->growth_bytes,
			p->growth_bytes_per_s);
		if (p->cls == CLASS_UNKNOWN)
			fputs("null}", out);
		else
			fprintf(out, "\"%s\"}", classify__name(p->cls));
	}
	fputc(']', out);
}

int report_json__print(FILE *out, const struct report *r)
{
	fprintf(out, "{\"pid\":%d,\"comm\":", r->pid);
	json__string(out, r->comm);
	if (!r->multi)
		print_labels(out, &r->labels);
	fprintf(out, ",\"timestamp\":%.3f,\"final\":%s,\"filtered\":%s,\"sample_bytes\":%llu,\"totals\":",
		r->timestamp, r->final ? "true" : "false",
		r->filtered ? "true" : "false", (unsigned long long)r->sample_period);
	report_json__totals(out, &r->totals);
	print_python(out, r);
	print_procs(out, r);
	fprintf(out, ",\"ages_exact\":%s,\"stacks_total\":%zu,\"stacks\":[",
		r->ages_exact ? "true" : "false", r->nstacks_total);
	for (size_t i = 0; i < r->nstacks; i++) {
		if (i)
			putc(',', out);
		print_stack(out, r, &r->stacks[i]);
	}
	fputs("]}\n", out);
	/* a closed pipe, a full disk: the caller stops and says so */
	return fflush(out) || ferror(out) ? -EIO : 0;
}
