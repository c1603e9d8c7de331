/* test_unwind_table.c - the table compiler (user/unwind_table.c) on the
 * real Debian libraries, checked row by row against what
 * `readelf --debug-dump=frames-interp` says; on a small assembly file
 * with one FDE per rule the BPF walk must (or must not) follow; on
 * .debug_frame (own, compressed, separate debuginfo); and on hostile
 * input: truncated and bit-flipped files, empty, non-ELF, FIFOs, huge.
 *
 * The tests that need gcc/readelf (binutils, gcc: tools/install-deps.sh)
 * skip when they are missing.  They print the build figures for libc,
 * libstdc++ and python3.11. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unwind/unwind_table.h"

#define LIBC		"/lib/x86_64-linux-gnu/libc.so.6"
#define LIBSTDCXX	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
#define PYTHON		"/usr/bin/python3.11"

/* ---- helpers ------------------------------------------------------------- */

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n ? n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	*len = n;
	return buf;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool have(const char *cmd)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

/* The address of a symbol (.symtab, else .dynsym), or 0. */
static uint64_t sym_addr(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	uint64_t found = 0;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, i, &s) || !s.st_value)
				continue;
			n = elf_strptr(elf, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name)) {
				found = s.st_value;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* A section's address and size, and its file offset: false if absent. */
static bool section(const char *path, const char *name, uint64_t *addr,
		    uint64_t *size, uint64_t *off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool ok = false;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while (!ok && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name)) {
			*addr = sh.sh_addr;
			*size = sh.sh_size;
			*off = sh.sh_offset;
			ok = true;
		}
	}
	elf_end(elf);
	close(fd);
	return ok;
}

static uint64_t entry_point(const char *path)
{
	size_t len;
	void *buf = slurp(path, &len);
	uint64_t e;

	assert_true(len >= sizeof(Elf64_Ehdr));
	e = ((Elf64_Ehdr *)buf)->e_entry;
	free(buf);
	return e;
}

static void assert_row(const struct unwind_row *r, enum uw_cfa cfa,
		       unsigned int cfa_off, enum uw_rbp rbp, int rbp_off)
{
	assert_non_null(r);
	assert_int_equal(uw_cfa_kind(r), cfa);
	assert_int_equal(r->cfa_off, cfa_off);
	assert_int_equal(uw_rbp_kind(r), rbp);
	assert_int_equal(r->rbp_off, rbp_off);
}

/* What every table must satisfy, whatever the input was. */
static void check_invariants(const struct unwind_table *t)
{
	uint32_t by_kind = 0;

	if (!t->nr_rows) {
		assert_int_equal(t->lo_vaddr, 0);
		assert_int_equal(t->hi_vaddr, 0);
		return;
	}
	assert_non_null(t->rows);
	assert_true(t->nr_rows <= UNWIND_MAX_ROWS);
	assert_false(unwind_table__row_is_gap(&t->rows[0]));
	assert_true(unwind_table__row_is_gap(&t->rows[t->nr_rows - 1]));
	assert_int_equal(t->lo_vaddr, t->rows[0].pc);
	assert_int_equal(t->hi_vaddr, t->rows[t->nr_rows - 1].pc);
	for (uint32_t i = 0; i < t->nr_rows; i++) {
		const struct unwind_row *r = &t->rows[i];

		assert_true(uw_cfa_kind(r) <= UW_CFA_STOP);
		assert_true(uw_rbp_kind(r) <= UW_RBP_UNDEF);
		assert_int_equal(r->kind & ~(UW_CFA_MASK | 3 << UW_RBP_SHIFT), 0);
		if (uw_cfa_kind(r) == UW_CFA_STOP || uw_cfa_kind(r) == UW_CFA_END) {
			assert_true(r->cfa_off == 0 || unwind_table__row_is_gap(r));
			assert_int_equal(uw_rbp_kind(r), UW_RBP_SAME);
			assert_int_equal(r->rbp_off, 0);
		}
		if (uw_cfa_kind(r) == UW_CFA_PLT)
			assert_true(r->rbp_off >= 0 && r->rbp_off <= 15);
		if (uw_rbp_kind(r) != UW_RBP_AT_CFA && uw_cfa_kind(r) != UW_CFA_PLT)
			assert_int_equal(r->rbp_off, 0);
		if (i) {
			const struct unwind_row *p = &t->rows[i - 1];

			assert_true(p->pc < r->pc);
			/* merged: neighbours differ */
			assert_false(p->kind == r->kind && p->cfa_off == r->cfa_off &&
				     p->rbp_off == r->rbp_off);
		}
		if (unwind_table__row_is_gap(r))
			assert_null(unwind_table__lookup(t, r->pc));
		else
			assert_ptr_equal(unwind_table__lookup(t, r->pc), r);
	}
	by_kind = t->nr_rsp_rows + t->nr_rbp_rows + t->nr_plt_rows +
		  t->nr_end_rows + t->nr_stop_rows + t->nr_gap_rows;
	assert_int_equal(by_kind, t->nr_rows);
	assert_null(unwind_table__lookup(t, t->rows[0].pc - 1ull));
	assert_null(unwind_table__lookup(t, t->hi_vaddr));
	assert_null(unwind_table__lookup(t, 1ull << 40));
}

