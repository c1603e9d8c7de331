/* syswide.c - the probes of --all and --comm: every distinct C library
 * (and libstdc++) the host's processes map - the host's and each
 * container's, told apart by inode - probed for every process (pid -1:
 * processes started later too); BPF keeps the processes selected.  New
 * libraries (a new container) are found from the events of the process
 * that maps them (syswide__mark, syswide__flush), not by walking /proc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/attach.h"
#include "probe/prober.h"
#include "procs/procmaps.h"
#include "procs/syswide.h"
#include "procs/target.h"
#include "util/log.h"

static int add_attachment(struct syswide *m, struct attachment *a)
{
	if (!a)
		return -EINVAL;
	if (m->nattach == SYSWIDE_MAX_ATTACH) {
		attach__free(a);
		return -E2BIG;
	}
	m->attach[m->nattach++] = a;
	return 0;
}

static bool seen_inode(const struct syswide *m, uint64_t inode, const char *path)
{
	for (int i = 0; i < m->nlibs; i++)
		if (m->lib_inode[i] == inode && !strcmp(m->lib_path[i], path))
			return true;
	return false;
}

static bool is_libstdcxx(const char *path)
{
	const char *b = strrchr(path, '/');

	return !strncmp(b ? b + 1 : path, "libstdc++.so", 12);
}

/* The libraries of one mapping, to probe for every process: a C library
 * as the allocator, or a libstdc++ for its operator new (alone: each
 * library is probed on its own). */
static void libs_of(pid_t pid, const struct vma *v, bool cxx, struct target_libs *libs)
{
	memset(libs, 0, sizeof(*libs));
	if (cxx) {
		libs->has_cxx = true;
		procmaps__open_path(pid, v, libs->cxx_path, sizeof(libs->cxx_path));
		snprintf(libs->cxx_name, sizeof(libs->cxx_name), "%s", v->path);
	} else {
		libs->kind = ALLOC_LIBC;
		procmaps__open_path(pid, v, libs->alloc_path, sizeof(libs->alloc_path));
		snprintf(libs->alloc_name, sizeof(libs->alloc_name), "%s", v->path);
	}
}

/* The C library and libstdc++ one process maps: new ones are probed. */
static bool is_libpython(const char *path)
{
	const char *b = strrchr(path, '/');

	return !strncmp(b ? b + 1 : path, "libpython", 9);
}

/* The C library and libstdc++ one process maps: new ones are probed.  A
 * process that maps a libpython (an interpreter embedded in a program of
 * another name: uwsgi, a plugin host) is said to on_python. */
static void scan_process(struct syswide *m, pid_t pid)
{
	struct vma_list maps;
	struct target_libs libs;
	bool python = false;

	if (procmaps__read(pid, &maps))
		return;
	for (size_t i = 0; i < maps.n; i++) {
		const struct vma *v = &maps.v[i];
		bool cxx = is_libstdcxx(v->path);

		python |= v->inode && is_libpython(v->path);
		if (v->offset || !v->inode || (!cxx && !procmaps__is_libc(v->path)) ||
		    seen_inode(m, v->inode, v->path) || m->nlibs == SYSWIDE_MAX_LIBS)
			continue;
		m->lib_inode[m->nlibs] = v->inode;
		snprintf(m->lib_path[m->nlibs], sizeof(m->lib_path[0]), "%s", v->path);
		m->nlibs++;
		m->nlibc += !cxx;
		libs_of(pid, v, cxx, &libs);
		if (!add_attachment(m, prober__libs(m->prober, &libs, -1)))
			log__verbose("probing %s (as process %d maps it)\n",
				v->path, pid);
	}
	procmaps__free(&maps);
	if (python && m->on_python)
		m->on_python(m->ctx, pid);
}

static void scan_one(pid_t pid, void *ctx)
{
	scan_process(ctx, pid);
}

void syswide__rescan(struct syswide *m)
{
	procmaps__each_pid(scan_one, m);
}

int syswide__attach(struct syswide *m, struct prober *pr, const struct options *o,
		    void (*on_python)(void *ctx, pid_t pid), void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->prober = pr;
	m->on_python = on_python;
	m->ctx = ctx;
	syswide__rescan(m);
	if (!m->nattach) {
		log__error("no process maps a C library leakscope can probe\n");
		return -ENOENT;
	}
	return 0;
}

void syswide__mark(struct syswide *m, pid_t pid)
{
	if (m->npending && m->pending[m->npending - 1] == pid)
		return;		/* a burst of one process's mappings */
	if (m->npending == SYSWIDE_MAX_PENDING) {
		m->rescan = true;
		return;
	}
	m->pending[m->npending++] = pid;
}

void syswide__flush(struct syswide *m)
{
	if (m->rescan)
		syswide__rescan(m);
	else
		for (int i = 0; i < m->npending; i++)
			scan_process(m, m->pending[i]);
	m->npending = 0;
	m->rescan = false;
}

int syswide__count(const struct syswide *m)
{
	int n = 0;

	for (int i = 0; i < m->nattach; i++)
		n += attach__count(m->attach[i]);
	return n;
}

void syswide__detach(struct syswide *m)
{
	for (int i = m->nattach - 1; i >= 0; i--)
		attach__free(m->attach[i]);
	m->nattach = 0;
}
