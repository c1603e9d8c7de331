/* unwind_table.c - the table compiler: an ELF file's CFI -> the sorted,
 * compact rows of include/unwind.h (see unwind_table.h for the rows).
 *
 * How: the FDEs are enumerated with dwarf_next_cfi() over the raw
 * .eh_frame (and .debug_frame) bytes; for each FDE, libdw's
 * dwarf_cfi_addrframe() gives the row at its first address, then at the
 * end of that row, and so on to the FDE's end; each row (CFA rule, rbp
 * rule, return-address rule) is mapped onto the few rules the BPF walk
 * can follow, anything else becoming a STOP row.
 *
 * Costs.  libdw has no row iterator: each dwarf_cfi_addrframe() replays
 * the FDE's program from its start, so an FDE of n rows costs n times its
 * program.  Real FDEs are small (libc: ~7 rows, ~30 bytes); a hostile one
 * is refused by a work budget (FDE_MAX_WORK) checked before libdw runs.
 * libc (150 KiB of .eh_frame, 3.7k FDEs, 28k rows) builds in ~12 ms,
 * python3.11 (10k FDEs, 65k rows) in ~26 ms, libclang-cpp (83k FDEs, 1M
 * rows) in ~340 ms; the budgets bound a hostile file to ~10 s of CPU.
 *
 * Hostile input.  The file is read (never mapped, so a writer cannot
 * change it under us) into a malloc'd buffer with zeroed slack after it,
 * and parsed with elf_memory().  libdw is given a private copy of each CFI
 * section in a minimal ELF image (frame_image()): without .eh_frame_hdr it
 * finds an address's FDE by scanning the section, so it can only pick
 * entries walk_entries() saw.  Before libdw runs any program,
 * check_program() decodes (not interprets) it and its CIE's: every
 * operand inside the entry, register numbers small (libdw allocates per
 * register number: 2 GiB for a number near 2^28, which the fuzzer found
 * through an FDE libdw picked instead of a valid one overlapping it),
 * DW_CFA_remember_state nesting small (libdw allocates per level), and
 * the row count, which bounds the work.  An entry that fails is skipped
 * (counted) and overwritten in the copy so that libdw skips it too
 * (neutralize()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include "unwind/unwind_table.h"

#define DWARF_RSP	7
#define DWARF_RBP	6
#define DWARF_RA	16

#define IMAGE_SLACK	64		/* zeroed bytes after a file image */
#define READ_CHUNK	(8u << 20)	/* bytes per pread() */
#define MAX_REG		127		/* register numbers check_program() accepts */
#define MAX_REMEMBER	32		/* DW_CFA_remember_state nesting */
#define FDE_MAX_STEPS	65536		/* rows of one FDE */
#define FDE_MAX_WORK	(128ull << 20)	/* rows x program cost of one FDE */
#define TOTAL_MAX_WORK	(1ull << 32)	/* the same, summed over the file */
#define STEP_COST	256		/* fixed cost of a row (copying the CIE's
					 * state: up to 1 KiB), in program bytes */
#define HEAVY_OP_COST	64		/* remember_state, window_save: copy or
					 * set many registers (measured ~30x a
					 * plain byte), in program bytes */
#define MAX_DEBUG_FRAME	(256u << 20)	/* decompressed .debug_frame bytes */
#define MAX_SECTIONS	65536		/* section headers of a file we parse */
#define MAX_CIES	65536		/* CIEs of one section (libc: 1) */
#define MAX_EXPR_BYTES	(1u << 20)	/* DWARF expression bytes of one file
					 * (libc: 82); libdw keeps up to ~80x
					 * that, parsed, until the end */
#define PC_LIMIT	(1ull << 32)

/* One CIE of a CFI section, as far as this file needs it. */
struct cie_info {
	uint64_t off;			/* section offset */
	uint8_t fde_enc;		/* DW_EH_PE_* of FDE addresses */
	bool sized_aug;			/* 'z': FDEs carry an augmentation length */
	bool ok;			/* understood and its program valid */
	uint64_t expr;			/* expression bytes in its program */
};

/* One CFI section: .eh_frame of the file, or a .debug_frame. */
struct cfi_src {
	bool eh;			/* .eh_frame, else .debug_frame */
	void *image;			/* frame_image() */
	uint8_t *sec;			/* the section's bytes in image */
	size_t size;
	uint64_t addr;			/* section address (pc-relative base) */
	Elf *elf;			/* on image */
	Dwarf *dw;			/* .debug_frame: behind cfi */
	Dwarf_CFI *cfi;
	bool owns_cfi;			/* dwarf_cfi_end() it (.eh_frame) */
	Elf_Data *data;			/* the section as libdw reads it */
	const unsigned char *ident;	/* e_ident of image */
	struct cie_info *cies;		/* by increasing offset */
	size_t nr_cies, cap_cies;
};

struct fde_rec {
	uint64_t lo, hi;		/* [lo, hi) */
	uint64_t work;			/* estimated libdw work */
	uint64_t expr;			/* expression bytes in its program */
	uint32_t seq;			/* position in its section */
	uint8_t src;			/* index in builder.src */
};

struct builder {
	struct unwind_table *t;
	Elf *elf;
	GElf_Ehdr ehdr;
	uint64_t code_lo, code_hi;	/* span of the executable PT_LOADs */
	struct cfi_src src[2];
	int nr_src;
	struct fde_rec *fdes;
	size_t nr_fdes, cap_fdes;
	size_t cap_rows;
	size_t nr_eh;			/* b->fdes[0, nr_eh): .eh_frame's, sorted */
	uint64_t *eh_reach;		/* see covered_by_eh() */
	uint64_t covered;		/* rows so far describe [.., covered) */
	uint64_t work;
	uint64_t expr;			/* expression bytes of the CIEs and FDEs kept */
	void *debug_image;		/* separate debuginfo file */
	Elf *debug_elf;
};

/* ---- reading a file ------------------------------------------------------ */

/* Reads a whole regular file into a malloc'd buffer with IMAGE_SLACK
 * zeroed bytes after it.  A file that shrinks while read gives what was
 * read; one that grows gives its size at fstat() time: either way the
 * parser sees a consistent buffer. */