static struct unwind_table *build_timed(const char *path, double *ms)
{
	struct unwind_table *t = NULL;
	double t0 = now_ms();

	assert_int_equal(unwind_table__build_file(path, &t), 0);
	*ms = now_ms() - t0;
	assert_non_null(t);
	check_invariants(t);
	return t;
}

static void print_figures(const char *path, const struct unwind_table *t, double ms)
{
	char s[512];

	unwind_table__summary(t, s, sizeof(s));
	printf("   unwind_table: %s: %.1f ms %s\n", path, ms, s);
}

/* ---- readelf --debug-dump=frames-interp, parsed ---------------------------- */

struct re_row {
	uint64_t loc;
	char cfa[24], rbp[24], ra[24];
};

struct re_entry {
	uint64_t off, lo, hi, cie;
	bool is_cie;
	size_t first, n;	/* rows */
};

struct readelf {
	struct re_entry *e;
	size_t ne, cap_e;
	struct re_row *r;
	size_t nr, cap_r;
};

static void re_add_entry(struct readelf *re, const struct re_entry *e)
{
	if (re->ne == re->cap_e) {
		re->cap_e = re->cap_e ? 2 * re->cap_e : 1024;
		re->e = realloc(re->e, re->cap_e * sizeof(*re->e));
		assert_non_null(re->e);
	}
	re->e[re->ne++] = *e;
}

static void re_add_row(struct readelf *re, const struct re_row *r)
{
	if (re->nr == re->cap_r) {
		re->cap_r = re->cap_r ? 2 * re->cap_r : 4096;
		re->r = realloc(re->r, re->cap_r * sizeof(*re->r));
		assert_non_null(re->r);
	}
	re->r[re->nr++] = *r;
	assert_true(re->ne > 0);
	re->e[re->ne - 1].n++;
}

static bool run_readelf(const char *path, struct readelf *re)
{
	char cmd[512], line[4096];
	int col_rbp = -1, col_ra = -1;
	FILE *f;

	memset(re, 0, sizeof(*re));
	if (!have("readelf"))
		return false;
	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames-interp %s 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, len, id;
		char word[16];
		char *tok[64], *save = NULL;
		int nt = 0;

		if (sscanf(line, "%llx %llx %llx %15s", &off, &len, &id, word) == 4 &&
		    (!strcmp(word, "CIE") || !strcmp(word, "FDE"))) {
			struct re_entry e = { .off = off, .is_cie = word[0] == 'C',
					      .first = re->nr };
			char *p;

			if (!e.is_cie) {
				p = strstr(line, "cie=");
				assert_non_null(p);
				e.cie = strtoull(p + 4, NULL, 16);
				p = strstr(line, "pc=");
				assert_non_null(p);
				assert_int_equal(sscanf(p, "pc=%llx..%llx", &off, &len), 2);
				e.lo = off;
				e.hi = len;
			}
			re_add_entry(re, &e);
			continue;
		}
		for (char *t = strtok_r(line, " \t\n", &save); t && nt < 64;
		     t = strtok_r(NULL, " \t\n", &save))
			tok[nt++] = t;
		if (nt >= 2 && !strcmp(tok[0], "LOC")) {
			col_rbp = col_ra = -1;
			for (int i = 0; i < nt; i++) {
				if (!strcmp(tok[i], "rbp"))
					col_rbp = i;
				if (!strcmp(tok[i], "ra"))
					col_ra = i;
			}
			continue;
		}
		if (nt >= 2 && strlen(tok[0]) == 16 && re->ne &&
		    strspn(tok[0], "0123456789abcdef") == 16) {
			struct re_row r = { .loc = strtoull(tok[0], NULL, 16) };

			snprintf(r.cfa, sizeof(r.cfa), "%s", tok[1]);
			if (col_rbp >= 0 && col_rbp < nt)
				snprintf(r.rbp, sizeof(r.rbp), "%s", tok[col_rbp]);
			if (col_ra >= 0 && col_ra < nt)
				snprintf(r.ra, sizeof(r.ra), "%s", tok[col_ra]);
			re_add_row(re, &r);
		}
	}
	pclose(f);	/* readelf exits 1 on some warnings: what it printed counts */
	return re->ne > 0;
}

static void re_free(struct readelf *re)
{
	free(re->e);
	free(re->r);
}

static const struct re_entry *re_cie(const struct readelf *re, uint64_t off)
{
	for (size_t i = 0; i < re->ne; i++)
		if (re->e[i].is_cie && re->e[i].off == off)
			return &re->e[i];
	return NULL;
}

/* The FDE covering addr (readelf's FDEs are not sorted) */
static const struct re_entry *re_fde(const struct readelf *re, uint64_t addr)
{
	for (size_t i = 0; i < re->ne; i++)
		if (!re->e[i].is_cie && re->e[i].lo <= addr && addr < re->e[i].hi)
			return &re->e[i];
	return NULL;
}

/* readelf's row for addr: the FDE's last row at or before it, or its
 * CIE's row when the FDE prints none. */
