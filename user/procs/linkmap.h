/* linkmap.h - the dynamic linker's list of a process's loaded objects, in
 * its own order: the executable, LD_PRELOAD's objects, the needed
 * libraries breadth-first, then whatever dlopen() added.  Symbol lookup
 * in the global scope follows this order: the first object defining
 * malloc is the one the program calls. */
#ifndef LEAKSCOPE_LINKMAP_H
#define LEAKSCOPE_LINKMAP_H

#include <stdint.h>
#include <sys/types.h>

#define LINKMAP_MAX	512

struct linkmap_entry {
	uint64_t base;		/* l_addr: load bias */
	uint64_t dyn;		/* l_ld: its dynamic section in memory */
	char name[256];		/* l_name ("" for the executable) */
};

/* Reads pid's link map (r_debug through the executable's DT_DEBUG) into
 * out[0..max).  Returns the number of entries, or -errno: -ENOENT when
 * there is none (a static program, or ld.so has not set it up yet). */
int linkmap__read(pid_t pid, struct linkmap_entry *out, int max);

#endif
