/* snapshot.c - one batched read of the aggregates and the counters (see
 * snapshot.h).  Cost: O(stacks) - a BPF_MAP_LOOKUP_BATCH pass - and
 * CNT__COUNT per-CPU lookups; with the timeline's sample, 5-10 ms for
 * 10,000 stacks here (tools/bench.sh scale).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace/mapiter.h"
#include "collect/snapshot.h"

static void on_agg(const void *key, const void *val, void *ctx)
{
	struct snapshot *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct snap_stack *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->cap = SIZE_MAX;	/* remembered: ENOMEM */
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	if (s->cap == SIZE_MAX)
		return;
	memcpy(&s->v[s->n].key, key, sizeof(struct stack_key));
	memcpy(&s->v[s->n].agg, val, sizeof(struct stack_agg));
	s->n++;
}

void snapshot__totals(const uint64_t *sum, struct report_totals *t)
{
	t->allocs = sum[CNT_ALLOCS];
	t->frees = sum[CNT_FREES];
	t->untracked_frees = sum[CNT_UNTRACKED_FREES];
	t->failed_allocs = sum[CNT_FAILED_ALLOCS];
	t->nested_calls = sum[CNT_NESTED_CALLS];
	for (int k = CNT_DROP_ALLOC_MAP_FULL; k < CNT_DROP__END; k++) {
		t->drops[k] = sum[k];
		t->dropped += sum[k];
	}
	for (int k = UW_STOP_NO_TABLE; k < UW_STOP__COUNT; k++) {
		t->cut[k] = sum[CNT_UNWIND_STOP_BASE + k];
		t->cut_total += t->cut[k];
	}
	t->fp_fallback = sum[CNT_UNWIND_FP_FALLBACK];
}

static int read_counters(struct snapshot *s, int fd)
{
	uint64_t sum[CNT__COUNT] = { 0 };
	uint64_t *percpu = calloc(s->ncpus, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (__u32 k = 0; k < CNT__COUNT; k++) {
		if (bpf_map_lookup_elem(fd, &k, percpu)) {
			free(percpu);
			return -errno;
		}
		for (int i = 0; i < s->ncpus; i++)
			sum[k] += percpu[i];
	}
	free(percpu);
	memset(&s->totals, 0, sizeof(s->totals));
	snapshot__totals(sum, &s->totals);
	return 0;
}

int snapshot__take(struct snapshot *s, int aggs_fd, int counters_fd)
{
	struct timespec mono, wall;
	int err;

	if (!s->ncpus)
		s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0)
		return -EINVAL;
	if (s->cap == SIZE_MAX)
		s->cap = 0;
	s->n = 0;
	clock_gettime(CLOCK_MONOTONIC, &mono);	/* = bpf_ktime_get_ns() */
	clock_gettime(CLOCK_REALTIME, &wall);
	s->now_ns = mono.tv_sec * 1000000000ULL + mono.tv_nsec;
	s->wall_s = wall.tv_sec + wall.tv_nsec / 1e9;
	err = read_counters(s, counters_fd);
	if (!err)
		err = mapiter__each(aggs_fd, sizeof(struct stack_key), sizeof(struct stack_agg),
				    on_agg, s);
	if (!err && s->cap == SIZE_MAX)
		err = -ENOMEM;
	return err;
}

void snapshot__free(struct snapshot *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
