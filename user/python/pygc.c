/* pygc.c - garbage-collection statistics of a Python target.
 *
 * libbpf attaches the two USDT programs (it parses .note.stapsdt, the
 * argument specs, and arms the probes' semaphores through the kernel's
 * reference counters, so nothing in the target is written by us; it maps
 * the file to read them, so the call is guarded against SIGBUS).  Each
 * collection arrives as one ring-buffer event; pauses are kept in a
 * uniform reservoir for the median, the maximum exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "util/guard.h"
#include "python/pygc.h"
#include "trace/trace.h"
#include "util/log.h"

struct usdt_attach {
	struct pygc *g;
	struct trace *t;
	pid_t pid;
	const char *path;
};

static int attach_usdt(void *arg)
{
	struct usdt_attach *a = arg;
	struct bpf_program *start = trace__prog(a->t, "python_gc_start");
	struct bpf_program *done = trace__prog(a->t, "python_gc_done");

	if (!start || !done)	/* refused by this kernel (said at load) */
		return 0;
	a->g->start = bpf_program__attach_usdt(start, a->pid, a->path, "python", "gc__start",
					       NULL);
	a->g->done = a->g->start ? bpf_program__attach_usdt(done, a->pid, a->path, "python",
							    "gc__done", NULL)
				 : NULL;
	return 0;
}

int pygc__attach(struct pygc *g, struct trace *t, pid_t pid, const char *open_path)
{
	struct usdt_attach a = { g, t, pid, open_path };

	memset(g, 0, sizeof(*g));
	/* libbpf reads the notes through a mapping of the interpreter's
	 * file, which the target could truncate: SIGBUS is an error here */
	if (guard__call(attach_usdt, &a)) {
		log__error("%s changed while its USDT notes were read; "
			"no GC statistics\n", open_path);
		pygc__detach(g);
		return -EFAULT;
	}
	if (!g->start || !g->done) {
		pygc__detach(g);
		return -ENOENT;
	}
	return 0;
}

void pygc__detach(struct pygc *g)
{
	bpf_link__destroy(g->done);
	bpf_link__destroy(g->start);
	g->start = g->done = NULL;
}

static uint64_t next_rand(struct pygc *g)
{
	if (!g->rng)	/* xorshift never leaves 0 */
		g->rng = 0x9e3779b97f4a7c15ULL;
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

void pygc__event(struct pygc *g, const struct gc_event *ev)
{
	double s = ev->pause_ns / 1e9;

	if (ev->generation >= 0 && ev->generation < GC_GENERATIONS)
		g->st.collections[ev->generation]++;
	g->st.total++;
	if (ev->collected > 0)
		g->st.collected += ev->collected;
	g->st.pause_sum_s += s;
	if (s > g->st.pause_max_s)
		g->st.pause_max_s = s;
	if (g->seen < GC_RESERVOIR) {
		g->pauses[g->seen] = ev->pause_ns;
	} else {
		uint64_t j = next_rand(g) % (g->seen + 1);

		if (j < GC_RESERVOIR)
			g->pauses[j] = ev->pause_ns;
	}
	g->seen++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

const struct gc_stats *pygc__stats(struct pygc *g)
{
	size_t n = g->seen < GC_RESERVOIR ? g->seen : GC_RESERVOIR;
	uint64_t sorted[GC_RESERVOIR];

	g->st.pause_p50_s = 0;
	if (n) {
		memcpy(sorted, g->pauses, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u64);
		g->st.pause_p50_s = sorted[(n - 1) / 2] / 1e9;
	}
	return &g->st;
}
