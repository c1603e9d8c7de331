/* python_gc.bpf.h - CPython's garbage collector and finalization, seen
 * through the interpreter's own probes: each collection's pause (the
 * gc__start/gc__done USDT probes, one EV_GC event per collection) and,
 * for `-- python`, the hold at Py_FinalizeEx.  User space attaches them
 * to an interpreter once it has found it; they read no frames
 * (python.bpf.h does that, at allocations).
 *
 * leakscope.bpf.c includes this file between its process lifecycle and
 * --kernel programs: their place in the object's order of programs,
 * which the skeleton's struct follows.
 */
#ifndef LEAKSCOPE_PYTHON_GC_BPF_H
#define LEAKSCOPE_PYTHON_GC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include "leakscope.h"
#include "maps.bpf.h"
#include "state.bpf.h"

SEC("usdt")
int BPF_USDT(python_gc_start, int generation)
{
	struct gc_start *st;

	if (!is_target(current_tgid()))
		return 0;
	st = bpf_task_storage_get(&gc_starts, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 0;
	st->generation = generation;
	st->ts_ns = bpf_ktime_get_ns();
	return 0;
}

/* `-- python ...`: the interpreter enters Py_FinalizeEx, which will free
 * the code objects of every module.  Its main thread is held here (see
 * hold_tid) while leakscope reads the code objects of every captured
 * stack; then it goes on.  Attached only to a child leakscope ptraces. */
SEC("uprobe")
int python_finalize(struct pt_regs *ctx)
{
	if (!holding_current())
		return 0;
	emit(EV_PY_FINALIZE, hold_tid);
	hold_current();
	return 0;
}

SEC("usdt")
int BPF_USDT(python_gc_done, long collected)
{
	struct gc_start *st = bpf_task_storage_get(&gc_starts, bpf_get_current_task_btf(), 0, 0);
	struct gc_event ev = { .type = EV_GC };

	if (!st || !st->ts_ns)
		return 0;
	ev.tgid = current_tgid();
	ev.generation = st->generation;
	ev.pause_ns = bpf_ktime_get_ns() - st->ts_ns;
	ev.collected = collected;
	st->ts_ns = 0;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
		count(CNT_DROP_EVENTS_LOST);
	return 0;
}

#endif
