/* report_text.c - prints a report for people: totals, drops, then the
 * top stacks by outstanding bytes, innermost frame first. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "report/report_text.h"
#include "report/site.h"

void report_text__bytes(char *buf, size_t len, double bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = fabs(bytes);
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", bytes);
	else
		snprintf(buf, len, "%.1f %s", bytes < 0 ? -v : v, units[u]);
}

/* What tracing holds in the kernel: BPF maps grow with the target. */
static void print_kernel_memory(FILE *out, const struct report_totals *t)
{
	char b[32];

	report_text__bytes(b, sizeof(b), (double)t->kernel_mem_bytes);
	fprintf(out, "  kernel memory: %s in BPF maps\n", b);
}

static void print_drops(FILE *out, const struct report_totals *t)
{
	fprintf(out, "  dropped: %" PRIu64, t->dropped);
	if (t->dropped) {
		const char *sep = " (";

		for (int c = CNT_DROP_ALLOC_MAP_FULL; c < CNT_DROP__END; c++) {
			if (!t->drops[c])
				continue;
			fprintf(out, "%s%s %" PRIu64, sep, report__drop_name(c),
				t->drops[c]);
			sep = ", ";
		}
		fputs(") - numbers below are a lower bound", out);
	}
	fputc('\n', out);
}

/* Allocations whose stack walk ended early: their bytes are counted, on
 * a shorter stack.  One line of advice for the most frequent cause. */
static void print_cuts(FILE *out, const struct report_totals *t)
{
	const char *sep = " (";
	int worst = 0;

	if (!t->cut_total && !t->fp_fallback)
		return;
	fprintf(out, "  stacks cut short: %" PRIu64, t->cut_total);
	for (int c = UW_STOP_NO_TABLE; c < UW_STOP__COUNT; c++) {
		if (!t->cut[c])
			continue;
		fprintf(out, "%s%s %" PRIu64, sep, report__cut_name(c), t->cut[c]);
		sep = ", ";
		if (!worst || t->cut[c] > t->cut[worst])
			worst = c;
	}
	if (worst)
		fputs(")", out);
	if (t->fp_fallback)
		fprintf(out, "; %" PRIu64 " partly by frame pointer", t->fp_fallback);
	fputc('\n', out);
	if (worst)
		fprintf(out, "    %s: %s\n", report__cut_name(worst), report__cut_advice(worst));
}

static void print_frame(FILE *out, int i, const struct frame *f)
{
	if (f->python)	/* addr is a code object's: not worth the space */
		fprintf(out, "    #%-2d %-18s ", i, "[python]");
	else
		fprintf(out, "    #%-2d 0x%016" PRIx64 " ", i, f->addr);
	if (f->function) {
		fputs(f->function, out);
		if (f->func_offset)
			fprintf(out, "+0x%" PRIx64, f->func_offset);
	} else {
		fputs("??", out);
	}
	if (f->inlined)
		fputs(" (inlined)", out);
	if (f->file)
		fprintf(out, " %s:%d", f->file, f->line);
	if (f->module)
		fprintf(out, " [%s]", f->module);
	fputc('\n', out);
}

/* ", at FUNCTION (FILE:LINE)": where the program allocated (site.h). */
static void print_site(FILE *out, const struct report_stack *s)
{
	const struct frame *f = site__frame(s);
	const char *file;

	if (!f)
		return;
	fprintf(out, ", at %s", f->function ? f->function : "??");
	if (f->file) {
		file = strrchr(f->file, '/');
		fprintf(out, " (%s:%d)", file ? file + 1 : f->file, f->line);
	}
}

static void print_stack(FILE *out, const struct report *r,
			const struct report_stack *s)
{
	char b[32], g[32];
	double age = s->oldest_ts_ns && r->now_ns > s->oldest_ts_ns
		     ? (r->now_ns - s->oldest_ts_ns) / 1e9 : 0;

	report_text__bytes(b, sizeof(b), s->bytes);
	report_text__bytes(g, sizeof(g), s->growth_bytes);
	fprintf(out, "\n  %" PRId64 " bytes (%s) in %" PRId64 " blocks, %s %.1f s, growth %s%s",
		s->bytes, b, s->allocs, r->ages_exact ? "oldest" : "held for", age,
		s->growth_bytes >= 0 ? "+" : "", g);
	if (s->cls != CLASS_UNKNOWN) {
		report_text__bytes(g, sizeof(g), s->growth_bytes_per_s);
		fprintf(out, ", %s (%s%s/s)", classify__name(s->cls),
			s->growth_bytes_per_s >= 0 ? "+" : "", g);
	}
	print_site(out, s);
	fputs(":\n", out);
	for (int i = 0; i < s->nframes; i++)
		print_frame(out, i, &s->frames[i]);
	if (s->key.id == STACK_ID_LOST)
		fputs("    [stack not captured: counted in dropped]\n", out);
	else if (!s->nframes)
		fputs("    [no frames]\n", out);
	else if (s->cut != UW_STOP_END)
		fprintf(out, "    [stack cut short: %s]\n", report__cut_name(s->cut));
	if (s->fp_first)
		fputs("    [outer frames found by frame pointer: code without an unwind table]\n",
		      out);
}

