/* attach.c - resolves allocator functions in the library the target
 * maps, chooses each probe's site (placement.c), and attaches the entry
 * and return uprobes, plus the tracepoints.
 *
 * Symbols are resolved to file offsets here rather than by libbpf so
 * that aliases (memalign == aligned_alloc in glibc) are probed once:
 * two probes on one address would record each block twice.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "probe/attach.h"
#include "probe/keeper.h"
#include "probe/umulti.h"
#include "procs/target.h"
#include "symbols/elfsym.h"
#include "leakscope.h"
#include "trace/trace.h"
#include "util/log.h"

#define MAX_LINKS (2 * MAX_SITES + 16)
#define MAX_FUNC_BYTES 4096	/* decoded per function for branch checks */

struct attachment {
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int fds[MAX_LINKS];	/* uprobe-multi links */
	int nfds;
	int nsites;
};

struct probe_spec {
	const char *sym;
	const char *prog;	/* the entry program's name */
	bool ret;		/* also attach the shared return probe */
	bool required;		/* fail if missing (C library only) */
	int nargs;		/* integer arguments the entry program reads */
};

#define PROG(name) #name

/* The malloc family, in whichever library provides it (names get the
 * allocator's prefix, e.g. je_ for a prefixed jemalloc). */
static const struct probe_spec heap_probes[] = {
	{ "malloc", PROG(malloc_enter), true, true, 1 },
	{ "free", PROG(free_enter), false, true, 1 },
	{ "calloc", PROG(calloc_enter), true, true, 2 },
	{ "realloc", PROG(realloc_enter), true, true, 2 },
	{ "reallocarray", PROG(reallocarray_enter), true, false, 3 },
	{ "posix_memalign", PROG(posix_memalign_enter), true, false, 3 },
	{ "aligned_alloc", PROG(aligned_alloc_enter), true, false, 2 },
	{ "memalign", PROG(aligned_alloc_enter), true, false, 2 },
	{ "valloc", PROG(valloc_enter), true, false, 1 },
	{ "pvalloc", PROG(pvalloc_enter), true, false, 1 },
};

/* libc's mmap wrappers (the caller's stack; raw syscalls: tracepoints). */
static const struct probe_spec mmap_probes[] = {
	{ "mmap", PROG(mmap_enter), true, false, 4 },
	{ "munmap", PROG(munmap_enter), true, false, 2 },
	{ "mremap", PROG(mremap_enter), true, false, 3 },
};

