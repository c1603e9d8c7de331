/* regions.bpf.h - outstanding anonymous mmap regions (an array scanned with
 * bpf_loop): added, cut and moved by munmap/mremap. */
#ifndef LEAKSCOPE_REGIONS_BPF_H
#define LEAKSCOPE_REGIONS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "leakscope.h"
#include "regions.h"	/* region_cut(), page_round(): pure, unit-tested */
#include "maps.bpf.h"
#include "state.bpf.h"
#include "aggregate.bpf.h"

struct region_find_ctx {
	__u32 tgid;
	__u32 slot;
	bool found;
};

static long region_free_slot_cb(__u32 i, struct region_find_ctx *c)
{
	__u32 key = i;
	struct mmap_region *r = bpf_map_lookup_elem(&mmap_regions, &key);

	if (!r)
		return 1;
	if (__sync_val_compare_and_swap(&r->tgid, 0, c->tgid) == 0) {
		c->slot = i;
		c->found = true;
		return 1;
	}
	return 0;
}

/* Adds [start, start+len) on stack sk; new_block says whether this is a
 * new allocation (counted in allocs) or the remainder of a split/move. */
static __always_inline void region_add(__u32 tgid, __u64 start, __u64 len,
				       struct stack_key *sk, __u64 ts_ns,
				       bool new_block)
{
	struct region_find_ctx c = { .tgid = tgid };
	struct mmap_region *r;

	bpf_loop(MAX_MMAP_REGIONS, region_free_slot_cb, &c, 0);
	if (!c.found) {
		count(CNT_DROP_MMAP_TABLE_FULL);
		return;
	}
	r = bpf_map_lookup_elem(&mmap_regions, &c.slot);
	if (!r)
		return;
	r->start = start;
	r->len_bytes = len;
	r->ts_ns = ts_ns;
	r->stack = *sk;
	if (new_block)
		agg_new_block(sk, NULL, len);
	else
		agg_add(sk, len, 1);
}

struct region_unmap_ctx {
	__u32 tgid;
	__u64 lo, hi;		/* the range being unmapped */
	__u64 unmapped;		/* tracked bytes it covered */
	/* a range strictly inside one region leaves a tail to re-add */
	__u64 tail_start, tail_len, tail_ts;
	struct stack_key tail_stack;
	/* the stack of the first region touched (mremap keeps it) */
	struct stack_key first_stack;
	__u64 first_ts;
	bool touched;
};

static long region_unmap_cb(__u32 i, struct region_unmap_ctx *c)
{
	__u32 key = i;
	struct mmap_region *r = bpf_map_lookup_elem(&mmap_regions, &key);
	struct region_cut cut;
	enum region_cut_kind kind;
	struct stack_key sk;

	if (!r)
		return 1;
	if (r->tgid != c->tgid)
		return 0;
	kind = region_cut(r->start, r->len_bytes, c->lo, c->hi, &cut);
	if (kind == REGION_CUT_NONE)
		return 0;
	sk = r->stack;
	if (!c->touched) {
		c->touched = true;
		c->first_stack = sk;
		c->first_ts = r->ts_ns;
	}
	c->unmapped += cut.unmapped_bytes;
	switch (kind) {
	case REGION_CUT_WHOLE:
		agg_add(&sk, -(__s64)cut.freed_bytes, -1);
		r->tgid = 0;	/* last: the slot is free for others from here */
		break;
	case REGION_CUT_HEAD:
		r->start = cut.start;
		r->len_bytes = cut.len_bytes;
		agg_add(&sk, -(__s64)cut.freed_bytes, 0);
		break;
	case REGION_CUT_TAIL:
		r->len_bytes = cut.len_bytes;
		agg_add(&sk, -(__s64)cut.freed_bytes, 0);
		break;
	default:	/* REGION_CUT_MIDDLE: region_unmap() re-adds the tail */
		r->len_bytes = cut.len_bytes;
		agg_add(&sk, -(__s64)cut.freed_bytes, 0);
		c->tail_start = cut.tail_start;
		c->tail_len = cut.tail_len_bytes;
		c->tail_ts = r->ts_ns;
		c->tail_stack = sk;
		break;
	}
	return 0;
}

static __always_inline void region_unmap(struct region_unmap_ctx *c)
{
	bpf_loop(MAX_MMAP_REGIONS, region_unmap_cb, c, 0);
	if (c->tail_len)
		region_add(c->tgid, c->tail_start, c->tail_len, &c->tail_stack,
			   c->tail_ts, false);
}


#endif
