/* array_bytes.h - the size of an array allocation (calloc, reallocarray),
 * shared by BPF (bpf/leakscope.bpf.c) and the unit tests.
 *
 * nmemb * size can overflow 64 bits; the allocator then fails the call
 * (returns NULL, errno ENOMEM) and allocates nothing, so the probe records
 * 0 bytes rather than a wrapped product.  BPF has no 128-bit multiply nor
 * __builtin_mul_overflow, hence the division: one per calloc.
 *
 * Compiles in BPF (after vmlinux.h) and in user space: no helpers.
 */
#ifndef LEAKSCOPE_ARRAY_BYTES_H
#define LEAKSCOPE_ARRAY_BYTES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* nmemb * size, or 0 when it overflows (the call then returns NULL). */
static inline __u64 array_bytes(__u64 nmemb, __u64 size)
{
	__u64 max;

	if (!nmemb)
		return 0;
	max = ~0ULL / nmemb;
	/* keep clang from fusing this into a 128-bit multiply BPF lacks */
	asm volatile("" : "+r"(max));
	if (size > max)
		return 0;
	return nmemb * size;
}

#endif
