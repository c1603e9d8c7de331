// SPDX-License-Identifier: GPL-2.0
/* leakscope.bpf.c - allocator probes; all state of the trace lives here.
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
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "leakscope.h"

#define MAP_ANONYMOUS	0x20
#define PROT_EXEC	0x4
#define PAGE_SIZE	4096ULL
#define IS_ERR_VALUE(x)	((unsigned long)(x) >= (unsigned long)-4095)
#define EEXIST		17

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load.  sample_period 0: record everything.
 * target_tgid: the one traced process (a compare, not a map lookup, on
 * every call); 0 = consult the targets map. */
const volatile __u64 sample_period = 0;
const volatile __u32 target_tgid = 0;
/* --all / --comm: every process but leakscope itself (self_tgid), or
 * those whose command name is comm_filter. */
const volatile bool trace_all = false;
const volatile __u32 self_tgid = 0;
const volatile char comm_filter[16] = {};
/* --kernel: the kmem/percpu/vmalloc tracepoints record kernel memory */
const volatile bool kernel_enabled = false;
const volatile struct sample_tables sample_tab = {};
/* Set by the loader: the target may be Python (py_config is filled in
 * once its interpreter is found, maybe only after exec). */
const volatile bool python_enabled = false;

/* tgid -> 1 for every traced process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/* Per-thread in-flight call: task-local storage, so a call costs a
 * pointer lookup instead of a hash insert and delete. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_ALLOCS);	/* resized by the loader */
	__type(key, struct alloc_key);
	__type(value, struct alloc_rec);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__type(key, struct stack_key);
	__type(value, struct stack_agg);
} stack_aggs SEC(".maps");

/* Our own stack map: id (a hash of the frames) -> frames.  Unlike
 * BPF_MAP_TYPE_STACK_TRACE, which is direct-mapped and loses a stack on
 * every bucket collision (a quarter of 10k stacks in 16k buckets), it
 * only loses stacks when it is full.  Allocated as stacks appear. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

/* Python frames of a stack (same id as in `stacks`), when it has any.
 * Sized 1 by the loader unless the target is Python. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct py_trace);
} py_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_trace);
} py_scratch SEC(".maps");

/* The target interpreter's layout; runtime_addr 0 until it is known. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_offsets);
} py_config SEC(".maps");

/* Each thread's PyThreadState, found once by searching the interpreter's
 * list, then only checked (its native_thread_id is still this thread). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} py_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_MMAP_REGIONS);
	__type(key, __u32);
	__type(value, struct mmap_region);
} mmap_regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* nmemb * size, or 0 when it overflows (the call then returns NULL). */
static __always_inline __u64 array_bytes(__u64 nmemb, __u64 size)
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

