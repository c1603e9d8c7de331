/* test_metrics.c - the Prometheus exposition text and --listen parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sink/http.h"
#include "report/metrics.h"

/* Several processes: the top METRICS_TOP_PROCS by bytes get their own
 * series, the rest one "other" series with their sums. */
static void test_top_processes(void **state)
{
	enum { NP = METRICS_TOP_PROCS + 5 };
	struct report_proc procs[NP];
	struct report_stack st[NP];
	struct self_stats self = { 0 };
	struct report r = { .multi = true, .procs = procs, .nprocs = NP, .stacks = st,
			    .nstacks = NP };
	char want[128];
	size_t len, lines = 0;
	char *t;

	for (int i = 0; i < NP; i++) {	/* biggest first, as collect sorts them */
		procs[i] = (struct report_proc){ .pid = 1000 + i, .bytes = 100 * (NP - i),
						 .allocs = 1 };
		snprintf(procs[i].comm, sizeof(procs[i].comm), "p%d", i);
		st[i] = (struct report_stack){ .key.tgid = 1000 + i, .bytes = 100 * (NP - i),
					       .allocs = 1, .cls = CLASS_GROWING,
					       .growth_bytes_per_s = 1 };
	}
	t = metrics__render(&r, &self, &len);
	assert_non_null(t);
	for (const char *p = t; (p = strstr(p, "\nleakscope_outstanding_bytes{")); p++)
		lines++;
	assert_int_equal(lines, METRICS_TOP_PROCS + 1);
	assert_non_null(strstr(t, "leakscope_outstanding_bytes{pid=\"1000\",comm=\"p0\"} 2500\n"));
	snprintf(want, sizeof(want), "leakscope_outstanding_bytes{pid=\"%d\"",
		 1000 + METRICS_TOP_PROCS);
	assert_null(strstr(t, want));	/* the 21st is in "other" */
	/* the last five: 500 + 400 + 300 + 200 + 100 */
	assert_non_null(strstr(t, "leakscope_outstanding_bytes{pid=\"other\",comm=\"other\"} 1500\n"));
	assert_non_null(strstr(t, "leakscope_stacks{pid=\"other\",comm=\"other\",class=\"growing\"} 5\n"));
	assert_non_null(strstr(t, "leakscope_growing_bytes{pid=\"1001\",comm=\"p1\"} 2400\n"));
	assert_non_null(strstr(t, "leakscope_processes 25\n"));
	free(t);
	r.nprocs = r.nstacks = 2;	/* few processes: no "other" series */
	t = metrics__render(&r, &self, &len);
	assert_null(strstr(t, "pid=\"other\""));
	free(t);
}

static void test_exposition(void **state)
{
	struct report_stack st[] = {
		{ .bytes = 1000, .allocs = 10, .cls = CLASS_GROWING, .growth_bytes_per_s = 50 },
		{ .bytes = 3000, .allocs = 1, .cls = CLASS_GROWING, .growth_bytes_per_s = 25.5 },
		{ .bytes = 500, .allocs = 5, .cls = CLASS_PLATEAU },
		{ .bytes = 0, .allocs = 0, .alloc_count = 7, .cls = CLASS_CHURN },	/* pprof only */
	};
	struct report r = { .pid = 77, .comm = "we\"ird\\na\nme", .stacks = st, .nstacks = 4,
			    .sample_period = 0 };
	struct self_stats self = { .start_time_s = 1700000000.5, .cpu_s = 0.25,
				   .reports = 3, .bpf_stats = true, .bpf_run_ns = 1500000000,
				   .bpf_runs = 42 };
	size_t len;
	char *t;

	r.totals.outstanding_bytes = 4500;
	r.totals.allocs = 123456789012;
	r.totals.drops[CNT_DROP_ALLOC_MAP_FULL] = 9;
	t = metrics__render(&r, &self, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "# TYPE leakscope_outstanding_bytes gauge\n"
				  "leakscope_outstanding_bytes{pid=\"77\",comm=\"we\\\"ird\\\\na\\nme\"} 4500\n"));
	assert_non_null(strstr(t, "# TYPE leakscope_allocations_total counter\n"));
	assert_non_null(strstr(t, "leakscope_allocations_total{pid=\"77\",comm=\"we\\\"ird\\\\na\\nme\"} 123456789012\n"));
	assert_non_null(strstr(t, ",class=\"growing\"} 2\n"));
	assert_non_null(strstr(t, ",class=\"plateau\"} 1\n"));
	assert_non_null(strstr(t, ",class=\"churn\"} 0\n"));	/* freed stacks are not holding */
	assert_non_null(strstr(t, "leakscope_growing_bytes{pid=\"77\",comm=\"we\\\"ird\\\\na\\nme\"} 4000\n"));
	assert_non_null(strstr(t, "} 75.5\n"));	/* growth rates summed */
	assert_non_null(strstr(t, "leakscope_drops_total{reason=\"alloc_map_full\"} 9\n"));
	assert_non_null(strstr(t, "leakscope_start_time_seconds 1700000000.5\n"));
	assert_non_null(strstr(t, "leakscope_bpf_run_seconds_total 1.5\n"));
	assert_non_null(strstr(t, "leakscope_bpf_runs_total 42\n"));
	/* every sample line belongs to a family declared just before */
	for (char *line = t; *line; line = strchr(line, '\n') + 1) {
		if (*line != '#')
			assert_true(!strncmp(line, "leakscope_", 10));
	}
	free(t);
	self.bpf_stats = false;		/* not measured: not exported as zero */
	t = metrics__render(&r, &self, &len);
	assert_null(strstr(t, "leakscope_bpf_run"));
	assert_null(strstr(t, "service="));	/* no cgroup service: no label */
	free(t);
	/* a target in a systemd unit: every per-target series names it */
	snprintf(r.labels.unit, sizeof(r.labels.unit), "shop.service");
	t = metrics__render(&r, &self, &len);
	assert_non_null(strstr(t, "leakscope_outstanding_bytes{pid=\"77\",comm=\"we\\\"ird\\\\na\\nme\","
				  "service=\"shop.service\"}"));
	free(t);
}

