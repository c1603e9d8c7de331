/* unwind.bpf.h - the DWARF unwinder: user stacks of code built without
 * frame pointers, from the CFI tables user space compiled out of each
 * binary's .eh_frame (user/unwind/unwind_table.c, layout in include/unwind.h).
 *
 * Per frame: find the mapping holding the address (binary search of the
 * process's sorted mapping table), then the row (binary search of the
 * binary's slice of the shared row pool), compute the CFA, read the
 * return address at CFA-8 and, where the row says so, the caller's rbp.
 * Cost: a call site seen before is one per-CPU cache lookup (else ~9 + ~20
 * search steps), and the stack is read 1 KiB at a time: ~20 ns a frame
 * here.  Code with no table (JIT) is walked by its frame pointer and the
 * stack is marked (fp_first); code mapped since its process's table was
 * written is found through the kernel's VMA and the file's inode.
 */
#ifndef LEAKSCOPE_UNWIND_BPF_H
#define LEAKSCOPE_UNWIND_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "leakscope.h"
#include "unwind.h"
#include "bounds.bpf.h"
#include "maps.bpf.h"
#include "state.bpf.h"

/* The walk's maps (tables, cache, scratch) and the per-CPU records it
 * works in (struct uw_walk, struct uw_chunk) are in maps.bpf.h. */

/* Set by the loader: walk stacks with the DWARF tables (--unwind dwarf). */
const volatile bool unwind_dwarf = false;

/* What stack capture asks of the walk. */
#define UW_ENTRY	1	/* at a function's entry: frame 0 is not recorded,
				 * and without a table [rsp] is the return address */

/* What the walk's steps get: the scalars and the pointers (which a map
 * value cannot hold). */
struct uw_ctx {
	struct uw_walk *w;
	struct stack_trace *st;
	struct unwind_proc *proc;	/* NULL: no table for this process */
	struct uw_chunk *chunk;
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
	if (!idx_below(k, UW_MAX_MAPPINGS))
		return 1;
	uw_search_step(&ms->s, k, ms->p->m[k].start);
	return 0;
}

/* The last mapping of the process's table starting at or below addr,
 * or NULL. */
static __always_inline const struct unwind_mapping *uw_mapping_below(const struct unwind_proc *p,
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
	if (!idx_below(k, UW_MAX_MAPPINGS))
		return NULL;
	return &p->m[k];
}

/* The mapping of the process's table holding addr, or NULL. */
static __always_inline const struct unwind_mapping *uw_find_mapping(const struct unwind_proc *p,
								    __u64 addr)
{
	const struct unwind_mapping *m = uw_mapping_below(p, addr);

	return m && addr < m->end ? m : NULL;
}

/* The process's table no longer says what runs where (exec, exit, code
 * unmapped): dropped at once, so no walk uses it; until user space
 * writes the new one, walks find code through the kernel's VMAs. */
static __always_inline void uw_forget(__u32 tgid)
{
	if (unwind_dwarf)
		bpf_map_delete_elem(&unwind_procs, &tgid);
}

/* munmap of [lo, hi): if it takes code the table lists (dlclose), the
 * table goes and user space is asked for a new one. */
static __always_inline void uw_unmapped(__u32 tgid, __u64 lo, __u64 hi)
{
	struct unwind_proc *p;
	const struct unwind_mapping *m;

	if (!unwind_dwarf || hi <= lo || !(p = bpf_map_lookup_elem(&unwind_procs, &tgid)))
		return;
	m = uw_mapping_below(p, hi - 1);
	if (!m || m->end <= lo)
		return;
	bpf_map_delete_elem(&unwind_procs, &tgid);
	emit(EV_EXEC_MAPPING, tgid);
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
		      struct uw_ctx *c)
{
	struct uw_walk *w = c->w;
	struct unwind_file_key k = {};
	struct unwind_file *uf;
	struct file *f = BPF_CORE_READ(vma, vm_file);