static int read_image_fd(int fd, void **out, size_t *len)
{
	struct stat st;
	size_t size, got = 0;
	char *buf;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size < 0 || (uint64_t)st.st_size > UNWIND_MAX_FILE)
		return -EFBIG;
	size = st.st_size;
	buf = calloc(1, size + IMAGE_SLACK);
	if (!buf)
		return -ENOMEM;
	while (got < size) {
		size_t want = size - got < READ_CHUNK ? size - got : READ_CHUNK;
		ssize_t n = pread(fd, buf + got, want, got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		got += n;
	}
	*out = buf;
	*len = got;
	return 0;
}

static int read_image(const char *path, void **out, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	err = read_image_fd(fd, out, len);
	close(fd);
	return err;
}

/* ---- small decoders ------------------------------------------------------- */

static int read_uleb(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;

	for (unsigned int shift = 0; p < end; shift += 7) {
		uint8_t b = *p++;

		if (shift >= 64)
			return -1;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*v = r;
			return 0;
		}
	}
	return -1;
}

static int read_sleb(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t r = 0;
	unsigned int shift = 0;
	uint8_t b;

	do {
		if (p >= end || shift >= 64)
			return -1;
		b = *p++;
		r |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		r |= ~0ull << shift;
	*pp = p;
	*v = (int64_t)r;
	return 0;
}

static uint64_t read_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Reads a DW_EH_PE_* encoded value at *pp (address field_addr).  Only
 * absolute and pc-relative values: x86-64 uses nothing else. */
static int read_encoded(const uint8_t **pp, const uint8_t *end, uint8_t enc,
			uint64_t field_addr, uint64_t *v)
{
	const uint8_t *p = *pp;
	unsigned int size;
	uint64_t val;
	int64_t s;

	if (enc == DW_EH_PE_omit || (enc & 0x70) > DW_EH_PE_pcrel ||
	    (enc & DW_EH_PE_indirect))
		return -1;
	switch (enc & 0x0f) {
	case DW_EH_PE_uleb128:
		if (read_uleb(&p, end, &val))
			return -1;
		goto done;
	case DW_EH_PE_sleb128:
		if (read_sleb(&p, end, &s))
			return -1;
		val = s;
		goto done;
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		size = 2;
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	default:
		return -1;
	}
	if ((size_t)(end - p) < size)
		return -1;
	val = read_le(p, size);
	if ((enc & DW_EH_PE_signed) && size < 8 && (val >> (8 * size - 1)))
		val |= ~0ull << (8 * size);
	p += size;
done:
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		val += field_addr;
	*pp = p;
	*v = val;
	return 0;
}

/* Skips an encoded value whose size alone matters (personality pointer,
 * DW_CFA_set_loc operand). */
static int skip_encoded(const uint8_t **pp, const uint8_t *end, uint8_t enc)
{
	uint64_t v;

	return read_encoded(pp, end, enc & 0x0f, 0, &v);
}

/* ---- checking a CFA program before libdw runs it -------------------------- */

static int check_reg(const uint8_t **pp, const uint8_t *end)
{
	uint64_t reg;

	return read_uleb(pp, end, &reg) || reg > MAX_REG ? -1 : 0;
}


/* What check_program() learns of a program. */
struct prog_info {
	uint32_t rows;		/* opcodes that start a row */
	uint64_t cost;		/* what replaying it costs libdw, in bytes */
	uint64_t expr;		/* bytes of DWARF expressions */
	int depth;		/* DW_CFA_remember_state nesting */
};

/* A DWARF expression block (DW_FORM_block): libdw keeps each one it
 * evaluates, parsed (32 bytes per operation), for the CFI's lifetime. */
static int check_block(const uint8_t **pp, const uint8_t *end,
		       struct prog_info *pi)
{
	uint64_t len;

	if (read_uleb(pp, end, &len) || len > (uint64_t)(end - *pp))
		return -1;
	*pp += len;
	pi->expr += len + 1;
	return 0;
}

/* The operands of one extended (not primary) opcode. */
static int check_op(uint8_t op, const uint8_t **pp, const uint8_t *end,
		    uint8_t fde_enc, struct prog_info *pi)
{
	uint64_t u;
	int64_t s;

	switch (op) {
	case DW_CFA_nop:
		return 0;
	case DW_CFA_GNU_window_save:	/* SPARC: sets 24 registers */
		pi->cost += HEAVY_OP_COST;
		return 0;
	case DW_CFA_set_loc:
		pi->rows++;
		return skip_encoded(pp, end, fde_enc);
	case DW_CFA_advance_loc1:
	case DW_CFA_advance_loc2:
	case DW_CFA_advance_loc4:
	case DW_CFA_MIPS_advance_loc8: {
		static const uint8_t size[] = { 1, 2, 4 };
		size_t n = op == DW_CFA_MIPS_advance_loc8 ? 8 : size[op - DW_CFA_advance_loc1];

		if ((size_t)(end - *pp) < n)
			return -1;
		*pp += n;
		pi->rows++;
		return 0;
	}
	case DW_CFA_offset_extended:
	case DW_CFA_val_offset:
	case DW_CFA_GNU_negative_offset_extended:
	case DW_CFA_def_cfa:
		return check_reg(pp, end) || read_uleb(pp, end, &u);
	case DW_CFA_offset_extended_sf:
	case DW_CFA_val_offset_sf:
	case DW_CFA_def_cfa_sf:
		return check_reg(pp, end) || read_sleb(pp, end, &s);
	case DW_CFA_restore_extended:
	case DW_CFA_undefined:
	case DW_CFA_same_value:
	case DW_CFA_def_cfa_register:
		return check_reg(pp, end);
	case DW_CFA_register:
		return check_reg(pp, end) || check_reg(pp, end);
	case DW_CFA_def_cfa_offset:
	case DW_CFA_GNU_args_size:
		return read_uleb(pp, end, &u);
	case DW_CFA_def_cfa_offset_sf:
		return read_sleb(pp, end, &s);
	case DW_CFA_def_cfa_expression:
		return check_block(pp, end, pi);
	case DW_CFA_expression:
	case DW_CFA_val_expression:
		return check_reg(pp, end) || check_block(pp, end, pi);
	case DW_CFA_remember_state:	/* libdw copies the whole state */
		pi->cost += HEAVY_OP_COST;
		return ++pi->depth > MAX_REMEMBER ? -1 : 0;
	case DW_CFA_restore_state:
		return --pi->depth < 0 ? -1 : 0;
	default:
		return -1;
	}
}

/* Decodes a CFA program without running it: every operand within
 * [p, end), registers <= MAX_REG, bounded remember_state nesting.  Gives
 * its rows and cost.  0 or -1. */
static int check_program(const uint8_t *p, const uint8_t *end, uint8_t fde_enc,
			 struct prog_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->cost = end - p;
	while (p < end) {
		uint8_t op = *p++;
		uint64_t u;

		switch (op >> 6) {
		case 1:		/* DW_CFA_advance_loc */
			pi->rows++;
			continue;
		case 2:		/* DW_CFA_offset: register in the opcode */
			if (read_uleb(&p, end, &u))
				return -1;
			continue;
		case 3:		/* DW_CFA_restore */
			continue;
		}
		if (check_op(op, &p, end, fde_enc, pi))
			return -1;
	}
	return 0;
}

/* ---- CIEs and FDEs -------------------------------------------------------- */

/* A CIE's program sets the initial rules: a row in it is invalid. */
static bool cie_program_ok(const Dwarf_CIE *c, struct cie_info *ci)
{
	struct prog_info pi;

	if (c->initial_instructions_end < c->initial_instructions ||
	    check_program(c->initial_instructions, c->initial_instructions_end,
			  ci->fde_enc, &pi) || pi.rows)
		return false;
	ci->expr = pi.expr;
	return true;
}

/* What the FDEs of a CIE need: their address encoding and whether they
 * carry augmentation data.  Only the augmentations GCC and LLVM emit. */
static bool parse_cie(const Dwarf_CIE *c, struct cie_info *ci)
{
	const char *aug = c->augmentation;
	const uint8_t *p = c->augmentation_data;
	const uint8_t *end = p ? p + c->augmentation_data_size : NULL;

	ci->fde_enc = DW_EH_PE_absptr;
	ci->sized_aug = aug[0] == 'z';
	/* without 'z' (.debug_frame), only "S" (a signal frame) has no data */
	if (aug[0] && aug[0] != 'z')
		return !strcmp(aug, "S") && cie_program_ok(c, ci);
	for (const char *a = aug + (aug[0] == 'z'); *a; a++) {
		if (!p)
			return false;
		switch (*a) {
		case 'R':
			if (p >= end)
				return false;
			ci->fde_enc = *p++;
			break;
		case 'L':
			if (p >= end)
				return false;
			p++;
			break;
		case 'P':
			if (p >= end)
				return false;
			p++;
			if (skip_encoded(&p, end, p[-1]))
				return false;
			break;
		case 'S':
			break;
		default:
			return false;
		}
	}
	return cie_program_ok(c, ci);
}

static const struct cie_info *find_cie(const struct cfi_src *s, uint64_t off)
{
	size_t lo = 0, hi = s->nr_cies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->cies[mid].off == off)
			return &s->cies[mid];
		if (s->cies[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int add_cie(struct cfi_src *s, uint64_t off, const Dwarf_CIE *c)
{
	struct cie_info ci = { .off = off };

	if (s->nr_cies == s->cap_cies) {
		size_t cap = s->cap_cies ? 2 * s->cap_cies : 16;
		struct cie_info *n = realloc(s->cies, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->cies = n;
		s->cap_cies = cap;
	}
	ci.ok = parse_cie(c, &ci);
	s->cies[s->nr_cies++] = ci;
	return 0;
}

/* Decodes an FDE's range and checks its program: 0, or -1 if unusable. */
static int decode_fde(const struct cfi_src *s, const struct cie_info *ci,
		      const Dwarf_FDE *f, struct fde_rec *r)
{
	const uint8_t *base = s->data->d_buf;
	const uint8_t *p = f->start, *end = f->end;
	uint64_t lo, range, aug;
	struct prog_info pi;

	if (read_encoded(&p, end, ci->fde_enc, s->addr + (p - base), &lo) ||
	    read_encoded(&p, end, ci->fde_enc & 0x0f, 0, &range))
		return -1;
	if (ci->sized_aug) {
		if (read_uleb(&p, end, &aug) || aug > (uint64_t)(end - p))
			return -1;
		p += aug;
	}
	if (check_program(p, end, ci->fde_enc, &pi) || pi.rows >= FDE_MAX_STEPS)
		return -1;
	r->lo = lo;
	r->hi = lo + range;
	if (r->hi < lo)
		return -1;
	/* Each row replays the FDE's program (the CIE's is cached). */
	r->work = (uint64_t)(pi.rows + 1) * (pi.cost + STEP_COST);
	r->expr = pi.expr;
	return r->work > FDE_MAX_WORK ? -1 : 0;
}

static int add_fde(struct builder *b, const struct fde_rec *r)
{
	if (b->nr_fdes == b->cap_fdes) {
		size_t cap = b->cap_fdes ? 2 * b->cap_fdes : 256;
		struct fde_rec *n = realloc(b->fdes, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->fdes = n;
		b->cap_fdes = cap;
	}
	b->fdes[b->nr_fdes++] = *r;
	return 0;
}

/* Makes the entry at off (which dwarf_next_cfi() read) unusable to
 * libdw: a CIE of version 0, which dwarf_next_cfi() refuses after
 * setting the next offset, so libdw's scan skips it as we did.  Its FDEs
 * were refused as well (their CIE is not ok). */
static void neutralize(struct cfi_src *s, uint64_t off)
{
	uint8_t *p = s->sec + off;
	size_t hdr = 4, id = 4;
	uint32_t len32;

	if (off > s->size || s->size - off < 4)
		return;
	memcpy(&len32, p, 4);
	if (len32 == 0xffffffffu) {	/* 64-bit DWARF */
		hdr = 12;
		id = 8;
	}
	/* dwarf_next_cfi() checked: length >= id + 1 */
	if (s->size - off < hdr + id + 1)
		return;
	memset(p + hdr, s->eh ? 0x00 : 0xff, id);
	p[hdr + id] = 0;
}

/* One pass over the entries of a section.  Pass 0 records the CIEs, pass
 * 1 the FDEs (CIEs may follow the FDEs that use them). */
typedef int (*entry_fn)(struct builder *b, int si, uint64_t off,
			const Dwarf_CFI_Entry *e, uint32_t seq);

static int walk_entries(struct builder *b, int si, entry_fn fn, bool count_bad)
{
	struct cfi_src *s = &b->src[si];
	Dwarf_Off off = 0, next;
	uint32_t seq = 0;

	/* Each entry is at least 9 bytes, so this ends; the cap is a guard. */
	for (size_t n = 0; n <= s->data->d_size / 8; n++) {
		Dwarf_CFI_Entry e;
		int rc, err;

		next = off;
		rc = dwarf_next_cfi(s->ident, s->data, s->eh, off, &next, &e);
		if (rc > 0)
			break;
		if (rc < 0) {
			if (count_bad)
				b->t->nr_bad_fdes++;
			if (next == (Dwarf_Off)-1 || next <= off)
				break;
			off = next;
			continue;
		}
		err = fn(b, si, off, &e, seq++);
		if (err)
			return err;
		if (next == (Dwarf_Off)-1 || next <= off)
			break;
		off = next;
	}
	return 0;
}

static int on_cie(struct builder *b, int si, uint64_t off,
		  const Dwarf_CFI_Entry *e, uint32_t seq)
{
	struct cfi_src *s = &b->src[si];
	struct cie_info *ci;
	int err;

	if (!dwarf_cfi_cie_p(e))
		return 0;
	if (s->nr_cies >= MAX_CIES) {
		/* libdw would keep every CIE it scans: its FDEs go too */
		neutralize(s, off);
		b->t->truncated = true;
		return 0;
	}
	err = add_cie(s, off, &e->cie);
	if (err)
		return err;
	ci = &s->cies[s->nr_cies - 1];
	if (ci->ok && b->expr + ci->expr > MAX_EXPR_BYTES)
		ci->ok = false;
	if (!ci->ok)
		neutralize(s, off);
	else
		b->expr += ci->expr;
	return 0;
}

/* Whether [lo, hi) overlaps an .eh_frame FDE: b->fdes[0, nr_eh) sorted by
 * lo, b->eh_reach[i] the largest hi among the first i + 1 of them. */
static bool covered_by_eh(const struct builder *b, uint64_t lo, uint64_t hi)
{
	size_t l = 0, h = b->nr_eh;

	/* The eh FDEs starting before hi are [0, l); one of them reaches
	 * past lo iff the largest hi among them does. */
	while (l < h) {
		size_t mid = l + (h - l) / 2;

		if (b->fdes[mid].lo < hi)
			l = mid + 1;
		else
			h = mid;
	}
	return l > 0 && b->eh_reach[l - 1] > lo;
}

static int on_fde(struct builder *b, int si, uint64_t off,
		  const Dwarf_CFI_Entry *e, uint32_t seq)
{
	struct cfi_src *s = &b->src[si];
	struct unwind_table *t = b->t;
	const struct cie_info *ci;
	struct fde_rec r = { .seq = seq, .src = si };

	if (dwarf_cfi_cie_p(e))
		return 0;
	/* Every FDE not kept is neutralized: libdw keeps (in memory) each
	 * FDE its scan passes, and runs the program of any that covers an
	 * address it is asked about. */
	ci = find_cie(s, e->fde.CIE_pointer);
	if (!ci || !ci->ok || decode_fde(s, ci, &e->fde, &r) ||
	    b->expr + r.expr > MAX_EXPR_BYTES) {
		neutralize(s, off);
		t->nr_bad_fdes++;
		return 0;
	}
	if (r.lo >= r.hi || r.lo < b->code_lo || r.hi > b->code_hi ||
	    (!s->eh && covered_by_eh(b, r.lo, r.hi))) {
		neutralize(s, off);
		t->nr_skipped_fdes++;
		return 0;
	}
	if (b->nr_fdes >= UNWIND_MAX_FDES) {
		neutralize(s, off);
		t->truncated = true;
		return 0;
	}
	b->expr += r.expr;
	return add_fde(b, &r);
}

static int cmp_fde(const void *a, const void *b)
{
	const struct fde_rec *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Collects the usable FDEs of source si into b->fdes. */
static int collect_fdes(struct builder *b, int si)
{
	int err = walk_entries(b, si, on_cie, true);

	return err ? err : walk_entries(b, si, on_fde, false);
}

/* Sorts the .eh_frame FDEs and notes how far they reach, for the
 * .debug_frame FDEs to come. */
static int index_eh(struct builder *b)
{
	uint64_t reach = 0;

	b->nr_eh = b->nr_fdes;
	if (!b->nr_eh)
		return 0;
	qsort(b->fdes, b->nr_fdes, sizeof(*b->fdes), cmp_fde);
	b->eh_reach = malloc(b->nr_eh * sizeof(*b->eh_reach));
	if (!b->eh_reach)
		return -ENOMEM;
	for (size_t i = 0; i < b->nr_eh; i++) {
		if (b->fdes[i].hi > reach)
			reach = b->fdes[i].hi;
		b->eh_reach[i] = reach;
	}
	return 0;
}

/* ---- libdw's rows -> unwind rows ------------------------------------------ */

static struct unwind_row mkrow(enum uw_cfa cfa, uint16_t cfa_off,
			       enum uw_rbp rbp, int8_t rbp_off)
{
	struct unwind_row r = {
		.cfa_off = cfa_off,
		.rbp_off = rbp_off,
		.kind = cfa | rbp << UW_RBP_SHIFT,
	};

	return r;
}

/* CFA = rsp + base + ((rip & 15) >= cut) << 3: the DWARF expression GNU
 * ld writes for .plt and .plt.sec entries. */
static bool is_plt_expr(const Dwarf_Op *ops, size_t n, uint16_t *base,
			int8_t *cut)
{
	int64_t off;
	uint64_t k;

	if (n != 9 || ops[0].atom != DW_OP_breg0 + DWARF_RSP ||
	    ops[1].atom != DW_OP_breg0 + DWARF_RA || ops[1].number != 0 ||
	    ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and ||
	    ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 ||
	    ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
		return false;
	if (ops[4].atom >= DW_OP_lit0 && ops[4].atom <= DW_OP_lit15)
		k = ops[4].atom - DW_OP_lit0;
	else if (ops[4].atom == DW_OP_const1u && ops[4].number <= 15)
		k = ops[4].number;
	else
		return false;
	off = (int64_t)ops[0].number;
	if (off < 0 || off > 0xffff)
		return false;
	*base = off;
	*cut = k;
	return true;
}

/* The CFA rule: rsp/rbp + offset, or the PLT expression.  false if the
 * walk cannot follow it. */
static bool map_cfa(Dwarf_Frame *fr, enum uw_cfa *kind, uint16_t *off,
		    int8_t *cut)
{
	Dwarf_Op *ops;
	size_t n;
	uint64_t reg;
	int64_t o;

	*cut = 0;
	if (dwarf_frame_cfa(fr, &ops, &n) || n == 0 || !ops)
		return false;
	if (n == 9 && is_plt_expr(ops, n, off, cut)) {
		*kind = UW_CFA_PLT;
		return true;
	}
	if (n != 1)
		return false;
	if (ops[0].atom == DW_OP_bregx) {
		/* DW_CFA_def_cfa: libdw's form */
		reg = ops[0].number;
		o = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		/* DW_CFA_def_cfa_expression of a single DW_OP_bregN */
		reg = ops[0].atom - DW_OP_breg0;
		o = (int64_t)ops[0].number;
	} else {
		return false;
	}
	if (o < 0 || o > 0xffff || (reg != DWARF_RSP && reg != DWARF_RBP))
		return false;
	*kind = reg == DWARF_RSP ? UW_CFA_RSP : UW_CFA_RBP;
	*off = o;
	return true;
}

/* The caller's rbp: same value (or not mentioned, the x86-64 ABI default
 * for a callee-saved register), undefined, or saved at CFA + N. */
static bool map_rbp(Dwarf_Frame *fr, enum uw_rbp *kind, int8_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	int64_t o;

	*off = 0;
	if (dwarf_frame_register(fr, DWARF_RBP, mem, &ops, &n))
		return false;
	if (n == 0) {
		*kind = ops ? UW_RBP_UNDEF : UW_RBP_SAME;
		return true;
	}
	/* DW_CFA_register rbp, rbp: still the same value */
	if (n == 1 && ops[0].atom == DW_OP_regx && ops[0].number == DWARF_RBP) {
		*kind = UW_RBP_SAME;
		return true;
	}
	/* offset(N): DW_OP_call_frame_cfa [DW_OP_plus_uconst N] */
	if (ops[0].atom != DW_OP_call_frame_cfa || n > 2)
		return false;
	o = 0;
	if (n == 2) {
		if (ops[1].atom != DW_OP_plus_uconst)
			return false;
		o = (int64_t)ops[1].number;
	}
	if (o % 8 || o / 8 < -128 || o / 8 > 127)
		return false;
	*kind = UW_RBP_AT_CFA;
	*off = o / 8;
	return true;
}

/* The return address: at CFA - 8 (what BPF assumes), or undefined in the
 * outermost frame.  0 = at CFA - 8, 1 = undefined, -1 = anything else. */
static int map_ra(Dwarf_Frame *fr, int ra)
{
	Dwarf_Op mem[3], *ops;
	size_t n;

	if (ra != DWARF_RA || dwarf_frame_register(fr, ra, mem, &ops, &n))
		return -1;
	if (n == 0)
		return ops ? 1 : -1;
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	    ops[1].atom == DW_OP_plus_uconst && (int64_t)ops[1].number == -8)
		return 0;
	return -1;
}

static struct unwind_row map_row(Dwarf_Frame *fr, int ra)
{
	struct unwind_row stop = mkrow(UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	enum uw_cfa cfa;
	enum uw_rbp rbp;
	uint16_t cfa_off;
	int8_t cut, rbp_off;

	switch (map_ra(fr, ra)) {
	case 1:
		return mkrow(UW_CFA_END, 0, UW_RBP_SAME, 0);
	case 0:
		break;
	default:
		return stop;
	}
	if (!map_cfa(fr, &cfa, &cfa_off, &cut))
		return stop;
	if (cfa == UW_CFA_PLT)
		/* rbp_off holds the cut; .plt entries never save rbp */
		return mkrow(UW_CFA_PLT, cfa_off, UW_RBP_SAME, cut);
	if (!map_rbp(fr, &rbp, &rbp_off))
		return stop;
	return mkrow(cfa, cfa_off, rbp, rbp_off);
}

/* ---- emitting rows -------------------------------------------------------- */

static bool same_rule(const struct unwind_row *a, const struct unwind_row *b)
{
	return a->kind == b->kind && a->cfa_off == b->cfa_off &&
	       a->rbp_off == b->rbp_off;
}

static int grow_rows(struct builder *b)
{
	struct unwind_table *t = b->t;
	size_t cap = b->cap_rows ? 2 * b->cap_rows : 1024;
	struct unwind_row *n;

	if (t->nr_rows < b->cap_rows)
		return 0;
	if (cap > UNWIND_MAX_ROWS)
		cap = UNWIND_MAX_ROWS;
	if (cap <= t->nr_rows)
		return -E2BIG;
	n = realloc(t->rows, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->rows = n;
	b->cap_rows = cap;
	return 0;
}

/* Appends a row at pc (> the last row's pc), merged into the last row if
 * it says the same.  -E2BIG at the row limit (one row stays free for the
 * final gap), -ENOMEM. */
static int emit(struct builder *b, uint64_t pc, struct unwind_row r)
{
	struct unwind_table *t = b->t;
	int err;

	if (t->nr_rows && same_rule(&t->rows[t->nr_rows - 1], &r))
		return 0;
	if (t->nr_rows + 1 >= UNWIND_MAX_ROWS)
		return -E2BIG;
	err = grow_rows(b);
	if (err)
		return err;
	r.pc = (uint32_t)pc;
	t->rows[t->nr_rows++] = r;
	return 0;
}

static struct unwind_row gap_row(void)
{
	return mkrow(UW_CFA_STOP, UNWIND_GAP_CFA_OFF, UW_RBP_SAME, 0);
}

/* The rows of one FDE, from where the previous FDEs stopped covering.
 * 0, -EINVAL (libdw failed: the caller drops the rows), -E2BIG, -ENOMEM. */
static int fde_rows(struct builder *b, const struct fde_rec *f)
{
	Dwarf_CFI *cfi = b->src[f->src].cfi;
	uint64_t addr = f->lo > b->covered ? f->lo : b->covered;
	bool signal = false;
	int err;

	if (f->lo > b->covered && b->t->nr_rows) {
		err = emit(b, b->covered, gap_row());
		if (err)
			return err;
	}
	/* addr strictly increases, and rows are bounded by FDE_MAX_STEPS */
	for (uint32_t steps = 0; addr < f->hi; steps++) {
		Dwarf_Frame *fr = NULL;
		Dwarf_Addr start, end;
		bool sig = false;
		int ra;

		if (steps > FDE_MAX_STEPS || dwarf_cfi_addrframe(cfi, addr, &fr))
			return -EINVAL;
		ra = dwarf_frame_info(fr, &start, &end, &sig);
		if (ra < 0 || start > addr || end <= addr) {
			free(fr);
			return -EINVAL;
		}
		signal |= sig;
		err = emit(b, addr, map_row(fr, ra));
		free(fr);
		if (err)
			return err;
		addr = end < f->hi ? end : f->hi;
	}
	b->covered = f->hi;
	b->t->nr_fdes++;
	if (!b->src[f->src].eh)
		b->t->nr_debug_frame_fdes++;
	if (signal)
		b->t->nr_signal_fdes++;
	return 0;
}

/* All FDEs, sorted, clipped so they do not overlap, gaps marked. */
static int emit_rows(struct builder *b)
{
	struct unwind_table *t = b->t;

	if (b->nr_fdes)
		qsort(b->fdes, b->nr_fdes, sizeof(*b->fdes), cmp_fde);
	for (size_t i = 0; i < b->nr_fdes; i++) {
		const struct fde_rec *f = &b->fdes[i];
		uint32_t saved = t->nr_rows;
		int err;

		if (f->hi <= b->covered) {
			t->nr_skipped_fdes++;	/* inside earlier FDEs */
			continue;
		}
		if (b->work + f->work > TOTAL_MAX_WORK) {
			t->truncated = true;
			break;
		}
		b->work += f->work;
		err = fde_rows(b, f);
		if (err == -ENOMEM)
			return err;
		if (err) {
			/* Drop the FDE's rows: its range becomes a gap. */
			t->nr_rows = saved;
			if (err == -E2BIG) {
				t->truncated = true;
				break;
			}
			t->nr_bad_fdes++;
		}
	}
	if (t->nr_rows) {
		/* emit() keeps a row free for this one, under the limit */
		struct unwind_row g = gap_row();
		int err = grow_rows(b);

		if (err)
			return err;
		g.pc = (uint32_t)b->covered;
		t->rows[t->nr_rows++] = g;
	}
	return 0;
}

/* Counts rows by kind, and the covered span. */
static void count_rows(struct unwind_table *t)
{
	for (uint32_t i = 0; i < t->nr_rows; i++) {
		const struct unwind_row *r = &t->rows[i];

		switch (uw_cfa_kind(r)) {
		case UW_CFA_RSP:
			t->nr_rsp_rows++;
			break;
		case UW_CFA_RBP:
			t->nr_rbp_rows++;
			break;
		case UW_CFA_PLT:
			t->nr_plt_rows++;
			break;
		case UW_CFA_END:
			t->nr_end_rows++;
			break;
		default:
			if (unwind_table__row_is_gap(r))
				t->nr_gap_rows++;
			else
				t->nr_stop_rows++;
		}
	}
	if (t->nr_rows) {
		t->lo_vaddr = t->rows[0].pc;
		t->hi_vaddr = t->rows[t->nr_rows - 1].pc;
	}
}

/* ---- the ELF file --------------------------------------------------------- */

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* The NT_GNU_BUILD_ID note of a notes block, in hex (1 to 20 bytes). */
static bool note_build_id(Elf_Data *d, char out[41])
{
	GElf_Nhdr nh;
	size_t off = 0, next, name, desc;

	if (!d || !d->d_buf)
		return false;
	/* gelf_getnote() checks sizes against the data and moves forward */
	while ((next = gelf_getnote(d, off, &nh, &name, &desc)) > off) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((char *)d->d_buf + name, "GNU", 4) &&
		    nh.n_descsz >= 1 && nh.n_descsz <= 20) {
			hex((uint8_t *)d->d_buf + desc, nh.n_descsz, out);
			return true;
		}
		off = next;
	}
	return false;
}

/* The GNU build-id from the SHT_NOTE sections, else the PT_NOTEs. */
static void read_build_id(Elf *elf, char out[41])
{
	Elf_Scn *scn = NULL;
	size_t phnum;

	out[0] = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    note_build_id(elf_getdata(scn, NULL), out))
			return;
	}
	if (elf_getphdrnum(elf, &phnum))
		return;
	for (size_t i = 0; i < phnum && i < 1024; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_NOTE &&
		    note_build_id(elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz,
						       ph.p_align == 8 ? ELF_T_NHDR8 :
						       ELF_T_NHDR), out))
			return;
	}
}

/* Before libelf sees it: a 64-bit little-endian x86-64 ELF (nothing to
 * convert) whose section count is sane, as elf_memory() allocates a
 * descriptor per section header up front (a hostile 512 MiB file could
 * announce millions: gigabytes). */
static int check_raw_header(const void *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh0;
	uint64_t shnum;

	if (len < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return -ENOEXEC;
	shnum = eh.e_shnum;
	if (!shnum && eh.e_shoff && eh.e_shoff <= len &&
	    len - eh.e_shoff >= sizeof(sh0)) {
		/* more than 0xff00 sections: the count is in section 0 */
		memcpy(&sh0, (const char *)buf + eh.e_shoff, sizeof(sh0));
		shnum = sh0.sh_size;
	}
	return shnum > MAX_SECTIONS ? -ENOEXEC : 0;
}

/* An x86-64 little-endian executable or shared object. */
static int check_ehdr(Elf *elf, GElf_Ehdr *eh)
{
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, eh) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64 ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
		return -ENOEXEC;
	return 0;
}

/* The span of the executable PT_LOADs: FDEs outside are ignored.
 * -ENOEXEC without code, -ERANGE above 4 GiB. */
static int code_span(struct builder *b)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t phnum;

	if (elf_getphdrnum(b->elf, &phnum))
		return -ENOEXEC;
	for (size_t i = 0; i < phnum && i < 65536; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(b->elf, i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X) || !ph.p_memsz)
			continue;
		if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			return -ERANGE;
		if (ph.p_vaddr < lo)
			lo = ph.p_vaddr;
		if (ph.p_vaddr + ph.p_memsz > hi)
			hi = ph.p_vaddr + ph.p_memsz;
	}
	if (lo >= hi)
		return -ENOEXEC;
	if (hi > PC_LIMIT)
		return -ERANGE;
	b->code_lo = lo;
	b->code_hi = hi;
	return 0;
}

