/* budget.c - reads a BPF object with libelf and measures what the verifier
 * measures: each function's stack frame and the call chains between them.
 *
 * Functions are the STT_FUNC symbols of executable sections: those in a
 * SEC() section are programs, those in .text subprograms (libbpf's rule).
 * A function refers to another by `call` with src_reg BPF_PSEUDO_CALL or
 * by `ld_imm64` of its address (a bpf_loop / bpf_find_vma callback), which
 * the verifier counts as a call.  Targets are resolved as libbpf 1.1's
 * bpf_object__reloc_code() does: a relocated call goes to instruction
 * sym.st_value / 8 + imm + 1 of the symbol's section, a relocated ld_imm64
 * to byte sym.st_value + imm, an unrelocated call to imm + 1 instructions
 * past itself in its own section.
 *
 * A frame is the deepest byte below r10 that the function touches: loads
 * and stores through r10 or through a register holding r10 + k (simple
 * copies and constant adds tracked in instruction order), and every
 * r10 + k pointer formed.  The verifier measures only the paths it
 * explores; this measures all of them, so on code that load-time
 * constants make dead it can only be larger.
 *
 * The object is untrusted input: every index into sections, symbols,
 * relocations and instructions is checked, and a bad one is an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"

#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80	/* sign-extending load (cpu v4) */
#endif
#define INSN_BYTES 8
#define NREGS 11	/* r0..r10 */

struct sec {
	char *name;
	uint8_t *code;		/* the section's bytes, copied */
	size_t ninsns;
	long *relsym;		/* per instruction: symbol of its relocation, or -1 */
};

struct func {
	struct budget_func pub;
	size_t sec;		/* index into budget.secs */
	size_t start;		/* first instruction, in its section */
	size_t count;
	size_t *callees;
	size_t cap;
};

struct budget {
	const char *path;	/* valid during budget__open only */
	Elf *elf;		/* likewise */
	size_t nshdrs;
	long *sec_of_shndx;	/* ELF section index -> index into secs, or -1 */
	struct sec *secs;
	size_t nsecs;
	GElf_Sym *syms;
	size_t nsyms;
	size_t symtab_shndx;
	size_t strtab_shndx;
	struct func *funcs;
	size_t nfuncs;
	char *err;
	size_t errlen;
};

struct insn {
	uint8_t code, dst, src;
	int16_t off;
	int32_t imm;
};

/* Writes the message and returns -code. */
static int fail(struct budget *b, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (b->errlen)
		vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
	return -code;
}

static int fail_corrupt(struct budget *b, const char *what, size_t index)
{
	return fail(b, EINVAL, "%s: %s %zu is malformed; the object is corrupt "
		    "or not clang's BPF output: rebuild it (make build/leakscope.bpf.o)",
		    b->path, what, index);
}

/* Decodes instruction i of s (little-endian, as checked in check_header). */
static struct insn insn_at(const struct sec *s, size_t i)
{
	const uint8_t *p = s->code + i * INSN_BYTES;
	struct insn in = {
		.code = p[0],
		.dst = p[1] & 0xf,
		.src = p[1] >> 4,
		.off = (int16_t)(p[2] | p[3] << 8),
		.imm = (int32_t)((uint32_t)p[4] | (uint32_t)p[5] << 8 |
				 (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24),
	};
	return in;
}

static bool is_ld_imm64(struct insn in)
{
	return in.code == (BPF_LD | BPF_IMM | BPF_DW);
}

static bool is_call(struct insn in)
{
	return in.code == (BPF_JMP | BPF_CALL);
}

/* ---- reading the ELF file ------------------------------------------- */

/* A copy of an untrusted name, fit for a terminal: bytes outside printable
 * ASCII become '?'. */
static char *printable_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return d;
}

