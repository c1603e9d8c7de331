/* preflight.c - privilege, BTF and tracefs checks, each failing with the
 * one message that tells the user what to do. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trace/preflight.h"
#include "util/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (geteuid() == 0)
		return 0;
	if (syscall(SYS_capget, &h, d) == 0 && has_cap(d, CAP_BPF) &&
	    has_cap(d, CAP_PERFMON) && has_cap(d, CAP_SYS_PTRACE) &&
	    has_cap(d, CAP_SYS_ADMIN))
		return 0;
	log__error(
		"needs root to load BPF programs and read other processes.\n"
		"Run it with sudo, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE and CAP_SYS_ADMIN:\n"
		"  sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_sys_admin+ep build/leakscope\n");
	return -EPERM;
}

static int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	log__error(
		"this kernel has no BTF (/sys/kernel/btf/vmlinux is missing).\n"
		"leakscope needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (any\n"
		"distribution kernel since 2021 has it).\n");
	return -ENOTSUP;
}

/* libbpf finds tracepoint ids in tracefs; mount it where it is absent. */
static int check_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", R_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", R_OK) == 0)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		return 0;
	log__error(
		"tracefs is not mounted and mounting it failed (%s).\n"
		"Mount it and retry:  mount -t tracefs tracefs /sys/kernel/tracing\n",
		strerror(errno));
	return -ENOENT;
}

int preflight__check(void)
{
	int err = check_privileges();

	if (!err)
		err = check_btf();
	if (!err)
		err = check_tracefs();
	return err;
}
