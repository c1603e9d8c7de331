/* html_sample - writes an HTML report of a made-up process to a file, for
 * tests/e2e/test_html_report.py to render in a headless browser.
 *
 * usage: html_sample OUT.html
 *
 * Twelve stacks over a 300 s recording: the largest a growing leak in
 * leak_growing_buffer(), a plateau (a bounded cache), a growing Python
 * stack, one with hostile names (markup, U+2028), seven small ones, and
 * last a churning one (little outstanding, 512 MiB allocated); all with a
 * history, so the chart draws the top ten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_html.h"
#include "report/site.h"

#define NPOINTS	61	/* every 5 s over 300 s */
#define NSTACKS	12
#define LIBC	"/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBPY	"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
#define APP	"/usr/bin/demo_server"

#define NATIVE(a, mod, fn, off) \
	{ .addr = a, .module = mod, .function = fn, .func_offset = off }
#define SRC(a, mod, fn, off, fl, ln) \
	{ .addr = a, .module = mod, .function = fn, .func_offset = off, .file = fl, .line = ln }
#define PY(a, fn, fl, ln) \
	{ .addr = a, .function = fn, .file = fl, .line = ln, .python = true }

static struct frame f_grow[] = {	/* innermost first */
	SRC(0x401a10, APP, "leak_growing_buffer", 0x20, "server.c", 88),
	SRC(0x401c00, APP, "handle_request", 0x44, "server.c", 140),
	SRC(0x401e00, APP, "worker_loop", 0x31, "server.c", 201),
	NATIVE(0x7f10000a000, LIBC, "start_thread", 0x2f2),
};
static struct frame f_cache[] = {
	SRC(0x402a10, APP, "cache_insert", 0x18, "cache.c", 51),
	SRC(0x402b00, APP, "cache_lookup", 0x60, "cache.c", 77),
	SRC(0x401c00, APP, "handle_request", 0x90, "server.c", 151),
	SRC(0x401e00, APP, "worker_loop", 0x31, "server.c", 201),
	NATIVE(0x7f10000a000, LIBC, "start_thread", 0x2f2),
};
static struct frame f_python[] = {
	NATIVE(0x7f2000010000, LIBPY, "PyMem_Malloc", 0x12),
	PY(0x7f3000001000, "append_record", "/srv/app/store.py", 88),
	PY(0x7f3000002000, "handle", "/srv/app/server.py", 41),
	PY(0x7f3000003000, "<module>", "/srv/app/main.py", 7),
	NATIVE(0x7f2000020000, LIBPY, "_PyEval_EvalFrameDefault", 0x1c4),
	NATIVE(0x7f2000030000, LIBPY, "Py_RunMain", 0x80),
	NATIVE(0x401000, APP, "main", 0x10),
};
static struct frame f_hostile[] = {
	NATIVE(0x403000, APP, "</script><b>x\xe2\x80\xa8y", 0),
	NATIVE(0x403100, APP, "<img src=x onerror=alert(1)>", 0),
	NATIVE(0x403200, "/opt/we\"ird & <lib>.so", NULL, 0),
	NATIVE(0x401000, APP, "main", 0x22),
};
static struct frame f_churn[] = {
	SRC(0x404000, APP, "churn_temp_buffer", 0x08, "server.c", 300),
	SRC(0x401c00, APP, "handle_request", 0x120, "server.c", 160),
	SRC(0x401e00, APP, "worker_loop", 0x31, "server.c", 201),
	NATIVE(0x7f10000a000, LIBC, "start_thread", 0x2f2),
};
static char small_names[7][32];
static struct frame f_small[7][2];

static struct series_point points[NSTACKS][NPOINTS];
static struct series_point total[NPOINTS];

/* bytes of stack i at time t (s): its shape is its class */
static double shape(int i, double t)
{
	switch (i) {
	case 0: return 8192.0 * 1024 * t / 300;			/* growing */
	case 1: return 3.0 * 1024 * 1024 * (t < 60 ? t / 60 : 1);	/* plateau */
	case 2: return 2.0 * 1024 * 1024 * t / 300;		/* growing */
	case 3: return 1024 * 1024;					/* old */
	case 11: return 4096;						/* churn */
	default: return (11 - i) * 40960.0 * (t < 30 ? t / 30 : 1);
	}
}

