/* sample_report.h - one realistic report for the unit tests of the output
 * formats (test_report_golden.c prints it as text and JSON and compares
 * the result with tests/unit/golden/).
 *
 * `leakscope --all`, 300 s after attach, at a fixed moment (wall clock
 * 1700000300, 2023-11-14 22:18:20 UTC; ktime 1300 s): three processes,
 * nine stacks, the top six shown, innermost frame first:
 *
 *   pid 4242 demo_server (demo.service), C:
 *     6 MiB growing in 98304 blocks: buffer_grow() inlined into
 *       leak_growing_buffer(), from a worker thread
 *     3 MiB plateau: lru_insert() in a library without an unwind table,
 *       its outer frames found by frame pointer
 *     12 KiB on a stack the BPF code could not capture (stack_lost)
 *   pid 5151 python3 (a docker container), Python 3.11:
 *     3.8 MiB growing: list_resize() inlined, then three Python frames
 *       (Cache.put, Server.handle, <module>)
 *     256 KiB in an extension module, cut short at an address with no
 *       unwind table (no_table), not classified yet
 *   pid 6060 report-worker (a Kubernetes pod), C++:
 *     2 KiB churn: operator new from Batch::add(Row const&), down since
 *       the last report
 *
 * Totals, drop counters, cut counters, exited processes, mappings with
 * build ids (pprof), a history per stack and in total (HTML, record) are
 * all set and agree with each other (test_report_golden.c checks the
 * sums).  Blocks: 99,188, more than the default --scan-limit, so an age
 * is how long its stack has held memory without a break (ages_exact
 * false).
 *
 * sample_report_one() gives pid 5151 alone, as `-p 5151` reports it at the
 * same moment: its name, labels, Python version and GC statistics, its
 * own totals, its two stacks, ages from a block scan.
 *
 * Everything lives in a struct sample_report the caller owns; each call
 * fills it afresh, so a test may change any field.
 */
#ifndef LEAKSCOPE_SAMPLE_REPORT_H
#define LEAKSCOPE_SAMPLE_REPORT_H

#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "report/site.h"

#define SAMPLE_NPROCS	3
#define SAMPLE_NSTACKS	6
#define SAMPLE_NMAPS	8
#define SAMPLE_NPOINTS	7	/* every 50 s over 300 s */

struct sample_report {
	struct report r;
	struct report_proc procs[SAMPLE_NPROCS];
	struct report_stack stacks[SAMPLE_NSTACKS];
	struct report_mapping maps[SAMPLE_NMAPS];
	struct gc_stats gc;
	struct frame grow[6], cache[6], py[5], cut[3], churn[6];
	struct series_point points[SAMPLE_NSTACKS][SAMPLE_NPOINTS];
	struct series_point total[SAMPLE_NPOINTS];
};

#define SAMPLE_NOW_NS		1300000000000ull	/* ktime at the report */
#define SAMPLE_START_S		1700000000.0		/* wall clock at attach */
#define SAMPLE_DURATION_S	300.0

#define SAMPLE_APP	"/usr/sbin/demo_server"
#define SAMPLE_LIBCACHE	"/opt/demo/lib/libcache.so.1"
#define SAMPLE_LIBC	"/usr/lib/x86_64-linux-gnu/libc.so.6"
#define SAMPLE_PYTHON	"/usr/bin/python3.11"
#define SAMPLE_SPEEDUPS	"/srv/app/venv/lib/python3.11/site-packages/" \
			"_speedups.cpython-311-x86_64-linux-gnu.so"
#define SAMPLE_WORKER	"/usr/local/bin/report-worker"
#define SAMPLE_LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"
#define SAMPLE_DOCKER_ID "4f8a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
#define SAMPLE_CRI_ID	"d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5"

#define SAMPLE_NATIVE(a, mod, fn, off) \
	((struct frame){ .addr = a, .module = mod, .function = fn, .func_offset = off })
#define SAMPLE_SRC(a, mod, fn, off, fl, ln) \
	((struct frame){ .addr = a, .module = mod, .function = fn, .func_offset = off, \
			 .file = fl, .line = ln })