static const struct re_row *re_row_at(const struct readelf *re, const struct re_entry *f,
				      uint64_t addr)
{
	const struct re_row *best = NULL;

	for (size_t i = f->first; i < f->first + f->n; i++)
		if (re->r[i].loc <= addr)
			best = &re->r[i];
	if (!best) {
		const struct re_entry *c = re_cie(re, f->cie);

		assert_non_null(c);
		assert_true(c->n >= 1);
		best = &re->r[c->first];
	}
	return best;
}

/* Our row against readelf's: the mapping of unwind_table.h. */
static void compare_row(const struct re_row *e, const struct unwind_row *r, uint64_t addr)
{
	unsigned long n;
	char *end;

	assert_non_null(r);
	if (!strcmp(e->ra, "u")) {
		assert_int_equal(uw_cfa_kind(r), UW_CFA_END);
		return;
	}
	if (strcmp(e->ra, "c-8")) {
		assert_int_equal(uw_cfa_kind(r), UW_CFA_STOP);
		return;
	}
	if (!strcmp(e->cfa, "exp")) {
		assert_true(uw_cfa_kind(r) == UW_CFA_PLT || uw_cfa_kind(r) == UW_CFA_STOP);
		return;
	}
	if (strncmp(e->cfa, "rsp+", 4) && strncmp(e->cfa, "rbp+", 4)) {
		assert_int_equal(uw_cfa_kind(r), UW_CFA_STOP);
		return;
	}
	n = strtoul(e->cfa + 4, &end, 10);
	assert_int_equal(*end, 0);
	if (n > 0xffff) {
		assert_int_equal(uw_cfa_kind(r), UW_CFA_STOP);
		return;
	}
	if (!e->rbp[0] || !strcmp(e->rbp, "u")) {
		/* readelf's "u" is both "not mentioned" and "undefined" */
		assert_true(uw_rbp_kind(r) == UW_RBP_SAME || uw_rbp_kind(r) == UW_RBP_UNDEF);
	} else if (!strncmp(e->rbp, "c-", 2)) {
		long at = -strtol(e->rbp + 2, &end, 10);

		assert_int_equal(*end, 0);
		assert_int_equal(uw_rbp_kind(r), UW_RBP_AT_CFA);
		assert_int_equal(r->rbp_off * 8, at);
	} else {
		assert_int_equal(uw_cfa_kind(r), UW_CFA_STOP);
		return;
	}
	assert_int_equal(uw_cfa_kind(r), e->cfa[1] == 's' ? UW_CFA_RSP : UW_CFA_RBP);
	assert_int_equal(r->cfa_off, n);
	(void)addr;
}

static void compare_addr(const struct readelf *re, const struct unwind_table *t,
			 uint64_t addr, size_t *compared)
{
	const struct re_entry *f = re_fde(re, addr);
	const struct unwind_row *r = unwind_table__lookup(t, addr);

	if (!f) {
		assert_null(r);
	} else {
		if (!r)
			fail_msg("no row at %#llx", (unsigned long long)addr);
		compare_row(re_row_at(re, f, addr), r, addr);
	}
	++*compared;
}

/* ~100 FDEs spread over the file: their first and last byte, every row
 * start and the byte after it, the byte after the FDE (a gap or the next
 * FDE).  Also: every FDE readelf lists has rows. */
static void compare_with_readelf(const char *path, const struct unwind_table *t)
{
	struct readelf re;
	size_t nfde = 0, k = 0, compared = 0;

	if (!run_readelf(path, &re)) {
		printf("   (no readelf: comparison skipped)\n");
		return;
	}
	for (size_t i = 0; i < re.ne; i++) {
		if (re.e[i].is_cie || re.e[i].lo >= re.e[i].hi)
			continue;
		nfde++;
		assert_non_null(unwind_table__lookup(t, re.e[i].lo));
	}
	assert_int_equal(t->nr_fdes, nfde);
	for (size_t i = 0; i < re.ne; i++) {
		const struct re_entry *f = &re.e[i];

		if (f->is_cie || f->lo >= f->hi || k++ % (nfde / 100 + 1))
			continue;
		compare_addr(&re, t, f->lo, &compared);
		compare_addr(&re, t, f->hi - 1, &compared);
		compare_addr(&re, t, f->hi, &compared);
		compare_addr(&re, t, f->lo + (f->hi - f->lo) / 2, &compared);
		for (size_t j = f->first; j < f->first + f->n; j++) {
			compare_addr(&re, t, re.r[j].loc, &compared);
			if (re.r[j].loc + 1 < f->hi)
				compare_addr(&re, t, re.r[j].loc + 1, &compared);
		}
	}
	assert_true(compared >= 200);
	printf("   unwind_table: %s: %zu addresses agree with readelf\n", path, compared);
	re_free(&re);
}

/* ---- the real libraries ----------------------------------------------------- */

