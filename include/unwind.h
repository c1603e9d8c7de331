/* unwind.h - the DWARF unwind tables as BPF reads them, and the pure
 * decisions of the walk, shared by the BPF unwinder (bpf/unwind.bpf.h),
 * the table compiler (user/unwind_table.c) and the unit tests.
 *
 * x86-64 only.  A table is a sorted array of rows per binary (one ELF
 * file, identified by build-id in user space and by a small number in
 * BPF).  A row says, from its pc up to the next row's pc, how to find the
 * Canonical Frame Address and the caller's rbp; the return address is
 * always at CFA - 8.  pc is an ELF virtual address of the binary (what
 * .eh_frame describes); the per-process mapping table gives the bias from
 * a runtime address to it.
 *
 * Everything here compiles in BPF (after vmlinux.h) and in user space
 * (after <linux/types.h>): no libc, no helpers.
 */
#ifndef LEAKSCOPE_UNWIND_H
#define LEAKSCOPE_UNWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* How the CFA is found (row.kind & UW_CFA_MASK). */
enum uw_cfa {
	UW_CFA_RSP = 0,		/* CFA = rsp + cfa_off */
	UW_CFA_RBP = 1,		/* CFA = rbp + cfa_off */
	UW_CFA_PLT = 2,		/* .plt: CFA = rsp + cfa_off + ((rip & 15) >= plt_cut ? 8 : 0) */
	UW_CFA_END = 3,		/* return address undefined: the outermost frame (_start) */
	UW_CFA_STOP = 4,	/* a rule the walk cannot follow (expression, other
				 * register, offset out of range): the stack ends here,
				 * counted as CNT_UNWIND_STOP_ROW */
};
#define UW_CFA_MASK	0x07
/* A UW_CFA_STOP row with this cfa_off is a gap: no FDE covers its
 * addresses (UW_STOP_NO_ROW); other STOP rows have cfa_off 0. */
#define UW_GAP_CFA_OFF	0xffff

/* Where the caller's rbp is (row.kind >> UW_RBP_SHIFT). */
enum uw_rbp {
	UW_RBP_SAME = 0,	/* unchanged (same value, or not mentioned) */
	UW_RBP_AT_CFA = 1,	/* saved at CFA + rbp_off * 8 */
	UW_RBP_UNDEF = 2,	/* not recoverable: the caller's rbp is unknown (0) */
};
#define UW_RBP_SHIFT	4

/* One row: 8 bytes, so libc (~28k rows) takes ~220 KiB of kernel memory. */
struct unwind_row {
	__u32 pc;		/* first ELF virtual address the row covers */
	__u16 cfa_off;		/* bytes added to rsp/rbp (UW_CFA_PLT: 8 plus the cut) */
	__s8 rbp_off;		/* UW_RBP_AT_CFA: in 8-byte units from the CFA;
				 * UW_CFA_PLT: plt_cut (11 in .plt, 10 in some .plt.sec) */
	__u8 kind;		/* enum uw_cfa | enum uw_rbp << UW_RBP_SHIFT */
};

static inline __u8 uw_cfa_kind(const struct unwind_row *r)
{
	return r->kind & UW_CFA_MASK;
}

static inline __u8 uw_rbp_kind(const struct unwind_row *r)
{
	return r->kind >> UW_RBP_SHIFT;
}

/* Limits of the tables (kernel memory; see README "Unwinding"). */
#define UW_DEFAULT_ROWS		(1u << 20)	/* rows in the shared pool: 8 MiB (libc ~28k, python3.11 ~65k) */
#define UW_MAX_BINS		4096		/* distinct binaries with a table */
#define UW_MAX_MAPPINGS		256		/* executable mappings per process */
#define UW_DEFAULT_PROCS	1024		/* processes with a mapping table */
#define UW_ROW_SEARCH_STEPS	22		/* log2 of the largest table + 1 */
#define UW_MAP_SEARCH_STEPS	9		/* log2(UW_MAX_MAPPINGS) + 1 */

/* One binary's slice of the row pool (unwind_bins[bin]). */
struct unwind_bin {
	__u32 first_row;
	__u32 nr_rows;
};

/* One executable mapping of a process: addresses [start, end) run the
 * binary `bin` (UW_NO_BIN: no table, e.g. JIT code or a file that could
 * not be read); ELF vaddr = address - bias. */
#define UW_NO_BIN	0xffffffffu
struct unwind_mapping {
	__u64 start;
	__u64 end;
	__u64 bias;
	__u32 bin;
	__u32 pad;
};

/* A process's executable mappings, sorted by start, not overlapping.
 * gen changes with every rewrite: rows cached for the old table (see
 * struct uw_cache_entry) are not used with the new one. */
struct unwind_proc {
	__u32 tgid;	/* whose table this is (checked by the walk) */
	__u32 nr;
	__u32 gen;
	__u32 pad;
	__u64 tramp;	/* the uretprobe trampoline, filled in by BPF (0: not yet) */
	struct unwind_mapping m[UW_MAX_MAPPINGS];
};

