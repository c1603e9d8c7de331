/* kernel.bpf.h - kernel allocations (--kernel): blocks under KERNEL_TGID with
 * the kernel stack of the allocation. */
#ifndef LEAKSCOPE_KERNEL_BPF_H
#define LEAKSCOPE_KERNEL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "leakscope.h"
#include "framehash.h"	/* hash_kernel_frames() */
#include "maps.bpf.h"
#include "state.bpf.h"
#include "aggregate.bpf.h"
#include "stack.bpf.h"
#include "heap.bpf.h"

/* Blocks of the kernel are kept like a process's, under tgid KERNEL_TGID,
 * keyed by address (pages by their frame number, in a range of keys no
 * kernel address has), with the kernel stack of the allocation. */

#define KERNEL_TGID	0
#define PAGE_SIZE	4096ULL
#define PAGE_KEY(pfn)	(((__u64)(pfn) << 12) | (1ULL << 62))

/* an old layout of mm_page_alloc/free (a struct page pointer, no pfn) */
struct trace_event_raw_mm_page_alloc___old {
	struct page *page;
	unsigned int order;
} __attribute__((preserve_access_index));

struct trace_event_raw_mm_page_free___old {
	struct page *page;
	unsigned int order;
} __attribute__((preserve_access_index));

static __always_inline bool kernel_wanted(void)
{
	return kernel_enabled && current_tgid() != self_tgid;
}

/* The kernel stack of this event into the stack map; its aggregate. */
static __always_inline struct stack_agg *kernel_capture(void *ctx, struct stack_key *sk)
{
	__u32 zero = 0;
	struct stack_trace *st = bpf_map_lookup_elem(&kstack_scratch, &zero);
	long n = st ? bpf_get_stack(ctx, st->ips, sizeof(st->ips), 0) : 0;

	sk->tgid = KERNEL_TGID;
	sk->pad = 0;
	sk->lead_pc = 0;
	if (st && n > 0) {
		st->nr = n / sizeof(__u64);
		sk->id = stack_keep(st, hash_kernel_frames(st));
	} else {
		sk->id = STACK_ID_LOST;
		count(CNT_DROP_STACK_LOST);
	}
	return agg_get(sk);
}

static __always_inline void kernel_alloc(void *ctx, __u64 key, __u64 size)
{
	struct stack_key sk;
	struct stack_agg *agg;

	refused_for_test(REFUSE_KERNEL);
	if (!key || !kernel_wanted())
		return;
	agg = kernel_capture(ctx, &sk);
	if (agg)
		heap_insert(KERNEL_TGID, key, size, &sk, agg);
}

static __always_inline void kernel_free(__u64 key)
{
	if (key && kernel_wanted())
		heap_forget(KERNEL_TGID, key);
}


#endif