static int check_header(struct budget *b)
{
	GElf_Ehdr eh;

	if (elf_kind(b->elf) != ELF_K_ELF || !gelf_getehdr(b->elf, &eh))
		return fail(b, ENOEXEC, "%s: not an ELF file; give the compiled BPF "
			    "object (make build/leakscope.bpf.o)", b->path);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_BPF)
		return fail(b, ENOEXEC, "%s: not a BPF object (machine %u); give "
			    "clang -target bpf output", b->path, eh.e_machine);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(b, ENOTSUP, "%s: a big-endian BPF object; build it "
			    "with -target bpfel (or bpf on a little-endian host)",
			    b->path);
	if (elf_getshdrnum(b->elf, &b->nshdrs))
		return fail_corrupt(b, "section header table", 0);
	b->sec_of_shndx = malloc(b->nshdrs * sizeof(*b->sec_of_shndx));
	if (!b->sec_of_shndx)
		return fail(b, ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nshdrs; i++)
		b->sec_of_shndx[i] = -1;
	return 0;
}

static const char *section_name(struct budget *b, const GElf_Shdr *sh)
{
	size_t strndx;

	if (elf_getshdrstrndx(b->elf, &strndx))
		return NULL;
	return elf_strptr(b->elf, strndx, sh->sh_name);
}

/* Copies executable section scn (index shndx) into b->secs. */
static int add_code_section(struct budget *b, Elf_Scn *scn, size_t shndx,
			    const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const char *name = section_name(b, sh);
	struct sec *s;

	if (!name || !d || (d->d_size && !d->d_buf) || d->d_size != sh->sh_size ||
	    d->d_size % INSN_BYTES)
		return fail_corrupt(b, "code section", shndx);
	s = &b->secs[b->nsecs];
	memset(s, 0, sizeof(*s));
	s->ninsns = d->d_size / INSN_BYTES;
	s->name = printable_dup(name);
	s->code = malloc(d->d_size ? d->d_size : 1);
	s->relsym = malloc((s->ninsns ? s->ninsns : 1) * sizeof(*s->relsym));
	b->nsecs++;
	if (!s->name || !s->code || !s->relsym)
		return fail(b, ENOMEM, "out of memory");
	memcpy(s->code, d->d_buf, d->d_size);
	for (size_t i = 0; i < s->ninsns; i++)
		s->relsym[i] = -1;
	b->sec_of_shndx[shndx] = (long)(b->nsecs - 1);
	return 0;
}

/* Finds the code sections and the symbol table. */
static int read_sections(struct budget *b)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int err;

	b->secs = calloc(b->nshdrs ? b->nshdrs : 1, sizeof(*b->secs));
	if (!b->secs)
		return fail(b, ENOMEM, "out of memory");
	while ((scn = elf_nextscn(b->elf, scn))) {
		size_t shndx = elf_ndxscn(scn);

		if (shndx >= b->nshdrs || !gelf_getshdr(scn, &sh))
			return fail_corrupt(b, "section", shndx);
		if (sh.sh_type == SHT_SYMTAB) {
			if (b->symtab_shndx)
				return fail_corrupt(b, "second symbol table, section", shndx);
			b->symtab_shndx = shndx;
		} else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR)) {
			err = add_code_section(b, scn, shndx, &sh);
			if (err)
				return err;
		}
	}
	if (!b->symtab_shndx)
		return fail(b, ENOENT, "%s: no symbol table; keep it when stripping "
			    "(llvm-strip -g, not --strip-all)", b->path);
	return 0;
}

static int read_symbols(struct budget *b)
{
	Elf_Scn *scn = elf_getscn(b->elf, b->symtab_shndx);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	GElf_Shdr sh;

	if (!d || !gelf_getshdr(scn, &sh) || sh.sh_entsize != sizeof(Elf64_Sym) ||
	    sh.sh_link >= b->nshdrs)
		return fail_corrupt(b, "symbol table, section", b->symtab_shndx);
	b->strtab_shndx = sh.sh_link;
	b->nsyms = d->d_size / sizeof(Elf64_Sym);
	b->syms = malloc((b->nsyms ? b->nsyms : 1) * sizeof(*b->syms));
	if (!b->syms)
		return fail(b, ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nsyms; i++)
		if (!gelf_getsym(d, (int)i, &b->syms[i]))
			return fail_corrupt(b, "symbol", i);
	return 0;
}