/* inlined into the next frame, which has the same address */
#define SAMPLE_INLINED(a, mod, fn, fl, ln) \
	((struct frame){ .addr = a, .module = mod, .function = fn, .file = fl, .line = ln, \
			 .inlined = true })
/* a Python frame: addr is its code object, no module */
#define SAMPLE_PY(a, fn, fl, ln) \
	((struct frame){ .addr = a, .function = fn, .file = fl, .line = ln, .python = true })

/* Outstanding bytes of stack s t seconds after attach: none before its
 * oldest block, then rising (growing), rising for a minute (plateau), or
 * flat. */
static inline double sample_report__shape(const struct report_stack *s, double t)
{
	double from = SAMPLE_DURATION_S - (SAMPLE_NOW_NS - s->oldest_ts_ns) / 1e9;

	if (t < from)
		return 0;
	if (s->cls == CLASS_GROWING)
		return s->bytes * (t - from) / (SAMPLE_DURATION_S - from);
	if (s->cls == CLASS_PLATEAU && t < from + 60)
		return s->bytes * (t - from) / 60;
	return s->bytes;
}

static inline void sample_report(struct sample_report *s)
{
	struct report *r = &s->r;
	struct report_stack *st = s->stacks;
	double hidden = 1024 + 512 + 640;	/* the three stacks not shown */

	memset(s, 0, sizeof(*s));

	/* demo_server: a leak, a bounded cache, a lost stack */
	s->grow[0] = SAMPLE_INLINED(0x55d4c3a01a3c, SAMPLE_APP, "buffer_grow", "src/buffer.h", 31);
	s->grow[1] = SAMPLE_SRC(0x55d4c3a01a3c, SAMPLE_APP, "leak_growing_buffer", 0x2c,
				"src/server.c", 88);
	s->grow[2] = SAMPLE_SRC(0x55d4c3a01c44, SAMPLE_APP, "handle_request", 0x44,
				"src/server.c", 140);
	s->grow[3] = SAMPLE_SRC(0x55d4c3a01e31, SAMPLE_APP, "worker_loop", 0x31,
				"src/server.c", 201);
	s->grow[4] = SAMPLE_NATIVE(0x7f3a1c2a1b2a, SAMPLE_LIBC, "start_thread", 0x2f2);
	s->grow[5] = SAMPLE_NATIVE(0x7f3a1c32384c, SAMPLE_LIBC, "__clone3", 0x2c);
	s->cache[0] = SAMPLE_NATIVE(0x7f3a1bfe3150, SAMPLE_LIBCACHE, "lru_insert", 0x60);
	s->cache[1] = SAMPLE_NATIVE(0x7f3a1bfe3512, SAMPLE_LIBCACHE, "cache_put", 0x42);
	s->cache[2] = SAMPLE_SRC(0x55d4c3a01d08, SAMPLE_APP, "handle_request", 0x108,
				 "src/server.c", 152);
	s->cache[3] = s->grow[3];
	s->cache[4] = s->grow[4];
	s->cache[5] = s->grow[5];

	/* python3: a Python leak, a stack cut short in an extension module */
	s->py[0] = SAMPLE_INLINED(0x5612e8b3f0d2, SAMPLE_PYTHON, "list_resize",
				  "Objects/listobject.c", 67);
	s->py[1] = SAMPLE_SRC(0x5612e8b3f0d2, SAMPLE_PYTHON, "_PyList_AppendTakeRefListResize",
			      0x4e, "Objects/listobject.c", 325);
	s->py[2] = SAMPLE_PY(0x7f8e5c1a2e30, "Cache.put", "/srv/app/cache.py", 41);
	s->py[3] = SAMPLE_PY(0x7f8e5c1a1b70, "Server.handle", "/srv/app/server.py", 77);
	s->py[4] = SAMPLE_PY(0x7f8e5c19f6f0, "<module>", "/srv/app/main.py", 12);
	s->cut[0] = SAMPLE_NATIVE(0x7f8e5d4031c7, SAMPLE_SPEEDUPS, "encode_row", 0x97);
	s->cut[1] = SAMPLE_NATIVE(0x7f8e5d4029f0, SAMPLE_SPEEDUPS, "encode_rows", 0x120);
	s->cut[2] = (struct frame){ .addr = 0x7f8e4c0021f5 };	/* anonymous memory */

	/* report-worker: C++ churn */
	s->churn[0] = SAMPLE_NATIVE(0x7f51a02aa0fc, SAMPLE_LIBSTDCXX, "operator new(unsigned long)",
				    0x1c);
	s->churn[1] = SAMPLE_SRC(0x55f0b7e04d6e, SAMPLE_WORKER, "Batch::add(Row const&)", 0x5e,
				 "src/batch.cc", 58);
	s->churn[2] = SAMPLE_SRC(0x55f0b7e03b12, SAMPLE_WORKER, "main", 0x1b2, "src/main.cc", 40);
	s->churn[3] = SAMPLE_NATIVE(0x7f51a044f24a, SAMPLE_LIBC, "__libc_start_call_main", 0x7a);
	s->churn[4] = SAMPLE_NATIVE(0x7f51a044f305, SAMPLE_LIBC, "__libc_start_main", 0x85);
	s->churn[5] = SAMPLE_NATIVE(0x55f0b7e03c45, SAMPLE_WORKER, "_start", 0x25);

	/* by bytes, descending */
	st[0] = (struct report_stack){
		.key = { .tgid = 4242, .id = 0x9e3779b97f4a7c15, .lead_pc = 0x55d4c3a01a3c },
		.bytes = 6291456, .allocs = 98304,
		.oldest_ts_ns = 1050000000000,
		.last_alloc_ns = 1299900000000,
		.cls = CLASS_GROWING, .growth_bytes_per_s = 20480, .growth_bytes = 204800,
		.alloc_bytes = 6332416, .alloc_count = 98944,
		.cut = UW_STOP_END, .comm = "demo_server", .frames = s->grow, .nframes = 6,
	};
	st[1] = (struct report_stack){
		.key = { .tgid = 5151, .id = 0x5bd1e9955bd1e995, .lead_pc = 0x5612e8b3f0d2 },
		.bytes = 4001400, .allocs = 25,
		.oldest_ts_ns = 1004500000000,
		.last_alloc_ns = 1297000000000,
		.cls = CLASS_GROWING, .growth_bytes_per_s = 13338, .growth_bytes = 160056,
		.alloc_bytes = 4001400, .alloc_count = 25,
		.cut = UW_STOP_END, .comm = "python3", .frames = s->py, .nframes = 5,
	};
	st[2] = (struct report_stack){
		.key = { .tgid = 4242, .id = 0x2545f4914f6cdd1d, .lead_pc = 0x7f3a1bfe3150 },
		.bytes = 3145728, .allocs = 768,
		.oldest_ts_ns = 1010000000000,
		.last_alloc_ns = 1058000000000,
		.cls = CLASS_PLATEAU, .growth_bytes_per_s = 0, .growth_bytes = 0,
		.alloc_bytes = 4194304, .alloc_count = 1024,
		.cut = UW_STOP_END, .fp_first = 2, .comm = "demo_server",
		.frames = s->cache, .nframes = 6,
	};
	st[3] = (struct report_stack){
		.key = { .tgid = 5151, .id = 0xff51afd7ed558ccd, .lead_pc = 0x7f8e5d4031c7 },
		.bytes = 262144, .allocs = 64,
		.oldest_ts_ns = 1296800000000,
		.last_alloc_ns = 1299400000000,
		.cls = CLASS_UNKNOWN, .growth_bytes_per_s = 0, .growth_bytes = 262144,
		.alloc_bytes = 290816, .alloc_count = 71,
		.cut = UW_STOP_NO_TABLE, .comm = "python3", .frames = s->cut, .nframes = 3,
	};
	st[4] = (struct report_stack){
		.key = { .tgid = 4242, .id = STACK_ID_LOST },
		.bytes = 12288, .allocs = 3,
		.oldest_ts_ns = 1260000000000,
		.last_alloc_ns = 1262000000000,
		.cls = CLASS_UNKNOWN, .growth_bytes = 4096,
		.alloc_bytes = 12288, .alloc_count = 3,
		.cut = UW_STOP_END, .comm = "demo_server",
	};
	st[5] = (struct report_stack){
		.key = { .tgid = 6060, .id = 0xc4ceb9fe1a85ec53, .lead_pc = 0x7f51a02aa0fc },
		.bytes = 2048, .allocs = 16,
		.oldest_ts_ns = 1299200000000,
		.last_alloc_ns = 1299990000000,
		.cls = CLASS_CHURN, .growth_bytes_per_s = -819.2, .growth_bytes = -8192,
		.alloc_bytes = 15362048, .alloc_count = 120016,
		.cut = UW_STOP_END, .comm = "report-worker", .frames = s->churn, .nframes = 6,
	};

	for (int i = 0; i < SAMPLE_NSTACKS; i++)
		st[i].series = (struct report_series){ s->points[i], SAMPLE_NPOINTS };
	for (int p = 0; p < SAMPLE_NPOINTS; p++) {
		double t = p * SAMPLE_DURATION_S / (SAMPLE_NPOINTS - 1);

		s->total[p] = (struct series_point){ t, hidden };
		for (int i = 0; i < SAMPLE_NSTACKS; i++) {
			s->points[i][p] = (struct series_point){ t, sample_report__shape(&st[i], t) };
			s->total[p].bytes += s->points[i][p].bytes;
		}
	}

	s->procs[0] = (struct report_proc){
		.pid = 4242, .comm = "demo_server", .labels = { .unit = "demo.service" },
		.bytes = 9450496, .allocs = 99077, .nstacks = 4,
		.cls = CLASS_GROWING, .growth_bytes_per_s = 20889.6, .growth_bytes = 208896,
	};
	s->procs[1] = (struct report_proc){
		.pid = 5151, .comm = "python3",
		.labels = { .container = SAMPLE_DOCKER_ID, .runtime = "docker" },
		.bytes = 4264056, .allocs = 90, .nstacks = 3,
		.cls = CLASS_GROWING, .growth_bytes_per_s = 14150, .growth_bytes = 422200,
	};
	s->procs[2] = (struct report_proc){
		.pid = 6060, .comm = "report-worker",
		.labels = { .container = SAMPLE_CRI_ID, .runtime = "containerd",
			    .pod_uid = "8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
			    .pod = "report-worker-7d9f8b6c5-x2x7q", .ns = "billing" },
		.bytes = 2688, .allocs = 21, .nstacks = 2,
		.cls = CLASS_CHURN, .growth_bytes_per_s = -819.2, .growth_bytes = -8192,
	};

	/* sorted by pid, start */
	s->maps[0] = (struct report_mapping){ 4242, 0x55d4c3a00000, 0x55d4c3a4a000, SAMPLE_APP,
					      "3f1c9a0be47d25c8816e0f2a9b7d3c4e5f607182" };
	s->maps[1] = (struct report_mapping){ 4242, 0x7f3a1bfe0000, 0x7f3a1bff2000,
					      SAMPLE_LIBCACHE, "" };
	s->maps[2] = (struct report_mapping){ 4242, 0x7f3a1c228000, 0x7f3a1c3fd000, SAMPLE_LIBC,
					      "2e01923fea4ad9f7fa50fe24e0f3385a45a6cd1c" };
	s->maps[3] = (struct report_mapping){ 5151, 0x5612e8a00000, 0x5612e8dd2000,
					      SAMPLE_PYTHON,
					      "b5f1fe1c5e2a8a0e7a1f4d3e6c9b8a7d6e5f4c3b" };
	s->maps[4] = (struct report_mapping){ 5151, 0x7f8e5d400000, 0x7f8e5d40c000,
					      SAMPLE_SPEEDUPS,
					      "91c4e5d6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2" };
	s->maps[5] = (struct report_mapping){ 6060, 0x55f0b7e00000, 0x55f0b7e2c000,
					      SAMPLE_WORKER,
					      "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567" };
	s->maps[6] = (struct report_mapping){ 6060, 0x7f51a0200000, 0x7f51a03b0000,
					      SAMPLE_LIBSTDCXX,
					      "e8c7b6a5f4d3c2b1a09f8e7d6c5b4a3928171605" };
	s->maps[7] = (struct report_mapping){ 6060, 0x7f51a0428000, 0x7f51a05fd000, SAMPLE_LIBC,
					      "2e01923fea4ad9f7fa50fe24e0f3385a45a6cd1c" };

	s->gc = (struct gc_stats){
		.collections = { 412, 37, 3 }, .total = 452, .collected = 18230,
		.pause_sum_s = 0.0912, .pause_p50_s = 0.000104, .pause_max_s = 0.0126,
	};

	*r = (struct report){
		.timestamp = SAMPLE_START_S + SAMPLE_DURATION_S,
		.now_ns = SAMPLE_NOW_NS,
		.totals = {
			.outstanding_bytes = 13717240,
			.outstanding_allocs = 99188,
			.allocs = 1203345,
			.frees = 1103106,
			.untracked_frees = 3021,
			.failed_allocs = 2,
			.nested_calls = 118,
			.kernel_mem_bytes = 18874368,
			.exited_procs = 1,
			.exited_blocks = 1051,
			.exited_bytes = 524800,
			.dropped = 5,
			.drops = { [CNT_DROP_STACK_LOST] = 3, [CNT_DROP_EVENTS_LOST] = 2 },
			.cut = { [UW_STOP_NO_TABLE] = 71 },
			.cut_total = 71,
			.fp_fallback = 1024,
		},
		.nstacks_total = 9,
		.blocks_scanned = 0,
		.ages_exact = false,
		.multi = true,
		.procs = s->procs,
		.nprocs = SAMPLE_NPROCS,
		.stacks = s->stacks,
		.nstacks = SAMPLE_NSTACKS,
		.mappings = s->maps,
		.nmappings = SAMPLE_NMAPS,
		.start_timestamp = SAMPLE_START_S,
		.build_s = 0.0125,
		.total_series = { s->total, SAMPLE_NPOINTS },
	};
	site__mark(&s->r, NULL);	/* as the resolve stage does */
}