static __always_inline void count(enum counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		(*v)++;
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline bool comm_matches(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	char comm[16];

	/* the process's name (its leader's), not a thread's */
	if (bpf_probe_read_kernel_str(comm, sizeof(comm), t->group_leader->comm) < 0)
		return false;
	for (int i = 0; i < 16; i++) {
		if (comm[i] != comm_filter[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (target_tgid)
		return tgid == target_tgid;
	if (trace_all)
		return tgid != self_tgid && (!comm_filter[0] || comm_matches());
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/* The current thread's in-flight state: NULL if it has none (and create
 * is false) or memory ran out (counted).  Only `active` ones are live. */
static __always_inline struct inflight *inflight_of_current(bool create)
{
	struct inflight *cur;

	cur = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				   create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!cur && create)
		count(CNT_DROP_INFLIGHT_FULL);
	return cur;
}

/* The thread's live in-flight call, or NULL. */
static __always_inline struct inflight *inflight_live(void)
{
	struct inflight *cur = inflight_of_current(false);

	return cur && cur->active ? cur : NULL;
}

static __always_inline void emit(enum event_type type, __u32 tgid)
{
	struct event ev = { .type = type, .tgid = tgid };

	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
		count(CNT_DROP_EVENTS_LOST);
}

/* ---- per-stack aggregate ---------------------------------------------- */

/* The stack's aggregate, created if new; NULL (counted) if the map is full. */
static __always_inline struct stack_agg *agg_get(struct stack_key *sk)
{
	static const struct stack_agg zero;
	struct stack_agg *agg = bpf_map_lookup_elem(&stack_aggs, sk);

	if (agg)
		return agg;
	bpf_map_update_elem(&stack_aggs, sk, &zero, BPF_NOEXIST);
	agg = bpf_map_lookup_elem(&stack_aggs, sk);
	if (!agg)
		count(CNT_DROP_STACK_AGG_FULL);
	return agg;
}

/* Counts blocks in or out of a stack, keeping held_since_ns. */
static __always_inline void agg_count(struct stack_agg *agg, __s64 allocs,
				      __u64 ts_ns)
{
	__s64 before;

	if (!allocs)
		return;
	before = __sync_fetch_and_add(&agg->outstanding_allocs, allocs);
	if (before == 0 && allocs > 0)
		agg->held_since_ns = ts_ns;
	else if (before + allocs == 0)
		agg->held_since_ns = 0;
}

static __always_inline void agg_add(struct stack_key *sk, __s64 bytes,
				    __s64 allocs)
{
	struct stack_agg *agg = bpf_map_lookup_elem(&stack_aggs, sk);

	if (!agg)
		return;
	__sync_fetch_and_add(&agg->outstanding_bytes, bytes);
	agg_count(agg, allocs, bpf_ktime_get_ns());
}

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

/* ---- CPython frames ------------------------------------------------------ */

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

struct py_search {
	const struct py_offsets *py;
	__u64 ts;
	__u32 tid;
	__u64 found;
};

static long py_search_step(__u32 i, struct py_search *s)
{
	if (!s->ts)
		return 1;
	if ((__u32)read_u64(s->ts + s->py->ts_native_thread_id) == s->tid) {
		s->found = s->ts;
		return 1;
	}
	s->ts = read_u64(s->ts + s->py->ts_next);
	return 0;
}

/* The current thread's PyThreadState, or 0 (not a Python thread, yet). */
static __always_inline __u64 py_thread_state(const struct py_offsets *py)
{
	__u64 *cache = bpf_task_storage_get(&py_threads, bpf_get_current_task_btf(), 0,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	struct py_search s = { .py = py, .tid = (__u32)bpf_get_current_pid_tgid() };
	__u64 interp;

	if (cache && *cache && (__u32)read_u64(*cache + py->ts_native_thread_id) == s.tid)
		return *cache;
	interp = read_u64(py->runtime_addr + py->interpreters_head);
	if (!interp)
		return 0;
	s.ts = read_u64(interp + py->threads_head);
	bpf_loop(PY_MAX_THREADS, py_search_step, &s, 0);
	if (cache)
		*cache = s.found;
	return s.found;
}

struct py_walk {
	const struct py_offsets *py;
	struct py_trace *pt;
	__u64 frame;
};

/* A field of the frame buffer at an offset from py_config (bounded here
 * for the verifier, and against a bad config). */
static __always_inline __u64 frame_u64(const __u8 *buf, __u32 off)
{
	off &= ~7U;	/* pointer fields are aligned (user space checks) */
	if (off > PY_FRAME_READ - 8)
		return 0;
	return *(const __u64 *)(buf + off);
}

static long py_step(__u32 i, struct py_walk *w)
{
	const struct py_offsets *py = w->py;
	__u8 buf[PY_FRAME_READ];
	struct py_frame *f;
	__u64 code, instr;
	__u32 n = w->pt->nr, owner = py->fr_owner;

	if (!w->frame || bpf_probe_read_user(buf, sizeof(buf), (void *)w->frame))
		return 1;
	code = frame_u64(buf, py->fr_code);
	instr = frame_u64(buf, py->fr_instr);
	w->frame = frame_u64(buf, py->fr_previous);
	if (owner && owner < PY_FRAME_READ && buf[owner] == PY_OWNED_BY_CSTACK)
		return 0;	/* a shim frame: no Python code of its own */
	if (!code)
		return 0;
	if (n >= MAX_PY_DEPTH) {
		w->pt->truncated = 1;
		return 1;
	}
	f = &w->pt->f[n];
	f->code = code;
	f->token = read_u64(code + py->co_token);
	f->instr = instr >= code + py->co_code_adaptive
		   ? (__s32)((instr - code - py->co_code_adaptive) / 2) : -1;
	f->pad = 0;
	w->pt->nr = n + 1;
	return 0;
}

/* The Python frames the current thread runs, innermost first; NULL when
 * the target is not Python or this thread runs no Python code. */
static __always_inline struct py_trace *walk_python_stack(void)
{
	__u32 zero = 0;
	const struct py_offsets *py;
	struct py_trace *pt;
	struct py_walk w;
	__u64 ts;

	if (!python_enabled)
		return NULL;
	py = bpf_map_lookup_elem(&py_config, &zero);
	if (!py || !py->runtime_addr)
		return NULL;
	ts = py_thread_state(py);
	pt = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!ts || !pt)
		return NULL;
	w.frame = py->ts_cframe ? read_u64(read_u64(ts + py->ts_cframe) + py->ts_current_frame)
				: read_u64(ts + py->ts_current_frame);
	pt->nr = 0;
	pt->truncated = 0;
	w.pt = pt;
	w.py = py;
	bpf_loop(MAX_PY_DEPTH + 16, py_step, &w, 0);	/* + shim frames */
	return pt->nr ? pt : NULL;
}

static __always_inline __u64 hash_py(__u64 h, const struct py_trace *pt)
{
	for (int i = 0; i < MAX_PY_DEPTH; i++) {
		if (i >= pt->nr)
			break;
		h = (h ^ pt->f[i].code) * 0x100000001b3ULL;
		h = (h ^ ((__u64)(__u32)pt->f[i].instr | pt->f[i].token << 32)) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
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
static __always_inline void agg_alloc_total(struct stack_agg *agg, __u64 size)
{
	__u64 w = 1, thr;

	if (sample_period) {
		thr = sample_threshold((const struct sample_tables *)&sample_tab,
				       size, sample_period);
		w = thr ? (SAMPLE_ONE << 16) / thr : 0;
	}
	__sync_fetch_and_add(&agg->alloc_bytes, size * w);
	__sync_fetch_and_add(&agg->alloc_count, w);
}

/* Counts a new block into its stack's aggregate (agg: if the caller has
 * it already; else looked up). */
static __always_inline void agg_new_block(struct stack_key *sk,
					  struct stack_agg *agg, __u64 size)
{
	__u64 now = bpf_ktime_get_ns();

	if (!agg)
		agg = bpf_map_lookup_elem(&stack_aggs, sk);
	if (!agg) {	/* capture_stack() created it; only a full map fails */
		count(CNT_DROP_STACK_AGG_FULL);
		return;
	}
	__sync_fetch_and_add(&agg->outstanding_bytes, size);
	agg_count(agg, 1, now);
	agg->last_alloc_ns = now;
	agg_alloc_total(agg, size);
	count(CNT_ALLOCS);
}

/* ---- heap blocks -------------------------------------------------------- */

static __always_inline void heap_insert(__u32 tgid, __u64 addr, __u64 size,
					struct stack_key *sk, struct stack_agg *agg)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_rec rec = { .size_bytes = size, .stack = *sk };
	struct alloc_rec *old;
	long err;

	rec.ts_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&allocs, &key, &rec, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* A block already recorded at this address was freed behind
		 * our back (by a path we do not probe): retire it first. */
		old = bpf_map_lookup_elem(&allocs, &key);
		if (old) {
			struct stack_key osk = old->stack;
			__s64 osize = old->size_bytes;

			if (!bpf_map_delete_elem(&allocs, &key))
				agg_add(&osk, -osize, -1);
		}
		err = bpf_map_update_elem(&allocs, &key, &rec, BPF_NOEXIST);
	}
	if (err) {
		count(CNT_DROP_ALLOC_MAP_FULL);
		return;
	}
	agg_new_block(&rec.stack, agg, size);
}

/* Records a block with the stack of the current return probe: frame #0
 * is the return address in the allocator's caller. */
static __always_inline void heap_record(struct pt_regs *regs, __u32 tgid, __u64 addr,
					__u64 size)
{
	struct stack_key sk;
	struct stack_agg *agg = capture_stack(regs, tgid, &sk, false, 0);

	if (agg)
		heap_insert(tgid, addr, size, &sk, agg);
}

static __always_inline void heap_forget(__u32 tgid, __u64 addr)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_rec *rec = bpf_map_lookup_elem(&allocs, &key);
	struct stack_key sk;
	__s64 size;

	if (!rec) {
		/* when sampling, most frees are of unsampled blocks */
		if (!sample_period)
			count(CNT_UNTRACKED_FREES);
		return;
	}
	sk = rec->stack;
	size = rec->size_bytes;
	/* Only the thread whose delete succeeds retires the block. */
	if (bpf_map_delete_elem(&allocs, &key))
		return;
	agg_add(&sk, -size, -1);
	count(CNT_FREES);
}

/* ---- anonymous mmap regions (array scanned with bpf_loop) -------------- */

struct region_find_ctx {
	__u32 tgid;
	__u32 slot;
	bool found;
};

static long region_free_slot_cb(__u32 i, struct region_find_ctx *c)
{
	__u32 key = i;
	struct mmap_region *r = bpf_map_lookup_elem(&mmap_regions, &key);

	if (!r)
		return 1;
	if (__sync_val_compare_and_swap(&r->tgid, 0, c->tgid) == 0) {
		c->slot = i;
		c->found = true;
		return 1;
	}
	return 0;
}

/* Adds [start, start+len) on stack sk; new_block says whether this is a
 * new allocation (counted in allocs) or the remainder of a split/move. */
static __always_inline void region_add(__u32 tgid, __u64 start, __u64 len,
				       struct stack_key *sk, __u64 ts_ns,
				       bool new_block)
{
	struct region_find_ctx c = { .tgid = tgid };
	struct mmap_region *r;

	bpf_loop(MAX_MMAP_REGIONS, region_free_slot_cb, &c, 0);
	if (!c.found) {
		count(CNT_DROP_MMAP_TABLE_FULL);
		return;
	}
	r = bpf_map_lookup_elem(&mmap_regions, &c.slot);
	if (!r)
		return;
	r->start = start;
	r->len_bytes = len;
	r->ts_ns = ts_ns;
	r->stack = *sk;
	if (new_block)
		agg_new_block(sk, NULL, len);
	else
		agg_add(sk, len, 1);
}

struct region_unmap_ctx {
	__u32 tgid;
	__u64 lo, hi;		/* the range being unmapped */
	__u64 unmapped;		/* tracked bytes it covered */
	/* a range strictly inside one region leaves a tail to re-add */
	__u64 tail_start, tail_len, tail_ts;
	struct stack_key tail_stack;
	/* the stack of the first region touched (mremap keeps it) */
	struct stack_key first_stack;
	__u64 first_ts;
	bool touched;
};

static long region_unmap_cb(__u32 i, struct region_unmap_ctx *c)
{
	__u32 key = i;
	struct mmap_region *r = bpf_map_lookup_elem(&mmap_regions, &key);
	__u64 start, end, cut_lo, cut_hi;
	struct stack_key sk;

	if (!r)
		return 1;
	if (r->tgid != c->tgid)
		return 0;
	start = r->start;
	end = start + r->len_bytes;
	if (end <= c->lo || start >= c->hi)
		return 0;
	sk = r->stack;
	if (!c->touched) {
		c->touched = true;
		c->first_stack = sk;
		c->first_ts = r->ts_ns;
	}
	cut_lo = start > c->lo ? start : c->lo;
	cut_hi = end < c->hi ? end : c->hi;
	c->unmapped += cut_hi - cut_lo;
	if (cut_lo == start && cut_hi == end) {		/* whole region */
		agg_add(&sk, -(__s64)(end - start), -1);
		r->tgid = 0;
	} else if (cut_lo == start) {			/* head */
		r->start = cut_hi;
		r->len_bytes = end - cut_hi;
		agg_add(&sk, -(__s64)(cut_hi - cut_lo), 0);
	} else if (cut_hi == end) {			/* tail */
		r->len_bytes = cut_lo - start;
		agg_add(&sk, -(__s64)(cut_hi - cut_lo), 0);
	} else {					/* middle: split */
		r->len_bytes = cut_lo - start;
		agg_add(&sk, -(__s64)(end - start - (cut_lo - start)), 0);
		c->tail_start = cut_hi;
		c->tail_len = end - cut_hi;
		c->tail_ts = r->ts_ns;
		c->tail_stack = sk;
	}
	return 0;
}

static __always_inline void region_unmap(struct region_unmap_ctx *c)
{
	bpf_loop(MAX_MMAP_REGIONS, region_unmap_cb, c, 0);
	if (c->tail_len)
		region_add(c->tgid, c->tail_start, c->tail_len, &c->tail_stack,
			   c->tail_ts, false);
}

static __always_inline __u64 page_round(__u64 len)
{
	return (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* ---- in-flight calls ---------------------------------------------------- */

/* Where the current call stands relative to the thread's in-flight call. */
enum nesting {
	NEST_NONE,	/* no call in flight */
	NEST_INSIDE,	/* running inside the in-flight call */
	NEST_STALE,	/* the in-flight call was unwound without returning */
};

/* The kernel's uretprobe trampoline in this process: while a probed call
 * is live, its return address slot holds this address. */
static __always_inline __u64 uretprobe_trampoline(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
}

/* Where a call or syscall at stack pointer sp stands relative to the
 * thread's in-flight call cur:
 *  - deeper (sp < entry_sp): inside it;
 *  - level (sp == entry_sp): a syscall of a thin wrapper, or a tail call
 *    (glibc's realloc(NULL, n) jumps to malloc) - then the return slot at
 *    sp still holds the trampoline; otherwise the in-flight call was
 *    unwound and this is a new call from the same frame;
 *  - above: the in-flight call was unwound (exception, longjmp). */
static __always_inline enum nesting nesting_of(struct inflight *cur, __u64 sp,
					       bool is_syscall)
{
	__u64 ret_slot;

	if (!cur)
		return NEST_NONE;
	if (sp < cur->entry_sp)
		return NEST_INSIDE;
	if (sp > cur->entry_sp)
		return NEST_STALE;
	if (is_syscall)
		return NEST_INSIDE;
	if (bpf_probe_read_user(&ret_slot, sizeof(ret_slot), (void *)sp) == 0 &&
	    ret_slot == uretprobe_trampoline())
		return NEST_INSIDE;
	return NEST_STALE;
}

/* Classifies a call or syscall at sp against the thread's in-flight call
 * cur (which may be NULL or inactive).  A stale one is retired here and
 * counted as a missed return - unless it was entry-only: an operator new
 * left behind means its allocation failed (it threw), nothing was lost. */
static __always_inline enum nesting classify(struct inflight *cur, __u64 sp,
					     bool is_syscall)
{
	enum nesting n = nesting_of(cur && cur->active ? cur : NULL, sp, is_syscall);

	if (n == NEST_STALE) {
		cur->active = 0;
		if (!cur->entry_only)
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

/* Starts a call; a call made inside another allocator call is ignored,
 * except the first one inside an entry-only call, which it adopts. */
static __always_inline void call_enter(struct pt_regs *ctx, __u32 fn,
				       __u64 size, __u64 old_addr,
				       __u64 out_ptr, __u64 aux)
{
	__u64 sp = PT_REGS_SP(ctx);
	struct inflight *cur, st = {};

	if (!is_target(current_tgid()))
		return;
	cur = inflight_of_current(true);
	if (!cur)
		return;
	if (classify(cur, sp, false) == NEST_INSIDE) {
		if (cur->entry_only && !cur->adopt_sp && fn != FN_MMAP)
			cur->adopt_sp = sp;
		else
			count(CNT_NESTED_CALLS);
		return;
	}
	st.fn = fn;
	st.entry_sp = sp;
	st.size_bytes = size;
	st.old_addr = old_addr;
	st.out_ptr = out_ptr;
	st.aux = aux;
	st.sampled = sample_call(fn, size);
	st.active = 1;
	*cur = st;
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
	struct inflight *cur, st = {};

	if (!is_target(tgid))
		return;
	cur = inflight_of_current(true);
	if (!cur)
		return;
	if (classify(cur, sp, false) == NEST_INSIDE) {
		count(CNT_NESTED_CALLS);	/* new(nothrow) -> new */
		return;
	}
	st.sampled = sample(size);
	if (st.sampled) {	/* an unsampled new costs no stack capture */
		if (bpf_probe_read_user(&lead_pc, sizeof(lead_pc), (void *)sp))
			lead_pc = 0;
		if (!capture_stack(ctx, tgid, &st.stack, true, lead_pc)) {
			cur->active = 0;	/* counted; the nested malloc records alone */
			return;
		}
	}
	st.fn = fn;
	st.entry_only = 1;
	st.entry_sp = sp;
	st.size_bytes = size;
	st.active = 1;
	*cur = st;
}

#define MMAP_VIA_SYSCALL	(1ULL << 63)	/* in aux: the tracepoint owns it */

static __always_inline void finish_mmap(struct pt_regs *regs, __u32 tgid,
					struct inflight *st, __u64 ret)
{
	__u64 flags = st->aux & ~MMAP_VIA_SYSCALL;
	struct stack_key sk;

	if (!(flags & MAP_ANONYMOUS)) {		/* file mapping */
		if ((st->old_addr & PROT_EXEC) && !IS_ERR_VALUE(ret))
			emit(EV_EXEC_MAPPING, tgid);
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

static __always_inline void finish_munmap(__u32 tgid, struct inflight *st,
					  __u64 ret)
{
	struct region_unmap_ctx c = { .tgid = tgid };

	if (ret != 0)
		return;
	c.lo = st->old_addr;
	c.hi = st->old_addr + page_round(st->aux & ~MMAP_VIA_SYSCALL);
	region_unmap(&c);
	if (c.touched)
		count(CNT_FREES);
}

static __always_inline void finish_mremap(__u32 tgid, struct inflight *st,
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
	struct inflight st;

	if (!cur)	/* the call began before we attached */
		return 0;
	if (cur->entry_only) {
		if (!cur->adopt_sp || sp != cur->adopt_sp + 8)
			return 0;	/* not the adopted call's return */
		if (!ret) {		/* new_handler may free memory and retry */
			cur->adopt_sp = 0;
			return 0;
		}
		cur->active = 0;
		if (cur->sampled)
			heap_insert(current_tgid(), ret, cur->size_bytes, &cur->stack, NULL);
		return 0;
	}
	if (sp <= cur->entry_sp)
		return 0;
	st = *cur;
	cur->active = 0;
	if (sp != st.entry_sp + 8) {
		count(CNT_DROP_MISSED_RETURN);
		return 0;
	}
	finish_call(ctx, current_tgid(), &st, ret);
	return 0;
}

#define FREE_CHAIN_NS	1000000	/* delete -> free -> allocator's free: microseconds,
				 * unless the thread is preempted in between */
#define FREE_CHAIN_SP	128	/* a tail call moves rsp by a few pushes at most */

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
	if (cur && cur->active && classify(cur, sp, false) == NEST_INSIDE) {
		count(CNT_NESTED_CALLS);
		return 0;
	}
	/* the same block handed from one free function to the next */
	now = bpf_ktime_get_ns();
	if (cur && cur->last_free_addr == ptr && sp <= cur->last_free_sp + FREE_CHAIN_SP &&
	    now - cur->last_free_ns < FREE_CHAIN_NS) {
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

/* ---- syscall tracepoints: raw mmap/munmap/mremap outside libc ---------- */

static __always_inline __u64 user_sp(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs ? BPF_CORE_READ(regs, sp) : 0;
}

static __always_inline void sys_enter_common(__u32 fn, __u64 size,
					     __u64 old_addr, __u64 aux)
{
	struct inflight *cur, st = {};
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
	st.fn = fn;
	st.entry_sp = sp;
	st.size_bytes = size;
	st.old_addr = old_addr;
	st.aux = aux | MMAP_VIA_SYSCALL;
	st.sampled = sample_call(fn, size);
	st.active = 1;
	*cur = st;
}

static __always_inline void sys_exit_common(void *ctx, __u32 fn, long ret)
{
	struct inflight *cur, st;

	if (!is_target(current_tgid()))
		return;
	cur = inflight_live();
	if (!cur || cur->fn != fn || !(cur->aux & MMAP_VIA_SYSCALL))
		return;
	st = *cur;
	cur->active = 0;
	/* the user registers: the tracepoint's ctx is its own record */
	finish_call((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()),
		    current_tgid(), &st, ret);
}

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

/* ---- process lifecycle --------------------------------------------------- */

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(void *ctx)
{
	__u32 tgid = current_tgid();

	if (is_target(tgid))
		emit(EV_EXEC, tgid);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;

	if (!is_target(tgid))
		return 0;
	if (tid == tgid)
		emit(EV_EXIT, tgid);
	return 0;
}

/* ---- benchmark floor ------------------------------------------------------ */

/* Attached at the very same sites as the real programs by
 * `--empty-probes`: what the probes alone cost. */
SEC("uprobe")
int empty_probe(struct pt_regs *ctx)
{
	return 0;
}

/* ---- CPython GC (USDT) ---------------------------------------------------- */

struct gc_start {
	__u64 ts_ns;
	__s32 generation;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct gc_start);
} gc_starts SEC(".maps");

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

/* ---- kernel allocations (--kernel) ----------------------------------------
 * Blocks of the kernel are kept like a process's, under tgid KERNEL_TGID,
 * keyed by address (pages by their frame number, in a range of keys no
 * kernel address has), with the kernel stack of the allocation. */

#define KERNEL_TGID	0
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
	struct stack_trace *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	long n = st ? bpf_get_stack(ctx, st->ips, sizeof(st->ips), 0) : 0;

	sk->tgid = KERNEL_TGID;
	sk->pad = 0;
	sk->lead_pc = 0;
	if (st && n > 0) {
		st->nr = n / sizeof(__u64);
		/* apart from user stacks' ids */
		sk->id = stack_keep(st, hash_frames(st) ^ 0x6b65726e656cULL);
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