/* The code section a symbol is defined in, or -1. */
static long code_sec_of(const struct budget *b, const GElf_Sym *sym)
{
	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx >= SHN_LORESERVE ||
	    sym->st_shndx >= b->nshdrs)
		return -1;
	return b->sec_of_shndx[sym->st_shndx];
}

static int add_func(struct budget *b, size_t symi, size_t sec)
{
	const GElf_Sym *sym = &b->syms[symi];
	const struct sec *s = &b->secs[sec];
	const char *name = elf_strptr(b->elf, b->strtab_shndx, sym->st_name);
	struct func *f;

	if (!name || sym->st_value % INSN_BYTES || sym->st_size % INSN_BYTES ||
	    !sym->st_size || sym->st_value / INSN_BYTES > s->ninsns ||
	    sym->st_size / INSN_BYTES > s->ninsns - sym->st_value / INSN_BYTES)
		return fail_corrupt(b, "function symbol", symi);
	f = &b->funcs[b->nfuncs];
	memset(f, 0, sizeof(*f));
	f->sec = sec;
	f->start = sym->st_value / INSN_BYTES;
	f->count = sym->st_size / INSN_BYTES;
	f->pub.section = s->name;
	f->pub.entry = strcmp(s->name, ".text") != 0;
	f->pub.name = printable_dup(name);
	b->nfuncs++;
	if (!f->pub.name)
		return fail(b, ENOMEM, "out of memory");
	return 0;
}

static int cmp_func(const void *pa, const void *pb)
{
	const struct func *a = pa, *c = pb;

	if (a->sec != c->sec)
		return a->sec < c->sec ? -1 : 1;
	return a->start < c->start ? -1 : a->start > c->start;
}

/* Every STT_FUNC symbol of a code section, sorted by section and start. */
static int read_funcs(struct budget *b)
{
	int err;

	b->funcs = calloc(b->nsyms ? b->nsyms : 1, sizeof(*b->funcs));
	if (!b->funcs)
		return fail(b, ENOMEM, "out of memory");
	for (size_t i = 0; i < b->nsyms; i++) {
		long sec = code_sec_of(b, &b->syms[i]);

		if (GELF_ST_TYPE(b->syms[i].st_info) != STT_FUNC || sec < 0)
			continue;
		err = add_func(b, i, (size_t)sec);
		if (err)
			return err;
	}
	qsort(b->funcs, b->nfuncs, sizeof(*b->funcs), cmp_func);
	return 0;
}

/* Records, per instruction, the symbol of the relocation at it. */
static int read_rel_section(struct budget *b, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	struct sec *s = &b->secs[b->sec_of_shndx[sh->sh_info]];
	size_t shndx = elf_ndxscn(scn), n;

	if (!d || sh->sh_entsize != sizeof(Elf64_Rel) || sh->sh_link != b->symtab_shndx)
		return fail_corrupt(b, "relocation section", shndx);
	n = d->d_size / sizeof(Elf64_Rel);
	for (size_t i = 0; i < n; i++) {
		GElf_Rel rel;
		size_t symi, at;

		if (!gelf_getrel(d, (int)i, &rel))
			return fail_corrupt(b, "relocation", i);
		symi = GELF_R_SYM(rel.r_info);
		at = rel.r_offset / INSN_BYTES;
		if (symi >= b->nsyms || rel.r_offset % INSN_BYTES || at >= s->ninsns)
			return fail_corrupt(b, "relocation", i);
		s->relsym[at] = (long)symi;
	}
	return 0;
}