/* A binary by the file the kernel maps (unwind_files): for addresses in
 * no mapping of the process's table yet (a library mapped a moment ago,
 * a process started since the last look), BPF finds the VMA and its
 * file, and from it the table.  dev is the kernel's encoding (major << 20
 * | minor); vaddr = file offset + delta in the binary's code segment. */
struct unwind_file_key {
	__u64 dev;
	__u64 ino;
};

struct unwind_file {
	__u32 bin;
	__u32 pad;
	__s64 delta;
};

/* The row last found for a return address, per CPU, direct-mapped by
 * pc: a call site seen before costs one lookup instead of two binary
 * searches (most stacks share their outer frames). */
#define UW_CACHE_SLOTS	4096
struct uw_cache_entry {
	__u64 pc;
	__u32 tgid;
	__u32 gen;
	struct unwind_row row;
};

static inline __u32 uw_cache_slot(__u64 pc, __u32 tgid)
{
	__u64 h = (pc ^ ((__u64)tgid << 32)) * 0x9e3779b97f4a7c15ULL;

	return (__u32)(h >> 52) & (UW_CACHE_SLOTS - 1);
}

/* Why a DWARF walk ended (struct stack_trace.stop). */
enum uw_stop {
	UW_STOP_END = 0,	/* reached the outermost frame (or rbp chain end in fp mode) */
	UW_STOP_NO_TABLE,	/* address in no known mapping, or one without a table
				 * (and frame pointers gave nothing either) */
	UW_STOP_NO_ROW,		/* the table has no row for the address */
	UW_STOP_ROW,		/* a row the walk cannot follow */
	UW_STOP_UNREADABLE,	/* the stack memory could not be read */
	UW_STOP_DEPTH,		/* deeper than MAX_STACK_DEPTH */
	UW_STOP_BAD_FRAME,	/* the CFA did not move up the stack */
	UW_STOP__COUNT,
};

/* ---- pure steps of the walk (unit-tested in user space) ----------------- */

/* A binary search, one step at a time (BPF runs each step as a bpf_loop
 * callback, so the verifier checks one step, not every path through 22):
 * finds the last element with key <= x among [0, n).  found: its index,
 * or -1. */
struct uw_search {
	__u32 lo, hi;
	__s64 found;
	__u64 x;
};

static inline void uw_search_init(struct uw_search *s, __u32 n, __u64 x)
{
	s->lo = 0;
	s->hi = n;
	s->found = -1;
	s->x = x;
}

/* The element to look at next, or -1 when the search is over. */
static inline __s64 uw_search_mid(const struct uw_search *s)
{
	return s->lo < s->hi ? (__s64)(s->lo + (s->hi - s->lo) / 2) : -1;
}

/* Moves the search on after looking at element mid whose key is key. */
static inline void uw_search_step(struct uw_search *s, __u32 mid, __u64 key)
{
	if (key <= s->x) {
		s->found = mid;
		s->lo = mid + 1;
	} else {
		s->hi = mid;
	}
}

/* Registers of one frame while walking. */
struct uw_regs {
	__u64 ip;
	__u64 sp;
	__u64 bp;
};

/* The CFA of the frame in r under row, or 0 when the row ends the walk
 * (*stop says why: UW_STOP_END for the outermost frame). */
static inline __u64 uw_cfa(const struct unwind_row *row, const struct uw_regs *r,
			   __u32 *stop)
{
	switch (uw_cfa_kind(row)) {
	case UW_CFA_RSP:
		return r->sp + row->cfa_off;
	case UW_CFA_RBP:
		if (!r->bp) {
			*stop = UW_STOP_BAD_FRAME;
			return 0;
		}
		return r->bp + row->cfa_off;
	case UW_CFA_PLT:
		return r->sp + row->cfa_off +
		       ((r->ip & 15) >= (__u64)(__u8)row->rbp_off ? 8 : 0);
	case UW_CFA_END:
		*stop = UW_STOP_END;
		return 0;
	default:
		*stop = row->cfa_off == UW_GAP_CFA_OFF ? UW_STOP_NO_ROW : UW_STOP_ROW;
		return 0;
	}
}

/* Where the caller's rbp is saved (an address), 0 if it is not: then the
 * caller's rbp is the current one (UW_RBP_SAME) or unknown (UW_RBP_UNDEF,
 * *undef set). */
static inline __u64 uw_rbp_slot(const struct unwind_row *row, __u64 cfa, int *undef)
{
	*undef = 0;
	switch (uw_rbp_kind(row)) {
	case UW_RBP_AT_CFA:
		return cfa + (__s64)row->rbp_off * 8;
	case UW_RBP_UNDEF:
		*undef = 1;
		return 0;
	default:
		return 0;
	}
}

#endif /* LEAKSCOPE_UNWIND_H */
