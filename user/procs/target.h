/* target.h - what process to trace and which libraries to probe in it. */
#ifndef LEAKSCOPE_TARGET_H
#define LEAKSCOPE_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#define TARGET_PATH_MAX 4200

struct target_libs {
	char alloc_path[TARGET_PATH_MAX];	/* the allocator, openable from here */
	char alloc_name[TARGET_PATH_MAX];	/* as the target names it */
	int kind;				/* enum alloc_kind (attach.h) */
	char prefix[8];				/* "je_" for a prefixed jemalloc */
	bool alloc_cxx;				/* it defines operator new/delete */
	bool has_libc;				/* a C library besides the allocator */
	char libc_path[TARGET_PATH_MAX];	/* (its mmap wrappers are probed) */
	char libc_name[TARGET_PATH_MAX];
	bool has_cxx;
	char cxx_path[TARGET_PATH_MAX];
	char cxx_name[TARGET_PATH_MAX];
	/* an allocator a library brought in with dlopen() (RTLD_LOCAL: not
	 * the program's malloc, but its own callers'): probed as well */
	bool has_local;
	char local_path[TARGET_PATH_MAX];
	char local_name[TARGET_PATH_MAX];
	int local_kind;
	char local_prefix[8];
	bool local_cxx;
};

/* Checks that pid is a live process we may trace and returns its thread
 * group id (a thread id is accepted) or a negative errno after printing
 * why. */
pid_t target__check_pid(pid_t pid);

/* Finds the allocator and libstdc++ in the mappings of maps_pid: obj if
 * given, else the object whose malloc (or je_malloc) the program calls:
 * the first of the dynamic linker's link map that defines it (jemalloc,
 * tcmalloc, mimalloc preloaded or linked in; the C library when it comes
 * first), or for a static program the first mapped object defining it;
 * else the C library.  `-- CMD` (maps_pid is
 * leakscope, the command not started): LD_PRELOAD's objects and the
 * command's file (cmd_path) are looked at.  Prints why and returns -errno
 * on failure. */
int target__find_libs(pid_t maps_pid, pid_t target, const char *obj,
		      const char *cmd_path, struct target_libs *out);

/* "jemalloc", "glibc" ...: what kind the allocator is (for messages). */
const char *target__kind_name(int kind);

/* The process's command name ("?" if unreadable). */
void target__comm(pid_t pid, char *buf, size_t len);

#endif
