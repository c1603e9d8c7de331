/* target.h - what process to trace and which libraries to probe in it. */
#ifndef LEAKSCOPE_TARGET_H
#define LEAKSCOPE_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#define TARGET_PATH_MAX 4200

struct target_libs {
	char alloc_path[TARGET_PATH_MAX];	/* openable from here */
	char alloc_name[TARGET_PATH_MAX];	/* as the target names it */
	bool has_cxx;
	char cxx_path[TARGET_PATH_MAX];
	char cxx_name[TARGET_PATH_MAX];
};

/* Checks that pid is a live process we may trace and returns its thread
 * group id (a thread id is accepted) or a negative errno after printing
 * why. */
pid_t target__check_pid(pid_t pid);

/* Finds the allocator library (libc, or obj if given) and libstdc++ in
 * the mappings of maps_pid.  Prints why and returns -errno on failure. */
int target__find_libs(pid_t maps_pid, pid_t target, const char *obj,
		      struct target_libs *out);

/* The process's command name ("?" if unreadable). */
void target__comm(pid_t pid, char *buf, size_t len);

#endif
