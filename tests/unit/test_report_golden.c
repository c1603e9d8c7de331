/* test_report_golden.c - the text and JSON reports of the shared sample
 * (sample_report.h) byte for byte against the files in tests/unit/golden/:
 * report.txt and report.json for the sample (`--all`, three processes),
 * report_one.txt and report_one.json for its one-process view (`-p 5151`:
 * service, Python and GC, cut counters).  Also checks that the sample's
 * numbers agree with each other, for the tests that reuse it.
 *
 * Run from the top of the tree, as `make unit` does (the golden files are
 * found at tests/unit/golden/).  The text report prints the local time of
 * day: TZ is set to UTC here.
 *
 * After a change to a formatter's output made on purpose, rewrite the
 * golden files instead of comparing:
 *
 *	LEAKSCOPE_UPDATE_GOLDEN=1 build/unit/test_report_golden
 *
 * and review the change with `git diff tests/unit/golden/`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/report_json.h"
#include "report/report_text.h"
#include "sample_report.h"
#include "test_files.h"

#define GOLDEN_DIR	"tests/unit/golden"

typedef int (*print_fn)(FILE *out, const struct report *r);

static bool updating(void)
{
	const char *u = getenv("LEAKSCOPE_UPDATE_GOLDEN");

	return u && !strcmp(u, "1");
}

/* The line number (from 1) of offset off in buf, and the part of that
 * line within CONTEXT bytes of off: [*start, *end). */
#define CONTEXT	60
static int line_at(const char *buf, size_t len, size_t off, size_t *start, size_t *end)
{
	int line = 1;

	*start = 0;
	for (size_t i = 0; i < off && i < len; i++)
		if (buf[i] == '\n') {
			line++;
			*start = i + 1;
		}
	if (off > *start + CONTEXT)
		*start = off - CONTEXT;
	*end = *start;
	while (*end < len && buf[*end] != '\n' && *end < off + CONTEXT)
		(*end)++;
	return line;
}

/* Prints r with print and compares the output with golden file name (or
 * rewrites it when LEAKSCOPE_UPDATE_GOLDEN=1). */
static void check_golden(const char *name, print_fn print, const struct report *r)
{
	char path[256], *got = NULL, *want;
	size_t got_len = 0, want_len, off = 0, ws, we, gs, ge;
	FILE *f = open_memstream(&got, &got_len);
	bool same;
	int line;

	assert_non_null(f);
	assert_int_equal(print(f, r), 0);
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	if (updating()) {
		test_write_file(path, got, got_len);
		print_message("rewrote %s (%zu bytes)\n", path, got_len);
		free(got);
		return;
	}
	if (access(path, R_OK)) {
		print_error("%s: missing; LEAKSCOPE_UPDATE_GOLDEN=1 writes it\n", path);
		free(got);
		fail();
	}
	want = test_read_file(path, &want_len);
	while (off < got_len && off < want_len && got[off] == want[off])
		off++;
	same = off == got_len && off == want_len;
	if (!same) {
		line = line_at(want, want_len, off, &ws, &we);
		line_at(got, got_len, off, &gs, &ge);
		print_error("%s differs at byte %zu (line %d; %zu bytes expected, %zu printed)\n"
			    "expected: ...%.*s...\nprinted:  ...%.*s...\n"
			    "a change made on purpose: LEAKSCOPE_UPDATE_GOLDEN=1 rewrites it\n",
			    path, off, line, want_len, got_len, (int)(we - ws), want + ws,
			    (int)(ge - gs), got + gs);
	}
	free(want);
	free(got);
	assert_true(same);
}

static void test_text(void **state)
{
	struct sample_report s;

	sample_report(&s);
	check_golden("report.txt", report_text__print, &s.r);
}

static void test_json(void **state)
{
	struct sample_report s;

	sample_report(&s);
	check_golden("report.json", report_json__print, &s.r);
}

static void test_text_one(void **state)
{
	struct sample_report s;

	sample_report_one(&s);
	check_golden("report_one.txt", report_text__print, &s.r);
}

