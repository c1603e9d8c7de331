/* unwind.bpf.h - the DWARF unwinder: user stacks of code built without
 * frame pointers, from the CFI tables user space compiled out of each
 * binary's .eh_frame (user/unwind_table.c, layout in include/unwind.h).
 *
 * Per frame: find the mapping holding the address (binary search of the
 * process's sorted mapping table), then the row (binary search of the
 * binary's slice of the shared row pool), compute the CFA, read the
 * return address at CFA-8 and, where the row says so, the caller's rbp.
 * Cost: ~9 + ~20 map lookups and one or two 8-byte user reads a frame.
 * Code with no table (JIT, a mapping user space has not seen yet) is
 * walked by its frame pointer and the stack is marked (fp_first).
 */
#ifndef LEAKSCOPE_UNWIND_BPF_H
#define LEAKSCOPE_UNWIND_BPF_H

#include "unwind.h"

/* Set by the loader: walk stacks with the DWARF tables (--unwind dwarf). */
const volatile bool unwind_dwarf = false;

/* The shared row pool: every binary's rows, a slice each (resized by the
 * loader with --unwind-rows). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UW_DEFAULT_ROWS);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* binary number -> its slice of unwind_rows */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UW_MAX_BINS);
	__type(key, __u32);
	__type(value, struct unwind_bin);
} unwind_bins SEC(".maps");

/* tgid -> the process's executable mappings, kept by user space as they
 * appear and removed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UW_DEFAULT_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

/* (dev, inode) -> binary: for code mapped since the process's table
 * was written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UW_MAX_BINS);
	__type(key, struct unwind_file_key);
	__type(value, struct unwind_file);
} unwind_files SEC(".maps");

/* What stack capture asks of the walk. */
#define UW_ENTRY	1	/* at a function's entry: frame 0 is not recorded,
				 * and without a table [rsp] is the return address */

struct uw_walk {
	struct stack_trace *st;
	const struct unwind_proc *proc;	/* NULL: no table for this process */
	struct uw_regs r;
	__u64 tramp;		/* the uretprobe trampoline's address */
	__u64 ri;		/* the next pending return_instance (kernel) */
	__u32 stop;		/* enum uw_stop */
	__u8 first;		/* r is the frame the probe stopped in */
	__u8 entry;		/* ... at a function's entry (UW_ENTRY) */
	__u8 ri_loaded;
	__u8 pad;
	struct unwind_mapping vm;	/* a mapping found by uw_vma_mapping() */
};

static __always_inline const struct unwind_row *uw_row(__u32 i)
{
	return bpf_map_lookup_elem(&unwind_rows, &i);
}

struct uw_row_search {
	struct uw_search s;
	__u32 first;
};

static long uw_row_step(__u32 i, struct uw_row_search *rs)
{
	__s64 mid = uw_search_mid(&rs->s);
	const struct unwind_row *r;

	if (mid < 0)
		return 1;
	r = uw_row(rs->first + (__u32)mid);
	if (!r) {
		rs->s.found = -1;
		return 1;
	}
	uw_search_step(&rs->s, (__u32)mid, r->pc);
	return 0;
}

/* The row of the binary bin for vaddr, or NULL. */
static __always_inline const struct unwind_row *uw_row_of(const struct unwind_bin *bin,
							  __u64 vaddr)
{
	struct uw_row_search rs = { .first = bin->first_row };

	uw_search_init(&rs.s, bin->nr_rows, vaddr);
	bpf_loop(UW_ROW_SEARCH_STEPS, uw_row_step, &rs, 0);
	return rs.s.found >= 0 ? uw_row(rs.first + (__u32)rs.s.found) : NULL;
}

struct uw_map_search {
	struct uw_search s;
	const struct unwind_proc *p;
};

static long uw_map_step(__u32 i, struct uw_map_search *ms)
{
	__s64 mid = uw_search_mid(&ms->s);
	__u32 k;

	if (mid < 0)
		return 1;
	k = (__u32)mid;
	asm volatile("" : "+r"(k));	/* bound the register the load uses */
	if (k >= UW_MAX_MAPPINGS)
		return 1;
	uw_search_step(&ms->s, k, ms->p->m[k].start);
	return 0;
}

