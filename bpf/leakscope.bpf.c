// SPDX-License-Identifier: GPL-2.0
/* leakscope.bpf.c - the SEC programs: allocator probes, syscall and process
 * tracepoints, kernel memory.
 *
 * Entry uprobes remember the outermost allocator call of each thread; one
 * shared return probe records the block with the caller's stack.  Frees
 * are handled at entry (no return probe on free: it is the hottest call).
 * Anonymous mmaps are tracked through libc's wrappers (for the caller's
 * stack) and the syscall tracepoints (for raw syscalls), never both: the
 * syscall of a wrapper sees the wrapper's in-flight state and stays out.
 *
 * Cost per call: one hash lookup for the target check, one for in-flight
 * state, one stack capture and two map updates per recorded allocation.
 *
 * This file holds the SEC programs only (CPython's GC probes are in
 * python_gc.bpf.h); the logic is in units along the data path, each a
 * header that includes what it uses:
 *   bounds.bpf.h     buffer indexes every verifier accepts
 *   maps.bpf.h       every map, what it holds and who reads it
 *   state.bpf.h      settings, counters, target filter, holds, events
 *   aggregate.bpf.h  per-stack aggregates
 *   python.bpf.h     CPython frame walk
 *   unwind.bpf.h     the DWARF unwinder
 *   stack.bpf.h      stack capture (the non-inlined functions)
 *   heap.bpf.h       outstanding heap blocks
 *   regions.bpf.h    outstanding anonymous mmap regions
 *   inflight.bpf.h   the outermost allocator call of each thread
 *   kernel.bpf.h     kernel allocations (--kernel)
 *   python_gc.bpf.h  CPython's GC pauses and finalization
 * Their pure decisions (nesting, region cuts, array sizes, stack ids, the
 * sampling probability, the unwind steps) are in include/, compiled into
 * the unit tests as well.
 *
 * Where a program is defined sets its place in the object, and so in the
 * skeleton's struct (leakscope.skel.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "leakscope.h"
#include "array_bytes.h"
#include "nesting.h"
#include "maps.bpf.h"
#include "state.bpf.h"
#include "unwind.bpf.h"
#include "heap.bpf.h"
#include "inflight.bpf.h"
#include "kernel.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- uprobes ------------------------------------------------------------ */

