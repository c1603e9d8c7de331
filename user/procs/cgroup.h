/* cgroup.h - which service a process belongs to, from its cgroup: the
 * systemd unit, the container (docker, containerd, cri-o, podman) and, on
 * Kubernetes, the pod (uid; namespace and name where the host's
 * /var/log/pods shows them).  Fleets label profiles and metrics with it. */
#ifndef LEAKSCOPE_CGROUP_H
#define LEAKSCOPE_CGROUP_H

#include <sys/types.h>

struct cgroup_labels {
	char unit[128];		/* "nginx.service", "" if none */
	char container[65];	/* the container id (64 hex digits), "" if none */
	char runtime[12];	/* "docker", "containerd", "cri-o", "podman" */
	char pod_uid[40];	/* Kubernetes pod uid (dashes), "" if none */
	char pod[128];		/* pod name and namespace, from /var/log/pods */
	char ns[64];
};

/* Parses the text of /proc/PID/cgroup (cgroup v2 "0::/path", or v1 lines:
 * the name=systemd, then the memory hierarchy, then any).  Fields not
 * found are empty. */
void cgroup__parse(const char *text, struct cgroup_labels *out);

/* The labels of pid: its cgroup file, then the pod's name and namespace
 * from pods_dir (normally /var/log/pods: NAMESPACE_NAME_UID/).  Empty
 * fields when unreadable. */
void cgroup__read(pid_t pid, const char *pods_dir, struct cgroup_labels *out);

#endif
