/* cgroup.c - a process's service, container and pod from its cgroup path.
 *
 * Real-world shapes (the tests hold samples of each):
 *   0::/system.slice/nginx.service                       systemd unit
 *   0::/system.slice/docker-<id>.scope                   docker (systemd driver)
 *   ...:/docker/<id>                                     docker (cgroupfs driver)
 *   0::/kubepods.slice/kubepods-burstable.slice/
 *      kubepods-burstable-pod<uid_with_underscores>.slice/
 *      cri-containerd-<id>.scope                         Kubernetes, containerd
 *   0::/kubepods/burstable/pod<uid>/<id>                 Kubernetes, cgroupfs
 *   ...crio-<id>.scope                                   cri-o
 *   0::/user.slice/.../libpod-<id>.scope,
 *   0::/machine.slice/libpod-<id>.scope                  podman
 * The path is read from the target (untrusted): every copy is bounded.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "procs/cgroup.h"

/* How telling a line's hierarchy is: v2 (0::), name=systemd, memory,
 * any other; lower is better. */
static int rank(const char *controllers, size_t n)
{
	if (!n)
		return 0;
	if (n == 12 && !strncmp(controllers, "name=systemd", 12))
		return 1;
	if (memmem(controllers, n, "memory", 6))
		return 2;
	return 3;
}

/* The cgroup path to read from lines "ID:CONTROLLERS:PATH": the best
 * ranked one that is not the root ("/" tells nothing). */
static void pick_path(const char *text, char *path, size_t len)
{
	int best = 4;

	path[0] = 0;
	for (const char *line = text; *line;) {
		const char *end = strchrnul(line, '\n');
		const char *c1 = memchr(line, ':', end - line);
		const char *c2 = c1 ? memchr(c1 + 1, ':', end - c1 - 1) : NULL;

		if (c2) {
			int r = rank(c1 + 1, c2 - c1 - 1);
			size_t n = end - c2 - 1;

			if (r < best && n > 1) {
				if (n >= len)
					n = len - 1;
				memcpy(path, c2 + 1, n);
				path[n] = 0;
				best = r;
			}
		}
		line = *end ? end + 1 : end;
	}
}

/* A run of 64 hex digits right at s. */
static bool hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return !isxdigit((unsigned char)s[64]);
}

static void set(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* comp (n bytes) is PREFIX<64 hex digits>[.scope] */
static bool id_component(const char *comp, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return (n == p + 64 || (n == p + 70 && !strncmp(comp + p + 64, ".scope", 6))) &&
	       !strncmp(comp, prefix, p) && hex64(comp + p);
}

/* A pod uid right after a "pod" that starts the component or follows a
 * dash (kubepods-burstable-pod<uid>.slice, pod<uid>). */
static bool pod_uid(const char *comp, size_t n, struct cgroup_labels *out)
{
	for (const char *pod = comp; (pod = memmem(pod, n - (pod - comp), "pod", 3)); pod++) {
		size_t start = pod + 3 - comp, k = 0;

		if (pod != comp && pod[-1] != '-')
			continue;
		while (start + k < n && (isxdigit((unsigned char)comp[start + k]) ||
					 comp[start + k] == '-' || comp[start + k] == '_'))
			k++;
		if (k < 32 || k >= sizeof(out->pod_uid))
			continue;
		set(out->pod_uid, sizeof(out->pod_uid), comp + start, k);
		for (char *c = out->pod_uid; *c; c++)
			if (*c == '_')
				*c = '-';	/* the systemd driver's escaping */
		return true;
	}
	return false;
}

/* One component of the path (comp, n bytes). */
static void component(const char *comp, size_t n, struct cgroup_labels *out)
{
	static const struct { const char *prefix, *runtime; } ids[] = {
		{ "docker-", "docker" }, { "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" }, { "libpod-", "podman" },
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (id_component(comp, n, ids[i].prefix)) {
			set(out->container, sizeof(out->container), comp + strlen(ids[i].prefix), 64);
			snprintf(out->runtime, sizeof(out->runtime), "%s", ids[i].runtime);
			return;
		}
	}
	if (id_component(comp, n, "")) {	/* the cgroupfs drivers: a bare id */
		set(out->container, sizeof(out->container), comp, 64);
		return;
	}
	if (pod_uid(comp, n, out))
		return;
	if (n > 8 && !strncmp(comp + n - 8, ".service", 8))
		set(out->unit, sizeof(out->unit), comp, n);
}

void cgroup__parse(const char *text, struct cgroup_labels *out)
{
	char path[1024];

	memset(out, 0, sizeof(*out));
	pick_path(text, path, sizeof(path));
	for (char *c = path; *c;) {
		char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (n)
			component(c, n, out);
		c += n + !!slash;
	}
	/* docker's cgroupfs driver: /docker/<id> */
	if (out->container[0] && !out->runtime[0] && !strncmp(path, "/docker/", 8))
		snprintf(out->runtime, sizeof(out->runtime), "docker");
	if (out->container[0])
		out->unit[0] = 0;	/* a container's scope, not a service of the host */
}

/* NAMESPACE_NAME_UID: the pod's directory under /var/log/pods. */
static void pod_names(const char *dir, struct cgroup_labels *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t ul = strlen(out->pod_uid);

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		const char *first, *last;

		if (n <= ul + 2 || strcmp(e->d_name + n - ul, out->pod_uid) ||
		    e->d_name[n - ul - 1] != '_')
			continue;
		first = strchr(e->d_name, '_');
		last = e->d_name + n - ul - 1;
		if (!first || first >= last)
			continue;
		set(out->ns, sizeof(out->ns), e->d_name, first - e->d_name);
		set(out->pod, sizeof(out->pod), first + 1, last - first - 1);
		break;
	}
	if (d)
		closedir(d);
}

void cgroup__read(pid_t pid, const char *pods_dir, struct cgroup_labels *out)
{
	char path[64], text[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = 0;
	cgroup__parse(text, out);
	if (out->pod_uid[0] && pods_dir)
		pod_names(pods_dir, out);
}