/* The mapping of the process's table holding addr, or NULL. */
static __always_inline const struct unwind_mapping *uw_find_mapping(const struct unwind_proc *p,
								    __u64 addr)
{
	struct uw_map_search ms = { .p = p };
	__s64 f;
	__u32 k;

	uw_search_init(&ms.s, p->nr < UW_MAX_MAPPINGS ? p->nr : UW_MAX_MAPPINGS, addr);
	bpf_loop(UW_MAP_SEARCH_STEPS, uw_map_step, &ms, 0);
	f = ms.s.found;
	if (f < 0)
		return NULL;
	k = (__u32)f;
	asm volatile("" : "+r"(k));
	if (k >= UW_MAX_MAPPINGS || addr >= p->m[k].end)
		return NULL;
	return &p->m[k];
}

/* The real return address behind the uretprobe trampoline: the pending
 * return instances, newest first, one per trampoline on the stack (a
 * chained instance shares its slot with the next one). */
static __always_inline __u64 uw_untrampoline(struct uw_walk *w)
{
	struct return_instance *ri;
	__u64 ret;
	bool chained;

	if (!w->ri_loaded) {
		struct task_struct *t = bpf_get_current_task_btf();

		w->ri = (__u64)BPF_CORE_READ(t, utask, return_instances);
		w->ri_loaded = 1;
	}
	ri = (struct return_instance *)w->ri;
	if (!ri)
		return 0;
	ret = BPF_CORE_READ(ri, orig_ret_vaddr);
	for (int i = 0; i < 8; i++) {
		chained = BPF_CORE_READ(ri, chained);
		ri = BPF_CORE_READ(ri, next);
		if (!chained || !ri)
			break;
	}
	w->ri = (__u64)ri;
	return ret;
}

static long uw_vma_cb(struct task_struct *task, struct vm_area_struct *vma,
		      struct uw_walk *w)
{
	struct unwind_file_key k = {};
	struct unwind_file *uf;
	struct file *f = BPF_CORE_READ(vma, vm_file);

	if (!f)
		return 0;
	k.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	k.ino = BPF_CORE_READ(f, f_inode, i_ino);
	uf = bpf_map_lookup_elem(&unwind_files, &k);
	if (!uf)
		return 0;
	w->vm.start = BPF_CORE_READ(vma, vm_start);
	w->vm.end = BPF_CORE_READ(vma, vm_end);
	w->vm.bias = w->vm.start - (BPF_CORE_READ(vma, vm_pgoff) << 12) - uf->delta;
	w->vm.bin = uf->bin;
	return 0;
}

/* The mapping of pc when the process's table does not have it: the
 * kernel's VMA, if its file has a table (one mmap_lock trylock: only on
 * a miss).  NULL if none. */
static __always_inline const struct unwind_mapping *uw_vma_mapping(struct uw_walk *w,
								    __u64 pc)
{
	w->vm.bin = UW_NO_BIN;
	if (bpf_find_vma(bpf_get_current_task_btf(), pc, uw_vma_cb, w, 0) ||
	    w->vm.bin == UW_NO_BIN)
		return NULL;
	return &w->vm;
}

/* One frame by its frame pointer (code without a table): the caller's
 * (ip, sp, bp), or false.  At a function's entry rbp is still the
 * caller's, and the return address is at [rsp]. */
static __always_inline bool uw_fp_step(struct uw_walk *w, __u64 *ra)
{
	__u64 f[2];

	if (w->first && w->entry) {
		if (bpf_probe_read_user(ra, sizeof(*ra), (void *)w->r.sp))
			return false;
		w->r.sp += 8;
		return true;
	}
	if (!w->r.bp || (w->r.bp & 7) || w->r.bp < w->r.sp ||
	    bpf_probe_read_user(f, sizeof(f), (void *)w->r.bp))
		return false;
	*ra = f[1];
	w->r.sp = w->r.bp + 16;
	w->r.bp = f[0];
	return true;
}

