/* heap.bpf.h - outstanding heap blocks keyed by (tgid, address). */
#ifndef LEAKSCOPE_HEAP_BPF_H
#define LEAKSCOPE_HEAP_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "leakscope.h"
#include "maps.bpf.h"
#include "state.bpf.h"
#include "aggregate.bpf.h"
#include "stack.bpf.h"

#define EEXIST		17

/* Not inlined: its records (~90 bytes) would otherwise sit in the frame
 * of the return probe, under the whole stack capture's call chain. */
static __noinline void heap_insert(__u32 tgid, __u64 addr, __u64 size,
				   struct stack_key *sk, struct stack_agg *agg)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_rec rec = { .size_bytes = size, .stack = *sk };
	struct alloc_rec *old;
	long err;

	rec.ts_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&allocs, &key, &rec, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* A block already recorded at this address was freed behind
		 * our back (by a path we do not probe): retire it first. */
		old = bpf_map_lookup_elem(&allocs, &key);
		if (old) {
			struct stack_key osk = old->stack;
			__s64 osize = old->size_bytes;

			if (!bpf_map_delete_elem(&allocs, &key))
				agg_add(&osk, -osize, -1);
		}
		err = bpf_map_update_elem(&allocs, &key, &rec, BPF_NOEXIST);
	}
	if (err) {
		count(CNT_DROP_ALLOC_MAP_FULL);
		return;
	}
	agg_new_block(&rec.stack, agg, size);
}

/* Records a block with the stack of the current return probe: frame #0
 * is the return address in the allocator's caller. */
static __always_inline void heap_record(struct pt_regs *regs, __u32 tgid, __u64 addr,
					__u64 size)
{
	struct stack_key sk;
	struct stack_agg *agg = capture_stack(regs, tgid, &sk, false, 0);

	if (agg)
		heap_insert(tgid, addr, size, &sk, agg);
}

static __always_inline void heap_forget(__u32 tgid, __u64 addr)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_rec *rec = bpf_map_lookup_elem(&allocs, &key);
	struct stack_key sk;
	__s64 size;

	if (!rec) {
		/* when sampling, most frees are of unsampled blocks */
		if (!sample_period)
			count(CNT_UNTRACKED_FREES);
		return;
	}
	sk = rec->stack;
	size = rec->size_bytes;
	/* Only the thread whose delete succeeds retires the block. */
	if (bpf_map_delete_elem(&allocs, &key))
		return;
	agg_add(&sk, -size, -1);
	count(CNT_FREES);
}


#endif
