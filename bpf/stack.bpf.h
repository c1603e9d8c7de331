/* stack.bpf.h - stack capture: frame-pointer walk, the frames hash, and the
 * stack map. */
#ifndef LEAKSCOPE_STACK_BPF_H
#define LEAKSCOPE_STACK_BPF_H

/* 64-bit hash of the frames (never STACK_ID_LOST). */
static __always_inline __u64 hash_frames(const struct stack_trace *st)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= st->nr)
			break;
		h = (h ^ st->ips[i]) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

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
	w->st->ips[n] = f.ret;	/* n < MAX_STACK_DEPTH: checked above */
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
static __always_inline __u32 walk_user_stack(struct pt_regs *regs,
					     struct stack_trace *st, bool skip_ip)
{
	struct fp_walk w = { .st = st, .fp = PT_REGS_FP(regs) };

	st->nr = 0;
	if (!skip_ip)
		st->ips[st->nr++] = PT_REGS_IP(regs);
	bpf_loop(MAX_STACK_DEPTH, fp_step, &w, 0);
	return st->nr;
}


static __always_inline __u64 stack_keep(const struct stack_trace *st, __u64 id)
{
	if (bpf_map_lookup_elem(&stacks, &id) ||
	    bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST) == 0 ||
	    bpf_map_lookup_elem(&stacks, &id))
		return id;
	count(CNT_DROP_STACK_LOST);
	return STACK_ID_LOST;
}

/* Captures the user stack (without frame 0, the ip, if skip_ip) into
 * the stack map; returns its id, or STACK_ID_LOST (counted). */
static __always_inline __u64 stack_id(struct pt_regs *regs, bool skip_ip)
{
	__u32 zero = 0;
	struct stack_trace *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct py_trace *pt;
	__u64 id;

	if (!st)
		return STACK_ID_LOST;
	if (!walk_user_stack(regs, st, skip_ip))
		goto lost;
	id = hash_frames(st);
	pt = walk_python_stack();
	if (pt)
		id = hash_py(id, pt);
	if (bpf_map_lookup_elem(&stacks, &id))
		return id;
	/* Python frames first: a stack is readable once `stacks` has it */
	if (pt && bpf_map_update_elem(&py_stacks, &id, pt, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&py_stacks, &id))
		goto lost;
	return stack_keep(st, id);
lost:
	count(CNT_DROP_STACK_LOST);
	return STACK_ID_LOST;
}

/* Fills sk with the current user stack (without the ip if skip_ip),
 * behind lead_pc (0: none), and returns its aggregate (created if new);
 * NULL if the aggregate map is full.  A stack that cannot be captured still
 * counts its bytes, under STACK_ID_LOST. */
static __always_inline struct stack_agg *capture_stack(struct pt_regs *regs,
						       __u32 tgid,
						       struct stack_key *sk,
						       bool skip_ip, __u64 lead_pc)
{
	sk->tgid = tgid;
	sk->pad = 0;
	sk->lead_pc = lead_pc;
	sk->id = stack_id(regs, skip_ip);
	return agg_get(sk);
}

/* Adds a new block to its stack's allocation totals: itself, or when
 * sampling its weight 1/p in Q16 (size*w < 2^62 for any size: p ~ 1
 * from size ~ 44 * period on, and size*(1/p) ~ period below that). */

#endif
