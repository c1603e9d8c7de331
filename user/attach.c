/* attach.c - resolves allocator functions in the library the target
 * maps and attaches the entry and return uprobes, plus the tracepoints.
 *
 * Symbols are resolved to file offsets here rather than by libbpf so
 * that aliases (memalign == aligned_alloc in glibc) are probed once:
 * two probes on one address would record each block twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "attach.h"
#include "elfsym.h"
#include "leakscope.skel.h"

#define MAX_LINKS 128

struct attachment {
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int nsites;
	uint64_t offsets[64];	/* sites already probed in this library */
	int noffsets;
};

struct probe_spec {
	const char *sym;
	size_t prog_off;	/* offsetof(struct leakscope_bpf, progs.X) */
	bool ret;		/* also attach the shared return probe */
	bool required;		/* fail if missing (C library only) */
};

#define PROG(name) offsetof(struct leakscope_bpf, progs.name)

static const struct probe_spec libc_probes[] = {
	{ "malloc", PROG(malloc_enter), true, true },
	{ "free", PROG(free_enter), false, true },
	{ "calloc", PROG(calloc_enter), true, true },
	{ "realloc", PROG(realloc_enter), true, true },
	{ "reallocarray", PROG(reallocarray_enter), true, false },
	{ "posix_memalign", PROG(posix_memalign_enter), true, false },
	{ "aligned_alloc", PROG(aligned_alloc_enter), true, false },
	{ "memalign", PROG(aligned_alloc_enter), true, false },
	{ "valloc", PROG(valloc_enter), true, false },
	{ "pvalloc", PROG(pvalloc_enter), true, false },
	{ "mmap", PROG(mmap_enter), true, false },
	{ "munmap", PROG(munmap_enter), true, false },
	{ "mremap", PROG(mremap_enter), true, false },
};

/* operator new and new[], plain, nothrow and aligned: entry probes only,
 * never return probes - a C++ exception cannot unwind through a
 * uretprobe's trampoline, the target would die in std::terminate.
 * operator delete needs no probe: libstdc++'s delete calls free(). */
static const struct probe_spec cxx_probes[] = {
	{ "_Znwm", PROG(cxx_new_enter), false, false },
	{ "_Znam", PROG(cxx_new_enter), false, false },
	{ "_ZnwmRKSt9nothrow_t", PROG(cxx_new_enter), false, false },
	{ "_ZnamRKSt9nothrow_t", PROG(cxx_new_enter), false, false },
	{ "_ZnwmSt11align_val_t", PROG(cxx_new_enter), false, false },
	{ "_ZnamSt11align_val_t", PROG(cxx_new_enter), false, false },
};

static struct bpf_program *prog_at(struct leakscope_bpf *skel, size_t off)
{
	return *(struct bpf_program **)((char *)skel + off);
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
	return 0;
}

static bool seen_offset(struct attachment *a, uint64_t off)
{
	for (int i = 0; i < a->noffsets; i++)
		if (a->offsets[i] == off)
			return true;
	if (a->noffsets < (int)(sizeof(a->offsets) / sizeof(a->offsets[0])))
		a->offsets[a->noffsets++] = off;
	return false;
}

static int attach_site(struct leakscope_bpf *skel, struct attachment *a,
		       const struct probe_spec *p, pid_t pid, const char *path,
		       uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	int err;

	uo.retprobe = false;
	err = keep(a, bpf_program__attach_uprobe_opts(prog_at(skel, p->prog_off),
						      pid, path, off, &uo));
	if (err || !p->ret)
		return err;
	uo.retprobe = true;
	return keep(a, bpf_program__attach_uprobe_opts(skel->progs.alloc_return,
						       pid, path, off, &uo));
}

static int attach_lib(struct leakscope_bpf *skel, struct attachment *a,
		      const struct probe_spec *specs, size_t n, pid_t pid,
		      const char *path, const char *name, bool verbose)
{
	struct elfsym *e = elfsym__open(path);
	int err = 0, found = 0;

	if (!e) {
		fprintf(stderr, "leakscope: cannot read %s (%s): %s\n", name,
			path, strerror(errno));
		return -errno;
	}
	a->noffsets = 0;
	for (size_t i = 0; i < n && !err; i++) {
		uint64_t off;

		if (elfsym__func_offset(e, specs[i].sym, &off)) {
			if (specs[i].required) {
				fprintf(stderr, "leakscope: %s has no %s(); is it an allocator? "
					"Point --obj at the library that defines malloc/free\n",
					name, specs[i].sym);
				err = -ENOENT;
			}
			continue;
		}
		found++;
		if (seen_offset(a, off)) {
			if (verbose)
				fprintf(stderr, "leakscope: %s is an alias at %s+0x%lx, probed once\n",
					specs[i].sym, name, (unsigned long)off);
			continue;
		}
		err = attach_site(skel, a, &specs[i], pid, path, off);
		if (err) {
			fprintf(stderr, "leakscope: cannot attach uprobe to %s in %s: %s\n",
				specs[i].sym, name, strerror(-err));
			break;
		}
		a->nsites++;
		if (verbose)
			fprintf(stderr, "leakscope: probe %s at %s+0x%lx%s\n",
				specs[i].sym, name, (unsigned long)off,
				specs[i].ret ? " (entry+return)" : " (entry)");
	}
	elfsym__close(e);
	return err;
}

static int attach_tracepoints(struct leakscope_bpf *skel, struct attachment *a)
{
	struct bpf_program *tps[] = {
		skel->progs.sys_enter_mmap, skel->progs.sys_exit_mmap,
		skel->progs.sys_enter_munmap, skel->progs.sys_exit_munmap,
		skel->progs.sys_enter_mremap, skel->progs.sys_exit_mremap,
		skel->progs.sched_exec, skel->progs.sched_exit,
	};
	int err;

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		err = keep(a, bpf_program__attach(tps[i]));
		if (err) {
			fprintf(stderr, "leakscope: cannot attach tracepoint %s: %s\n",
				bpf_program__section_name(tps[i]), strerror(-err));
			return err;
		}
	}
	return 0;
}

struct attachment *attach__probes(struct leakscope_bpf *skel,
				  const struct attach_opts *o)
{
	struct attachment *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return NULL;
	err = attach_tracepoints(skel, a);
	if (!err)
		err = attach_lib(skel, a, libc_probes,
				 sizeof(libc_probes) / sizeof(libc_probes[0]),
				 o->pid, o->libc_path, o->libc_name, o->verbose);
	if (!err && o->cxx_path)
		err = attach_lib(skel, a, cxx_probes,
				 sizeof(cxx_probes) / sizeof(cxx_probes[0]),
				 o->pid, o->cxx_path, o->cxx_name, o->verbose);
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

/* Cost: each uprobe detach waits in the kernel (~100 ms on this VM, and
 * serialized there: detaching from threads does not overlap them), so a
 * full detach takes about 3 s.  The session prints before calling this. */
void attach__free(struct attachment *a)
{
	if (!a)
		return;
	while (a->nlinks > 0)
		bpf_link__destroy(a->links[--a->nlinks]);
	free(a);
}
