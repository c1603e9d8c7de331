/* umulti.h - uprobe-multi links through the raw bpf() call (libbpf 1.1
 * has no API for them): many offsets of one file, one link, one grace
 * period to detach. */
#ifndef LEAKSCOPE_UMULTI_H
#define LEAKSCOPE_UMULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define UMULTI_ATTACH_TYPE	48	/* BPF_TRACE_UPROBE_MULTI */

/* Does this kernel create uprobe-multi links?  (Loads a two-instruction
 * program and links it to one of our own instructions, for us only.) */
bool umulti__supported(void);

/* A link of prog_fd (loaded with expected_attach_type UMULTI_ATTACH_TYPE)
 * at n file offsets of path, as return probes if retprobe, for pid only
 * (0 or -1: every process).  The link's fd, or a negative errno. */
int umulti__link(int prog_fd, const char *path, const uint64_t *offsets, uint32_t n,
		 bool retprobe, pid_t pid);

#endif