static int read_relocations(struct budget *b)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int err;

	while ((scn = elf_nextscn(b->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return fail_corrupt(b, "section", elf_ndxscn(scn));
		if ((sh.sh_type != SHT_REL && sh.sh_type != SHT_RELA) ||
		    sh.sh_info >= b->nshdrs || b->sec_of_shndx[sh.sh_info] < 0)
			continue;
		if (sh.sh_type == SHT_RELA)
			return fail(b, ENOTSUP, "%s: RELA relocations on code; "
				    "BPF objects use REL: build with clang -target bpf",
				    b->path);
		err = read_rel_section(b, scn, &sh);
		if (err)
			return err;
	}
	return 0;
}

/* ---- frames ---------------------------------------------------------- */

/* What is known of a register: whether it holds r10 + off. */
struct reg {
	bool fp;
	int64_t off;
};

static void touch(int64_t at, int *depth)
{
	if (at < 0 && -at > *depth)
		*depth = -at > INT_MAX ? INT_MAX : (int)-at;
}

static void touch_mem(const struct reg *regs, unsigned r, int16_t off, int *depth)
{
	if (regs[r].fp)
		touch(regs[r].off + off, depth);
}

/* 64-bit ALU: copies of r10 (+ k) and constant adds keep the register a
 * stack pointer; anything else makes it unknown. */
static void step_alu64(struct reg *regs, struct insn in, int *depth)
{
	struct reg *d = &regs[in.dst];

	switch (BPF_OP(in.code) | BPF_SRC(in.code)) {
	case BPF_MOV | BPF_X:
		if (in.off == 0) {	/* off != 0: movsx */
			*d = regs[in.src];
			return;
		}
		break;
	case BPF_ADD | BPF_K:
		if (d->fp) {
			d->off += in.imm;
			touch(d->off, depth);
			return;
		}
		break;
	case BPF_SUB | BPF_K:
		if (d->fp) {
			d->off -= in.imm;
			touch(d->off, depth);
			return;
		}
		break;
	}
	d->fp = false;
}

static void step_stx(struct reg *regs, struct insn in, int *depth)
{
	touch_mem(regs, in.dst, in.off, depth);
	if (BPF_MODE(in.code) != BPF_ATOMIC)
		return;
	if (in.imm == BPF_CMPXCHG)
		regs[BPF_REG_0].fp = false;
	else if (in.imm & BPF_FETCH)
		regs[in.src].fp = false;
}

/* One instruction's effect on the registers and the depth. */
static void step(struct reg *regs, struct insn in, int *depth)
{
	switch (BPF_CLASS(in.code)) {
	case BPF_LDX:
		if (BPF_MODE(in.code) == BPF_MEM || BPF_MODE(in.code) == BPF_MEMSX)
			touch_mem(regs, in.src, in.off, depth);
		regs[in.dst].fp = false;
		break;
	case BPF_ST:
		touch_mem(regs, in.dst, in.off, depth);
		break;
	case BPF_STX:
		step_stx(regs, in, depth);
		break;
	case BPF_ALU64:
		step_alu64(regs, in, depth);
		break;
	case BPF_ALU:
		regs[in.dst].fp = false;
		break;
	case BPF_LD:	/* ld_imm64, and legacy packet loads into r0 */
		regs[is_ld_imm64(in) ? in.dst : BPF_REG_0].fp = false;
		break;
	case BPF_JMP:
	case BPF_JMP32:
		if (is_call(in))	/* r1-r5 are clobbered, r0 is the result */
			for (unsigned r = BPF_REG_0; r <= BPF_REG_5; r++)
				regs[r].fp = false;
		break;
	}
	regs[BPF_REG_10] = (struct reg){ .fp = true, .off = 0 };
}

static int measure_func(struct budget *b, struct func *f)
{
	const struct sec *s = &b->secs[f->sec];
	struct reg regs[NREGS] = { [BPF_REG_10] = { .fp = true } };
	size_t end = f->start + f->count;
	int depth = 0;

	for (size_t i = f->start; i < end; i++) {
		struct insn in = insn_at(s, i);

		if (in.dst >= NREGS || in.src >= NREGS)
			return fail(b, EINVAL, "%s: %s+%zu in %s uses register r%u; "
				    "the object is corrupt: rebuild it", b->path, s->name,
				    i, f->pub.name, in.dst >= NREGS ? in.dst : in.src);
		if (is_ld_imm64(in) && ++i >= end)
			return fail(b, EINVAL, "%s: %s ends inside an ld_imm64; the "
				    "object is corrupt: rebuild it", b->path, f->pub.name);
		step(regs, in, &depth);
	}
	f->pub.depth_bytes = depth;
	return 0;
}

/* ---- the call graph -------------------------------------------------- */

/* The function starting at instruction at of section sec, or -1. */
static long func_at(const struct budget *b, size_t sec, size_t at)
{
	size_t lo = 0, hi = b->nfuncs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct func *f = &b->funcs[mid];

		if (f->sec < sec || (f->sec == sec && f->start < at))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->nfuncs && b->funcs[lo].sec == sec && b->funcs[lo].start == at)
		return (long)lo;
	return -1;
}