/* The first section called name, or NULL. */
static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static void src_free(struct cfi_src *s)
{
	if (s->owns_cfi && s->cfi)
		dwarf_cfi_end(s->cfi);
	if (s->dw)
		dwarf_end(s->dw);	/* also ends a dwarf_getcfi() */
	if (s->elf)
		elf_end(s->elf);
	free(s->image);
	free(s->cies);
	memset(s, 0, sizeof(*s));
}

/* A private copy of a CFI section in a minimal ELF image (header, the
 * section, .shstrtab): all libdw gets to see.  Without .eh_frame_hdr,
 * libdw finds FDEs by scanning the section in order, which visits exactly
 * the entries walk_entries() checked; and, the copy being ours, the
 * entries that failed the checks are made unusable (neutralize()).
 * For .debug_frame, it also keeps dwarf_begin_elf() from looking at (and
 * decompressing) every other .debug_* section of a debuginfo file.
 * *sec points to the section bytes within the image. */
static void *frame_image(bool eh, const void *bytes, size_t size, uint64_t addr,
			 size_t *len, uint8_t **sec)
{
	static const char shstr[] = "\0.eh_frame\0.debug_frame\0.shstrtab";
	size_t off_sec = sizeof(Elf64_Ehdr), off_str = off_sec + size;
	size_t off_sh = (off_str + sizeof(shstr) + 7) & ~(size_t)7;
	char *img = calloc(1, off_sh + 3 * sizeof(Elf64_Shdr));
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	Elf64_Shdr *sh;

	if (!img)
		return NULL;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_DYN;
	h->e_machine = EM_X86_64;	/* libdw's x86-64 default rules */
	h->e_version = EV_CURRENT;
	h->e_ehsize = sizeof(*h);
	h->e_shentsize = sizeof(Elf64_Shdr);
	h->e_shnum = 3;
	h->e_shstrndx = 2;
	h->e_shoff = off_sh;
	memcpy(img + off_sec, bytes, size);
	memcpy(img + off_str, shstr, sizeof(shstr));
	sh = (Elf64_Shdr *)(img + off_sh);
	sh[1].sh_name = eh ? 1 : 11;
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = eh ? SHF_ALLOC : 0;
	sh[1].sh_addr = addr;	/* .eh_frame: the base of pc-relative values */
	sh[1].sh_offset = off_sec;
	sh[1].sh_size = size;
	sh[1].sh_addralign = 1;
	sh[2].sh_name = 24;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = off_str;
	sh[2].sh_size = sizeof(shstr);
	sh[2].sh_addralign = 1;
	*len = off_sh + 3 * sizeof(Elf64_Shdr);
	*sec = (uint8_t *)img + off_sec;
	return img;
}

