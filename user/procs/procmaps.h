/* procmaps.h - the mappings of a process, from /proc/PID/maps. */
#ifndef LEAKSCOPE_PROCMAPS_H
#define LEAKSCOPE_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vma {
	uint64_t start, end, offset, inode;
	uint64_t dev;		/* the kernel's encoding (major << 20 | minor), as
				 * the file's superblock has it (overlayfs, btrfs:
				 * not what stat() says) */
	char perms[5];
	bool deleted;		/* " (deleted)" was stripped from path */
	char path[4096];	/* as the target sees it; "" if anonymous */
};

struct vma_list {
	struct vma *v;
	size_t n, cap;
};

/* Parses one line of a maps file.  Returns 0 or -EINVAL. */
int procmaps__parse_line(const char *line, struct vma *out);

/* Reads /proc/PID/maps.  Returns 0 or a negative errno (-ESRCH if the
 * process is gone, -EACCES without permission). */
int procmaps__read(pid_t pid, struct vma_list *out);

void procmaps__free(struct vma_list *l);

/* True if a path names a C library (glibc, musl). */
bool procmaps__is_libc(const char *path);

/* a and b map the same file: path, inode and device. */
bool procmaps__same_file(const struct vma *a, const struct vma *b);

/* Calls fn(pid, ctx) for every process on the host but leakscope (the
 * numeric entries of /proc, as they are now). */
void procmaps__each_pid(void (*fn)(pid_t pid, void *ctx), void *ctx);

/* The process's executable as /proc/PID/exe names it ("" if unreadable). */
void procmaps__exe(pid_t pid, char *buf, size_t len);

/* A path by which root can open the file behind `v` from outside the
 * target's mount namespace, even if it was deleted: map_files, falling
 * back to /proc/PID/root/PATH.  Writes into buf; returns buf. */
char *procmaps__open_path(pid_t pid, const struct vma *v, char *buf,
			  size_t len);

#endif
