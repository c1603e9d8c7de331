/* target.c - validates the target process and finds, in what it maps,
 * the libraries whose functions leakscope probes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "procs/procmaps.h"
#include "probe/attach.h"
#include "symbols/elfsym.h"
#include "procs/linkmap.h"
#include "procs/target.h"
#include "util/log.h"

void target__comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	else
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

pid_t target__check_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f) {
		log__error("no process with PID %d (check the PID with ps)\n", pid);
		return -ESRCH;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	if (tgid <= 0 || kill(tgid, 0)) {
		log__error("no process with PID %d (check the PID with ps)\n", pid);
		return -ESRCH;
	}
	return tgid;
}

static bool basename_is(const char *path, const char *prefix)
{
	const char *b = strrchr(path, '/');

	return !strncmp(b ? b + 1 : path, prefix, strlen(prefix));
}

static void use(pid_t maps_pid, const struct vma *v, char *path, char *name)
{
	procmaps__open_path(maps_pid, v, path, TARGET_PATH_MAX);
	snprintf(name, TARGET_PATH_MAX, "%s", v->path);
}

static const struct vma *find_obj(const struct vma_list *m, const char *obj)
{
	char real[PATH_MAX];

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].offset == 0 && !strcmp(m->v[i].path, obj))
			return &m->v[i];
	if (!realpath(obj, real))
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].offset == 0 && !strcmp(m->v[i].path, real))
			return &m->v[i];
	return NULL;
}

const char *target__kind_name(int kind)
{
	switch (kind) {
	case ALLOC_LIBC: return "the C library";
	case ALLOC_JEMALLOC: return "jemalloc";
	case ALLOC_TCMALLOC: return "tcmalloc";
	case ALLOC_MIMALLOC: return "mimalloc";
	default: return "malloc";
	}
}

static bool defines(struct elfsym *e, const char *sym)
{
	uint64_t off, size;

	return !elfsym__func(e, sym, &off, &size);
}

/* Whether the ELF at path defines an allocator; fills kind, prefix and
 * alloc_cxx of out if so. */
static bool is_allocator(const char *path, struct target_libs *out)
{
	struct elfsym *e = elfsym__open(path);
	bool plain, prefixed;

	if (!e)
		return false;
	plain = defines(e, "malloc") && defines(e, "free");
	prefixed = !plain && defines(e, "je_malloc") && defines(e, "je_free");
	if (plain || prefixed) {
		snprintf(out->prefix, sizeof(out->prefix), "%s", prefixed ? "je_" : "");
		out->kind = prefixed || defines(e, "mallocx") ? ALLOC_JEMALLOC
			  : defines(e, "tc_malloc") ? ALLOC_TCMALLOC
			  : defines(e, "mi_malloc") ? ALLOC_MIMALLOC : ALLOC_OTHER;
		out->alloc_cxx = defines(e, "_Znwm") && defines(e, "_ZdlPv");
	}
	elfsym__close(e);
	return plain || prefixed;
}

static bool skip_for_allocator(const char *path)
{
	return procmaps__is_libc(path) || basename_is(path, "ld-linux") ||
	       basename_is(path, "ld-musl") || basename_is(path, "libstdc++.so") ||
	       basename_is(path, "libgcc_s.so") || basename_is(path, "libm.so");
}

/* `-- CMD`: LD_PRELOAD's objects, then the command itself. */
static bool find_unstarted_allocator(const char *cmd_path, struct target_libs *out)
{
	const char *pre = getenv("LD_PRELOAD");
	char list[TARGET_PATH_MAX], *save = NULL;

	if (pre && strlen(pre) < sizeof(list)) {
		strcpy(list, pre);
		for (char *p = strtok_r(list, ": ", &save); p; p = strtok_r(NULL, ": ", &save)) {
			if (p[0] == '/' && is_allocator(p, out)) {
				snprintf(out->alloc_path, TARGET_PATH_MAX, "%s", p);
				snprintf(out->alloc_name, TARGET_PATH_MAX, "%s", p);
				return true;
			}
		}
	}
	if (cmd_path && is_allocator(cmd_path, out)) {
		snprintf(out->alloc_path, TARGET_PATH_MAX, "%s", cmd_path);
		snprintf(out->alloc_name, TARGET_PATH_MAX, "%s", cmd_path);
		return true;
	}
	return false;
}

static const struct vma *vma_at(const struct vma_list *m, uint64_t addr)
{
	for (size_t i = 0; i < m->n; i++)
		if (addr >= m->v[i].start && addr < m->v[i].end)
			return &m->v[i];
	return NULL;
}

/* The offset-0 mapping of the file w maps. */
static const struct vma *file_start(const struct vma_list *m, const struct vma *w)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].offset && procmaps__same_file(&m->v[i], w))
			return &m->v[i];
	return NULL;
}

/* The allocator as the dynamic linker resolves malloc: the first object
 * of the link map (executable, LD_PRELOAD, needed libraries, then what
 * dlopen() added) that defines it; the C library when it comes first.
 * An object merely mapped, or dlopen()ed after the C library, never
 * wins; the first such dlopen()ed allocator is noted as out's local one
 * (its own callers use it).  *decided: false when the link map cannot be
 * read (a static program): the caller looks at the mappings instead. */
