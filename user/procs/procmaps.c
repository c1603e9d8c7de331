/* procmaps.c - reads and queries /proc/PID/maps.
 *
 * The paths in a maps file are relative to the target's root, which may
 * be a container's; procmaps__open_path() turns them into paths that
 * work from our namespace (map_files even reaches deleted files).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procs/procmaps.h"

int procmaps__parse_line(const char *line, struct vma *out)
{
	unsigned long long start, end, off, inode;
	unsigned int maj, min;
	char perms[8];
	int n = 0;
	const char *p;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end,
		   perms, &off, &maj, &min, &inode, &n) < 7 || n == 0 || end < start)
		return -EINVAL;
	out->dev = ((uint64_t)maj << 20) | min;
	out->start = start;
	out->end = end;
	out->offset = off;
	out->inode = inode;
	snprintf(out->perms, sizeof(out->perms), "%.4s", perms);
	p = line + n;
	while (*p == ' ')
		p++;
	len = strcspn(p, "\n");
	if (len >= sizeof(out->path))
		len = sizeof(out->path) - 1;
	memcpy(out->path, p, len);
	out->path[len] = '\0';
	if (len > 10 && !strcmp(out->path + len - 10, " (deleted)")) {
		out->path[len - 10] = '\0';
		out->deleted = true;
	}
	return 0;
}

static int push(struct vma_list *l, const struct vma *v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct vma *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *v;
	return 0;
}

int procmaps__read(pid_t pid, struct vma_list *out)
{
	char path[64], line[4200];
	struct vma v;
	FILE *f;
	int err = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') && !feof(f)) {	/* overlong: skip rest */
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (procmaps__parse_line(line, &v))
			continue;
		err = push(out, &v);
		if (err)
			break;
	}
	if (ferror(f))
		err = -EIO;
	fclose(f);
	if (err)
		procmaps__free(out);
	return err;
}

void procmaps__free(struct vma_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

bool procmaps__is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strncmp(base, "libc.so", 7))
		return true;			/* glibc libc.so.6, musl libc.so */
	if (!strncmp(base, "libc-", 5) && strstr(base, ".so"))
		return true;			/* old glibc libc-2.31.so */
	return !strncmp(base, "ld-musl-", 8);	/* musl's libc is its loader */
}

bool procmaps__same_file(const struct vma *a, const struct vma *b)
{
	return a->inode == b->inode && a->dev == b->dev && !strcmp(a->path, b->path);
}

char *procmaps__open_path(pid_t pid, const struct vma *v, char *buf,
			  size_t len)
{
	snprintf(buf, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
		 v->start, v->end);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, len, "/proc/%d/root%s", pid, v->path);
	return buf;
}

void procmaps__each_pid(void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (!*end && pid > 0 && pid != getpid())
			fn(pid, ctx);
	}
	if (d)
		closedir(d);
}

void procmaps__exe(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}