SEC("uprobe")
int BPF_KPROBE(malloc_enter, __u64 size)
{
	call_enter(ctx, FN_MALLOC, size, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, __u64 nmemb, __u64 size)
{
	call_enter(ctx, FN_CALLOC, array_bytes(nmemb, size), 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, __u64 ptr, __u64 size)
{
	call_enter(ctx, FN_REALLOC, size, ptr, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(reallocarray_enter, __u64 ptr, __u64 nmemb, __u64 size)
{
	call_enter(ctx, FN_REALLOCARRAY, array_bytes(nmemb, size), ptr, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, __u64 memptr, __u64 align, __u64 size)
{
	call_enter(ctx, FN_POSIX_MEMALIGN, size, 0, memptr, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(aligned_alloc_enter, __u64 align, __u64 size)
{
	call_enter(ctx, FN_ALIGNED_ALLOC, size, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(valloc_enter, __u64 size)
{
	call_enter(ctx, FN_VALLOC, size, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(pvalloc_enter, __u64 size)
{
	call_enter(ctx, FN_PVALLOC, size, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(cxx_new_enter, __u64 size)
{
	call_enter_entry_only(ctx, FN_CXX_NEW, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mmap_enter, __u64 addr, __u64 len, __u64 prot, __u64 flags)
{
	/* prot rides in old_addr: only PROT_EXEC of file maps is used */
	call_enter(ctx, FN_MMAP, len, prot, 0, flags);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, __u64 addr, __u64 len)
{
	call_enter(ctx, FN_MUNMAP, 0, addr, 0, len);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mremap_enter, __u64 old_addr, __u64 old_len, __u64 new_len)
{
	call_enter(ctx, FN_MREMAP, new_len, old_addr, 0, old_len);
	return 0;
}

/* One return probe for every allocator entry point above.  After `ret`
 * the stack pointer is entry_sp + 8: lower means a nested call returned,
 * higher means the in-flight call was unwound without returning. */
SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	struct inflight *cur = inflight_live();
	__u64 sp = PT_REGS_SP(ctx);
	enum nest_return r;

	if (!cur)	/* the call began before we attached */
		return 0;
	if (cur->entry_only) {
		if (!nest_adopted_returns(cur->adopt_sp, sp))
			return 0;	/* not the adopted call's return */
		if (!ret) {		/* new_handler may free memory and retry */
			nest_adopted_null(cur);
			return 0;
		}
		cur->active = 0;
		if (cur->sampled)
			heap_insert(current_tgid(), ret, cur->size_bytes, &cur->stack, NULL);
		return 0;
	}
	r = nest_return_of(cur->entry_sp, sp);
	if (r == NEST_RET_NESTED)
		return 0;
	/* retired first; its fields stay as they are for finish_call()
	 * (the thread's own storage: nothing else writes it meanwhile) */
	cur->active = 0;
	if (r == NEST_RET_UNWOUND) {
		count(CNT_DROP_MISSED_RETURN);
		return 0;
	}
	finish_call(ctx, current_tgid(), cur, ret);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 ptr)
{
	__u32 tgid = current_tgid();
	__u64 sp = PT_REGS_SP(ctx), now;
	struct inflight *cur;

	if (!ptr || !is_target(tgid))
		return 0;
	cur = inflight_of_current(false);
	/* free() inside realloc(): the outer call accounts. */
	if (cur && cur->active && classify(cur, sp, false) == NEST_INSIDE &&
	    !nest_new_gave_up(cur, sp)) {
		count(CNT_NESTED_CALLS);
		return 0;
	}
	/* the same block handed from one free function to the next */
	now = bpf_ktime_get_ns();
	if (cur && nest_free_chained(cur, ptr, sp, now)) {
		count(CNT_NESTED_CALLS);
		return 0;
	}
	heap_forget(tgid, ptr);
	if (!cur)
		cur = inflight_of_current(true);
	if (cur) {
		cur->last_free_addr = ptr;
		cur->last_free_sp = sp;
		cur->last_free_ns = now;
	}
	return 0;
}

/* ---- syscall tracepoints: raw mmap/munmap/mremap outside libc ----------- */

SEC("tracepoint/syscalls/sys_enter_mmap")
int sys_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	sys_enter_common(FN_MMAP, ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	sys_exit_common(ctx, FN_MMAP, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int sys_enter_munmap(struct trace_event_raw_sys_enter *ctx)
{
	sys_enter_common(FN_MUNMAP, 0, ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_munmap")
int sys_exit_munmap(struct trace_event_raw_sys_exit *ctx)
{
	sys_exit_common(ctx, FN_MUNMAP, ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mremap")
int sys_enter_mremap(struct trace_event_raw_sys_enter *ctx)
{
	sys_enter_common(FN_MREMAP, ctx->args[2], ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int sys_exit_mremap(struct trace_event_raw_sys_exit *ctx)
{
	sys_exit_common(ctx, FN_MREMAP, ctx->ret);
	return 0;
}

/* ---- process lifecycle -------------------------------------------------- */

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(void *ctx)
{
	__u32 tgid = current_tgid();

	if (is_target(tgid)) {
		uw_forget(tgid);	/* the old image's code is gone */
		bpf_map_delete_elem(&py_config, &tgid);	/* and its interpreter */
		emit(EV_EXEC, tgid);
		if (holding_current())
			hold_current();	/* the new program's tables first */
	}
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;

	if (!is_target(tgid))
		return 0;
	if (tid == tgid) {
		uw_forget(tgid);
		bpf_map_delete_elem(&py_config, &tgid);
		emit(EV_EXIT, tgid);
	}
	return 0;
}

/* ---- benchmark floor ---------------------------------------------------- */

/* Attached at the very same sites as the real programs by
 * `--empty-probes`: what the probes alone cost. */
SEC("uprobe")
int empty_probe(struct pt_regs *ctx)
{
	return 0;
}

/* ---- CPython's GC and finalization -------------------------------------- */

#include "python_gc.bpf.h"

/* ---- kernel allocations (--kernel) -------------------------------------- */

SEC("tracepoint/kmem/kmalloc")
int kmem_kmalloc(struct trace_event_raw_kmalloc *ctx)
{
	kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, bytes_alloc));
	return 0;
}

SEC("tracepoint/kmem/kfree")
int kmem_kfree(struct trace_event_raw_kfree *ctx)
{
	kernel_free((__u64)BPF_CORE_READ(ctx, ptr));
	return 0;
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), BPF_CORE_READ(ctx, bytes_alloc));
	return 0;
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free(struct trace_event_raw_kmem_cache_free *ctx)
{
	kernel_free((__u64)BPF_CORE_READ(ctx, ptr));
	return 0;
}

SEC("tracepoint/kmem/mm_page_alloc")
int kmem_page_alloc(struct trace_event_raw_mm_page_alloc *ctx)
{
	__u64 key;
	unsigned int order = BPF_CORE_READ(ctx, order);

	if (bpf_core_field_exists(ctx->pfn)) {
		key = PAGE_KEY(BPF_CORE_READ(ctx, pfn));
	} else {
		struct trace_event_raw_mm_page_alloc___old *o = (void *)ctx;

		key = (__u64)BPF_CORE_READ(o, page);
	}
	kernel_alloc(ctx, key, PAGE_SIZE << (order & 31));
	return 0;
}

SEC("tracepoint/kmem/mm_page_free")
int kmem_page_free(struct trace_event_raw_mm_page_free *ctx)
{
	if (bpf_core_field_exists(ctx->pfn)) {
		kernel_free(PAGE_KEY(BPF_CORE_READ(ctx, pfn)));
	} else {
		struct trace_event_raw_mm_page_free___old *o = (void *)ctx;

		kernel_free((__u64)BPF_CORE_READ(o, page));
	}
	return 0;
}

SEC("tracepoint/percpu/percpu_alloc_percpu")
int kmem_percpu_alloc(struct trace_event_raw_percpu_alloc_percpu *ctx)
{
	/* bytes_alloc (every CPU's copy) where the kernel has it, else size */
	__u64 size = bpf_core_field_exists(ctx->bytes_alloc) ? BPF_CORE_READ(ctx, bytes_alloc)
							     : BPF_CORE_READ(ctx, size);

	kernel_alloc(ctx, (__u64)BPF_CORE_READ(ctx, ptr), size);
	return 0;
}

SEC("tracepoint/percpu/percpu_free_percpu")
int kmem_percpu_free(struct trace_event_raw_percpu_free_percpu *ctx)
{
	kernel_free((__u64)BPF_CORE_READ(ctx, ptr));
	return 0;
}

SEC("tracepoint/vmalloc/alloc_vmap_area")
int kmem_vmap_alloc(struct trace_event_raw_alloc_vmap_area *ctx)
{
	refused_for_test(REFUSE_VMALLOC);
	if (!BPF_CORE_READ(ctx, failed))
		kernel_alloc(ctx, BPF_CORE_READ(ctx, addr), BPF_CORE_READ(ctx, size));
	return 0;
}

SEC("tracepoint/vmalloc/free_vmap_area_noflush")
int kmem_vmap_free(struct trace_event_raw_free_vmap_area_noflush *ctx)
{
	kernel_free(BPF_CORE_READ(ctx, va_start));
	return 0;
}