/* A CFI section (bytes at addr) as source number b->nr_src: its private
 * image and libdw handle, then its FDEs collected.  1 if added, 0 if
 * libdw would not have it, or a negative errno. */
static int add_source(struct builder *b, bool eh, const void *bytes, size_t size,
		      uint64_t addr)
{
	struct cfi_src *s = &b->src[b->nr_src];
	Elf_Scn *scn;
	size_t len;
	int err;

	s->eh = eh;
	s->size = size;
	s->addr = addr;
	s->image = frame_image(eh, bytes, size, addr, &len, &s->sec);
	if (!s->image)
		return -ENOMEM;
	s->elf = elf_memory(s->image, len);
	if (s->elf && eh) {
		s->cfi = dwarf_getcfi_elf(s->elf);
		s->owns_cfi = true;
	} else if (s->elf) {
		s->dw = dwarf_begin_elf(s->elf, DWARF_C_READ, NULL);
		s->cfi = s->dw ? dwarf_getcfi(s->dw) : NULL;
	}
	scn = s->elf ? elf_getscn(s->elf, 1) : NULL;
	s->data = scn ? elf_rawdata(scn, NULL) : NULL;
	s->ident = s->elf ? (const unsigned char *)elf_getident(s->elf, NULL) : NULL;
	/* neutralize() writes where libdw reads: the same bytes */
	if (!s->cfi || !s->data || s->data->d_buf != s->sec ||
	    s->data->d_size != size || !s->ident) {
		src_free(s);
		return 0;
	}
	b->nr_src++;
	err = collect_fdes(b, b->nr_src - 1);
	return err ? err : 1;
}

