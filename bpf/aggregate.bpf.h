/* aggregate.bpf.h - per-stack aggregates: outstanding bytes and blocks, ages, totals. */
#ifndef LEAKSCOPE_AGGREGATE_BPF_H
#define LEAKSCOPE_AGGREGATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "leakscope.h"
#include "sampling.h"	/* sample_threshold() */
#include "maps.bpf.h"
#include "state.bpf.h"

/* The stack's aggregate, created if new; NULL (counted) if the map is full. */
static __always_inline struct stack_agg *agg_get(struct stack_key *sk)
{
	static const struct stack_agg zero;
	struct stack_agg *agg = bpf_map_lookup_elem(&stack_aggs, sk);

	if (agg)
		return agg;
	bpf_map_update_elem(&stack_aggs, sk, &zero, BPF_NOEXIST);
	agg = bpf_map_lookup_elem(&stack_aggs, sk);
	if (!agg && sk->id != STACK_ID_LOST)	/* a lost stack is counted once, as such */
		count(CNT_DROP_STACK_AGG_FULL);
	return agg;
}

/* Counts blocks in or out of a stack, keeping held_since_ns. */
static __always_inline void agg_count(struct stack_agg *agg, __s64 allocs,
				      __u64 ts_ns)
{
	__s64 before;

	if (!allocs)
		return;
	before = __sync_fetch_and_add(&agg->outstanding_allocs, allocs);
	if (before == 0 && allocs > 0)
		agg->held_since_ns = ts_ns;
	else if (before + allocs == 0)
		agg->held_since_ns = 0;
}

static __always_inline void agg_add(struct stack_key *sk, __s64 bytes,
				    __s64 allocs)
{
	struct stack_agg *agg = bpf_map_lookup_elem(&stack_aggs, sk);

	if (!agg)
		return;
	__sync_fetch_and_add(&agg->outstanding_bytes, bytes);
	agg_count(agg, allocs, bpf_ktime_get_ns());
}


/* Adds a new block to its stack's allocation totals: itself, or when
 * sampling its weight 1/p in Q16 (size*w < 2^62 for any size: p ~ 1
 * from size ~ 44 * period on, and size*(1/p) ~ period below that). */
static __always_inline void agg_alloc_total(struct stack_agg *agg, __u64 size)
{
	__u64 w = 1, thr;

	if (sample_period) {
		thr = sample_threshold((const struct sample_tables *)&sample_tab,
				       size, sample_period);
		w = thr ? (SAMPLE_ONE << 16) / thr : 0;
	}
	__sync_fetch_and_add(&agg->alloc_bytes, size * w);
	__sync_fetch_and_add(&agg->alloc_count, w);
}

/* Counts a new block into its stack's aggregate (agg: if the caller has
 * it already; else looked up). */
static __always_inline void agg_new_block(struct stack_key *sk,
					  struct stack_agg *agg, __u64 size)
{
	__u64 now = bpf_ktime_get_ns();

	if (!agg)
		agg = bpf_map_lookup_elem(&stack_aggs, sk);
	if (!agg) {	/* capture_stack() created it; only a full map fails */
		if (sk->id != STACK_ID_LOST)	/* counted once, as stack_lost */
			count(CNT_DROP_STACK_AGG_FULL);
		return;
	}
	__sync_fetch_and_add(&agg->outstanding_bytes, size);
	agg_count(agg, 1, now);
	agg->last_alloc_ns = now;
	agg_alloc_total(agg, size);
	count(CNT_ALLOCS);
}


#endif
