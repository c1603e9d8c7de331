/* nesting.h - which allocator call of a thread is the outermost one, told
 * by the user stack pointer; shared by BPF (bpf/inflight.bpf.h,
 * bpf/leakscope.bpf.c) and the unit tests.
 *
 * Allocators call each other (realloc(NULL, n) -> malloc, malloc -> mmap,
 * operator new -> malloc, operator delete -> free): only the outermost
 * call is recorded.  A nested call runs deeper on the stack - below the
 * rsp the outermost call entered with (struct inflight.entry_sp) - so one
 * saved rsp per thread covers any depth of nesting, with no counter to
 * keep in step or to overflow.  A call or a return *above* that rsp means
 * the outermost call was unwound past its return probe (exception,
 * longjmp) and its state is stale.
 *
 * Pure: what BPF must read (the return slot at rsp, the clock) is passed
 * in.  Compiles in BPF (after vmlinux.h) and in user space: no helpers.
 */
#ifndef LEAKSCOPE_NESTING_H
#define LEAKSCOPE_NESTING_H

#include "leakscope.h"
#ifndef __VMLINUX_H__
#include <stdbool.h>
#endif

/* Where the current call stands relative to the thread's in-flight call. */
enum nesting {
	NEST_NONE,	/* no call in flight */
	NEST_INSIDE,	/* running inside the in-flight call */
	NEST_STALE,	/* the in-flight call was unwound without returning */
	NEST_LEVEL,	/* at its very entry rsp: nest_at_level() decides */
};

/* Where a call or syscall at stack pointer sp stands relative to an
 * in-flight call that entered at entry_sp:
 *  - deeper (sp < entry_sp): inside it;
 *  - above: the in-flight call was unwound (exception, longjmp);
 *  - level: a syscall there is made by a thin wrapper (inside); a call
 *    there is either a tail call or a new call from the same frame, which
 *    only the return slot tells apart (NEST_LEVEL). */
static inline enum nesting nest_by_sp(__u64 entry_sp, __u64 sp, bool is_syscall)
{
	if (sp < entry_sp)
		return NEST_INSIDE;
	if (sp > entry_sp)
		return NEST_STALE;
	if (is_syscall)
		return NEST_INSIDE;
	return NEST_LEVEL;
}

/* A call at the in-flight call's entry rsp: while the in-flight call is
 * live its return slot (at rsp) holds the uretprobe trampoline, so a tail
 * call (glibc's realloc(NULL, n) jumps to malloc) still finds it there;
 * anything else there means the in-flight call is gone. */
static inline enum nesting nest_at_level(bool slot_is_trampoline)
{
	return slot_is_trampoline ? NEST_INSIDE : NEST_STALE;
}

/* A stale in-flight call is a missed return - unless it was entry-only:
 * an operator new left behind means its allocation failed (it threw),
 * nothing was lost. */
static inline bool nest_stale_is_missed(const struct inflight *cur)
{
	return !cur->entry_only;
}

/* A call at sp nested in cur: is it the one whose return tells cur's
 * address?  Only an entry-only call (operator new) adopts, and only its
 * first nested call; never an mmap, which is the allocator getting memory
 * for itself, not the block new hands out.  After the adopted call
 * returned NULL, only a retry from the same place is adopted: the malloc
 * of the bad_alloc new is about to throw is not new's block. */
static inline bool nest_adopts(const struct inflight *cur, __u32 fn, __u64 sp)
{
	return cur->entry_only && !cur->adopt_sp && fn != FN_MMAP &&
	       (!cur->retry_sp || sp == cur->retry_sp);
}

/* A call at sp inside an entry-only call whose adopted call returned
 * NULL, and not its retry: new is throwing (this is the exception
 * object's allocation) or its new_handler runs.  Either way new's block
 * will not come from this call, and new must not hold the thread: the
 * call is one of its own (and a free there is a free). */
static inline bool nest_new_gave_up(const struct inflight *cur, __u64 sp)
{
	return cur->entry_only && cur->retry_sp && sp != cur->retry_sp;
}

/* The adopted call returned NULL: new calls its new_handler and retries
 * from the same place, or throws. */
static inline void nest_adopted_null(struct inflight *cur)
{
	cur->retry_sp = cur->adopt_sp;
	cur->adopt_sp = 0;
}

/* What a return at sp (after `ret` popped the return address: entry rsp
 * + 8) is to the in-flight call that entered at entry_sp. */
enum nest_return {
	NEST_RET_NESTED,	/* a nested call's (lower): not ours */
	NEST_RET_OURS,		/* exactly entry_sp + 8 */
	NEST_RET_UNWOUND,	/* higher: the call was unwound past its return
				 * probe (counted as a missed return) */
};

static inline enum nest_return nest_return_of(__u64 entry_sp, __u64 sp)
{
	if (sp <= entry_sp)
		return NEST_RET_NESTED;
	if (sp != entry_sp + 8)
		return NEST_RET_UNWOUND;
	return NEST_RET_OURS;
}

/* An entry-only call learns its address from the adopted call's return
 * (none adopted yet: adopt_sp 0). */
static inline bool nest_adopted_returns(__u64 adopt_sp, __u64 sp)
{
	return adopt_sp && sp == adopt_sp + 8;
}

#define FREE_CHAIN_NS	1000000	/* delete -> free -> allocator's free: microseconds,
				 * unless the thread is preempted in between */
#define FREE_CHAIN_SP	128	/* a tail call moves rsp by a few pushes at most */

/* A free of ptr at sp, at now_ns, is the previous free-family call of this
 * thread handing the same block on (operator delete tail-calling free, a
 * free calling the allocator's own): a tail call leaves no deeper rsp to
 * see, so the same address, nearly the same rsp and a short time tell it. */
static inline bool nest_free_chained(const struct inflight *cur, __u64 ptr,
				     __u64 sp, __u64 now_ns)
{
	return cur->last_free_addr == ptr && sp <= cur->last_free_sp + FREE_CHAIN_SP &&
	       now_ns - cur->last_free_ns < FREE_CHAIN_NS;
}

#endif
