/* inflight.bpf.h - the outermost allocator call of each thread: nesting by stack
 * pointer, sampling, starting a call (at a probe or a syscall tracepoint)
 * and finishing it at its return. */
#ifndef LEAKSCOPE_INFLIGHT_BPF_H
#define LEAKSCOPE_INFLIGHT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "leakscope.h"
#include "nesting.h"	/* the pure nesting decisions, unit-tested */
#include "regions.h"	/* page_round() */
#include "sampling.h"	/* sample_threshold() */
#include "maps.bpf.h"
#include "state.bpf.h"
#include "stack.bpf.h"
#include "unwind.bpf.h"
#include "heap.bpf.h"
#include "regions.bpf.h"

#define MAP_ANONYMOUS	0x20
#define PROT_EXEC	0x4
#define IS_ERR_VALUE(x)	((unsigned long)(x) >= (unsigned long)-4095)

/* Where a call or syscall at stack pointer sp stands relative to the
 * thread's in-flight call cur (see nest_by_sp()); the return slot is only
 * read when sp alone does not tell. */
static __always_inline enum nesting nesting_of(struct inflight *cur, __u64 sp,
					       bool is_syscall)
{
	enum nesting n;
	__u64 ret_slot;

	if (!cur)
		return NEST_NONE;
	n = nest_by_sp(cur->entry_sp, sp, is_syscall);
	if (n != NEST_LEVEL)
		return n;
	return nest_at_level(bpf_probe_read_user(&ret_slot, sizeof(ret_slot), (void *)sp) == 0 &&
			     ret_slot == uretprobe_trampoline());
}

/* Classifies a call or syscall at sp against the thread's in-flight call
 * cur (which may be NULL or inactive).  A stale one is retired here and
 * counted as a missed return (see nest_stale_is_missed()). */
static __always_inline enum nesting classify(struct inflight *cur, __u64 sp,
					     bool is_syscall)
{
	enum nesting n = nesting_of(cur && cur->active ? cur : NULL, sp, is_syscall);

	if (n == NEST_STALE) {
		cur->active = 0;
		if (nest_stale_is_missed(cur))
			count(CNT_DROP_MISSED_RETURN);
	}
	return n;
}

/* Is a new block of `size` bytes to be recorded?  (the one random draw
 * of byte sampling; without --sample-bytes, always) */
static __always_inline __u8 sample(__u64 size)
{
	if (!sample_period)
		return 1;
	return bpf_get_prandom_u32() <
	       sample_threshold((const struct sample_tables *)&sample_tab, size, sample_period);
}

/* Calls that create a block draw; munmap/mremap only act on existing ones. */
static __always_inline __u8 sample_call(__u32 fn, __u64 size)
{
	return fn == FN_MUNMAP || fn == FN_MREMAP ? 1 : sample(size);
}

/* The thread's in-flight state made new for a call of fn at sp, not yet
 * active.  Written in place: a copy on the stack would cost its ~100
 * bytes in every call chain of the program (the verifier's budget). */
static __always_inline void inflight_reset(struct inflight *cur, __u32 fn,
					   __u64 sp, __u64 size)
{
	__builtin_memset(cur, 0, sizeof(*cur));
	cur->fn = fn;
	cur->entry_sp = sp;
	cur->size_bytes = size;
}

/* Starts a call; a call made inside another allocator call is ignored,
 * except the first one inside an entry-only call, which it adopts. */
static __always_inline void call_enter(struct pt_regs *ctx, __u32 fn,
				       __u64 size, __u64 old_addr,
				       __u64 out_ptr, __u64 aux)
{
	__u64 sp = PT_REGS_SP(ctx);
	struct inflight *cur;

	if (!is_target(current_tgid()))
		return;
	cur = inflight_of_current(true);
	if (!cur)
		return;
	if (classify(cur, sp, false) == NEST_INSIDE && !nest_new_gave_up(cur, sp)) {
		if (nest_adopts(cur, fn, sp))
			cur->adopt_sp = sp;
		else
			count(CNT_NESTED_CALLS);
		return;
	}
	inflight_reset(cur, fn, sp, size);
	cur->old_addr = old_addr;
	cur->out_ptr = out_ptr;
	cur->aux = aux;
	cur->sampled = sample_call(fn, size);
	cur->active = 1;
}

/* operator new: C++ exceptions cannot unwind through a uretprobe's
 * trampoline (std::terminate), so new gets no return probe.  Its stack is
 * taken at entry, minus new's own frame, with the caller's return address
 * (at [rsp]: frame pointers do not show it) as lead_pc; the malloc it
 * calls supplies the address. */
static __always_inline void call_enter_entry_only(struct pt_regs *ctx,
						  __u32 fn, __u64 size)
{
	__u32 tgid = current_tgid();
	__u64 sp = PT_REGS_SP(ctx), lead_pc;
	struct inflight *cur;

	if (!is_target(tgid))
		return;
	cur = inflight_of_current(true);
	if (!cur)
		return;
	if (classify(cur, sp, false) == NEST_INSIDE && !nest_new_gave_up(cur, sp)) {
		count(CNT_NESTED_CALLS);	/* new(nothrow) -> new */
		return;
	}
	inflight_reset(cur, fn, sp, size);	/* inactive until captured */
	cur->entry_only = 1;
	cur->sampled = sample(size);
	if (cur->sampled) {	/* an unsampled new costs no stack capture */
		if (bpf_probe_read_user(&lead_pc, sizeof(lead_pc), (void *)sp))
			lead_pc = 0;
		if (!capture_stack(ctx, tgid, &cur->stack, true, lead_pc))
			return;	/* counted; the nested malloc records alone */
	}
	cur->active = 1;
}