static int add_callee(struct budget *b, struct func *f, size_t callee)
{
	size_t *grown;

	for (size_t k = 0; k < f->pub.ncallees; k++)
		if (f->callees[k] == callee)
			return 0;
	if (f->pub.ncallees == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 4;
		grown = realloc(f->callees, f->cap * sizeof(*grown));
		if (!grown)
			return fail(b, ENOMEM, "out of memory");
		f->callees = grown;
	}
	f->callees[f->pub.ncallees++] = callee;
	f->pub.callees = f->callees;
	return 0;
}

/* Links f to the function at byte target_byte of section sec. */
static int link_to(struct budget *b, struct func *f, size_t at, long sec,
		   int64_t target_byte)
{
	const struct sec *s = &b->secs[f->sec];
	long callee = -1;

	if (sec >= 0 && target_byte >= 0 && target_byte % INSN_BYTES == 0 &&
	    (uint64_t)target_byte / INSN_BYTES < b->secs[sec].ninsns)
		callee = func_at(b, (size_t)sec, (size_t)(target_byte / INSN_BYTES));
	if (callee < 0)
		return fail(b, EINVAL, "%s: %s+%zu in %s calls or takes the address "
			    "of something that is not the start of a function; "
			    "the object is corrupt: rebuild it", b->path, s->name,
			    at, f->pub.name);
	return add_callee(b, f, (size_t)callee);
}

/* A `call` with src_reg BPF_PSEUDO_CALL at instruction at. */
static int link_call(struct budget *b, struct func *f, size_t at, struct insn in)
{
	const struct sec *s = &b->secs[f->sec];
	const GElf_Sym *sym;

	if (s->relsym[at] < 0)	/* static function of the same section */
		return link_to(b, f, at, (long)f->sec,
			       ((int64_t)at + in.imm + 1) * INSN_BYTES);
	sym = &b->syms[s->relsym[at]];
	if (sym->st_value % INSN_BYTES)
		return fail_corrupt(b, "call relocation symbol", (size_t)s->relsym[at]);
	return link_to(b, f, at, code_sec_of(b, sym),
		       (int64_t)sym->st_value + ((int64_t)in.imm + 1) * INSN_BYTES);
}

/* An ld_imm64 at instruction at: a callback when it loads a code address. */
static int link_ld_imm64(struct budget *b, struct func *f, size_t at, struct insn in)
{
	const struct sec *s = &b->secs[f->sec];
	const GElf_Sym *sym;
	long sec;

	if (s->relsym[at] < 0) {
		if (in.src != BPF_PSEUDO_FUNC)
			return 0;
		return fail(b, EINVAL, "%s: %s+%zu in %s loads a function address "
			    "without a relocation (libbpf refuses it too); rebuild "
			    "the object", b->path, s->name, at, f->pub.name);
	}
	sym = &b->syms[s->relsym[at]];
	sec = code_sec_of(b, sym);
	if (sec < 0)		/* a map or global variable */
		return 0;
	return link_to(b, f, at, sec, (int64_t)sym->st_value + in.imm);
}

static int link_func(struct budget *b, struct func *f)
{
	const struct sec *s = &b->secs[f->sec];
	size_t end = f->start + f->count;
	int err = 0;

	for (size_t i = f->start; i < end && !err; i++) {
		struct insn in = insn_at(s, i);

		if (is_call(in) && in.src == BPF_PSEUDO_CALL)
			err = link_call(b, f, i, in);
		else if (is_ld_imm64(in))
			err = link_ld_imm64(b, f, i++, in);
	}
	return err;
}

/* ---- open / free ------------------------------------------------------ */

