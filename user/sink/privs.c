/* privs.c - least privilege for `serve`.
 *
 * After start-up (the BPF object loaded, the probes attached, the port
 * bound) the agent keeps only what tracing goes on needing, as the
 * kernel checks it (tested: `serve -p` of a Python target still reads its
 * code objects and names its lines):
 *   CAP_BPF, CAP_PERFMON      new links for libraries mapped later
 *                             (--all) and Python's probes
 *   CAP_SYS_PTRACE            /proc/PID/mem and maps of other users'
 *                             processes (symbols, Python code objects)
 *   CAP_CHECKPOINT_RESTORE    /proc/PID/map_files (a target's files as it
 *                             maps them: deleted, replaced, in containers)
 *   CAP_DAC_READ_SEARCH       other users' files those point at
 * and sets no_new_privs.  It stays uid 0 (the BPF objects and its own
 * files are root's), but without CAP_SYS_ADMIN, CAP_DAC_OVERRIDE,
 * CAP_NET_*, CAP_SETUID ... a bug in the HTTP path cannot write as root
 * or raise what it has.  Raw capset(2): no libcap needed for five bits.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sink/privs.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON		38
#define CAP_BPF			39
#define CAP_CHECKPOINT_RESTORE	40
#endif

uint64_t privs__serve_mask(void)
{
	return 1ULL << CAP_BPF | 1ULL << CAP_PERFMON | 1ULL << CAP_SYS_PTRACE |
	       1ULL << CAP_CHECKPOINT_RESTORE | 1ULL << CAP_DAC_READ_SEARCH;
}

int privs__drop_for_serve(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };
	uint64_t keep = privs__serve_mask();

	/* the bounding set first: dropping from it needs CAP_SETPCAP (a unit
	 * whose CapabilityBoundingSet lacks it has bounded us already; the
	 * permitted set and no_new_privs below still hold) */
	for (int cap = 0; cap <= 63; cap++) {
		if ((keep & (1ULL << cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EPERM)
			return -errno;
	}
	for (int i = 0; i < 2; i++) {
		data[i].effective = data[i].permitted = (uint32_t)(keep >> (32 * i));
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
