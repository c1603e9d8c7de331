/* report_html.c - a report as one HTML file that works offline.
 *
 * The report goes in as one JSON object (the schema is below, in
 * put_data() and put_stack()); the page's script (report_html.js)
 * draws the chart, the flame graph and the table from it, styled by
 * report_html.css.  Both are compiled in: the Makefile turns them
 * into build/report_html_assets.h with xxd -i.
 *
 * Names of functions, files and modules come from the traced process and
 * can hold anything.  They are written with json__string (valid UTF-8,
 * control characters escaped) and then every '<', '>', '&', U+2028 and
 * U+2029 of the whole JSON text is rewritten as a \uXXXX escape: outside
 * strings JSON has none of them, inside strings the escape means the same
 * character, and so nothing can close the <script> element.  The page
 * only ever puts these strings into the DOM as text, never as markup.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "report/report_html.h"
#include "report/report_json.h"
#include "report_html_assets.h"

/* A double as JSON: non-finite values (never valid JSON) as null. */
static void put_num(FILE *f, const char *fmt, double v)
{
	if (isfinite(v))
		fprintf(f, fmt, v);
	else
		fputs("null", f);
}

/* [[t_s, bytes], ...], oldest first */
static void put_series(FILE *f, const struct report_series *s)
{
	putc('[', f);
	for (size_t i = 0; i < s->n; i++) {
		fputs(i ? ",[" : "[", f);
		put_num(f, "%.3f", s->p[i].t_s);
		putc(',', f);
		put_num(f, "%.0f", s->p[i].bytes);
		putc(']', f);
	}
	putc(']', f);
}

static void put_stack(FILE *f, const struct report *r, const struct report_stack *s)
{
	fprintf(f, "{\"pid\":%u,\"comm\":", s->key.tgid);
	json__string(f, s->comm);
	fprintf(f, ",\"outstanding_bytes\":%" PRId64 ",\"outstanding_allocs\":%" PRId64
		",\"alloc_bytes\":%" PRId64 ",\"alloc_count\":%" PRId64 ",\"class\":\"%s\""
		",\"growth_bytes\":%" PRId64 ",\"growth_bytes_per_s\":",
		s->bytes, s->allocs, s->alloc_bytes, s->alloc_count, classify__label(s->cls),
		s->growth_bytes);
	put_num(f, "%.1f", s->growth_bytes_per_s);
	fputs(",\"oldest_age_s\":", f);
	if (s->oldest_ts_ns && r->now_ns >= s->oldest_ts_ns)
		fprintf(f, "%.3f", (r->now_ns - s->oldest_ts_ns) / 1e9);
	else
		fputs("null", f);
	fprintf(f, ",\"stack_lost\":%s,\"cut\":", s->key.id == STACK_ID_LOST ? "true" : "false");
	json__string(f, s->cut != UW_STOP_END ? report__cut_name(s->cut) : NULL);
	fputs(",\"site\":", f);
	report_json__site(f, s);
	fputs(",\"frames\":[", f);	/* innermost first */
	for (int i = 0; i < s->nframes; i++) {
		if (i)
			putc(',', f);
		report_json__frame(f, &s->frames[i]);
	}
	fputs("],\"series\":", f);
	put_series(f, &s->series);
	putc('}', f);
}


/* comm is a fixed array: at most its size, terminated or not */
static void put_comm(FILE *f, const char *comm, size_t size)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*s", (int)size, comm);
	json__string(f, buf);
}

static void put_service(FILE *f, const struct cgroup_labels *l)
{
	char svc[256];

	report__service(l, svc, sizeof(svc));
	json__string(f, svc);
}

static void put_procs(FILE *f, const struct report *r)
{
	fputs(",\"processes\":[", f);
	for (size_t i = 0; r->multi && i < r->nprocs; i++) {
		const struct report_proc *p = &r->procs[i];

		fprintf(f, "%s{\"pid\":%d,\"comm\":", i ? "," : "", p->pid);
		put_comm(f, p->comm, sizeof(p->comm));
		fputs(",\"service\":", f);
		put_service(f, &p->labels);
		fprintf(f, ",\"outstanding_bytes\":%" PRId64 ",\"outstanding_allocs\":%" PRId64
			",\"stacks\":%zu,\"class\":\"%s\",\"growth_bytes_per_s\":",
			p->bytes, p->allocs, p->nstacks, classify__label(p->cls));
		put_num(f, "%.1f", p->growth_bytes_per_s);
		putc('}', f);
	}
	putc(']', f);
}

/* The page's data: one JSON object, no newline. */
static void put_data(FILE *f, const struct report *r)
{
	fprintf(f, "{\"pid\":%d,\"comm\":", r->pid);
	put_comm(f, r->comm, sizeof(r->comm));
	fputs(",\"service\":", f);
	if (r->multi)
		fputs("\"\"", f);
	else
		put_service(f, &r->labels);
	fputs(",\"python\":", f);
	json__string(f, r->python[0] ? r->python : NULL);
	fputs(",\"timestamp\":", f);
	put_num(f, "%.3f", r->timestamp);
	fputs(",\"start_timestamp\":", f);
	put_num(f, "%.3f", r->start_timestamp);
	fprintf(f, ",\"final\":%s,\"filtered\":%s,\"multi\":%s,\"sample_bytes\":%" PRIu64
		",\"ages_exact\":%s,\"stacks_total\":%zu,\"totals\":",
		r->final ? "true" : "false", r->filtered ? "true" : "false",
		r->multi ? "true" : "false", r->sample_period,
		r->ages_exact ? "true" : "false", r->nstacks_total);
	report_json__totals(f, &r->totals);
	put_procs(f, r);
	fputs(",\"total_series\":", f);
	put_series(f, &r->total_series);
	fputs(",\"stacks\":[", f);	/* by outstanding bytes, descending */
	for (size_t i = 0; i < r->nstacks; i++) {
		if (i)
			putc(',', f);
		put_stack(f, r, &r->stacks[i]);
	}
	fputs("]}", f);
}

/* JSON text made safe inside <script>: see the comment at the top.  U+2028
 * and U+2029 are E2 80 A8/A9 (json__string leaves only valid UTF-8). */
static void put_script_safe(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '<' || c == '>' || c == '&')
			fprintf(f, "\\u%04x", c);
		else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			fprintf(f, "\\u%04x", 0x2000 | (s[i + 2] & 0x3f));	/* 0x28, 0x29 */
			i += 2;
		} else
			putc(c, f);
	}
}

int report_html__print(FILE *out, const struct report *r)
{
	char *json = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&json, &len);

	if (!m)
		return -ENOMEM;
	put_data(m, r);
	if (fclose(m) || !json) {
		free(json);
		return -ENOMEM;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>leakscope report</title>\n<style>\n", out);
	fwrite(report_html_css, 1, report_html_css_len, out);
	fputs("</style>\n</head>\n<body>\n<div id=\"app\"><noscript>This report is drawn "
	      "by JavaScript: enable it to see the charts.</noscript></div>\n"
	      "<script type=\"application/json\" id=\"leakscope-data\">", out);
	put_script_safe(out, json, len);
	fputs("</script>\n<script>\n", out);
	fwrite(report_html_js, 1, report_html_js_len, out);
	fputs("</script>\n</body>\n</html>\n", out);
	free(json);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