static void test_libc(void **state)
{
	double ms;
	struct unwind_table *t = build_timed(LIBC, &ms);
	uint64_t malloc_at = sym_addr(LIBC, "malloc");
	uint64_t plt, plt_size, off;
	const uint8_t *code;
	size_t len;
	uint8_t *img;
	char cmd[256], line[256], id[64] = "";
	FILE *f;

	print_figures(LIBC, t, ms);
	assert_true(t->nr_rows >= 20000 && t->nr_rows <= 40000);
	assert_true(t->nr_fdes >= 3000);
	assert_int_equal(t->nr_bad_fdes, 0);
	assert_true(t->nr_plt_rows >= 1);
	assert_false(t->truncated);

	/* the build-id readelf sees */
	snprintf(cmd, sizeof(cmd), "readelf -n %s 2>/dev/null", LIBC);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " Build ID: %63s", id) == 1)
			break;
	pclose(f);
	if (id[0])
		assert_string_equal(t->build_id, id);
	assert_int_equal(strlen(t->build_id), 40);

	/* malloc's first byte: nothing pushed yet */
	assert_true(malloc_at != 0);
	assert_row(unwind_table__lookup(t, malloc_at), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	/* Debian 12's malloc starts push %r12; push %rbp; push %rbx: then
	 * rbp is saved at CFA-24 from the byte after its push */
	img = slurp(LIBC, &len);
	assert_true(malloc_at + 4 < len);	/* text: vaddr == offset in libc */
	code = img + malloc_at;
	if (!memcmp(code, "\x41\x54\x55\x53", 4)) {
		assert_row(unwind_table__lookup(t, malloc_at + 2), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
		assert_row(unwind_table__lookup(t, malloc_at + 3), UW_CFA_RSP, 24, UW_RBP_AT_CFA, -3);
		assert_row(unwind_table__lookup(t, malloc_at + 4), UW_CFA_RSP, 32, UW_RBP_AT_CFA, -3);
	} else {
		printf("   (malloc's prologue differs: the per-byte check is skipped)\n");
	}
	free(img);

	/* .plt: PLT0 pushes twice, then the entries' expression, cut 11 */
	assert_true(section(LIBC, ".plt", &plt, &plt_size, &off));
	assert_row(unwind_table__lookup(t, plt), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, plt + 6), UW_CFA_RSP, 24, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, plt + 16), UW_CFA_PLT, 8, UW_RBP_SAME, 11);
	assert_row(unwind_table__lookup(t, plt + plt_size - 1), UW_CFA_PLT, 8, UW_RBP_SAME, 11);

	compare_with_readelf(LIBC, t);
	unwind_table__free(t);
}

static void test_libstdcxx(void **state)
{
	double ms;
	struct unwind_table *t = build_timed(LIBSTDCXX, &ms);

	print_figures(LIBSTDCXX, t, ms);
	assert_true(t->nr_rows >= 20000 && t->nr_rows <= 60000);
	assert_int_equal(t->nr_bad_fdes, 0);
	compare_with_readelf(LIBSTDCXX, t);
	unwind_table__free(t);
}

static void test_python(void **state)
{
	double ms;
	struct unwind_table *t = build_timed(PYTHON, &ms);
	uint64_t plt, plt_size, off, entry = entry_point(PYTHON);

	print_figures(PYTHON, t, ms);
	assert_true(t->nr_rows >= 50000 && t->nr_rows <= 90000);
	assert_int_equal(t->nr_bad_fdes, 0);
	/* _start: the return address is undefined, the outermost frame */
	assert_row(unwind_table__lookup(t, entry), UW_CFA_END, 0, UW_RBP_SAME, 0);
	assert_true(t->nr_end_rows >= 1);
	assert_true(section(PYTHON, ".plt", &plt, &plt_size, &off));
	assert_row(unwind_table__lookup(t, plt + 0x20), UW_CFA_PLT, 8, UW_RBP_SAME, 11);
	compare_with_readelf(PYTHON, t);
	unwind_table__free(t);
}

/* The same bytes give the same table, from a file or from memory. */
static void test_mem_equals_file(void **state)
{
	struct unwind_table *a, *b;
	size_t len;
	void *img = slurp(LIBC, &len);

	assert_int_equal(unwind_table__build_file_debug(LIBC, NULL, &a), 0);
	assert_int_equal(unwind_table__build_mem(img, len, &b), 0);
	assert_int_equal(a->nr_rows, b->nr_rows);
	assert_memory_equal(a->rows, b->rows, a->nr_rows * sizeof(*a->rows));
	assert_string_equal(a->build_id, b->build_id);
	unwind_table__free(a);
	unwind_table__free(b);
	free(img);
}

/* ---- one FDE per rule ------------------------------------------------------ */

/* Each function's CFI exercises one mapping; f_bigreg, f_deep, f_many and
 * f_remember are refused by check_program() (register 200, 40 nested
 * remember_state, 70000 rows, the work budget). */