static int read_object(struct budget *b)
{
	int err;

	err = check_header(b);
	err = err ?: read_sections(b);
	err = err ?: read_symbols(b);
	err = err ?: read_funcs(b);
	err = err ?: read_relocations(b);
	for (size_t i = 0; i < b->nfuncs && !err; i++)
		err = measure_func(b, &b->funcs[i]);
	for (size_t i = 0; i < b->nfuncs && !err; i++)
		err = link_func(b, &b->funcs[i]);
	return err;
}

struct budget *budget__open(const char *path, char *err, size_t errlen)
{
	struct budget *b = calloc(1, sizeof(*b));
	int fd = -1, ret;

	if (errlen)
		err[0] = '\0';
	if (!b) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	b->path = path;
	b->err = err;
	b->errlen = errlen;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		ret = fail(b, ENOTSUP, "libelf is too old (no EV_CURRENT)");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = fail(b, errno, "%s: %s; build it first (make build/leakscope.bpf.o)",
			   path, strerror(errno));
		goto out;
	}
	/* read, not mmap'd: a file truncated under us must not SIGBUS */
	b->elf = elf_begin(fd, ELF_C_READ, NULL);
	ret = b->elf ? read_object(b) :
		fail(b, ENOEXEC, "%s: %s", path, elf_errmsg(-1));
out:
	if (b->elf)
		elf_end(b->elf);
	if (fd >= 0)
		close(fd);
	b->elf = NULL;
	b->path = NULL;
	b->err = NULL;
	b->errlen = 0;
	if (ret) {
		budget__free(b);
		errno = -ret;
		return NULL;
	}
	return b;
}

void budget__free(struct budget *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nfuncs; i++) {
		free((char *)b->funcs[i].pub.name);
		free(b->funcs[i].callees);
	}
	for (size_t i = 0; i < b->nsecs; i++) {
		free(b->secs[i].name);
		free(b->secs[i].code);
		free(b->secs[i].relsym);
	}
	free(b->funcs);
	free(b->secs);
	free(b->syms);
	free(b->sec_of_shndx);
	free(b);
}

/* ---- queries ----------------------------------------------------------- */

size_t budget__count(const struct budget *b)
{
	return b->nfuncs;
}

const struct budget_func *budget__func(const struct budget *b, size_t i)
{
	return i < b->nfuncs ? &b->funcs[i].pub : NULL;
}

long budget__find(const struct budget *b, const char *name)
{
	for (size_t i = 0; i < b->nfuncs; i++)
		if (!strcmp(b->funcs[i].pub.name, name))
			return (long)i;
	return -1;
}

int budget__frame_bytes(int depth_bytes, int round)
{
	if (depth_bytes < 0)
		return -EINVAL;
	if (round == 32)
		return (int)(((int64_t)(depth_bytes ? depth_bytes : 1) + 31) / 32 * 32);
	if (round == 16)
		return (int)(((int64_t)depth_bytes + 15) / 16 * 16);
	return -EINVAL;
}

/* ---- chains ------------------------------------------------------------ */

enum { UNSEEN, ACTIVE, DONE };

/* Longest chains below each function, memoized over one walk. */
struct walk {
	const struct budget *b;
	int round;
	unsigned char *state;
	int64_t *best;		/* bytes of the worst chain starting here */
	size_t *height;		/* frames of the longest chain starting here */
	long *next;		/* callee on the worst chain, or -1 */
	char *err;
	size_t errlen;
};

static int walk_fail(struct walk *w, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (w->errlen)
		vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	return -code;
}

static int64_t frame_of(const struct walk *w, size_t f)
{
	return budget__frame_bytes(w->b->funcs[f].pub.depth_bytes, w->round);
}

