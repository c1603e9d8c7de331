/* python.bpf.h - CPython frames: the current thread state and its frame chain,
 * read at allocation time with the layout user space pushed. */
#ifndef LEAKSCOPE_PYTHON_BPF_H
#define LEAKSCOPE_PYTHON_BPF_H

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

#endif