static void test_json_one(void **state)
{
	struct sample_report s;

	sample_report_one(&s);
	check_golden("report_one.json", report_json__print, &s.r);
}

/* What other formats' tests may rely on: totals are the processes' sums,
 * stacks and processes come by bytes, every native frame with a module
 * lies in a mapping of that file, and the histories end at the stacks'
 * bytes. */
static void check_sample(const struct report *r)
{
	int64_t bytes = 0, allocs = 0;
	uint64_t drops = 0, cuts = 0;
	size_t nstacks = 0;

	for (size_t i = 0; i < r->nprocs; i++) {
		bytes += r->procs[i].bytes;
		allocs += r->procs[i].allocs;
		nstacks += r->procs[i].nstacks;
		if (i)
			assert_true(r->procs[i - 1].bytes >= r->procs[i].bytes);
	}
	if (r->multi) {
		assert_int_equal(bytes, r->totals.outstanding_bytes);
		assert_int_equal(allocs, r->totals.outstanding_allocs);
		assert_int_equal(nstacks, r->nstacks_total);
		assert_true(r->totals.outstanding_allocs > 65536);	/* DEFAULT_SCAN_LIMIT */
		assert_false(r->ages_exact);
	}
	assert_int_equal(r->totals.allocs - r->totals.frees - r->totals.exited_blocks,
			 r->totals.outstanding_allocs);
	for (int c = CNT_DROP_ALLOC_MAP_FULL; c < CNT_DROP__END; c++)
		drops += r->totals.drops[c];
	assert_int_equal(drops, r->totals.dropped);
	for (int c = 0; c < UW_STOP__COUNT; c++)
		cuts += r->totals.cut[c];
	assert_int_equal(cuts, r->totals.cut_total);
	assert_true(r->nstacks <= r->nstacks_total);

	bytes = 0;
	for (size_t i = 0; i < r->nstacks; i++) {
		const struct report_stack *s = &r->stacks[i];

		bytes += s->bytes;
		if (i)
			assert_true(r->stacks[i - 1].bytes >= s->bytes);
		assert_true(s->oldest_ts_ns < r->now_ns);
		assert_true(s->alloc_count >= s->allocs && s->alloc_bytes >= s->bytes);
		assert_int_equal(s->series.n, SAMPLE_NPOINTS);
		assert_true(s->series.p[SAMPLE_NPOINTS - 1].bytes == (double)s->bytes);
		assert_int_equal(s->nframes == 0, s->key.id == STACK_ID_LOST);
		for (int k = 0; k < s->nframes; k++) {
			const struct frame *f = &s->frames[k];
			const struct report_mapping *m;

			if (f->inlined)
				assert_true(k + 1 < s->nframes && s->frames[k + 1].addr == f->addr);
			if (f->python || !f->module)
				continue;
			m = report__mapping(r, (pid_t)s->key.tgid, f->addr);
			assert_non_null(m);
			assert_string_equal(m->path, f->module);
		}
	}
	assert_true(bytes <= r->totals.outstanding_bytes);
	assert_true(r->total_series.p[SAMPLE_NPOINTS - 1].bytes ==
		    (double)r->totals.outstanding_bytes);
	for (size_t i = 1; i < r->nmappings; i++)
		assert_true(r->mappings[i - 1].pid < r->mappings[i].pid ||
			    (r->mappings[i - 1].pid == r->mappings[i].pid &&
			     r->mappings[i - 1].end <= r->mappings[i].start));
}

static void test_sample_consistent(void **state)
{
	struct sample_report s;

	sample_report(&s);
	check_sample(&s.r);
	sample_report_one(&s);
	check_sample(&s.r);
	assert_int_equal(s.r.nstacks, 2);
	assert_true(s.r.ages_exact);
	assert_int_equal(s.r.blocks_scanned, s.r.totals.outstanding_allocs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_consistent),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text_one),
		cmocka_unit_test(test_json_one),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