#define MMAP_VIA_SYSCALL	(1ULL << 63)	/* in aux: the tracepoint owns it */

static __always_inline void finish_mmap(struct pt_regs *regs, __u32 tgid,
					struct inflight *st, __u64 ret)
{
	__u64 flags = st->aux & ~MMAP_VIA_SYSCALL;
	struct stack_key sk;

	if (!(flags & MAP_ANONYMOUS)) {		/* file mapping */
		if ((st->old_addr & PROT_EXEC) && !IS_ERR_VALUE(ret)) {
			emit(EV_EXEC_MAPPING, tgid);
			if (holding_current())
				hold_current();	/* its table before its code runs */
		}
		return;
	}
	if (IS_ERR_VALUE(ret)) {
		count(CNT_FAILED_ALLOCS);
		return;
	}
	if (st->sampled && capture_stack(regs, tgid, &sk, false, 0))
		region_add(tgid, ret, page_round(st->size_bytes), &sk,
			   bpf_ktime_get_ns(), true);
}

/* munmap and mremap walk the region table with a context of ~120 bytes:
 * a function of their own (not inlined), so that the return probe's
 * frame, which the stack capture's call chain adds to, stays small. */
static __noinline void finish_munmap(__u32 tgid, struct inflight *st,
				     __u64 ret)
{
	struct region_unmap_ctx c = { .tgid = tgid };

	if (ret != 0)
		return;
	c.lo = st->old_addr;
	c.hi = st->old_addr + page_round(st->aux & ~MMAP_VIA_SYSCALL);
	uw_unmapped(tgid, c.lo, c.hi);
	region_unmap(&c);
	if (c.touched)
		count(CNT_FREES);
}

static __noinline void finish_mremap(__u32 tgid, struct inflight *st,
				     __u64 ret)
{
	struct region_unmap_ctx c = { .tgid = tgid };

	if (IS_ERR_VALUE(ret))
		return;
	c.lo = st->old_addr;
	c.hi = st->old_addr + page_round(st->aux & ~MMAP_VIA_SYSCALL);
	region_unmap(&c);
	if (c.touched)	/* the moved part keeps its stack and age */
		region_add(tgid, ret, page_round(st->size_bytes),
			   &c.first_stack, c.first_ts, false);
}

static __always_inline void finish_heap(struct pt_regs *regs, __u32 tgid,
					struct inflight *st, __u64 ret)
{
	switch (st->fn) {
	case FN_REALLOC:
	case FN_REALLOCARRAY:
		if (!ret) {
			/* glibc: realloc(p, 0) frees p and returns NULL; any
			 * other NULL is a failure that keeps the old block. */
			if (st->size_bytes == 0 && st->old_addr)
				heap_forget(tgid, st->old_addr);
			else
				count(CNT_FAILED_ALLOCS);
			return;
		}
		if (st->old_addr)
			heap_forget(tgid, st->old_addr);
		break;
	case FN_POSIX_MEMALIGN:
		if (ret != 0) {			/* returns an errno */
			count(CNT_FAILED_ALLOCS);
			return;
		}
		if (bpf_probe_read_user(&ret, sizeof(ret), (void *)st->out_ptr)) {
			count(CNT_DROP_UNREADABLE);
			return;
		}
		break;
	default:
		break;
	}
	if (!ret) {
		count(CNT_FAILED_ALLOCS);
		return;
	}
	if (st->sampled)	/* an unsampled block costs no stack, no insert */
		heap_record(regs, tgid, ret, st->size_bytes);
}

static __always_inline void finish_call(struct pt_regs *regs, __u32 tgid,
					struct inflight *st, __u64 ret)
{
	switch (st->fn) {
	case FN_MMAP:
		finish_mmap(regs, tgid, st, ret);
		break;
	case FN_MUNMAP:
		finish_munmap(tgid, st, ret);
		break;
	case FN_MREMAP:
		finish_mremap(tgid, st, ret);
		break;
	default:
		finish_heap(regs, tgid, st, ret);
		break;
	}
}

/* ---- raw mmap/munmap/mremap syscalls (outside libc's wrappers) ---------- */

static __always_inline __u64 user_sp(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs ? BPF_CORE_READ(regs, sp) : 0;
}

/* A raw syscall's entry starts a call, as call_enter() does at a probe. */
static __always_inline void sys_enter_common(__u32 fn, __u64 size,
					     __u64 old_addr, __u64 aux)
{
	struct inflight *cur;
	__u64 sp;

	if (!is_target(current_tgid()))
		return;
	cur = inflight_of_current(true);
	if (!cur)
		return;
	sp = user_sp();
	/* Inside a libc wrapper or an allocator: that call accounts. */
	if (classify(cur, sp, true) == NEST_INSIDE)
		return;
	inflight_reset(cur, fn, sp, size);
	cur->old_addr = old_addr;
	cur->aux = aux | MMAP_VIA_SYSCALL;
	cur->sampled = sample_call(fn, size);
	cur->active = 1;
}

/* A raw syscall's exit finishes the call its entry started, if any. */
static __always_inline void sys_exit_common(void *ctx, __u32 fn, long ret)
{
	struct inflight *cur;

	if (!is_target(current_tgid()))
		return;
	cur = inflight_live();
	if (!cur || cur->fn != fn || !(cur->aux & MMAP_VIA_SYSCALL))
		return;
	cur->active = 0;	/* retired; finish_call() reads its fields */
	/* the user registers: the tracepoint's ctx is its own record */
	finish_call((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()),
		    current_tgid(), cur, ret);
}


#endif
