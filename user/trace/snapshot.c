/* snapshot.c - one batched read of the aggregates and the counters, and
 * on demand of the outstanding blocks (see snapshot.h).  Cost: O(stacks) -
 * a BPF_MAP_LOOKUP_BATCH pass - and CNT__COUNT per-CPU lookups; with the
 * timeline's sample, 5-10 ms for 10,000 stacks here (tools/bench.sh scale).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace/mapiter.h"
#include "trace/snapshot.h"
#include "trace/trace.h"

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

int snapshot__take(struct snapshot *s, const struct trace *t)
{
	int aggs_fd = trace__map_fd(t, TRACE_MAP_STACK_AGGS);
	int counters_fd = trace__map_fd(t, TRACE_MAP_COUNTERS);
	struct timespec mono, wall;
	int err;

	if (!s->ncpus)
		s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0)
		return -EINVAL;
	if (s->cap == SIZE_MAX)
		s->cap = 0;
	s->n = 0;
	s->nblocks = 0;
	s->has_blocks = false;
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
	if (!err)
		trace__exited(t, &s->totals.exited_procs, &s->totals.exited_blocks,
			      &s->totals.exited_bytes);
	return err;
}

/* ---- the outstanding blocks --------------------------------------------- */

struct block_read {
	struct snapshot *s;
	pid_t pid;
	int err;
};

static void add_block(struct block_read *b, pid_t tgid, const struct stack_key *k,
		      uint64_t size, uint64_t ts_ns)
{
	struct snapshot *s = b->s;

	if (b->err || (b->pid && tgid != b->pid))
		return;
	if (s->nblocks == s->capblocks) {
		size_t cap = s->capblocks ? s->capblocks * 2 : 4096;
		struct snap_block *v = realloc(s->blocks, cap * sizeof(*v));

		if (!v) {
			b->err = -ENOMEM;
			return;
		}
		s->blocks = v;
		s->capblocks = cap;
	}
	s->blocks[s->nblocks++] = (struct snap_block){ .key = *k, .size = size, .ts_ns = ts_ns };
}

static void on_alloc(const void *key, const void *val, void *ctx)
{
	const struct alloc_key *k = key;
	const struct alloc_rec *r = val;

	add_block(ctx, k->tgid, &r->stack, r->size_bytes, r->ts_ns);
}

/* Room for the blocks the aggregates count (and some that come while
 * they are read): one allocation, not a doubling's copies and slack. */
static int reserve_blocks(struct snapshot *s, pid_t pid)
{
	size_t want = 1024;
	struct snap_block *v;

	for (size_t i = 0; i < s->n; i++)
		if (!pid || (pid_t)s->v[i].key.tgid == pid)
			want += s->v[i].agg.outstanding_allocs;
	want += want / 16;
	if (want <= s->capblocks)
		return 0;
	v = realloc(s->blocks, want * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->blocks = v;
	s->capblocks = want;
	return 0;
}

int snapshot__take_blocks(struct snapshot *s, const struct trace *t, pid_t pid)
{
	struct block_read b = { .s = s, .pid = pid };
	int regions_fd = trace__map_fd(t, TRACE_MAP_REGIONS);
	int err = reserve_blocks(s, pid);

	s->nblocks = 0;
	if (err)
		return err;
	err = mapiter__each(trace__map_fd(t, TRACE_MAP_ALLOCS), sizeof(struct alloc_key),
			    sizeof(struct alloc_rec), on_alloc, &b);
	for (__u32 i = 0; !err && !b.err && i < MAX_MMAP_REGIONS; i++) {
		struct mmap_region r;

		if (bpf_map_lookup_elem(regions_fd, &i, &r))
			err = -errno;
		else if (r.tgid)
			add_block(&b, r.tgid, &r.stack, r.len_bytes, r.ts_ns);
	}
	if (!err)
		err = b.err;
	s->has_blocks = !err;
	s->blocks_pid = pid;
	return err;
}

void snapshot__free(struct snapshot *s)
{
	free(s->v);
	free(s->blocks);
	memset(s, 0, sizeof(*s));
}
