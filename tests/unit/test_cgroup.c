/* test_cgroup.c - service, container and pod labels from real-world
 * /proc/PID/cgroup contents (systemd units, docker with either driver,
 * Kubernetes with containerd and cri-o, podman, cgroup v1 hosts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "procs/cgroup.h"

#define ID "4f8a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"

static struct cgroup_labels parse(const char *text)
{
	struct cgroup_labels l;

	cgroup__parse(text, &l);
	return l;
}

static void test_systemd_service(void **state)
{
	struct cgroup_labels l = parse("0::/system.slice/nginx.service\n");

	assert_string_equal(l.unit, "nginx.service");
	assert_string_equal(l.container, "");
	l = parse("0::/system.slice/system-getty.slice/getty@tty1.service\n");
	assert_string_equal(l.unit, "getty@tty1.service");
	l = parse("0::/user.slice/user-1000.slice/session-2.scope\n");	/* a login */
	assert_string_equal(l.unit, "");
	l = parse("0::/\n");
	assert_string_equal(l.unit, "");
}

static void test_docker(void **state)
{
	struct cgroup_labels l = parse("0::/system.slice/docker-" ID ".scope\n");

	assert_string_equal(l.container, ID);
	assert_string_equal(l.runtime, "docker");
	assert_string_equal(l.unit, "");
	l = parse("12:memory:/docker/" ID "\n11:cpu,cpuacct:/docker/" ID "\n1:name=systemd:/docker/"
		  ID "\n");
	assert_string_equal(l.container, ID);
	assert_string_equal(l.runtime, "docker");
}

static void test_kubernetes(void **state)
{
	struct cgroup_labels l = parse(
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
		"8d3c2b1a_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/cri-containerd-" ID ".scope\n");

	assert_string_equal(l.pod_uid, "8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
	assert_string_equal(l.container, ID);
	assert_string_equal(l.runtime, "containerd");
	l = parse("0::/kubepods/besteffort/pod8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d/" ID "\n");
	assert_string_equal(l.pod_uid, "8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
	assert_string_equal(l.container, ID);
	l = parse("0::/kubepods.slice/kubepods-pod8d3c2b1a_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/"
		  "crio-" ID ".scope\n");
	assert_string_equal(l.runtime, "cri-o");
	assert_string_equal(l.pod_uid, "8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
}

static void test_podman_and_v1(void **state)
{
	struct cgroup_labels l = parse("0::/user.slice/user-1000.slice/user@1000.service/"
				       "user.slice/libpod-" ID ".scope/container\n");

	assert_string_equal(l.runtime, "podman");
	assert_string_equal(l.container, ID);
	assert_string_equal(l.unit, "");	/* the container, not user@1000.service */
	/* a cgroup v1 host: name=systemd wins over the others */
	l = parse("9:name=systemd:/system.slice/redis-server.service\n8:pids:/\n"
		  "4:memory:/system.slice/redis-server.service\n0::/\n");
	assert_string_equal(l.unit, "redis-server.service");
	/* v1 without name=systemd: memory */
	l = parse("5:cpu:/\n4:memory:/system.slice/cron.service\n");
	assert_string_equal(l.unit, "cron.service");
}

static void test_hostile(void **state)
{
	char big[8192];
	struct cgroup_labels l;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "0::/", 4);
	l = parse(big);				/* bounded */
	assert_string_equal(l.container, "");
	l = parse("0::/kubepods-pod" "1234.slice\n");	/* too short for a uid */
	assert_string_equal(l.pod_uid, "");
	l = parse("garbage without colons\n::\n:");
	assert_string_equal(l.unit, "");
	l = parse("0::/docker-" ID "zz.scope\n");	/* not 64 hex digits exactly */
	assert_string_equal(l.container, "");
}

static void test_pod_names(void **state)
{
	char dir[] = "/tmp/test_cgroup.XXXXXX", path[128];
	struct cgroup_labels l;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/shop_cart-7d9f_8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	cgroup__parse("0::/kubepods/burstable/pod8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d/" ID "\n", &l);
	assert_string_equal(l.pod, "");
	/* what cgroup__read does after parsing, on a directory of our own */
	cgroup__read(1 << 30, dir, &l);		/* no such pid: nothing */
	assert_string_equal(l.pod_uid, "");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_service),
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_podman_and_v1),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_pod_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
