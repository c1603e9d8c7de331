/* stack.bpf.h - stack capture: frame-pointer walk, the frames hash, and the
 * stack map. */
#ifndef LEAKSCOPE_STACK_BPF_H
#define LEAKSCOPE_STACK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "leakscope.h"
#include "framehash.h"	/* hash_frames(): a stack's id, unit-tested */
#include "bounds.bpf.h"
#include "maps.bpf.h"
#include "state.bpf.h"
#include "aggregate.bpf.h"
#include "python.bpf.h"
#include "unwind.bpf.h"

struct fp_frame {
	__u64 next;	/* saved rbp of the caller */
	__u64 ret;	/* return address into the caller */
};

struct fp_walk {
	struct stack_trace *st;
	__u64 fp;
};

static long fp_step(__u32 i, struct fp_walk *w)
{
	struct fp_frame f;
	__u32 n = w->st->nr;

	if (n >= MAX_STACK_DEPTH || !w->fp || (w->fp & 7) ||
	    bpf_probe_read_user(&f, sizeof(f), (void *)w->fp) || !f.ret)
		return 1;
	if (!idx_below(n, MAX_STACK_DEPTH))
		return 1;
	w->st->ips[n] = f.ret;
	w->st->nr = n + 1;
	if (f.next <= w->fp)	/* frames go up the stack, or it is over */
		return 1;
	w->fp = f.next;
	return 0;
}

/* The frame-pointer walk the kernel does for bpf_get_stack(), without its
 * perf callchain machinery: bpf_get_stack() cost ~800 ns for a 4-frame
 * stack here, the whole return probe with this walk ~580 ns.  Frame 0 is
 * the current ip (unless skip_ip), then one return address per frame.
 * Returns the number of frames. */
static __always_inline __u32 walk_fp_stack(struct stack_trace *st, __u64 ip,
					   __u64 bp, bool skip_ip)
{
	struct fp_walk w = { .st = st, .fp = bp };

	st->nr = 0;
	st->stop = UW_STOP_END;
	st->fp_first = 0;
	if (!skip_ip)
		st->ips[st->nr++] = ip;
	bpf_loop(MAX_STACK_DEPTH, fp_step, &w, 0);
	return st->nr;
}

/* Keeps st under id in the stack map unless it is there (another CPU may
 * insert it at the same time); id, or STACK_ID_LOST (counted) when full. */
static __always_inline __u64 stack_keep(const struct stack_trace *st, __u64 id)
{
	if (bpf_map_lookup_elem(&stacks, &id) ||
	    bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST) == 0 ||
	    bpf_map_lookup_elem(&stacks, &id))
		return id;
	count(CNT_DROP_STACK_LOST);
	return STACK_ID_LOST;
}

#define STACK_ID_RETRY	((__u64)-2)	/* preempted: the scratch was another task's */
#define STACK_TRIES	3

/* One attempt of stack_capture(): STACK_ID_RETRY when another task took
 * this CPU's scratch space meanwhile (checked before and after the
 * insert; the walk is then simply done again). */
__noinline __u64 stack_capture_once(__u64 ip, __u64 sp, __u64 bp, __u32 tgid, __u32 flags)
{
	__u32 zero = 0;
	struct stack_trace *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct uw_walk *owner = bpf_map_lookup_elem(&unwind_walk, &zero);
	__u64 me = bpf_get_current_pid_tgid();
	struct py_trace *pt;
	__u64 id;

	if (!st || !owner)
		return STACK_ID_LOST;
	owner->owner = me;
	if (unwind_dwarf)
		uw_walk_stack(st, tgid, ip, sp, bp, flags);
	else
		walk_fp_stack(st, ip, bp, flags & UW_ENTRY);
	if (owner->owner != me)
		return STACK_ID_RETRY;
	if (!st->nr) {
		count(CNT_DROP_STACK_EMPTY);
		return STACK_ID_LOST;
	}
	id = hash_frames(st);
	pt = walk_python_stack();
	if (pt)
		id = hash_py(id, pt);
	if (owner->owner != me)
		return STACK_ID_RETRY;
	if (bpf_map_lookup_elem(&stacks, &id))
		return id;
	/* Python frames first: a stack is readable once `stacks` has it */
	if (pt) {
		if (bpf_map_update_elem(&py_stacks, &id, pt, BPF_NOEXIST) == 0) {
			struct py_stack_event ev = { .type = EV_PY_STACK, .tgid = tgid, .id = id };

			if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
				count(CNT_DROP_EVENTS_LOST);
			py_hold_if_new(pt);
		} else if (!bpf_map_lookup_elem(&py_stacks, &id)) {
			count(CNT_DROP_STACK_LOST);
			return STACK_ID_LOST;
		}
	}
	if (bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST) == 0 && owner->owner != me) {
		/* preempted while the frames were copied: not ours after all */
		bpf_map_delete_elem(&stacks, &id);
		return STACK_ID_RETRY;
	}
	return stack_keep(st, id);
}

/* Captures the user stack of process tgid from its registers into the
 * stack map (with its Python frames, if any); returns its id, or
 * STACK_ID_LOST (counted).  flags UW_ENTRY: the probe is at a function's
 * entry, frame 0 (the ip) is not recorded.  The capture uses this CPU's
 * scratch space; a task that preempts this one in the middle and captures
 * a stack of its own spoils it: the capture is done again, up to
 * STACK_TRIES times (then counted as stack_preempted).  Global functions,
 * not inlined: the verifier checks them once for all their callers. */
__noinline __u64 stack_capture(__u64 ip, __u64 sp, __u64 bp, __u32 tgid, __u32 flags)
{
	for (int i = 0; i < STACK_TRIES; i++) {
		__u64 id = stack_capture_once(ip, sp, bp, tgid, flags);

		if (id != STACK_ID_RETRY)
			return id;
	}
	count(CNT_DROP_STACK_PREEMPTED);
	return STACK_ID_LOST;
}

/* Fills sk with the current user stack (without the ip if skip_ip),
 * and returns its aggregate (created if new); NULL if the aggregate map
 * is full.  A stack that cannot be captured still counts its bytes, under
 * STACK_ID_LOST.  lead_pc (0: none) goes in front of a frame-pointer
 * walk's frames: at a function's entry it is the caller, which rbp does
 * not show; the DWARF walk finds the caller itself. */
static __always_inline struct stack_agg *capture_stack(struct pt_regs *regs,
						       __u32 tgid,
						       struct stack_key *sk,
						       bool skip_ip, __u64 lead_pc)
{
	sk->tgid = tgid;
	sk->pad = 0;
	sk->lead_pc = unwind_dwarf ? 0 : lead_pc;
	sk->id = stack_capture(PT_REGS_IP(regs), PT_REGS_SP(regs), PT_REGS_FP(regs),
			       tgid, skip_ip ? UW_ENTRY : 0);
	return agg_get(sk);
}


#endif
