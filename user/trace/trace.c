/* trace.c - the one owner of leakscope's BPF object (see trace.h): the
 * loader sequence of the skeleton (open, settings, map sizes, load), the
 * kernel's tracepoints, and named access to maps and programs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "leakscope.h"
#include "leakscope.skel.h"
#include "trace/forget.h"
#include "trace/refusal.h"
#include "trace/sampler.h"
#include "trace/trace.h"
#include "probe/umulti.h"
#include "util/log.h"

#define MAX_KERNEL_LINKS 16

struct trace {
	struct leakscope_bpf *skel;
	struct bpf_map *maps[TRACE_MAP__COUNT];
	struct bpf_link *klinks[MAX_KERNEL_LINKS];
	int nklinks;
	unsigned lost;		/* enum refusal_loss bits given up to load */
	unsigned kernel_off;	/* --kernel's pairs refused (bits: kernel_progs / 2) */
	struct refusal why[5];	/* the refusal behind each loss bit */
	uint64_t exited_procs, exited_blocks, exited_bytes;	/* trace__forget() */
};

/* --kernel's programs, an allocation and its free side by side (a pair
 * goes together: frees without their allocations are harmless, the other
 * way round every block would look leaked); loaded only when asked, and
 * only for tracepoints this kernel has (vmalloc's are recent). */
static const struct {
	const char *prog, *event, *what;
} kernel_progs[] = {
	{ "kmem_kmalloc", "kmem/kmalloc", "kmalloc" },
	{ "kmem_kfree", "kmem/kfree", "kmalloc" },
	{ "kmem_cache_alloc", "kmem/kmem_cache_alloc", "slab caches" },
	{ "kmem_cache_free", "kmem/kmem_cache_free", "slab caches" },
	{ "kmem_page_alloc", "kmem/mm_page_alloc", "pages" },
	{ "kmem_page_free", "kmem/mm_page_free", "pages" },
	{ "kmem_percpu_alloc", "percpu/percpu_alloc_percpu", "per-CPU memory" },
	{ "kmem_percpu_free", "percpu/percpu_free_percpu", "per-CPU memory" },
	{ "kmem_vmap_alloc", "vmalloc/alloc_vmap_area", "vmalloc areas" },
	{ "kmem_vmap_free", "vmalloc/free_vmap_area_noflush", "vmalloc areas" },
};
#define KERNEL_PAIRS (sizeof(kernel_progs) / sizeof(kernel_progs[0]) / 2)
#define ALL_KERNEL_PAIRS ((1u << KERNEL_PAIRS) - 1)

/* The pair of a kmem_* program, or -1. */
static int kernel_pair(const char *prog)
{
	for (size_t i = 0; i < sizeof(kernel_progs) / sizeof(kernel_progs[0]); i++)
		if (!strcmp(kernel_progs[i].prog, prog))
			return (int)(i / 2);
	return -1;
}

/* pairs_off: bits of the pairs the kernel refused. */
static void kernel_autoload(struct leakscope_bpf *skel, bool on, unsigned pairs_off)
{
	char path[128];

	for (size_t i = 0; i < sizeof(kernel_progs) / sizeof(kernel_progs[0]); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj,
									 kernel_progs[i].prog);

		snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", kernel_progs[i].event);
		bpf_program__set_autoload(p, on && !(pairs_off & (1u << (i / 2))) &&
					  !access(path, F_OK));
	}
}

/* Uprobe programs loaded for uprobe-multi links (they then cannot go
 * through perf events: the choice is made once, before loading). */
static void for_uprobe_multi(struct leakscope_bpf *skel)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj) {
		const char *sec = bpf_program__section_name(p);

		if (p == skel->progs.python_finalize)
			continue;	/* one site, attached through perf (python_hold) */
		if (!strncmp(sec, "uprobe", 6) || !strncmp(sec, "uretprobe", 9))
			bpf_program__set_expected_attach_type(p, UMULTI_ATTACH_TYPE);
	}
}

