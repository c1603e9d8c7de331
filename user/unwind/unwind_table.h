/* unwind_table.h - compiles an ELF file's call-frame information
 * (.eh_frame, and .debug_frame where present) into the compact rows of
 * include/unwind.h that the BPF DWARF unwinder reads.
 *
 * The file usually belongs to a traced process, maybe a container's, so
 * it is hostile input: it is read (never mapped) into memory with a size
 * cap, and every limit below bounds time and memory whatever it holds.
 * libdw interprets the CFA programs; this module only enumerates the
 * FDEs, asks libdw for each row, and maps what libdw says onto the few
 * rules the BPF side can follow.
 *
 * The rows of a table, sorted by pc and without duplicates:
 *   - each FDE's rows, clipped so that FDEs never overlap (the FDE with
 *     the lower start wins, ties by position in the section);
 *   - consecutive rows saying the same thing are merged;
 *   - a GAP row (see unwind_table__row_is_gap) where an FDE ends and the
 *     next does not start, and after the last FDE, so that an address no
 *     FDE covers is not taken for the end of the previous function.  A gap
 *     row is kind UW_CFA_STOP | UW_RBP_SAME << UW_RBP_SHIFT with
 *     cfa_off == UNWIND_GAP_CFA_OFF and rbp_off == 0; an ordinary STOP row
 *     always has cfa_off == 0, so BPF can tell "no row" (UW_STOP_NO_ROW)
 *     from "a row it cannot follow" (UW_STOP_ROW) by cfa_off alone.
 * Addresses below the first row are covered by no row as well.
 */
#ifndef LEAKSCOPE_UNWIND_TABLE_H
#define LEAKSCOPE_UNWIND_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "unwind.h"

/* cfa_off of a gap row (kind UW_CFA_STOP): no FDE covers these addresses. */
#define UNWIND_GAP_CFA_OFF	0xffff

/* Limits: what a hostile file can make us spend. */
#define UNWIND_MAX_FILE		(512ull << 20)	/* bytes read from a file, else -EFBIG */
#define UNWIND_MAX_FDES		1000000u	/* FDEs used; the rest are ignored (truncated) */
#define UNWIND_MAX_ROWS		4000000u	/* rows kept; the rest are ignored (truncated) */

/* Where separate debuginfo is looked for by build-id:
 * DIR/.build-id/xx/yyyy.debug. */
#define UNWIND_DEBUG_DIR	"/usr/lib/debug"

struct unwind_table {
	struct unwind_row *rows;	/* sorted by pc; includes gap rows */
	uint32_t nr_rows;		/* all rows, gap rows included */
	uint32_t nr_fdes;		/* FDEs that gave rows */
	uint32_t nr_stop_rows;		/* UW_CFA_STOP rows that are not gaps */

	/* Rows by kind (nr_rows is the sum of these and nr_stop_rows). */
	uint32_t nr_rsp_rows;		/* UW_CFA_RSP */
	uint32_t nr_rbp_rows;		/* UW_CFA_RBP */
	uint32_t nr_plt_rows;		/* UW_CFA_PLT */
	uint32_t nr_end_rows;		/* UW_CFA_END (outermost frames) */
	uint32_t nr_gap_rows;		/* no FDE covers [row.pc, next row.pc) */

	/* FDEs and rows left out. */
	uint32_t nr_bad_fdes;		/* malformed CFI entries, FDEs refused by the
					 * checks or the work budget, or on which
					 * libdw failed: their code has no row */
	uint32_t nr_skipped_fdes;	/* empty, outside the executable segments,
					 * inside earlier FDEs (overlap), or
					 * .debug_frame ones .eh_frame covers */
	bool truncated;			/* a limit (FDEs, rows, work) was reached */

	/* Where the rows came from. */
	uint32_t nr_signal_fdes;	/* signal frames (their rows mapped as usual) */
	uint32_t nr_debug_frame_fdes;	/* FDEs taken from a .debug_frame */
	bool used_debug_frame;		/* nr_debug_frame_fdes > 0 */
	char debug_path[256];		/* separate debuginfo used, or "" */

	/* [lo_vaddr, hi_vaddr): from the first row to the last gap row
	 * (0, 0 without rows).  ELF virtual addresses, < 2^32. */
	uint64_t lo_vaddr, hi_vaddr;

	char build_id[41];		/* NT_GNU_BUILD_ID in hex, or "" */
};

/* Builds the table of the ELF file at path, with the .debug_frame of its
 * separate debuginfo (UNWIND_DEBUG_DIR, by build-id) for the code
 * .eh_frame does not describe.  0 or a negative errno:
 *   -ENOENT, -EACCES, ...: open/read failed;  -EINVAL: not a regular file;
 *   -EFBIG: larger than UNWIND_MAX_FILE;  -ENOEXEC: not an x86-64 ELF
 *   executable or shared object with code;  -ENODATA: no .eh_frame nor
 *   .debug_frame;  -ERANGE: code above 4 GiB (rows hold 32-bit pcs);
 *   -ENOMEM. */
int unwind_table__build_file(const char *path, struct unwind_table **out);

/* The same from a file the caller holds open (read with pread: the
 * offset is left alone; the caller keeps the fd). */
int unwind_table__build_fd(int fd, struct unwind_table **out);

/* The same with the debuginfo looked for under debug_dir (e.g.
 * "/proc/PID/root/usr/lib/debug" for a container's process), or not at
 * all if debug_dir is NULL. */
int unwind_table__build_file_debug(const char *path, const char *debug_dir,
				   struct unwind_table **out);

/* The same from an ELF image in memory (no separate debuginfo).  buf must
 * be writable (libelf's elf_memory() takes a char *) and needs to live
 * only during the call; it is not written (libdw works on private copies
 * of the CFI sections). */
int unwind_table__build_mem(void *buf, size_t len, struct unwind_table **out);

void unwind_table__free(struct unwind_table *t);

/* The row covering vaddr, or NULL if none does (before the first row, in
 * a gap, after the last FDE). */
const struct unwind_row *unwind_table__lookup(const struct unwind_table *t,
					      uint64_t vaddr);

/* True for a gap row (see the top of this file). */
static inline bool unwind_table__row_is_gap(const struct unwind_row *r)
{
	return uw_cfa_kind(r) == UW_CFA_STOP && r->cfa_off == UNWIND_GAP_CFA_OFF;
}

/* One line for a status display: "rows=... fdes=... rsp=... ...".
 * Returns what snprintf returns. */
int unwind_table__summary(const struct unwind_table *t, char *buf, size_t len);

/* The path of the separate debuginfo of build_id under debug_dir
 * (DIR/.build-id/xx/yyyy.debug).  0, or -EINVAL (bad build-id), or
 * -ENAMETOOLONG. */
int unwind_table__debug_path(const char *debug_dir, const char *build_id,
			     char *buf, size_t len);

#endif /* LEAKSCOPE_UNWIND_TABLE_H */