int main(int argc, char **argv)
{
	static const enum leak_class cls[NSTACKS] = {
		CLASS_GROWING, CLASS_PLATEAU, CLASS_GROWING, CLASS_OLD,
		CLASS_PLATEAU, CLASS_OLD, CLASS_PLATEAU, CLASS_UNKNOWN, CLASS_GROWING,
		CLASS_PLATEAU, CLASS_OLD, CLASS_CHURN,
	};
	struct report_stack st[NSTACKS] = { 0 };
	struct report r = { 0 };
	FILE *out;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: html_sample OUT.html\n");
		return 2;
	}
	for (int k = 0; k < 7; k++) {
		snprintf(small_names[k], sizeof(small_names[k]), "alloc_site_%d", k + 1);
		f_small[k][0] = (struct frame)NATIVE(0x405000 + k * 0x100, APP, small_names[k], 0x10);
		f_small[k][1] = (struct frame)NATIVE(0x401000, APP, "main", 0x30);
	}
	for (int i = 0; i < NSTACKS; i++) {
		struct report_stack *s = &st[i];
		double now = shape(i, 300);

		for (int p = 0; p < NPOINTS; p++) {
			points[i][p] = (struct series_point){ p * 5.0, shape(i, p * 5.0) };
			total[p].t_s = p * 5.0;
			total[p].bytes += points[i][p].bytes;
		}
		s->key = (struct stack_key){ .tgid = 4242, .id = 100 + i };
		s->bytes = (int64_t)now;
		s->allocs = (int64_t)(now / 4096);
		s->cls = cls[i];
		s->growth_bytes_per_s = cls[i] == CLASS_GROWING ? shape(i, 300) / 300 : 0;
		s->alloc_bytes = s->bytes + (i == 11 ? 512 << 20 : 4096 * (i + 1));
		s->alloc_count = s->allocs + (i == 11 ? 131072 : i + 1);
		s->oldest_ts_ns = 300000000000ull - (uint64_t)(i == 3 ? 290e9 : 250e9);
		s->cut = UW_STOP_END;
		s->series = (struct report_series){ points[i], NPOINTS };
	}
	st[0].frames = f_grow, st[0].nframes = 4;
	st[1].frames = f_cache, st[1].nframes = 5;
	st[2].frames = f_python, st[2].nframes = 7;
	st[3].frames = f_hostile, st[3].nframes = 4;
	for (int k = 0; k < 7; k++)
		st[4 + k].frames = f_small[k], st[4 + k].nframes = 2;
	st[11].frames = f_churn, st[11].nframes = 4;

	r.pid = 4242;
	snprintf(r.comm, sizeof(r.comm), "demo_server");
	snprintf(r.labels.unit, sizeof(r.labels.unit), "demo.service");
	snprintf(r.python, sizeof(r.python), "3.11.2");
	r.start_timestamp = 1700000000.0;
	r.timestamp = 1700000300.0;
	r.now_ns = 300000000000ull;
	r.final = true;
	r.ages_exact = true;
	r.stacks = st;
	r.nstacks = NSTACKS;
	r.nstacks_total = 40;
	r.total_series = (struct report_series){ total, NPOINTS };
	for (int i = 0; i < NSTACKS; i++) {
		r.totals.outstanding_bytes += st[i].bytes;
		r.totals.outstanding_allocs += st[i].allocs;
	}
	r.totals.allocs = 250000;
	r.totals.frees = 240000;
	r.totals.drops[CNT_DROP_STACK_LOST] = 3;
	r.totals.dropped = 3;

	out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	site__mark(&r, NULL);	/* as the resolve stage does */
	err = report_html__print(out, &r);
	if (fclose(out) || err) {
		fprintf(stderr, "html_sample: cannot write %s\n", argv[1]);
		return 1;
	}
	return 0;
}
