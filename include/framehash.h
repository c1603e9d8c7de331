/* framehash.h - a captured stack's id: a 64-bit hash of its frames, shared
 * by BPF (bpf/stack.bpf.h, bpf/kernel.bpf.h) and the unit tests.
 *
 * The id is the key of the stack map, so two different stacks with the
 * same hash would share frames (the second keeps the first's); at 64 bits
 * that takes ~2^32 distinct stacks, far beyond --max-stacks.  FNV-1a per
 * 64-bit frame, plus an xorshift so the high bits of a return address
 * reach the low bits the map buckets use.  Never STACK_ID_LOST (0), which
 * means "no stack".
 *
 * Compiles in BPF (after vmlinux.h) and in user space: no helpers.
 */
#ifndef LEAKSCOPE_FRAMEHASH_H
#define LEAKSCOPE_FRAMEHASH_H

#include "leakscope.h"

#define FRAMEHASH_BASIS	0xcbf29ce484222325ULL	/* FNV-1a offset basis */
#define FRAMEHASH_PRIME	0x100000001b3ULL	/* FNV-1a 64-bit prime */
/* Kernel stacks (--kernel) are kept in the same map as user stacks: this
 * ("kernel" in ASCII) keeps their ids apart from a user stack with the
 * same addresses. */
#define FRAMEHASH_KERNEL_SALT	0x6b65726e656cULL

/* 64-bit hash of the frames (never STACK_ID_LOST).  The loop is bounded by
 * MAX_STACK_DEPTH, not st->nr, for the verifier. */
static inline __u64 hash_frames(const struct stack_trace *st)
{
	__u64 h = FRAMEHASH_BASIS;

	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if ((__u32)i >= st->nr)
			break;
		h = (h ^ st->ips[i]) * FRAMEHASH_PRIME;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

/* The id of a kernel stack (STACK_ID_LOST for one hash in 2^64: that
 * stack is then reported as lost, nothing worse). */
static inline __u64 hash_kernel_frames(const struct stack_trace *st)
{
	return hash_frames(st) ^ FRAMEHASH_KERNEL_SALT;
}

#endif
