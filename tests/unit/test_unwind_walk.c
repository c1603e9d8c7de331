/* test_unwind_walk.c - the BPF unwinder's pure steps (include/unwind.h)
 * replayed in user space on this very process, against an oracle nobody
 * here wrote: glibc's backtrace() (libgcc's DWARF unwinder).
 *
 * The test binary is built with -O2 and no frame pointers (gcc's
 * default), its frames run through libc (qsort's comparator, called from
 * inside libc) and cmocka: a walk that skipped or invented a frame would
 * disagree with backtrace().  Rows come from unwind_table.c on the real
 * files this process maps, the search from uw_search_*, the CFA and rbp
 * rules from uw_cfa()/uw_rbp_slot(): what BPF runs, minus bpf_loop.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <execinfo.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/unwind_table.h"

#define MAX_OBJS 64
#define DEPTH 64

struct obj {
	uint64_t lo, hi, bias;
	struct unwind_table *t;
};

static struct obj objs[MAX_OBJS];
static int nobjs;

static int add_obj(struct dl_phdr_info *info, size_t size, void *data)
{
	const char *path = info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe";
	struct obj *o;

	if (nobjs == MAX_OBJS || strstr(path, "linux-vdso"))
		return 0;
	o = &objs[nobjs];
	o->lo = UINT64_MAX;
	o->hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (info->dlpi_addr + ph->p_vaddr < o->lo)
			o->lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > o->hi)
			o->hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	o->bias = info->dlpi_addr;
	if (o->lo < o->hi && unwind_table__build_file(path, &o->t) == 0)
		nobjs++;
	return 0;
}

static int setup(void **state)
{
	dl_iterate_phdr(add_obj, NULL);
	return nobjs >= 2 ? 0 : -1;
}

static int teardown(void **state)
{
	for (int i = 0; i < nobjs; i++)
		unwind_table__free(objs[i].t);
	return 0;
}

static const struct unwind_row *row_at(const struct unwind_table *t, uint64_t vaddr)
{
	struct uw_search s;
	int64_t mid;

	uw_search_init(&s, t->nr_rows, vaddr);
	for (int i = 0; i < UW_ROW_SEARCH_STEPS && (mid = uw_search_mid(&s)) >= 0; i++)
		uw_search_step(&s, (uint32_t)mid, t->rows[mid].pc);
	return s.found >= 0 ? &t->rows[s.found] : NULL;
}

/* The walk of bpf/unwind.bpf.h (its DWARF steps) over live memory: the
 * frames above us do not change while we read them.  Returns the number
 * of return addresses put in ra[], and why it stopped in *stop. */
static int replay(struct uw_regs r, uint64_t *ra, int max, uint32_t *stop)
{
	int n = 0;
	bool first = true;

	*stop = UW_STOP_DEPTH;
	while (n < max) {
		uint64_t pc = first ? r.ip : r.ip - 1, cfa, slot;
		const struct unwind_row *row = NULL;
		const struct obj *o = NULL;
		int undef;

		for (int i = 0; i < nobjs; i++)
			if (objs[i].lo <= pc && pc < objs[i].hi)
				o = &objs[i];
		if (!o) {
			*stop = UW_STOP_NO_TABLE;
			break;
		}
		row = row_at(o->t, pc - o->bias);
		if (!row) {
			*stop = UW_STOP_NO_ROW;
			break;
		}
		*stop = UW_STOP_END;
		cfa = uw_cfa(row, &r, stop);
		if (!cfa)
			break;
		if (cfa < r.sp + 8) {
			*stop = UW_STOP_BAD_FRAME;
			break;
		}
		slot = uw_rbp_slot(row, cfa, &undef);
		ra[n] = *(const uint64_t *)(cfa - 8);
		r.bp = undef ? 0 : slot ? *(const uint64_t *)slot : r.bp;
		r.sp = cfa;
		r.ip = ra[n];
		if (!ra[n]) {
			*stop = UW_STOP_END;
			break;
		}
		n++;
		first = false;
	}
	return n;
}

struct walks {
	void *bt[DEPTH];
	int nbt;
	uint64_t ra[DEPTH];
	int nra;
	uint32_t stop;
};

/* Takes both walks from the same frame: backtrace()'s first entry is
 * the return address into this function, ours starts at a label here. */
static __attribute__((noinline)) void take(struct walks *w)
{
	struct uw_regs r;

	w->nbt = backtrace(w->bt, DEPTH);
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(r.ip), "=r"(r.sp), "=r"(r.bp));
	w->nra = replay(r, w->ra, DEPTH, &w->stop);
	__asm__ volatile("" ::: "memory");
}

static struct walks *in_comparator;