/* The file's .eh_frame (the first section so named, as libdw picks). */
static int add_eh_frame(struct builder *b)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(b->elf, ".eh_frame", &sh);
	Elf_Data *d;

	if (!scn || sh.sh_type == SHT_NOBITS)
		return 0;
	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf || !d->d_size)
		return 0;
	return add_source(b, true, d->d_buf, d->d_size, sh.sh_addr);
}

/* The bytes of a .debug_frame section, decompressed (bounded) if needed. */
static Elf_Data *debug_frame_data(Elf_Scn *scn, const GElf_Shdr *sh)
{
	if (sh->sh_type != SHT_PROGBITS)
		return NULL;
	if (sh->sh_flags & SHF_COMPRESSED) {
		GElf_Chdr ch;

		if (!gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB ||
		    ch.ch_size > MAX_DEBUG_FRAME || elf_compress(scn, 0, 0) < 0)
			return NULL;
	} else if (sh->sh_size > MAX_DEBUG_FRAME) {
		return NULL;
	}
	return elf_getdata(scn, NULL);
}

/* The .debug_frame of elf (the file itself or its debuginfo), for the
 * code .eh_frame does not describe: as add_source(). */
static int add_debug_frame(struct builder *b, Elf *elf)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".debug_frame", &sh);
	Elf_Data *d = scn ? debug_frame_data(scn, &sh) : NULL;

	if (!d || !d->d_buf || !d->d_size)
		return 0;
	return add_source(b, false, d->d_buf, d->d_size, 0);
}