void report_text__python(char *buf, size_t len, const struct report *r)
{
	const struct gc_stats *g = r->gc;

	if (!r->python[0]) {
		buf[0] = 0;
		return;
	}
	if (!g) {
		snprintf(buf, len, "python %s; gc: no USDT probes in this interpreter", r->python);
		return;
	}
	snprintf(buf, len, "python %s; gc: %" PRIu64 " collections (gen0 %" PRIu64 ", gen1 %"
		 PRIu64 ", gen2 %" PRIu64 "), pause p50 %.3f ms, max %.3f ms", r->python,
		 g->total, g->collections[0], g->collections[1], g->collections[2],
		 g->pause_p50_s * 1e3, g->pause_max_s * 1e3);
}

#define MAX_PROCS_SHOWN 20

/* Several processes: a table of them, then each one's top stacks. */
static void print_multi(FILE *out, const struct report *r)
{
	const struct report_totals *t = &r->totals;
	time_t now = (time_t)r->timestamp;
	char ts[32], b[32], g[32];
	size_t shown = r->nprocs < MAX_PROCS_SHOWN ? r->nprocs : MAX_PROCS_SHOWN;

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	report_text__bytes(b, sizeof(b), t->outstanding_bytes);
	fprintf(out, "[%s] %zu processes%s: %" PRId64 " bytes (%s) outstanding in %" PRId64
		" blocks, %zu stacks%s\n", ts, r->nprocs, r->final ? " final report" : "",
		t->outstanding_bytes, b, t->outstanding_allocs, r->nstacks_total,
		r->filtered ? " (filtered)" : "");
	fprintf(out, "  allocs: %" PRIu64 "  frees: %" PRIu64 "  untracked frees: %" PRIu64
		"  failed allocs: %" PRIu64 "\n", t->allocs, t->frees, t->untracked_frees,
		t->failed_allocs);
	fprintf(out, "  exited: %" PRIu64 " processes, their %" PRIu64 " blocks (%" PRIu64
		" bytes) dropped: an exited process leaks nothing\n", t->exited_procs,
		t->exited_blocks, t->exited_bytes);
	print_kernel_memory(out, t);
	print_drops(out, t);
	fprintf(out, "  %7s %-16s %12s %9s %7s %12s %-8s %s\n", "PID", "COMM", "BYTES", "BLOCKS",
		"STACKS", "GROWTH", "CLASS", "SERVICE");
	for (size_t i = 0; i < shown; i++) {
		const struct report_proc *p = &r->procs[i];
		char svc[200];

		report_text__bytes(b, sizeof(b), p->bytes);
		report_text__bytes(g + 1, sizeof(g) - 1, p->growth_bytes);
		g[0] = '+';	/* the sign with the value, right-aligned together */
		report__service(&p->labels, svc, sizeof(svc));
		fprintf(out, "  %7d %-16s %12s %9" PRId64 " %7zu %12s %-8s %s\n", p->pid, p->comm,
			b, p->allocs, p->nstacks, p->growth_bytes >= 0 ? g : g + 1,
			classify__name(p->cls), svc[0] ? svc : "-");
	}
	if (r->nprocs > shown)
		fprintf(out, "  ... and %zu more processes\n", r->nprocs - shown);
	for (size_t i = 0; i < shown; i++) {
		bool header = false;

		for (size_t k = 0; k < r->nstacks; k++) {
			if ((pid_t)r->stacks[k].key.tgid != r->procs[i].pid)
				continue;
			if (!header)
				fprintf(out, "\n  == pid %d (%s) ==\n", r->procs[i].pid, r->procs[i].comm);
			header = true;
			print_stack(out, r, &r->stacks[k]);
		}
	}
	fputc('\n', out);
	fflush(out);
}

int report_text__print(FILE *out, const struct report *r)
{
	char py[256];

	if (r->multi) {
		print_multi(out, r);
		return fflush(out) || ferror(out) ? -EIO : 0;
	}
	const struct report_totals *t = &r->totals;
	time_t now = (time_t)r->timestamp;
	char ts[32], b[32], svc[200];

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	report_text__bytes(b, sizeof(b), t->outstanding_bytes);
	fprintf(out, "[%s] pid %d (%s)%s: %" PRId64 " bytes (%s) outstanding in %" PRId64 " blocks, %zu stacks%s\n",
		ts, r->pid, r->comm, r->final ? " final report" : "",
		t->outstanding_bytes, b, t->outstanding_allocs, r->nstacks_total,
		r->filtered ? " (filtered)" : "");
	report__service(&r->labels, svc, sizeof(svc));
	if (svc[0])
		fprintf(out, "  service: %s\n", svc);
	if (r->sample_period)
		fprintf(out, "  sampled: 1 per %" PRIu64 " bytes; outstanding figures are unbiased estimates, "
			"allocs/frees count sampled blocks\n", r->sample_period);
	if (r->sample_period)	/* a free of an unsampled block looks untracked */
		snprintf(b, sizeof(b), "n/a");
	else
		snprintf(b, sizeof(b), "%" PRIu64, t->untracked_frees);
	fprintf(out, "  allocs: %" PRIu64 "  frees: %" PRIu64 "  untracked frees: %s  failed allocs: %" PRIu64 "\n",
		t->allocs, t->frees, b, t->failed_allocs);
	print_kernel_memory(out, t);
	print_drops(out, t);
	print_cuts(out, t);
	report_text__python(py, sizeof(py), r);
	if (py[0])
		fprintf(out, "  %s\n", py);
	if (r->nstacks)
		fprintf(out, "  top %zu stacks by outstanding bytes:\n", r->nstacks);
	for (size_t i = 0; i < r->nstacks; i++)
		print_stack(out, r, &r->stacks[i]);
	fputc('\n', out);
	/* a closed pipe, a full disk: the caller stops and says so */
	return fflush(out) || ferror(out) ? -EIO : 0;
}