static const char synth_asm[] =
	"	.text\n"
	"	.macro fn name\n"
	"	.p2align 5\n"
	"	.globl \\name\n"
	"	.type \\name,@function\n"
	"\\name:\n"
	"	.endm\n"
	/* the classic frame: push rbp; mov rsp, rbp */
	"	fn f_rbp\n"
	"	.cfi_startproc\n"
	"	push %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	mov %rsp, %rbp\n"
	"	.cfi_def_cfa_register %rbp\n"
	"	nop\n"
	"	pop %rbp\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	.cfi_restore %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* CFA from another register */
	"	fn f_cfa_rbx\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_def_cfa %rbx, 16\n"
	"	nop\n"
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* rbp kept in rbx */
	"	fn f_rbp_in_rbx\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_register %rbp, %rbx\n"
	"	nop\n"
	"	.cfi_restore %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* the outermost frame */
	"	fn f_end\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined %rip\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* rbp undefined */
	"	fn f_rbp_undef\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_undefined %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* CFA = rsp - 8 (DW_CFA_def_cfa_sf 7, 1 x -8), then CFA = rsp + 70000 */
	"	fn f_cfa_range\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_escape 0x12, 0x07, 0x01\n"
	"	nop\n"
	"	.cfi_def_cfa_offset 70000\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* rbp: val_offset (a value, not a slot), then an expression */
	"	fn f_rbp_rules\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_escape 0x14, 0x06, 0x02\n"
	"	nop\n"
	"	.cfi_escape 0x10, 0x06, 0x02, 0x76, 0x00\n"
	"	nop\n"
	"	.cfi_offset %rbp, -1024\n"
	"	nop\n"
	"	.cfi_offset %rbp, -2048\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* the return address elsewhere than CFA-8 */
	"	fn f_ra_moved\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_offset %rip, -16\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* the .plt.sec expression with cut 10, and a signal frame */
	"	fn f_plt10\n"
	"	.cfi_startproc\n"
	"	.cfi_signal_frame\n"
	"	.cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* refused */
	"	fn f_bigreg\n"
	"	.cfi_startproc\n"
	"	nop\n"
	"	.cfi_offset 200, -16\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	fn f_deep\n"
	"	.cfi_startproc\n"
	"	.rept 40\n"
	"	.cfi_remember_state\n"
	"	.endr\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	fn f_many\n"
	"	.cfi_startproc\n"
	"	.rept 35000\n"
	"	push %rax\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pop %rax\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	.endr\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* cheap to store, dear to replay: libdw copies its state at each
	 * remember_state, and replays the program once per row */
	"	fn f_remember\n"
	"	.cfi_startproc\n"
	"	.rept 1000\n"
	"	.rept 8\n"
	"	.cfi_remember_state\n"
	"	.cfi_restore_state\n"
	"	.endr\n"
	"	nop\n"
	"	.endr\n"
	"	ret\n"
	"	.cfi_endproc\n"
	/* after the refused ones: still fine */
	"	fn f_last\n"
	"	.cfi_startproc\n"
	"	push %rbx\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbx, -16\n"
	"	pop %rbx\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n";

/* Assembles text into DIR/synth.so (dir: a mkdtemp template); false
 * without gcc. */
static bool build_synth(char *dir, char *so, const char *text, const char *flags)
{
	char src[300], cmd[1024];
	FILE *f;

	if (!have("gcc"))
		return false;
	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/synth.S", dir);
	snprintf(so, 300, "%s/synth.so", dir);
	f = fopen(src, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "gcc -shared -nostdlib -Wl,--build-id %s -o %s %s", flags, so, src);
	assert_int_equal(system(cmd), 0);
	return true;
}

static void rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_rules(void **state)
{
	char dir[] = "/tmp/unwind-table-XXXXXX", so[300];
	struct unwind_table *t;
	uint64_t a;

	if (!build_synth(dir, so, synth_asm, ""))
		skip();
	assert_int_equal(unwind_table__build_file(so, &t), 0);
	check_invariants(t);

	a = sym_addr(so, "f_rbp");
	assert_row(unwind_table__lookup(t, a), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_RSP, 16, UW_RBP_AT_CFA, -2);
	assert_row(unwind_table__lookup(t, a + 4), UW_CFA_RBP, 16, UW_RBP_AT_CFA, -2);
	assert_row(unwind_table__lookup(t, a + 5), UW_CFA_RBP, 16, UW_RBP_AT_CFA, -2);
	assert_row(unwind_table__lookup(t, a + 6), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	/* the padding after it: no FDE, no row */
	assert_null(unwind_table__lookup(t, a + 7));
	assert_null(unwind_table__lookup(t, a + 31));

	a = sym_addr(so, "f_cfa_rbx");
	assert_row(unwind_table__lookup(t, a), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 2), UW_CFA_RSP, 8, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_rbp_in_rbx");
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 2), UW_CFA_RSP, 8, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_end");
	assert_row(unwind_table__lookup(t, a), UW_CFA_END, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_END, 0, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_rbp_undef");
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_RSP, 8, UW_RBP_UNDEF, 0);

	a = sym_addr(so, "f_cfa_range");
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 2), UW_CFA_STOP, 0, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_rbp_rules");
	assert_row(unwind_table__lookup(t, a), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 2), UW_CFA_STOP, 0, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 3), UW_CFA_RSP, 8, UW_RBP_AT_CFA, -128);
	assert_row(unwind_table__lookup(t, a + 4), UW_CFA_STOP, 0, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_ra_moved");
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_STOP, 0, UW_RBP_SAME, 0);

	a = sym_addr(so, "f_plt10");
	assert_row(unwind_table__lookup(t, a), UW_CFA_PLT, 8, UW_RBP_SAME, 10);
	assert_int_equal(t->nr_signal_fdes, 1);

	/* refused FDEs: their code has no row, and the rest goes on */
	assert_int_equal(t->nr_bad_fdes, 4);
	assert_null(unwind_table__lookup(t, sym_addr(so, "f_remember") + 1));
	assert_null(unwind_table__lookup(t, sym_addr(so, "f_bigreg") + 1));
	assert_null(unwind_table__lookup(t, sym_addr(so, "f_deep")));
	assert_null(unwind_table__lookup(t, sym_addr(so, "f_many") + 1000));
	a = sym_addr(so, "f_last");
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 2), UW_CFA_RSP, 8, UW_RBP_SAME, 0);

	/* one stop row per rule it could not follow, merged where adjacent */
	assert_true(t->nr_stop_rows >= 5);
	assert_int_equal(t->nr_plt_rows, 1);
	assert_int_equal(t->nr_fdes, 10);
	unwind_table__free(t);
	rm_rf(dir);
}