static void name_maps(struct trace *t)
{
	struct leakscope_bpf *s = t->skel;

	t->maps[TRACE_MAP_COUNTERS] = s->maps.counters;
	t->maps[TRACE_MAP_STACK_AGGS] = s->maps.stack_aggs;
	t->maps[TRACE_MAP_ALLOCS] = s->maps.allocs;
	t->maps[TRACE_MAP_REGIONS] = s->maps.mmap_regions;
	t->maps[TRACE_MAP_STACKS] = s->maps.stacks;
	t->maps[TRACE_MAP_PY_STACKS] = s->maps.py_stacks;
	t->maps[TRACE_MAP_PY_CONFIG] = s->maps.py_config;
	t->maps[TRACE_MAP_EVENTS] = s->maps.events;
	t->maps[TRACE_MAP_TARGETS] = s->maps.targets;
	t->maps[TRACE_MAP_UNWIND_ROWS] = s->maps.unwind_rows;
	t->maps[TRACE_MAP_UNWIND_BINS] = s->maps.unwind_bins;
	t->maps[TRACE_MAP_UNWIND_PROCS] = s->maps.unwind_procs;
	t->maps[TRACE_MAP_UNWIND_FILES] = s->maps.unwind_files;
}

/* The programs of a feature given up (refusal.h). */
static void drop_programs(struct leakscope_bpf *skel, unsigned lost)
{
	if (lost & LOSS_PY_GC) {
		bpf_program__set_autoload(skel->progs.python_gc_start, false);
		bpf_program__set_autoload(skel->progs.python_gc_done, false);
	}
	if (lost & LOSS_PY_FINALIZE)
		bpf_program__set_autoload(skel->progs.python_finalize, false);
}

/* Settings (read-only data) and map sizes, before loading. */
static void configure(struct leakscope_bpf *skel, const struct trace_config *c,
		      unsigned kernel_off)
{
	skel->rodata->sample_period = c->sample_bytes;
	skel->rodata->target_tgid = c->only_tgid;	/* 0: the targets map selects */
	skel->rodata->python_enabled = c->python;
	skel->rodata->trace_all = c->trace_all;
	skel->rodata->kernel_enabled = c->kernel;
	skel->rodata->unwind_dwarf = !c->unwind_fp;
	skel->rodata->self_tgid = getpid();
	if (c->comm)
		strncpy((char *)skel->rodata->comm_filter, c->comm,
			sizeof(skel->rodata->comm_filter) - 1);
	skel->rodata->refuse_for_test = c->refuse_for_test;
	sampling__init_tables((struct sample_tables *)&skel->rodata->sample_tab);
	kernel_autoload(skel, c->kernel, kernel_off);
	if (c->uprobe_multi)
		for_uprobe_multi(skel);
	bpf_map__set_max_entries(skel->maps.allocs, c->max_allocs);
	bpf_map__set_max_entries(skel->maps.stacks, c->max_stacks);
	/* aggregates: a stack's per process (and lead pc), and each process's
	 * lost-stack aggregate even when the stack map is full (its bytes
	 * stay counted): room beyond --max-stacks, used only if needed */
	bpf_map__set_max_entries(skel->maps.stack_aggs, c->max_stacks + c->max_stacks / 4 + 4096);
	bpf_map__set_max_entries(skel->maps.py_stacks, c->python ? c->max_stacks : 1);
	if (!c->python_holds)
		bpf_map__set_max_entries(skel->maps.py_code_seen, 1);
	bpf_map__set_max_entries(skel->maps.unwind_rows, c->unwind_fp ? 1 : c->unwind_rows);
	if (c->unwind_fp)
		bpf_map__set_max_entries(skel->maps.unwind_procs, 1);
}

/* While the object loads: libbpf's messages go to the printer set before
 * (the full verifier log with -v) and are read for the refused program
 * and the verifier's reason.  libbpf's printer takes no argument: the
 * refusal being read is the one file-scope pointer here. */
static libbpf_print_fn_t outer_print;
static struct refusal *reading;

static int read_refusal(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *msg = NULL;
	va_list copy;
	int ret = 0;

	va_copy(copy, args);
	if (outer_print)
		ret = outer_print(level, fmt, args);
	if (reading && level == LIBBPF_WARN && vasprintf(&msg, fmt, copy) >= 0)
		refusal__feed(reading, msg);
	va_end(copy);
	free(msg);
	return ret;
}