static int compare_ints(const void *a, const void *b)
{
	if (in_comparator) {		/* once, from deep inside libc's qsort */
		take(in_comparator);
		in_comparator = NULL;
	}
	return *(const int *)a - *(const int *)b;
}

static __attribute__((noinline)) int level3(struct walks *w, int k)
{
	int v[] = { 3, 1, 2, k };

	in_comparator = w;
	qsort(v, 4, sizeof(v[0]), compare_ints);
	return v[0] + v[3];
}

static __attribute__((noinline)) int level2(struct walks *w, int k)
{
	return level3(w, k + 1) + 1;
}

static __attribute__((noinline)) int level1(struct walks *w, int k)
{
	return level2(w, k * 2) * 3;
}

static void test_agrees_with_backtrace(void **state)
{
	static struct walks w;

	assert_true(level1(&w, 5) > 0);
	assert_true(w.nbt > 8);
	/* backtrace()'s frame 0 is take()'s own return address, ours is the
	 * ip of the asm in take(): both in take(), then identical */
	assert_true(w.nra + 1 >= w.nbt - 1);
	for (int i = 1; i < w.nbt; i++)
		assert_int_equal((uint64_t)w.bt[i], w.ra[i - 1]);
	/* it ended at _start, the outermost frame, not for lack of a row */
	assert_int_equal(w.stop, UW_STOP_END);
}

static void test_search_matches_table_lookup(void **state)
{
	srandom(7);
	for (int k = 0; k < nobjs; k++) {
		const struct unwind_table *t = objs[k].t;

		for (int i = 0; i < 20000 && t->nr_rows; i++) {
			uint64_t v = t->rows[0].pc + random() % (t->hi_vaddr - t->lo_vaddr + 64);
			const struct unwind_row *a = row_at(t, v), *b = unwind_table__lookup(t, v);

			/* lookup() says NULL for gap rows, the search gives the gap row */
			if (a && unwind_table__row_is_gap(a))
				a = NULL;
			assert_ptr_equal(a, b);
		}
		assert_null(row_at(t, t->rows[0].pc - 1));
	}
}

static void test_cfa_rules(void **state)
{
	struct uw_regs r = { .ip = 0x1000, .sp = 0x7000, .bp = 0x7100 };
	struct unwind_row row = { .pc = 0, .cfa_off = 16, .kind = UW_CFA_RSP };
	uint32_t stop = UW_STOP_END;
	int undef;

	assert_int_equal(uw_cfa(&row, &r, &stop), 0x7010);
	row.kind = UW_CFA_RBP | UW_RBP_AT_CFA << UW_RBP_SHIFT;
	row.rbp_off = -2;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0x7110);
	assert_int_equal(uw_rbp_slot(&row, 0x7110, &undef), 0x7100);
	assert_false(undef);
	r.bp = 0;	/* an rbp-based CFA with no rbp: not followed */
	assert_int_equal(uw_cfa(&row, &r, &stop), 0);
	assert_int_equal(stop, UW_STOP_BAD_FRAME);
	/* .plt: 8 more once the push of the PLT entry ran (ip & 15 >= 11) */
	row = (struct unwind_row){ .cfa_off = 8, .rbp_off = 11, .kind = UW_CFA_PLT };
	r.ip = 0x100a;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0x7008);
	r.ip = 0x100b;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0x7010);
	row.kind = UW_CFA_END;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0);
	assert_int_equal(stop, UW_STOP_END);
	row.kind = UW_CFA_STOP;
	row.cfa_off = 0;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0);
	assert_int_equal(stop, UW_STOP_ROW);
	row.cfa_off = UW_GAP_CFA_OFF;
	assert_int_equal(uw_cfa(&row, &r, &stop), 0);
	assert_int_equal(stop, UW_STOP_NO_ROW);
	row.kind = UW_CFA_RSP | UW_RBP_UNDEF << UW_RBP_SHIFT;
	assert_int_equal(uw_rbp_slot(&row, 0x7010, &undef), 0);
	assert_true(undef);
}

static void test_search_edges(void **state)
{
	const uint64_t keys[] = { 10, 20, 20, 30 };
	struct uw_search s;
	int64_t mid;

	for (uint64_t x = 0; x < 40; x++) {
		int64_t want = -1;

		for (int i = 0; i < 4; i++)
			if (keys[i] <= x)
				want = i;
		uw_search_init(&s, 4, x);
		while ((mid = uw_search_mid(&s)) >= 0)
			uw_search_step(&s, (uint32_t)mid, keys[mid]);
		assert_int_equal(s.found, want);
	}
	uw_search_init(&s, 0, 5);
	assert_int_equal(uw_search_mid(&s), -1);
	assert_int_equal(s.found, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_backtrace),
		cmocka_unit_test(test_search_matches_table_lookup),
		cmocka_unit_test(test_cfa_rules),
		cmocka_unit_test(test_search_edges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