	if (!f || !(BPF_CORE_READ(vma, vm_flags) & 0x4 /* VM_EXEC */))
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
static __always_inline const struct unwind_mapping *uw_vma_mapping(struct uw_ctx *c,
								    __u64 pc)
{
	struct uw_walk *w = c->w;

	w->vm.bin = UW_NO_BIN;
	if (bpf_find_vma(bpf_get_current_task_btf(), pc, uw_vma_cb, c, 0) ||
	    w->vm.bin == UW_NO_BIN)
		return NULL;
	return &w->vm;
}

/* 8 bytes of user stack at addr, from the chunk when it holds them, else
 * a new chunk from addr on (one read), else a read of just these 8. */
static __always_inline int uw_read(struct uw_ctx *c, __u64 addr, __u64 *out)
{
	struct uw_walk *w = c->w;
	__u64 off = addr - w->base;

	if (c->chunk && addr >= w->base && off + 8 <= w->len && !(off & 7)) {
		*out = *(__u64 *)&c->chunk->b[off & (UW_CHUNK - 8)];
		return 0;
	}
	if (c->chunk && !w->no_chunks && !(addr & 7)) {
		if (!bpf_probe_read_user(c->chunk->b, UW_CHUNK, (void *)addr)) {
			w->base = addr;
			w->len = UW_CHUNK;
			*out = *(__u64 *)&c->chunk->b[0];
			return 0;
		}
		w->no_chunks = 1;
	}
	return bpf_probe_read_user(out, sizeof(*out), (void *)addr);
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

/* The row for pc in mapping m, or NULL with w->stop set. */
static __always_inline const struct unwind_row *uw_lookup(struct uw_walk *w,
							  const struct unwind_mapping *m,
							  __u64 pc)
{
	const struct unwind_row *row;
	struct unwind_bin *bin;
	__u32 key = m->bin;
	__u64 vaddr = pc - m->bias;

	bin = bpf_map_lookup_elem(&unwind_bins, &key);
	if (!bin || vaddr > 0xffffffffULL) {
		w->stop = UW_STOP_NO_TABLE;
		return NULL;
	}
	row = uw_row_of(bin, vaddr);
	if (!row)
		w->stop = UW_STOP_NO_ROW;
	return row;
}

/* One frame by its CFI row: fills *ra and moves w->r to the caller.
 * Returns false with w->stop set when the walk ends here. */
static __always_inline bool uw_dwarf_step(struct uw_ctx *c,
					  const struct unwind_row *row, __u64 *ra)
{
	struct uw_walk *w = c->w;
	__u32 stop = UW_STOP_END;
	__u64 cfa, slot, bp = w->r.bp;
	int undef;

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
	if (uw_read(c, cfa - 8, ra) || (slot && uw_read(c, slot, &bp))) {
		w->stop = UW_STOP_UNREADABLE;
		return false;
	}
	w->r.bp = undef ? 0 : bp;
	w->r.sp = cfa;
	return true;
}

/* The cached row of pc, valid for the process's current table; or the
 * slot to fill (*fill), or NULL without a table to cache for. */
static __always_inline struct uw_cache_entry *uw_cached(struct uw_ctx *c, __u64 pc,
							 bool *hit)
{
	__u32 slot = uw_cache_slot(pc, c->w->tgid);
	struct uw_cache_entry *e;

	*hit = false;
	if (!c->proc)
		return NULL;
	e = bpf_map_lookup_elem(&unwind_cache, &slot);
	if (e)
		*hit = e->pc == pc && e->tgid == c->w->tgid && e->gen == c->proc->gen;
	return e;
}

static long uw_step(__u32 i, struct uw_ctx *c)
{
	struct uw_walk *w = c->w;
	const struct unwind_mapping *m;
	const struct unwind_row *row = NULL;
	struct uw_cache_entry *e;
	__u32 n = c->st->nr;
	__u64 pc, ra = 0;
	bool ok, hit;

	if (n >= MAX_STACK_DEPTH) {
		w->stop = UW_STOP_DEPTH;
		return 1;
	}
	/* a return address points after the call: look up the call itself */
	pc = w->first ? w->r.ip : w->r.ip - 1;
	e = uw_cached(c, pc, &hit);
	if (hit) {
		ok = uw_dwarf_step(c, &e->row, &ra);
		goto found;
	}
	m = c->proc ? uw_find_mapping(c->proc, pc) : NULL;
	if (!m)
		m = uw_vma_mapping(c, pc);
	if (m && m->bin != UW_NO_BIN) {
		row = uw_lookup(w, m, pc);
		if (!row)
			return 1;
		if (e && c->proc) {	/* pc last: a half-written entry never matches */
			e->pc = 0;
			barrier();
			e->tgid = w->tgid;
			e->gen = c->proc->gen;
			e->row = *row;
			barrier();
			e->pc = pc;
		}
		ok = uw_dwarf_step(c, row, &ra);
	} else {
		ok = uw_fp_step(w, &ra);
		if (!ok)
			w->stop = UW_STOP_NO_TABLE;
		else if (!c->st->fp_first)
			c->st->fp_first = n + 1;
	}
found:
	if (!ok)
		return 1;
	if (ra == w->tramp) {	/* a return address a uretprobe hijacked */
		ra = uw_untrampoline(w);
		if (!ra) {	/* no pending instance left to say where */
			w->stop = UW_STOP_BAD_FRAME;
			return 1;
		}
	}
	if (!ra) {		/* some outermost frames say so by a 0 */
		w->stop = UW_STOP_END;
		return 1;
	}
	if (!idx_below(n, MAX_STACK_DEPTH)) {	/* checked above; again on
						 * the register used here */
		w->stop = UW_STOP_DEPTH;
		return 1;
	}
	c->st->ips[n] = ra;
	c->st->nr = n + 1;
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
	__u32 zero = 0, gen;
	struct uw_ctx c = { .st = st };
	struct uw_walk *w = bpf_map_lookup_elem(&unwind_walk, &zero);

	st->nr = 0;
	st->fp_first = 0;
	st->stop = UW_STOP_END;
	refused_for_test(REFUSE_DWARF);
	if (!w)
		return;
	__builtin_memset(w, 0, offsetof(struct uw_walk, owner));
	w->r.ip = ip;
	w->r.sp = sp;
	w->r.bp = bp;
	w->first = 1;
	w->entry = !!(flags & UW_ENTRY);
	w->tgid = tgid;
	c.w = w;
	c.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (c.proc && c.proc->tgid != tgid)	/* an element being reused */
		c.proc = NULL;
	if (!c.proc && !bpf_map_lookup_elem(&unwind_asked, &tgid)) {
		__u8 one = 1;

		bpf_map_update_elem(&unwind_asked, &tgid, &one, BPF_ANY);
		emit(EV_EXEC_MAPPING, tgid);
	}
	gen = c.proc ? c.proc->gen : 0;
	c.chunk = bpf_map_lookup_elem(&unwind_chunk, &zero);
	/* the trampoline: three kernel reads, once per process (its table
	 * keeps it; user space zeroes it when it rewrites the table) */
	if (c.proc) {
		if (!c.proc->tramp)
			c.proc->tramp = uretprobe_trampoline();
		w->tramp = c.proc->tramp;
	} else {
		w->tramp = uretprobe_trampoline();
	}
	if (!w->entry) {
		st->ips[0] = ip;
		st->nr = 1;
	}
	/* a step a frame; one more at an entry probe, whose ip is no frame */
	bpf_loop(MAX_STACK_DEPTH + 1, uw_step, &c, 0);
	if (c.proc && (c.proc->tgid != tgid || c.proc->gen != gen)) {
		/* user space rewrote the table meanwhile: the rows used may be
		 * the old table's; the new one is there for the next stack */
		w->stop = UW_STOP_BAD_FRAME;
		st->nr = 0;
	}
	st->stop = w->stop;
	if (w->stop != UW_STOP_END)
		count(CNT_UNWIND_STOP_BASE + w->stop);
	if (st->fp_first)
		count(CNT_UNWIND_FP_FALLBACK);
}

#endif
