/* python.bpf.h - CPython frames: the current thread state and its frame chain,
 * read at allocation time with the layout user space pushed. */
#ifndef LEAKSCOPE_PYTHON_BPF_H
#define LEAKSCOPE_PYTHON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "leakscope.h"
#include "bounds.bpf.h"
#include "maps.bpf.h"
#include "state.bpf.h"

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
	__u64 want;	/* the current thread's id as thread states hold it */
	__u64 found;
};

/* A thread state names the current thread. */
static __always_inline bool py_is_current(const struct py_offsets *py, __u64 ts, __u64 want)
{
	__u64 id = read_u64(ts + py->ts_native_thread_id);

	if (py->thread_match == PY_MATCH_TID)
		id = (__u32)id;
	return ts && id == want;
}

static long py_search_step(__u32 i, struct py_search *s)
{
	if (!s->ts)
		return 1;
	if (py_is_current(s->py, s->ts, s->want)) {
		s->found = s->ts;
		return 1;
	}
	s->ts = read_u64(s->ts + s->py->ts_next);
	return 0;
}

/* The current thread's PyThreadState, or 0 (not a Python thread, yet). */
static __always_inline __u64 py_thread_state(const struct py_offsets *py)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *cache = bpf_task_storage_get(&py_threads, task, 0,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	struct py_search s = { .py = py };
	__u64 interp;

	s.want = py->thread_match == PY_MATCH_FSBASE ? task->thread.fsbase
						     : (__u32)bpf_get_current_pid_tgid();
	if (py->runtime_kind == PY_RUNTIME_CURRENT_TS) {
		/* 3.6: the thread holding the GIL, if it is this one */
		s.ts = read_u64(py->runtime_addr);
		return py_is_current(py, s.ts, s.want) ? s.ts : 0;
	}
	if (cache && *cache && py_is_current(py, *cache, s.want))
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

/* The walk's state; the bytes it reads go to py_read (maps.bpf.h), per
 * CPU, not on the stack. */
struct py_walk {
	const struct py_offsets *py;
	struct py_trace *pt;
	struct py_read_buf *rb;
	__u64 frame;
};

/* A field of the frame buffer at an offset from py_config (bounded here
 * for the verifier, and against a bad config). */
static __always_inline __u64 frame_u64(const __u8 *buf, __u32 off)
{
	off &= ~7U;	/* pointer fields are aligned (user space checks) */
	if (!idx_below(off, PY_FRAME_READ - 7))
		return 0;
	return *(const __u64 *)(buf + off);
}

/* An int field of the frame buffer (f_lasti), bounded the same way. */
static __always_inline __s32 frame_s32(const __u8 *buf, __u32 off)
{
	off &= ~3U;
	if (!idx_below(off, PY_FRAME_READ - 3))
		return -1;
	return *(const __s32 *)(buf + off);
}

/* A byte of the frame buffer (the frame's owner), 0 past its end. */
static __always_inline __u8 frame_u8(const __u8 *buf, __u32 off)
{
	if (!idx_below(off, PY_FRAME_READ))
		return 0;
	return buf[off];
}

/* A field of the token window (bounded like the frame's). */
static __always_inline __u64 window_u64(const __u8 *buf, __u32 off, __u32 base)
{
	off = (off - base) & ~7U;	/* base is 8-aligned, pointers too */
	if (!idx_below(off, PY_TOKEN_READ - 7))
		return 0;
	return *(const __u64 *)(buf + off);
}

/* An int field of the token window. */
static __always_inline __s32 window_s32(const __u8 *buf, __u32 off, __u32 base)
{
	off = (off - base) & ~3U;
	if (!idx_below(off, PY_TOKEN_READ - 3))
		return 0;
	return *(const __s32 *)(buf + off);
}

/* The identity token of the code object at code (py_code_token), 0 when
 * it cannot be read. */
static __always_inline __u64 py_token(const struct py_offsets *py, __u8 *buf, __u64 code)
{
	__u32 base = py->co_token_base;

	if (bpf_probe_read_user(buf, PY_TOKEN_READ, (void *)(code + base)))
		return 0;
	return py_code_token(window_u64(buf, py->co_token, base),
			     window_u64(buf, py->co_token_file, base),
			     window_s32(buf, py->co_token_line, base));
}

static long py_step(__u32 i, struct py_walk *w)
{
	const struct py_offsets *py = w->py;
	struct py_read_buf *rb = w->rb;
	struct py_frame *f;
	__u64 code, instr;
	__u32 n = w->pt->nr, owner = py->fr_owner;

	if (!w->frame || bpf_probe_read_user(rb->frame, PY_FRAME_READ, (void *)w->frame))
		return 1;
	code = frame_u64(rb->frame, py->fr_code);
	instr = frame_u64(rb->frame, py->fr_instr);
	w->frame = frame_u64(rb->frame, py->fr_previous);
	if (owner && frame_u8(rb->frame, owner) == PY_OWNED_BY_CSTACK)
		return 0;	/* a shim frame: no Python code of its own */
	if (!code)
		return 0;
	if (!idx_below(n, MAX_PY_DEPTH)) {
		w->pt->truncated = 1;
		return 1;
	}
	f = &w->pt->f[n];
	f->code = code;
	f->token = py_token(py, rb->token, code);
	if (py->frame_kind == PY_FRAME_OBJECT)
		f->instr = frame_s32(rb->frame, py->fr_instr);	/* f_lasti, as it is */
	else
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
	__u32 zero = 0, tgid;
	const struct py_offsets *py;
	struct py_trace *pt;
	struct py_walk w;
	__u64 ts;

	if (!python_enabled)
		return NULL;
	refused_for_test(REFUSE_PYTHON);
	tgid = bpf_get_current_pid_tgid() >> 32;
	py = bpf_map_lookup_elem(&py_config, &tgid);
	if (!py || !py->runtime_addr)
		return NULL;
	ts = py_thread_state(py);
	pt = bpf_map_lookup_elem(&py_scratch, &zero);
	w.rb = bpf_map_lookup_elem(&py_read, &zero);
	if (!ts || !pt || !w.rb)
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

struct py_unseen {
	const struct py_trace *pt;
	bool any;
};

static long py_unseen_step(__u32 i, struct py_unseen *u)
{
	const struct py_frame *f;
	__u64 *token;

	if (i >= u->pt->nr || !idx_below(i, MAX_PY_DEPTH))
		return 1;
	f = &u->pt->f[i];
	token = bpf_map_lookup_elem(&py_code_seen, &f->code);
	if (token && *token == f->token)
		return 0;
	u->any = true;
	bpf_map_update_elem(&py_code_seen, &f->code, &f->token, BPF_ANY);
	return 0;
}

/* A new Python stack of the held child's main thread: hold it if a code
 * object of the stack is new to user space. */
static __always_inline void py_hold_if_new(const struct py_trace *pt)
{
	struct py_unseen u = { .pt = pt };

	if (!holding_current())
		return;
	bpf_loop(MAX_PY_DEPTH, py_unseen_step, &u, 0);
	if (u.any)
		hold_current();
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

#endif