/* One frame by its CFI row: fills *ra and moves w->r to the caller.
 * Returns false with w->stop set when the walk ends here. */
static __always_inline bool uw_dwarf_step(struct uw_walk *w,
					  const struct unwind_mapping *m,
					  __u64 pc, __u64 *ra)
{
	const struct unwind_row *row;
	struct unwind_bin *bin;
	__u32 key = m->bin, stop = UW_STOP_END;
	__u64 vaddr = pc - m->bias, cfa, slot, bp = w->r.bp;
	int undef;

	bin = bpf_map_lookup_elem(&unwind_bins, &key);
	if (!bin || vaddr > 0xffffffffULL) {
		w->stop = UW_STOP_NO_TABLE;
		return false;
	}
	row = uw_row_of(bin, vaddr);
	if (!row) {
		w->stop = UW_STOP_NO_ROW;
		return false;
	}
	cfa = uw_cfa(row, &w->r, &stop);
	if (!cfa) {
		w->stop = stop;
		return false;
	}
	if (cfa < w->r.sp + 8) {	/* the return address must be above rsp */
		w->stop = UW_STOP_BAD_FRAME;
		return false;
	}
	slot = uw_rbp_slot(row, cfa, &undef);
	if (bpf_probe_read_user(ra, sizeof(*ra), (void *)(cfa - 8)) ||
	    (slot && bpf_probe_read_user(&bp, sizeof(bp), (void *)slot))) {
		w->stop = UW_STOP_UNREADABLE;
		return false;
	}
	w->r.bp = undef ? 0 : bp;
	w->r.sp = cfa;
	return true;
}

static long uw_step(__u32 i, struct uw_walk *w)
{
	const struct unwind_mapping *m;
	__u32 n = w->st->nr;
	__u64 pc, ra = 0;
	bool ok;

	if (n >= MAX_STACK_DEPTH) {
		w->stop = UW_STOP_DEPTH;
		return 1;
	}
	/* a return address points after the call: look up the call itself */
	pc = w->first ? w->r.ip : w->r.ip - 1;
	m = w->proc ? uw_find_mapping(w->proc, pc) : NULL;
	if (!m)
		m = uw_vma_mapping(w, pc);
	if (m && m->bin != UW_NO_BIN) {
		ok = uw_dwarf_step(w, m, pc, &ra);
	} else {
		ok = uw_fp_step(w, &ra);
		if (!ok)
			w->stop = UW_STOP_NO_TABLE;
		else if (!w->st->fp_first)
			w->st->fp_first = n + 1;
	}
	if (!ok)
		return 1;
	if (ra == w->tramp && w->tramp)
		ra = uw_untrampoline(w);
	if (!ra) {		/* some outermost frames say so by a 0 */
		w->stop = UW_STOP_END;
		return 1;
	}
	w->st->ips[n] = ra;	/* n < MAX_STACK_DEPTH: checked above */
	w->st->nr = n + 1;
	w->r.ip = ra;
	w->first = 0;
	return 0;
}

/* The DWARF walk from (ip, sp, bp) of process tgid into st: frame 0 is
 * ip unless flags has UW_ENTRY.  Counts why it ended unless it reached
 * the outermost frame. */
static __always_inline void uw_walk_stack(struct stack_trace *st, __u32 tgid,
					  __u64 ip, __u64 sp, __u64 bp, __u32 flags)
{
	struct uw_walk w = {
		.st = st, .r = { .ip = ip, .sp = sp, .bp = bp },
		.first = 1, .entry = !!(flags & UW_ENTRY),
	};

	w.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	w.tramp = uretprobe_trampoline();
	st->nr = 0;
	st->fp_first = 0;
	if (!w.entry)
		st->ips[st->nr++] = ip;
	bpf_loop(MAX_STACK_DEPTH, uw_step, &w, 0);
	st->stop = w.stop;
	if (w.stop != UW_STOP_END)
		count(CNT_UNWIND_STOP_BASE + w.stop);
	if (st->fp_first)
		count(CNT_UNWIND_FP_FALLBACK);
}

#endif