/* The .debug_frame of the separate debuginfo found by build-id under
 * dir, if it exists, is of the same build and has one: as
 * add_debug_frame(). */
static int add_debug_file(struct builder *b, const char *dir)
{
	struct unwind_table *t = b->t;
	char path[sizeof(t->debug_path)], id[41];
	GElf_Ehdr eh;
	size_t len;
	int rc;

	if (!dir || !t->build_id[0] ||
	    unwind_table__debug_path(dir, t->build_id, path, sizeof(path)))
		return 0;
	if (read_image(path, &b->debug_image, &len))
		return 0;	/* no debuginfo: the usual case */
	if (check_raw_header(b->debug_image, len))
		return 0;
	b->debug_elf = elf_memory(b->debug_image, len);
	if (check_ehdr(b->debug_elf, &eh))
		return 0;
	read_build_id(b->debug_elf, id);
	if (strcmp(id, t->build_id))
		return 0;
	rc = add_debug_frame(b, b->debug_elf);
	if (rc > 0)
		snprintf(t->debug_path, sizeof(t->debug_path), "%s", path);
	return rc;
}

static void builder_free(struct builder *b)
{
	for (int i = 0; i < b->nr_src; i++)
		src_free(&b->src[i]);
	if (b->elf)
		elf_end(b->elf);
	if (b->debug_elf)
		elf_end(b->debug_elf);
	free(b->debug_image);
	free(b->fdes);
	free(b->eh_reach);
}