/* The features asked for, as loss bits (what could be given up). */
static unsigned enabled_features(const struct trace_config *c)
{
	return (c->python ? LOSS_PYTHON : 0) | (c->unwind_fp ? 0 : LOSS_DWARF) |
	       (c->kernel ? LOSS_KERNEL : 0) | LOSS_PY_GC | LOSS_PY_FINALIZE;
}

/* One attempt with the features in lost given up: the skeleton, loaded,
 * or NULL with *r saying what the verifier refused. */
static struct leakscope_bpf *load_without(const struct trace_config *asked, unsigned lost,
					  unsigned kernel_off, struct refusal *r, int *err)
{
	struct trace_config c = *asked;
	struct leakscope_bpf *skel = leakscope_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	c.python = c.python && !(lost & LOSS_PYTHON);
	c.unwind_fp = c.unwind_fp || (lost & LOSS_DWARF);
	c.kernel = c.kernel && !(lost & LOSS_KERNEL);
	configure(skel, &c, kernel_off);
	drop_programs(skel, lost);
	memset(r, 0, sizeof(*r));
	reading = r;
	outer_print = libbpf_set_print(read_refusal);
	*err = leakscope_bpf__load(skel);
	libbpf_set_print(outer_print);
	reading = NULL;
	if (!*err)
		return skel;
	leakscope_bpf__destroy(skel);
	return NULL;
}

static int loss_index(unsigned bit)
{
	return __builtin_ctz(bit);
}

/* A refused kmem_* program costs its pair (vmalloc areas, say), said
 * here; the last pair costs --kernel (refusal__next).  False: not one. */
static bool drop_kernel_pair(struct trace *t, const struct refusal *r)
{
	int pair = kernel_pair(r->prog);
	unsigned off;

	if (pair < 0 || (t->kernel_off & (1u << pair)))
		return false;
	off = t->kernel_off | (1u << pair);
	if (off == ALL_KERNEL_PAIRS)
		return false;
	t->kernel_off = off;
	log__error("this kernel refused %s (%s); --kernel goes on without %s\n",
		r->prog, r->reason, kernel_progs[2 * pair].what);
	return true;
}

/* Loads the object, giving up what the kernel refuses (refusal.h). */
static int load(struct trace *t, const struct trace_config *c, bool *said)
{
	struct refusal r, first;
	int err, next;

	memset(&first, 0, sizeof(first));
	for (;;) {
		t->skel = load_without(c, t->lost, t->kernel_off, &r, &err);
		if (t->skel)
			return 0;
		if (!r.prog[0])		/* not a program: maps, BTF, memory */
			return err;
		if (drop_kernel_pair(t, &r))
			continue;	/* --kernel goes on without that kind */
		next = refusal__next(r.prog, t->lost, enabled_features(c));
		if (next < 0) {
			log__error("the kernel refused %s, which leakscope cannot "
				"go without: %s%s\n", r.prog, r.reason[0] ? r.reason : strerror(-err),
				log__verbosity() ? "" : " (run with -v for the verifier log)");
			*said = true;
			return err;
		}
		if ((next & ~t->lost & (LOSS_PYTHON | LOSS_DWARF)) && !first.prog[0])
			first = r;	/* the capture's first refusal */
		/* a new loss is blamed on the first refusal of the capture
		 * (the walks are given up in turn), else on this one */
		for (unsigned b = (unsigned)next & ~t->lost; b; b &= b - 1)
			t->why[loss_index(b & -b)] = (b & -b) & (LOSS_PYTHON | LOSS_DWARF) ? first : r;
		t->lost = (unsigned)next;
	}
}

/* One line per feature given up, for what was asked. */
static void say_losses(const struct trace *t, const struct trace_config *c)
{
	unsigned said = t->lost & (enabled_features(c) & ~(c->python ? 0 : LOSS_PY_GC | LOSS_PY_FINALIZE));

	for (unsigned b = said; b; b &= b - 1) {
		const struct refusal *r = &t->why[loss_index(b & -b)];

		log__error("this kernel refused %s (%s); going on without %s%s\n",
			r->prog, r->reason, refusal__loss_text(b & -b),
			log__verbosity() ? "" : " (-v shows the verifier's log)");
	}
}