static const struct vma *allocator_in_scope(pid_t pid, const struct vma_list *m,
					    struct target_libs *out, bool *decided)
{
	static struct linkmap_entry lm[LINKMAP_MAX];
	char path[TARGET_PATH_MAX];
	int n = linkmap__read(pid, lm, LINKMAP_MAX);

	const struct vma *alloc = NULL;
	bool decided_here = false;

	*decided = n > 0;
	for (int i = 0; i < n; i++) {
		const struct vma *w = vma_at(m, lm[i].dyn), *v;

		/* each object by where its dynamic section is mapped: l_name
		 * may name it through a symlink (/lib vs /usr/lib) */
		if (!w || w->path[0] != '/' || !(v = file_start(m, w)))
			continue;
		if (!decided_here && procmaps__is_libc(v->path)) {
			decided_here = true;	/* the C library's malloc is the one called */
			continue;
		}
		if (skip_for_allocator(v->path))
			continue;
		procmaps__open_path(pid, v, path, sizeof(path));
		if (!decided_here) {
			if (is_allocator(path, out)) {
				alloc = v;
				decided_here = true;
			}
		} else if (!out->has_local) {
			/* later in the link map: dlopen()ed with an allocator of
			 * its own, which only its own callers reach */
			struct target_libs local = { 0 };

			if (is_allocator(path, &local)) {
				out->has_local = true;
				snprintf(out->local_path, TARGET_PATH_MAX, "%s", path);
				snprintf(out->local_name, TARGET_PATH_MAX, "%s", v->path);
				out->local_kind = local.kind;
				snprintf(out->local_prefix, sizeof(out->local_prefix), "%s",
					 local.prefix);
				out->local_cxx = local.alloc_cxx;
			}
		}
	}
	return alloc;
}

int target__find_libs(pid_t maps_pid, pid_t target, const char *obj,
		      const char *cmd_path, struct target_libs *out)
{
	struct vma_list m;
	const struct vma *alloc = NULL, *cxx = NULL, *libc = NULL;
	char path[TARGET_PATH_MAX];
	bool in_scope = false;
	int err = procmaps__read(maps_pid, &m);

	memset(out, 0, sizeof(*out));
	if (err) {
		log__error("cannot read /proc/%d/maps: %s\n",
			maps_pid, strerror(-err));
		return err;
	}
	/* the target's own objects only: `-- CMD` has not started yet */
	if (!obj && maps_pid == target)
		alloc = allocator_in_scope(target, &m, out, &in_scope);
	for (size_t i = 0; i < m.n; i++) {
		const struct vma *v = &m.v[i];

		if (v->offset || v->path[0] != '/')
			continue;
		if (!libc && procmaps__is_libc(v->path))
			libc = v;
		if (!cxx && basename_is(v->path, "libstdc++.so"))
			cxx = v;
		/* no link map (a static program): the first mapped object */
		if (!alloc && !in_scope && !obj && maps_pid == target &&
		    !skip_for_allocator(v->path) &&
		    is_allocator(procmaps__open_path(maps_pid, v, path, sizeof(path)), out))
			alloc = v;
	}
	if (!alloc && !obj && maps_pid != target && find_unstarted_allocator(cmd_path, out))
		goto found;
	if (obj) {
		alloc = find_obj(&m, obj);
		if (!alloc && maps_pid != target && access(obj, R_OK) == 0) {
			/* `-- CMD`: the command is not mapped yet; use the file */
			snprintf(out->alloc_path, TARGET_PATH_MAX, "%s", obj);
			snprintf(out->alloc_name, TARGET_PATH_MAX, "%s", obj);
			if (!is_allocator(obj, out))
				out->kind = ALLOC_OTHER;
			goto found;
		}
		if (alloc && !is_allocator(procmaps__open_path(maps_pid, alloc, path, sizeof(path)),
					   out))
			out->kind = ALLOC_OTHER;
	}
	if (!alloc && libc && !obj) {
		alloc = libc;
		out->kind = ALLOC_LIBC;
		out->prefix[0] = 0;
		out->alloc_cxx = false;
	}
	if (!alloc) {
		char comm[64];

		target__comm(target, comm, sizeof(comm));
		if (obj)
			log__error("process %d (%s) does not map %s; "
				"give --obj a library it has loaded (see /proc/%d/maps)\n",
				target, comm, obj, target);
		else
			log__error("process %d (%s) maps no C library and no "
				"object of its own defines malloc.\n"
				"Use --obj PATH to probe the allocator it does use.\n",
				target, comm);
		procmaps__free(&m);
		return -ENOENT;
	}
	use(maps_pid, alloc, out->alloc_path, out->alloc_name);
found:
	if (libc && strcmp(libc->path, out->alloc_name)) {
		out->has_libc = true;
		use(maps_pid, libc, out->libc_path, out->libc_name);
	}
	if (cxx) {
		out->has_cxx = true;
		use(maps_pid, cxx, out->cxx_path, out->cxx_name);
	}
	procmaps__free(&m);
	return 0;
}