/* Fills best/height/next for f, reached as frame number level (0-based). */
static int walk_below(struct walk *w, size_t f, size_t level)
{
	const struct func *fn = &w->b->funcs[f];
	int err;

	if (w->state[f] == ACTIVE)
		return walk_fail(w, ELOOP, "%s calls itself (recursion, which the "
				 "verifier refuses); break the cycle", fn->pub.name);
	if (w->state[f] == UNSEEN) {
		if (level >= BUDGET_MAX_FRAMES)
			goto too_deep;
		w->state[f] = ACTIVE;
		w->best[f] = 0;
		w->height[f] = 0;
		w->next[f] = -1;
		for (size_t k = 0; k < fn->pub.ncallees; k++) {
			size_t c = fn->callees[k];

			err = walk_below(w, c, level + 1);
			if (err)
				return err;
			if (w->best[c] > w->best[f] || w->next[f] < 0) {
				w->best[f] = w->best[c];
				w->next[f] = (long)c;
			}
			if (w->height[c] > w->height[f])
				w->height[f] = w->height[c];
		}
		w->best[f] += frame_of(w, f);
		w->height[f] += 1;
		w->state[f] = DONE;
	}
	if (level + w->height[f] <= BUDGET_MAX_FRAMES)
		return 0;
too_deep:
	return walk_fail(w, E2BIG, "a call chain through %s is more than %d "
			 "frames deep, which the verifier refuses; inline a level",
			 fn->pub.name, BUDGET_MAX_FRAMES);
}

static void walk_free(struct walk *w)
{
	free(w->state);
	free(w->best);
	free(w->height);
	free(w->next);
}

static int walk_init(struct walk *w, const struct budget *b, size_t func,
		     int round, char *err, size_t errlen)
{
	size_t n = b->nfuncs ? b->nfuncs : 1;

	*w = (struct walk){ .b = b, .round = round, .err = err, .errlen = errlen };
	if (errlen)
		err[0] = '\0';
	if (func >= b->nfuncs || budget__frame_bytes(0, round) < 0)
		return walk_fail(w, EINVAL, "no function %zu, or round %d is not "
				 "16 or 32", func, round);
	w->state = calloc(n, sizeof(*w->state));
	w->best = calloc(n, sizeof(*w->best));
	w->height = calloc(n, sizeof(*w->height));
	w->next = calloc(n, sizeof(*w->next));
	if (!w->state || !w->best || !w->height || !w->next)
		return walk_fail(w, ENOMEM, "out of memory");
	return walk_below(w, func, 0);
}

static void chain_push(const struct walk *w, struct budget_chain *c, size_t f)
{
	c->func[c->nframes] = f;
	c->frame_bytes[c->nframes] = (int)frame_of(w, f);
	c->total_bytes += c->frame_bytes[c->nframes];
	c->nframes++;
}

int budget__worst_chain(const struct budget *b, size_t func, int round,
			struct budget_chain *out, char *err, size_t errlen)
{
	struct walk w;
	int ret = walk_init(&w, b, func, round, err, errlen);

	memset(out, 0, sizeof(*out));
	for (long f = (long)func; !ret && f >= 0 && out->nframes < BUDGET_MAX_FRAMES;
	     f = w.next[f])
		chain_push(&w, out, (size_t)f);
	walk_free(&w);
	return ret;
}

/* The verifier's walk from f entered at out->total_bytes: 1 once a frame
 * takes the total past limit.  Subtrees that cannot pass it are skipped,
 * so the walk is linear, not one visit per path. */
static int walk_first(const struct walk *w, size_t f, int limit,
		      struct budget_chain *out)
{
	const struct func *fn = &w->b->funcs[f];

	chain_push(w, out, f);
	if (out->total_bytes > limit)
		return 1;
	for (size_t k = 0; k < fn->pub.ncallees; k++) {
		size_t c = fn->callees[k];

		if (out->total_bytes + w->best[c] > limit &&
		    out->nframes < BUDGET_MAX_FRAMES)
			return walk_first(w, c, limit, out);
	}
	out->nframes--;
	out->total_bytes -= out->frame_bytes[out->nframes];
	return 0;
}

int budget__first_over(const struct budget *b, size_t func, int round,
		       int limit, struct budget_chain *out, char *err,
		       size_t errlen)
{
	struct walk w;
	int ret = walk_init(&w, b, func, round, err, errlen);

	memset(out, 0, sizeof(*out));
	if (!ret)
		ret = walk_first(&w, func, limit, out);
	walk_free(&w);
	return ret;
}