struct trace *trace__open(const struct trace_config *c)
{
	struct trace *t = calloc(1, sizeof(*t));
	bool said = false;
	int err;

	if (!t)
		return NULL;
	err = load(t, c, &said);
	if (err) {
		if (!said)
			log__error("cannot load the BPF programs: %s%s\n",
				strerror(-err), log__verbosity() ? "" : " (run with -v for libbpf's messages)");
		free(t);
		return NULL;
	}
	say_losses(t, c);
	name_maps(t);
	return t;
}

unsigned trace__lost(const struct trace *t)
{
	return t->lost;
}

void trace__free(struct trace *t)
{
	if (!t)
		return;
	while (t->nklinks)
		bpf_link__destroy(t->klinks[--t->nklinks]);
	leakscope_bpf__destroy(t->skel);
	free(t);
}

int trace__map_fd(const struct trace *t, enum trace_map m)
{
	return m < TRACE_MAP__COUNT && t->maps[m] ? bpf_map__fd(t->maps[m]) : -1;
}

struct bpf_program *trace__prog(const struct trace *t, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(t->skel->obj, name);

	return p && bpf_program__fd(p) >= 0 ? p : NULL;
}

int trace__add_target(struct trace *t, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.targets), &key, &one, BPF_ANY)) {
		log__error("cannot register PID %d: %s\n", pid, strerror(errno));
		return -errno;
	}
	return 0;
}

int trace__attach_kernel(struct trace *t)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, t->skel->obj) {
		if (strncmp(bpf_program__name(p), "kmem_", 5) || !bpf_program__autoload(p))
			continue;
		if (t->nklinks == MAX_KERNEL_LINKS)
			return -E2BIG;
		t->klinks[t->nklinks] = bpf_program__attach(p);
		if (!t->klinks[t->nklinks]) {
			int err = -errno;

			log__error("cannot attach %s: %s\n", bpf_program__name(p),
				strerror(-err));
			return err;
		}
		t->nklinks++;
	}
	return t->nklinks;
}

void trace__hold(struct trace *t, pid_t tid, const volatile unsigned long long **sent)
{
	t->skel->bss->hold_tid = tid;
	*sent = (const volatile unsigned long long *)&t->skel->bss->holds_sent;
}

/* The kernel memory a map holds, as the kernel counts it (fdinfo's
 * memlock: since 6.4 what a map really uses, allocated entries for maps
 * that grow; the full size before). */
static uint64_t map_memory(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int trace__read_stack(const struct trace *t, uint64_t id, struct stack_trace *st)
{
	return bpf_map_lookup_elem(trace__map_fd(t, TRACE_MAP_STACKS), &id, st) ? -errno : 0;
}

int trace__read_py_stack(const struct trace *t, uint64_t id, struct py_trace *pt)
{
	return bpf_map_lookup_elem(trace__map_fd(t, TRACE_MAP_PY_STACKS), &id, pt) ? -errno : 0;
}

int trace__forget(struct trace *t, pid_t *pids, size_t n)
{
	struct forget_fds fds = {
		.allocs = trace__map_fd(t, TRACE_MAP_ALLOCS),
		.regions = trace__map_fd(t, TRACE_MAP_REGIONS),
		.aggs = trace__map_fd(t, TRACE_MAP_STACK_AGGS),
	};
	int err = forget__pids(&fds, pids, &n, &t->exited_blocks, &t->exited_bytes);

	t->exited_procs += n;
	return err;
}

void trace__exited(const struct trace *t, uint64_t *procs, uint64_t *blocks, uint64_t *bytes)
{
	*procs = t->exited_procs;
	*blocks = t->exited_blocks;
	*bytes = t->exited_bytes;
}

uint64_t trace__kernel_memory(const struct trace *t)
{
	struct bpf_map *m;
	uint64_t sum = 0;

	bpf_object__for_each_map(m, t->skel->obj)
		if (bpf_map__fd(m) >= 0)
			sum += map_memory(bpf_map__fd(m));
	return sum;
}

void trace__bpf_stats(const struct trace *t, uint64_t *run_ns, uint64_t *runs)
{
	struct bpf_program *prog;

	*run_ns = *runs = 0;
	bpf_object__for_each_program(prog, t->skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		*run_ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
}