/* libstdc++'s operator new calls malloc: entry-only (see the BPF side). */
static const struct probe_spec cxx_probes[] = {
	{ "_Znwm", PROG(cxx_new_enter), false, false, 1 },
	{ "_Znam", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnwmRKSt9nothrow_t", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnamRKSt9nothrow_t", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnwmSt11align_val_t", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnamSt11align_val_t", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", PROG(cxx_new_enter), false, false, 1 },
	{ "_ZnamSt11align_val_tRKSt9nothrow_t", PROG(cxx_new_enter), false, false, 1 },
};

/* An allocator's own operator new/delete (jemalloc, tcmalloc, mimalloc
 * define them and never call malloc): new is an allocation with a return
 * probe, delete a free.  (A return probe on a new that throws would make
 * unwinding fail: these throw only when memory is exhausted.) */
static const struct probe_spec alloc_cxx_probes[] = {
	{ "_Znwm", PROG(malloc_enter), true, false, 1 },
	{ "_Znam", PROG(malloc_enter), true, false, 1 },
	{ "_ZnwmRKSt9nothrow_t", PROG(malloc_enter), true, false, 1 },
	{ "_ZnamRKSt9nothrow_t", PROG(malloc_enter), true, false, 1 },
	{ "_ZnwmSt11align_val_t", PROG(malloc_enter), true, false, 1 },
	{ "_ZnamSt11align_val_t", PROG(malloc_enter), true, false, 1 },
	{ "_ZdlPv", PROG(free_enter), false, false, 1 },
	{ "_ZdaPv", PROG(free_enter), false, false, 1 },
	{ "_ZdlPvm", PROG(free_enter), false, false, 1 },
	{ "_ZdaPvm", PROG(free_enter), false, false, 1 },
	{ "_ZdlPvSt11align_val_t", PROG(free_enter), false, false, 1 },
	{ "_ZdaPvSt11align_val_t", PROG(free_enter), false, false, 1 },
	{ "_ZdlPvmSt11align_val_t", PROG(free_enter), false, false, 1 },
	{ "_ZdaPvmSt11align_val_t", PROG(free_enter), false, false, 1 },
	{ "_ZdlPvRKSt9nothrow_t", PROG(free_enter), false, false, 1 },
	{ "_ZdaPvRKSt9nothrow_t", PROG(free_enter), false, false, 1 },
};

/* jemalloc's non-standard API (prefixed like the rest). */
static const struct probe_spec jemalloc_probes[] = {
	{ "mallocx", PROG(malloc_enter), true, false, 1 },
	{ "rallocx", PROG(realloc_enter), true, false, 2 },
	{ "sdallocx", PROG(free_enter), false, false, 1 },
	{ "dallocx", PROG(free_enter), false, false, 1 },
};

/* mimalloc's own API, for programs that call it directly. */
static const struct probe_spec mimalloc_probes[] = {
	{ "mi_malloc", PROG(malloc_enter), true, false, 1 },
	{ "mi_zalloc", PROG(malloc_enter), true, false, 1 },
	{ "mi_calloc", PROG(calloc_enter), true, false, 2 },
	{ "mi_realloc", PROG(realloc_enter), true, false, 2 },
	{ "mi_free", PROG(free_enter), false, false, 1 },
};

/* tcmalloc's tc_ names (aliases of malloc & co.: probed once). */
static const struct probe_spec tcmalloc_probes[] = {
	{ "tc_malloc", PROG(malloc_enter), true, false, 1 },
	{ "tc_calloc", PROG(calloc_enter), true, false, 2 },
	{ "tc_realloc", PROG(realloc_enter), true, false, 2 },
	{ "tc_free", PROG(free_enter), false, false, 1 },
};

/* --pymalloc: CPython's object allocator, for objects pymalloc serves
 * from its arenas without calling malloc.  Calls it makes to malloc (large
 * objects) and mmap (new arenas) nest inside and are not counted twice. */
static const struct probe_spec pymalloc_probes[] = {
	{ "PyObject_Malloc", PROG(malloc_enter), true, true, 1 },
	{ "PyObject_Calloc", PROG(calloc_enter), true, true, 2 },
	{ "PyObject_Realloc", PROG(realloc_enter), true, true, 2 },
	{ "PyObject_Free", PROG(free_enter), false, true, 1 },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool is_alias(const struct probe_plan *plan, const char *lib,
		     uint64_t off)
{
	for (int i = 0; i < plan->n; i++)
		if (plan->sites[i].lib_path == lib && plan->sites[i].entry_off == off)
			return true;
	return false;
}

static int place_site(struct elfsym *e, struct probe_site *s, uint64_t size,
		      int nargs, bool may_move)
{
	uint8_t code[MAX_FUNC_BYTES];
	size_t len = size && size < sizeof(code) ? size : sizeof(code);
	ssize_t n = elfsym__read(e, s->entry_off, code, len);
	int err;

	if (n <= 0)
		return n < 0 ? (int)n : -EIO;
	/* A return probe shares its function's entry site: both move together,
	 * under the stricter rules of PLACE_SHARED. */
	err = placement__choose(code, n, s->entry_off, nargs,
				!may_move ? PLACE_FIXED : s->ret ? PLACE_SHARED : PLACE_ENTRY_ONLY,
				&s->place);
	if (!err && !may_move && !s->place.emulated)
		snprintf(s->place.why, sizeof(s->place.why), "entry: --no-placement");
	return err;
}

static int plan_lib(struct probe_plan *plan, const struct probe_spec *specs,
		    size_t n, const char *path, const char *name, const char *prefix,
		    bool may_move)
{
	struct elfsym *e = elfsym__open(path);
	int err = 0;

	if (!e) {
		err = -errno;
		log__error("cannot read %s (%s): %s\n", name, path,
			strerror(errno));
		return err;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct probe_site *s = &plan->sites[plan->n];
		uint64_t off, size;
		char sym[64];

		snprintf(sym, sizeof(sym), "%s%s", prefix ? prefix : "", specs[i].sym);
		if (elfsym__func(e, sym, &off, &size)) {
			if (specs[i].required) {
				log__error("%s has no %s(); is it an allocator? "
					"%s\n", name, specs[i].sym,
					specs == pymalloc_probes ? "(--pymalloc needs a CPython "
					"that exports its object allocator)"
					: "Point --obj at the library that defines malloc/free");
				err = -ENOENT;
			}
			continue;
		}
		if (plan->n == MAX_SITES)
			return -E2BIG;
		memset(s, 0, sizeof(*s));
		snprintf(s->symbuf, sizeof(s->symbuf), "%s", sym);
		s->sym = s->symbuf;
		s->lib_path = path;
		s->lib_name = name;
		s->entry_off = off;
		s->prog = specs[i].prog;
		s->ret = specs[i].ret;
		s->alias = is_alias(plan, path, off);
		err = place_site(e, s, size, specs[i].nargs, may_move);
		if (err)
			log__error("cannot decode %s in %s at 0x%lx: "
				"not probing it is safer; is the file damaged?\n",
				s->sym, name, (unsigned long)off);
		plan->n++;
	}
	elfsym__close(e);
	return err;
}

void attach__opts_for(const struct target_libs *libs, struct attach_opts *ao)
{
	*ao = (struct attach_opts){
		.libc_path = libs->alloc_path[0] ? libs->alloc_path : NULL,
		.libc_name = libs->alloc_name,
		.kind = libs->kind,
		.prefix = libs->prefix[0] ? libs->prefix : NULL,
		.alloc_cxx = libs->alloc_cxx,
		.mmap_path = libs->has_libc ? libs->libc_path : NULL,
		.mmap_name = libs->libc_name,
		.cxx_path = libs->has_cxx ? libs->cxx_path : NULL,
		.cxx_name = libs->cxx_name,
		.local_path = libs->has_local ? libs->local_path : NULL,
		.local_name = libs->local_name,
		.local_kind = libs->local_kind,
		.local_prefix = libs->local_prefix[0] ? libs->local_prefix : NULL,
		.local_cxx = libs->local_cxx,
	};
}

/* An allocator's own functions: malloc & co, its kind's API, its C++
 * operators if it has them. */
static int plan_allocator(struct probe_plan *plan, const char *path, const char *name,
			  enum alloc_kind kind, const char *prefix, bool cxx, bool may_move)
{
	int err = plan_lib(plan, heap_probes, COUNT(heap_probes), path, name, prefix, may_move);

	if (!err && kind == ALLOC_JEMALLOC)
		err = plan_lib(plan, jemalloc_probes, COUNT(jemalloc_probes), path, name, prefix,
			       may_move);
	if (!err && kind == ALLOC_MIMALLOC)
		err = plan_lib(plan, mimalloc_probes, COUNT(mimalloc_probes), path, name, NULL,
			       may_move);
	if (!err && kind == ALLOC_TCMALLOC)
		err = plan_lib(plan, tcmalloc_probes, COUNT(tcmalloc_probes), path, name, NULL,
			       may_move);
	if (!err && cxx)
		err = plan_lib(plan, alloc_cxx_probes, COUNT(alloc_cxx_probes), path, name, NULL,
			       may_move);
	return err;
}

int attach__plan(const struct attach_opts *o, struct probe_plan *plan)
{
	bool may_move = !o->entry_only_sites;
	const char *mmap_path = o->mmap_path ? o->mmap_path : o->libc_path;
	const char *mmap_name = o->mmap_path ? o->mmap_name : o->libc_name;
	int err = 0;

	memset(plan, 0, sizeof(*plan));
	if (!o->libc_path)	/* libstdc++ alone (system-wide, a new one) */
		goto cxx;
	err = plan_allocator(plan, o->libc_path, o->libc_name, o->kind, o->prefix, o->alloc_cxx,
			     may_move);
	if (!err && o->local_path) {	/* a failure there must not cost the trace */
		int n = plan->n;

		if (plan_allocator(plan, o->local_path, o->local_name, o->local_kind,
				   o->local_prefix, o->local_cxx, may_move)) {
			plan->n = n;
			log__error("%s (loaded with dlopen) not probed: what "
				"its own callers allocate there is not traced\n", o->local_name);
		}
	}
	if (!err && mmap_path && o->mmap_wrappers)
		err = plan_lib(plan, mmap_probes, COUNT(mmap_probes), mmap_path, mmap_name,
			       NULL, may_move);
cxx:
	if (!err && o->cxx_path && !o->alloc_cxx)
		err = plan_lib(plan, cxx_probes, COUNT(cxx_probes), o->cxx_path,
			       o->cxx_name, NULL, may_move);
	if (!err && o->pymalloc_path)
		err = plan_lib(plan, pymalloc_probes, COUNT(pymalloc_probes),
			       o->pymalloc_path, o->pymalloc_name, NULL, may_move);
	return err;
}

void attach__print_plan(FILE *out, const struct probe_plan *plan)
{
	fprintf(out, "%-22s %-9s %-10s %-20s %-14s %s\n", "FUNCTION", "PROBES",
		"OFFSET", "INSTRUCTION", "KERNEL", "WHY / LIBRARY");
	for (int i = 0; i < plan->n; i++) {
		const struct probe_site *s = &plan->sites[i];
		char off[32];

		if (s->alias) {
			fprintf(out, "%-22s %-9s %-10s %-20s %-14s alias of an earlier site, probed once\n",
				s->sym, "-", "-", "-", "-");
			continue;
		}
		snprintf(off, sizeof(off), "0x%lx%s", (unsigned long)s->entry_off,
			 s->place.offset ? "+" : "");
		if (s->place.offset)
			snprintf(off + strlen(off), sizeof(off) - strlen(off), "%lu",
				 (unsigned long)s->place.offset);
		fprintf(out, "%-22s %-9s %-10s %-20.20s %-14s %s [%s]\n", s->sym,
			s->ret ? "entry+ret" : "entry", off, s->place.insn,
			s->place.emulated ? "emulated" : "single-stepped",
			s->place.why, s->lib_name);
	}
}

/* The entry and return programs of a site (both the empty one for
 * --empty-probes, the benchmark floor). */
static int site_progs(const struct trace *t, const struct probe_site *s, bool empty,
		      struct bpf_program **entry, struct bpf_program **ret)
{
	*entry = trace__prog(t, empty ? "empty_probe" : s->prog);
	*ret = trace__prog(t, empty ? "empty_probe" : "alloc_return");
	return *entry && *ret ? 0 : -ENOENT;
}

static int keep(struct attachment *a, struct bpf_link *l)
{
	if (!l)
		return -errno;
	if (a->nlinks == MAX_LINKS) {
		bpf_link__destroy(l);
		return -E2BIG;
	}
	a->links[a->nlinks++] = l;
	keeper__hold(bpf_link__fd(l));	/* removed cleanly even if we are killed */
	return 0;
}

static int attach_site(struct trace *t, struct attachment *a,
		       const struct probe_site *s, pid_t pid, bool empty)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	struct bpf_program *entry, *ret;
	int err = site_progs(t, s, empty, &entry, &ret);

	if (err)
		return err;
	err = keep(a, bpf_program__attach_uprobe_opts(entry, pid, s->lib_path,
						      s->entry_off + s->place.offset, &uo));
	if (err || !s->ret)
		return err;
	uo.retprobe = true;	/* the same site: [rsp] is still the return address */
	return keep(a, bpf_program__attach_uprobe_opts(ret, pid, s->lib_path,
						       s->entry_off + s->place.offset, &uo));
}

static int attach_tracepoints(struct trace *t, struct attachment *a)
{
	static const char *const tps[] = {
		"sys_enter_mmap", "sys_exit_mmap", "sys_enter_munmap", "sys_exit_munmap",
		"sys_enter_mremap", "sys_exit_mremap", "sched_exec", "sched_exit",
	};
	int err;

	for (size_t i = 0; i < COUNT(tps); i++) {
		struct bpf_program *p = trace__prog(t, tps[i]);

		err = p ? keep(a, bpf_program__attach(p)) : -ENOENT;
		if (err) {
			log__error("cannot attach tracepoint %s: %s\n",
				tps[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The sites of one program in one file, as one uprobe-multi link. */
struct link_group {
	int prog_fd;
	const char *path;
	bool ret;
	uint64_t offsets[MAX_SITES];
	uint32_t n;
};

static void group_add(struct link_group *g, int *ng, int prog_fd, const char *path,
		      bool ret, uint64_t off)
{
	int i;

	for (i = 0; i < *ng; i++)
		if (g[i].prog_fd == prog_fd && g[i].ret == ret && !strcmp(g[i].path, path))
			break;
	if (i == *ng) {
		g[i] = (struct link_group){ .prog_fd = prog_fd, .path = path, .ret = ret };
		(*ng)++;
	}
	g[i].offsets[g[i].n++] = off;
}

/* Every site through uprobe-multi links: a link per program and file. */
static int attach_multi(struct trace *t, struct attachment *a,
			const struct probe_plan *plan, pid_t pid, bool empty)
{
	struct link_group *g = calloc(2 * MAX_SITES, sizeof(*g));
	int ng = 0, fd, err = 0;

	if (!g)
		return -ENOMEM;
	for (int i = 0; i < plan->n; i++) {
		const struct probe_site *s = &plan->sites[i];
		struct bpf_program *entry, *ret;

		if (s->alias)
			continue;
		if (site_progs(t, s, empty, &entry, &ret)) {
			err = -ENOENT;
			break;
		}
		group_add(g, &ng, bpf_program__fd(entry), s->lib_path, false,
			  s->entry_off + s->place.offset);
		if (s->ret)
			group_add(g, &ng, bpf_program__fd(ret), s->lib_path, true,
				  s->entry_off + s->place.offset);
		a->nsites++;
	}
	for (int i = 0; i < ng && !err; i++) {
		if (a->nfds == MAX_LINKS) {
			err = -E2BIG;
			break;
		}
		fd = umulti__link(g[i].prog_fd, g[i].path, g[i].offsets, g[i].n, g[i].ret, pid);
		if (fd < 0) {
			log__error("cannot attach %u uprobes in %s: %s\n",
				g[i].n, g[i].path, strerror(-fd));
			err = fd;
			break;
		}
		a->fds[a->nfds++] = fd;
		keeper__hold(fd);
	}
	free(g);
	return err;
}

struct attachment *attach__tracepoints(struct trace *t)
{
	struct attachment *a = calloc(1, sizeof(*a));

	if (a && attach_tracepoints(t, a)) {
		attach__free(a);
		return NULL;
	}
	return a;
}

struct attachment *attach__nothing(void)
{
	return calloc(1, sizeof(struct attachment));
}

struct attachment *attach__probes(struct trace *t,
				  const struct probe_plan *plan, pid_t pid,
				  bool empty)
{
	struct attachment *a = calloc(1, sizeof(*a));
	int err = 0;

	if (!a)
		return NULL;
	if (plan->multi_links) {
		err = attach_multi(t, a, plan, pid, empty);
		goto out;
	}
	for (int i = 0; i < plan->n && !err; i++) {
		const struct probe_site *s = &plan->sites[i];

		if (s->alias)
			continue;
		err = attach_site(t, a, s, pid, empty);
		if (err)
			log__error("cannot attach uprobe to %s in %s: %s\n",
				s->sym, s->lib_name, strerror(-err));
		else
			a->nsites++;
	}
out:
	if (err) {
		attach__free(a);
		return NULL;
	}
	return a;
}

int attach__count(const struct attachment *a)
{
	return a ? a->nsites : 0;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

static void *close_fd(void *fd)
{
	close((int)(intptr_t)fd);
	return NULL;
}

/* fn(arg[i]) for each, in threads: every detach waits for grace periods
 * in the kernel, and concurrent waits overlap.  In turn if a thread
 * cannot start. */
static void run_concurrently(void *(*fn)(void *), void *const *arg, int n)
{
	pthread_t t[MAX_LINKS];
	bool started[MAX_LINKS];

	for (int i = 0; i < n && i < MAX_LINKS; i++)
		started[i] = !pthread_create(&t[i], NULL, fn, arg[i]);
	for (int i = 0; i < n && i < MAX_LINKS; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		else
			fn(arg[i]);
	}
}

/* Cost: each detach waits for grace periods in the kernel (~70-100 ms on
 * this VM).  Uprobe-multi links hold every site of a program at once and
 * are closed concurrently, and so are the tracepoints' links: ~0.2 s for
 * one process (~0.4 s from Ctrl-C to exit).  Per-site perf-event uprobes (kernels without
 * uprobe-multi) serialize in the kernel: ~100 ms each, about 3 s.  The
 * session prints its final report before calling this. */
void attach__release(struct attachment *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->nfds; i++)
		keeper__release(a->fds[i]);
	for (int i = 0; i < a->nlinks; i++)
		keeper__release(bpf_link__fd(a->links[i]));
	attach__free(a);
}

void attach__free(struct attachment *a)
{
	void *fds[MAX_LINKS];

	if (!a)
		return;
	for (int i = 0; i < a->nfds; i++)
		fds[i] = (void *)(intptr_t)a->fds[i];
	run_concurrently(close_fd, fds, a->nfds);
	run_concurrently(destroy_link, (void *const *)a->links, a->nlinks);
	free(a);
}