/* The whole compilation of an image (buf stays the caller's). */
static int build(void *buf, size_t len, const char *debug_dir,
		 struct unwind_table **out)
{
	struct builder b = { 0 };
	struct unwind_table *t;
	int err, eh, dbg;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	if (!buf || len < sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	err = check_raw_header(buf, len);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	b.t = t;
	b.elf = elf_memory(buf, len);
	err = check_ehdr(b.elf, &b.ehdr);
	if (!err)
		err = code_span(&b);
	if (err)
		goto out;
	read_build_id(b.elf, t->build_id);
	eh = add_eh_frame(&b);
	err = eh < 0 ? eh : index_eh(&b);
	if (err)
		goto out;
	/* the file's own .debug_frame, else its debuginfo's */
	dbg = add_debug_frame(&b, b.elf);
	if (!dbg)
		dbg = add_debug_file(&b, debug_dir);
	if (dbg < 0) {
		err = dbg;
		goto out;
	}
	if (!eh && !dbg) {
		err = -ENODATA;
		goto out;
	}
	err = emit_rows(&b);
	if (err)
		goto out;
	count_rows(t);
	t->used_debug_frame = t->nr_debug_frame_fdes > 0;
	if (!t->used_debug_frame)
		t->debug_path[0] = 0;
	if (t->nr_rows && t->nr_rows < b.cap_rows) {
		/* give back the doubling slack */
		struct unwind_row *n = realloc(t->rows, t->nr_rows * sizeof(*n));

		if (n)
			t->rows = n;
	}
out:
	builder_free(&b);
	if (err) {
		unwind_table__free(t);
		return err;
	}
	*out = t;
	return 0;
}

/* ---- public --------------------------------------------------------------- */

int unwind_table__build_mem(void *buf, size_t len, struct unwind_table **out)
{
	return build(buf, len, NULL, out);
}

int unwind_table__build_file_debug(const char *path, const char *debug_dir,
				   struct unwind_table **out)
{
	void *img;
	size_t len;
	int err;

