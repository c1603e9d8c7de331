/* regions.h - what an munmap or mremap leaves of an anonymous mmap region,
 * shared by BPF (bpf/regions.bpf.h, bpf/inflight.bpf.h) and the unit tests.
 *
 * A region is [start, start + len_bytes); an unmap of [lo, hi) may miss
 * it, take it whole, cut its head or its tail, or punch a hole in its
 * middle, which leaves two regions: the part below stays in the region's
 * slot, the part above (the tail) is added as a region of its own.  The
 * bytes the region's stack loses count the tail too, as re-adding it
 * counts it again (as one more block of that stack).
 *
 * Compiles in BPF (after vmlinux.h) and in user space: no helpers.
 */
#ifndef LEAKSCOPE_REGIONS_H
#define LEAKSCOPE_REGIONS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REGION_PAGE_BYTES	4096ULL	/* x86-64: mmap lengths are in pages */

/* len rounded up to whole pages, as the kernel maps and unmaps (wraps to
 * 0 within a page of 2^64: the kernel fails such a call anyway). */
static inline __u64 page_round(__u64 len)
{
	return (len + REGION_PAGE_BYTES - 1) & ~(REGION_PAGE_BYTES - 1);
}

enum region_cut_kind {
	REGION_CUT_NONE,	/* the range misses the region */
	REGION_CUT_WHOLE,	/* the region is gone */
	REGION_CUT_HEAD,	/* its start moves up */
	REGION_CUT_TAIL,	/* its end moves down */
	REGION_CUT_MIDDLE,	/* split: it keeps the part below, a tail is left */
};

struct region_cut {
	__u64 unmapped_bytes;	/* the region's bytes inside the range */
	__u64 freed_bytes;	/* what the region's stack loses now */
	__u64 start, len_bytes;	/* what stays in the region's slot */
	__u64 tail_start, tail_len_bytes;	/* MIDDLE: the part above the hole */
};

/* How unmapping [lo, hi) cuts the region [start, start + len_bytes); *c
 * is filled for every kind but REGION_CUT_NONE.  An empty range (lo == hi)
 * strictly inside the region splits it there and unmaps nothing; only a
 * 0-byte mremap of shared memory (a duplicate mapping) gets that far, the
 * kernel fails a 0-byte munmap. */
static inline enum region_cut_kind region_cut(__u64 start, __u64 len_bytes,
					      __u64 lo, __u64 hi,
					      struct region_cut *c)
{
	__u64 end = start + len_bytes, cut_lo, cut_hi;

	if (end <= lo || start >= hi)
		return REGION_CUT_NONE;
	cut_lo = start > lo ? start : lo;
	cut_hi = end < hi ? end : hi;
	c->unmapped_bytes = cut_hi - cut_lo;
	c->start = start;
	c->tail_start = 0;
	c->tail_len_bytes = 0;
	if (cut_lo == start && cut_hi == end) {
		c->len_bytes = 0;
		c->freed_bytes = end - start;
		return REGION_CUT_WHOLE;
	}
	if (cut_lo == start) {
		c->start = cut_hi;
		c->len_bytes = end - cut_hi;
		c->freed_bytes = cut_hi - cut_lo;
		return REGION_CUT_HEAD;
	}
	c->len_bytes = cut_lo - start;
	if (cut_hi == end) {
		c->freed_bytes = cut_hi - cut_lo;
		return REGION_CUT_TAIL;
	}
	c->freed_bytes = end - cut_lo;	/* the hole and the tail */
	c->tail_start = cut_hi;
	c->tail_len_bytes = end - cut_hi;
	return REGION_CUT_MIDDLE;
}

#endif