/* Overlapping FDEs, written by hand (as no assembler would): [0x00, 0x40)
 * rsp+8 then rsp+16 from 0x01; [0x10, 0x50) rsp+32; [0x20, 0x28) rsp+48.
 * The lower start wins: the second gives only [0x40, 0x50), the third
 * nothing.  (ld refuses an .eh_frame_hdr over overlapping FDEs.) */
static const char overlap_asm[] =
	"	.text\n"
	"	.p2align 6\n"
	"	.globl ov\n"
	"	.hidden ov\n"
	"	.type ov,@function\n"
	"ov:	.fill 128, 1, 0x90\n"
	"	.section .eh_frame,\"a\",@progbits\n"
	"	.p2align 3\n"
	"cie:	.long cie_end - cie_start\n"
	"cie_start:\n"
	"	.long 0\n"
	"	.byte 1\n"
	"	.asciz \"zR\"\n"
	"	.uleb128 1\n"
	"	.sleb128 -8\n"
	"	.uleb128 16\n"
	"	.uleb128 1\n"
	"	.byte 0x1b\n"		/* FDE addresses: pcrel sdata4 */
	"	.byte 0x0c, 7, 8\n"	/* CFA = rsp + 8 */
	"	.byte 0x90, 1\n"		/* ra at CFA - 8 */
	"	.p2align 3\n"
	"cie_end:\n"
	"	.macro fde n, start, len, insns:vararg\n"
	"fde\\n:	.long fde\\n\\()_end - fde\\n\\()_start\n"
	"fde\\n\\()_start:\n"
	"	.long fde\\n\\()_start - cie\n"
	"	.long ov + \\start - .\n"
	"	.long \\len\n"
	"	.uleb128 0\n"
	"	.byte \\insns\n"
	"	.p2align 3\n"
	"fde\\n\\()_end:\n"
	"	.endm\n"
	"	fde 1, 0, 64, 0x41, 0x0e, 16\n"	/* advance 1; CFA offset 16 */
	"	fde 2, 16, 64, 0x0e, 32\n"
	"	fde 3, 32, 8, 0x0e, 48\n"
	/* [0x60, 0x80) twice: first refused (rsp+24 and register 200),
	 * then plain; libdw must not use the refused one */
	"	fde 4, 0x60, 32, 0x0e, 24, 0x05, 0xc8, 0x01, 0x02\n"
	"	fde 5, 0x60, 32, 0x00\n"
	"	.long 0\n";