	*out = NULL;
	err = read_image(path, &img, &len);
	if (err)
		return err;
	err = build(img, len, debug_dir, out);
	free(img);
	return err;
}

int unwind_table__build_fd(int fd, struct unwind_table **out)
{
	void *img;
	size_t len;
	int err;

	*out = NULL;
	err = read_image_fd(fd, &img, &len);
	if (err)
		return err;
	err = build(img, len, UNWIND_DEBUG_DIR, out);
	free(img);
	return err;
}

int unwind_table__build_file(const char *path, struct unwind_table **out)
{
	return unwind_table__build_file_debug(path, UNWIND_DEBUG_DIR, out);
}

void unwind_table__free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t);
}

const struct unwind_row *unwind_table__lookup(const struct unwind_table *t,
					      uint64_t vaddr)
{
	uint32_t lo = 0, hi = t->nr_rows;
	const struct unwind_row *r;

	if (!t->nr_rows || vaddr >= PC_LIMIT || vaddr < t->rows[0].pc)
		return NULL;
	/* the last row with pc <= vaddr */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	r = &t->rows[lo];
	return unwind_table__row_is_gap(r) ? NULL : r;
}

int unwind_table__summary(const struct unwind_table *t, char *buf, size_t len)
{
	return snprintf(buf, len,
			"rows=%u fdes=%u rsp=%u rbp=%u plt=%u end=%u stop=%u gap=%u "
			"bad_fdes=%u skipped_fdes=%u signal_fdes=%u debug_frame_fdes=%u%s",
			t->nr_rows, t->nr_fdes, t->nr_rsp_rows, t->nr_rbp_rows,
			t->nr_plt_rows, t->nr_end_rows, t->nr_stop_rows,
			t->nr_gap_rows, t->nr_bad_fdes, t->nr_skipped_fdes,
			t->nr_signal_fdes, t->nr_debug_frame_fdes,
			t->truncated ? " truncated" : "");
}

int unwind_table__debug_path(const char *debug_dir, const char *build_id,
			     char *buf, size_t len)
{
	size_t n = strlen(build_id);
	int w;

	if (n < 3 || n > 40 || strspn(build_id, "0123456789abcdef") != n)
		return -EINVAL;
	w = snprintf(buf, len, "%s/.build-id/%.2s/%s.debug", debug_dir,
		     build_id, build_id + 2);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
