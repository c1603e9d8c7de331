/* target.c - validates the target process and finds, in what it maps,
 * the libraries whose functions leakscope probes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "procmaps.h"
#include "target.h"

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
		fprintf(stderr, "leakscope: no process with PID %d (check the PID with ps)\n", pid);
		return -ESRCH;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	if (tgid <= 0 || kill(tgid, 0)) {
		fprintf(stderr, "leakscope: no process with PID %d (check the PID with ps)\n", pid);
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

int target__find_libs(pid_t maps_pid, pid_t target, const char *obj,
		      struct target_libs *out)
{
	struct vma_list m;
	const struct vma *alloc = NULL, *cxx = NULL;
	int err = procmaps__read(maps_pid, &m);

	memset(out, 0, sizeof(*out));
	if (err) {
		fprintf(stderr, "leakscope: cannot read /proc/%d/maps: %s\n",
			maps_pid, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct vma *v = &m.v[i];

		if (v->offset || v->path[0] != '/')
			continue;
		if (!alloc && !obj && procmaps__is_libc(v->path))
			alloc = v;
		if (!cxx && basename_is(v->path, "libstdc++.so"))
			cxx = v;
	}
	if (obj) {
		alloc = find_obj(&m, obj);
		if (!alloc && maps_pid != target && access(obj, R_OK) == 0) {
			/* `-- CMD`: the command is not mapped yet; use the file */
			snprintf(out->alloc_path, TARGET_PATH_MAX, "%s", obj);
			snprintf(out->alloc_name, TARGET_PATH_MAX, "%s", obj);
			goto cxx;
		}
	}
	if (!alloc) {
		char comm[64];

		target__comm(target, comm, sizeof(comm));
		if (obj)
			fprintf(stderr, "leakscope: process %d (%s) does not map %s; "
				"give --obj a library it has loaded (see /proc/%d/maps)\n",
				target, comm, obj, target);
		else
			fprintf(stderr, "leakscope: process %d (%s) maps no C library "
				"(statically linked, or not using libc's malloc).\n"
				"Use --obj PATH to probe the allocator it does use, e.g. "
				"--obj /path/to/libjemalloc.so.2, or the program itself if static.\n",
				target, comm);
		procmaps__free(&m);
		return -ENOENT;
	}
	use(maps_pid, alloc, out->alloc_path, out->alloc_name);
cxx:
	if (cxx) {
		out->has_cxx = true;
		use(maps_pid, cxx, out->cxx_path, out->cxx_name);
	}
	procmaps__free(&m);
	return 0;
}