static void test_python_gc(void **state)
{
	struct pygc g;
	struct gc_event ev = { .type = EV_GC };
	struct report r = { .pid = 5, .comm = "python3" };
	struct self_stats self = { 0 };
	const struct gc_stats *st;
	size_t len;
	char *t;

	memset(&g, 0, sizeof(g));
	for (int i = 1; i <= 9999; i++) {	/* pauses 1..9999 us, gens 0,0,1,0,0,1,... */
		ev.generation = i % 3 == 0 ? 1 : 0;
		ev.pause_ns = i * 1000ULL;
		ev.collected = 2;
		pygc__event(&g, &ev);
	}
	ev.generation = 2;
	ev.pause_ns = 50000000;
	pygc__event(&g, &ev);
	st = pygc__stats(&g);
	assert_int_equal(st->total, 10000);
	assert_int_equal(st->collections[0], 6666);
	assert_int_equal(st->collections[1], 3333);
	assert_int_equal(st->collections[2], 1);
	assert_int_equal(st->collected, 20000);
	assert_true(st->pause_max_s == 0.05);
	/* the median of a uniform sample of 4096: near 5 ms */
	assert_true(st->pause_p50_s > 0.0045 && st->pause_p50_s < 0.0055);

	strcpy(r.python, "3.11.2");
	r.gc = st;
	t = metrics__render(&r, &self, &len);
	assert_non_null(strstr(t, "# TYPE leakscope_python_gc_collections_total counter\n"));
	assert_non_null(strstr(t, "leakscope_python_gc_collections_total{pid=\"5\",comm=\"python3\",generation=\"1\"} 3333\n"));
	assert_non_null(strstr(t, "# TYPE leakscope_python_gc_pause_seconds summary\n"
				  "leakscope_python_gc_pause_seconds{pid=\"5\",comm=\"python3\",quantile=\"0.5\"}"));
	assert_non_null(strstr(t, "leakscope_python_gc_pause_seconds_count{pid=\"5\",comm=\"python3\"} 10000\n"));
	assert_non_null(strstr(t, "leakscope_python_gc_pause_max_seconds{pid=\"5\",comm=\"python3\"} 0.05\n"));
	free(t);
}

static void test_split_listen(void **state)
{
	char addr[64];
	unsigned port;

	assert_int_equal(http__split_listen("127.0.0.1:9464", addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(http__split_listen("[::1]:0", addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(http__split_listen("::1:80", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("127.0.0.1", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("127.0.0.1:", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen(":80", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("1.2.3.4:65536", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("1.2.3.4:-1", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("1.2.3.4:80x", addr, sizeof(addr), &port), -EINVAL);
	assert_int_equal(http__split_listen("[::1:80", addr, sizeof(addr), &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition),
		cmocka_unit_test(test_top_processes),
		cmocka_unit_test(test_split_listen),
		cmocka_unit_test(test_python_gc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