/* pid 5151 alone (`-p 5151`) at the same moment. */
static inline void sample_report_one(struct sample_report *s)
{
	struct report *r = &s->r;
	const struct report_proc *p = &s->procs[1];
	size_t n = 0, m = 0;

	sample_report(s);
	for (size_t i = 0; i < r->nstacks; i++)
		if ((pid_t)r->stacks[i].key.tgid == p->pid)
			r->stacks[n++] = r->stacks[i];
	for (size_t i = 0; i < r->nmappings; i++)
		if (r->mappings[i].pid == p->pid)
			r->mappings[m++] = r->mappings[i];
	r->pid = p->pid;
	snprintf(r->comm, sizeof(r->comm), "%s", p->comm);
	r->labels = p->labels;
	snprintf(r->python, sizeof(r->python), "3.11.2");
	r->gc = &s->gc;
	r->totals = (struct report_totals){
		.outstanding_bytes = p->bytes,
		.outstanding_allocs = p->allocs,
		.allocs = 48211,
		.frees = 48121,
		.untracked_frees = 17,
		.nested_calls = 3,
		.kernel_mem_bytes = 6815744,
		.cut = { [UW_STOP_NO_TABLE] = 71 },
		.cut_total = 71,
	};
	r->nstacks_total = p->nstacks;
	r->blocks_scanned = p->allocs;
	r->ages_exact = true;
	r->multi = false;
	r->procs = NULL;
	r->nprocs = 0;
	r->nstacks = n;
	r->nmappings = m;
	for (int k = 0; k < SAMPLE_NPOINTS; k++)	/* its hidden stack: 512 B */
		s->total[k].bytes = 512 + s->points[1][k].bytes + s->points[3][k].bytes;
}

#endif