static void test_overlap(void **state)
{
	char dir[] = "/tmp/unwind-table-XXXXXX", so[300];
	struct unwind_table *t;
	uint64_t a;

	if (!build_synth(dir, so, overlap_asm, "-Wl,--no-eh-frame-hdr"))
		skip();
	assert_int_equal(unwind_table__build_file(so, &t), 0);
	check_invariants(t);
	a = sym_addr(so, "ov");
	assert_row(unwind_table__lookup(t, a), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 1), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x10), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x20), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x3f), UW_CFA_RSP, 16, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x40), UW_CFA_RSP, 32, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x4f), UW_CFA_RSP, 32, UW_RBP_SAME, 0);
	assert_null(unwind_table__lookup(t, a + 0x50));
	assert_row(unwind_table__lookup(t, a + 0x60), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_row(unwind_table__lookup(t, a + 0x7f), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_null(unwind_table__lookup(t, a + 0x80));
	assert_int_equal(t->nr_rows, 6);
	assert_int_equal(t->nr_fdes, 3);
	assert_int_equal(t->nr_skipped_fdes, 1);
	assert_int_equal(t->nr_bad_fdes, 1);
	unwind_table__free(t);

	/* build_mem() leaves the caller's bytes alone, refused FDE included */
	{
		size_t len;
		uint8_t *img = slurp(so, &len), *orig = malloc(len);

		assert_non_null(orig);
		memcpy(orig, img, len);
		assert_int_equal(unwind_table__build_mem(img, len, &t), 0);
		assert_int_equal(t->nr_bad_fdes, 1);
		assert_memory_equal(img, orig, len);
		unwind_table__free(t);
		free(img);
		free(orig);
	}
	rm_rf(dir);
}

/* ---- .debug_frame ------------------------------------------------------------ */

static const char dbg_c[] =
	"__attribute__((noinline)) int work(int n)\n"
	"{ volatile char b[64]; for (int i = 0; i < n; i++) b[i & 63] = i; return b[3] + n; }\n"
	"__attribute__((noinline)) int outer(int n) { return work(n) * 2 + work(n + 1); }\n"
	"int main(int argc, char **argv) { return outer(argc) == 7; }\n";

static void check_debug_frame_table(const struct unwind_table *t, const char *bin)
{
	uint64_t work = sym_addr(bin, "work");

	check_invariants(t);
	assert_true(t->used_debug_frame);
	assert_true(t->nr_debug_frame_fdes >= 3);
	assert_true(work != 0);
	assert_row(unwind_table__lookup(t, work), UW_CFA_RSP, 8, UW_RBP_SAME, 0);
	assert_non_null(unwind_table__lookup(t, sym_addr(bin, "outer") + 1));
}

static void test_debug_frame(void **state)
{
	char dir[] = "/tmp/unwind-table-XXXXXX", path[400], cmd[2048], dbg[400];
	struct unwind_table *t;
	FILE *f;

	if (!have("gcc") || !have("objcopy"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.c", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(dbg_c, f);
	fclose(f);
	/* no .eh_frame for the program's own functions: .debug_frame only */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && gcc -O1 -g -fno-asynchronous-unwind-tables d.c -o d && "
		 "gcc -O1 -g -gz=zlib -fno-asynchronous-unwind-tables d.c -o dz && "
		 "objcopy --only-keep-debug d d.debug && objcopy --strip-debug d ds",
		 dir);
	assert_int_equal(system(cmd), 0);

	/* the file's own .debug_frame */
	snprintf(path, sizeof(path), "%s/d", dir);
	assert_int_equal(unwind_table__build_file_debug(path, NULL, &t), 0);
	check_debug_frame_table(t, path);
	assert_string_equal(t->debug_path, "");
	unwind_table__free(t);

	/* compressed (SHF_COMPRESSED) */
	snprintf(path, sizeof(path), "%s/dz", dir);
	assert_int_equal(unwind_table__build_file_debug(path, NULL, &t), 0);
	check_debug_frame_table(t, path);
	unwind_table__free(t);

	/* stripped: without debuginfo, the functions have no row */
	snprintf(path, sizeof(path), "%s/ds", dir);
	assert_int_equal(unwind_table__build_file_debug(path, NULL, &t), 0);
	assert_false(t->used_debug_frame);
	assert_null(unwind_table__lookup(t, sym_addr(path, "work")));
	/* with the debuginfo where the build-id says */
	assert_int_equal(unwind_table__debug_path(dir, t->build_id, dbg, sizeof(dbg)), 0);
	unwind_table__free(t);
	snprintf(cmd, sizeof(cmd), "mkdir -p $(dirname %s) && cp %s/d.debug %s", dbg, dir, dbg);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(unwind_table__build_file_debug(path, dir, &t), 0);
	check_debug_frame_table(t, path);
	assert_string_equal(t->debug_path, dbg);
	unwind_table__free(t);

	/* a debuginfo of another build is not used */
	snprintf(cmd, sizeof(cmd), "cp %s/dz %s", dir, dbg);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(unwind_table__build_file_debug(path, dir, &t), 0);
	assert_false(t->used_debug_frame);
	unwind_table__free(t);
	rm_rf(dir);
}

static void test_debug_path(void **state)
{
	char buf[128];

	assert_int_equal(unwind_table__debug_path("/usr/lib/debug", "93ac61ec5a8e", buf,
						  sizeof(buf)), 0);
	assert_string_equal(buf, "/usr/lib/debug/.build-id/93/ac61ec5a8e.debug");
	assert_int_equal(unwind_table__debug_path("/d", "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(unwind_table__debug_path("/d", "../../etc", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(unwind_table__debug_path("/d", "93ac61", buf, 10), -ENAMETOOLONG);
}

/* ---- hostile input ------------------------------------------------------------ */

static void build_copy(const void *src, size_t len, uint32_t max_rows)
{
	void *copy = malloc(len ? len : 1);
	struct unwind_table *t = NULL;
	int err;

	assert_non_null(copy);
	memcpy(copy, src, len);
	err = unwind_table__build_mem(copy, len, &t);
	if (!err) {
		assert_non_null(t);
		check_invariants(t);
		if (max_rows)
			assert_true(t->nr_rows <= max_rows);
		unwind_table__free(t);
	} else {
		assert_true(err < 0);
		assert_null(t);
	}
	free(copy);
}

static void test_truncated(void **state)
{
	size_t len;
	void *img = slurp(LIBC, &len);
	struct unwind_table *full;

	assert_int_equal(unwind_table__build_file_debug(LIBC, NULL, &full), 0);
	for (int i = 0; i < 64; i++)
		build_copy(img, len * i / 64, full->nr_rows);
	/* cut inside .eh_frame itself */
	uint64_t addr, size, off;

	assert_true(section(LIBC, ".eh_frame", &addr, &size, &off));
	for (int i = 1; i < 16; i++)
		build_copy(img, off + size * i / 16, full->nr_rows);
	unwind_table__free(full);
	free(img);
}

static void test_bit_flips(void **state)
{
	size_t len;
	uint8_t *img = slurp(LIBC, &len), *buf = malloc(len);
	uint64_t addr, size, off, haddr, hsize, hoff;

	assert_non_null(buf);
	assert_true(section(LIBC, ".eh_frame", &addr, &size, &off));
	assert_true(section(LIBC, ".eh_frame_hdr", &haddr, &hsize, &hoff));
	srand(4242);
	for (int round = 0; round < 300; round++) {
		struct unwind_table *t = NULL;

		memcpy(buf, img, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			size_t at = round % 5 == 4 ? hoff + (size_t)rand() % hsize
						   : off + (size_t)rand() % size;

			buf[at] ^= 1u << (rand() % 8);
		}
		if (!unwind_table__build_mem(buf, len, &t)) {
			check_invariants(t);
			unwind_table__free(t);
		}
	}
	/* and random bytes in the ELF headers */
	for (int round = 0; round < 100; round++) {
		struct unwind_table *t = NULL;

		memcpy(buf, img, len);
		for (int k = 0; k < 8; k++)
			buf[(size_t)rand() % 4096] = (uint8_t)rand();
		if (!unwind_table__build_mem(buf, len, &t)) {
			check_invariants(t);
			unwind_table__free(t);
		}
	}
	free(buf);
	free(img);
}

static void test_not_elf(void **state)
{
	char dir[] = "/tmp/unwind-table-XXXXXX", path[300];
	struct unwind_table *t = (void *)1;
	static char garbage[4096];
	int fd;

	assert_non_null(mkdtemp(dir));

	/* empty */
	snprintf(path, sizeof(path), "%s/empty", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unwind_table__build_file(path, &t), -ENOEXEC);
	assert_null(t);
	assert_int_equal(unwind_table__build_mem(garbage, 0, &t), -ENOEXEC);

	/* text, and random bytes behind an ELF magic */
	assert_int_equal(unwind_table__build_file("/etc/passwd", &t), -ENOEXEC);
	srand(99);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)rand();
	memcpy(garbage, "\177ELF\2\1\1", 7);
	for (int round = 0; round < 200; round++) {
		garbage[16 + round % 48] = (char)rand();
		build_copy(garbage, sizeof(garbage), 0);
	}

	/* not regular files: a FIFO must not block, a directory, a device */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(unwind_table__build_file(path, &t), -EINVAL);
	assert_int_equal(unwind_table__build_file(dir, &t), -EINVAL);
	assert_int_equal(unwind_table__build_file("/dev/null", &t), -EINVAL);
	assert_int_equal(unwind_table__build_file("/nonexistent/x", &t), -ENOENT);

	/* larger than the cap: refused before reading (a sparse file) */
	snprintf(path, sizeof(path), "%s/huge", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, UNWIND_MAX_FILE + 1), 0);
	close(fd);
	assert_int_equal(unwind_table__build_file(path, &t), -EFBIG);

	/* an ELF that is not x86-64 code: the header says so */
	{
		size_t len;
		uint8_t *img = slurp(LIBC, &len);

		Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
		Elf64_Shdr *sh0;

		/* millions of sections announced (extended numbering) */
		eh->e_shnum = 0;
		assert_true(eh->e_shoff + sizeof(*sh0) <= len);
		sh0 = (Elf64_Shdr *)(img + eh->e_shoff);
		sh0->sh_size = 10000000;
		assert_int_equal(unwind_table__build_mem(img, len, &t), -ENOEXEC);
		free(img);
		img = slurp(LIBC, &len);

		((Elf64_Ehdr *)img)->e_machine = EM_AARCH64;
		assert_int_equal(unwind_table__build_mem(img, len, &t), -ENOEXEC);
		((Elf64_Ehdr *)img)->e_machine = EM_X86_64;
		((Elf64_Ehdr *)img)->e_type = ET_REL;
		assert_int_equal(unwind_table__build_mem(img, len, &t), -ENOEXEC);
		free(img);
	}
	rm_rf(dir);
}

/* Code above 4 GiB cannot be described by 32-bit pcs. */
static void test_high_addresses(void **state)
{
	char dir[] = "/tmp/unwind-table-XXXXXX", path[300], cmd[1024];
	struct unwind_table *t;
	FILE *f;

	if (!have("gcc"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.c", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("int main(void) { return 0; }\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && gcc -O1 -pie -fPIE -Wl,-Ttext-segment=0x100000000 h.c -o h", dir);
	if (system(cmd)) {
		rm_rf(dir);
		skip();
	}
	snprintf(path, sizeof(path), "%s/h", dir);
	assert_int_equal(unwind_table__build_file(path, &t), -ERANGE);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_libstdcxx),
		cmocka_unit_test(test_python),
		cmocka_unit_test(test_mem_equals_file),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_debug_frame),
		cmocka_unit_test(test_debug_path),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_high_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
