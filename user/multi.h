/* multi.h - probes for several processes: -p A -p B, --all, --comm. */
#ifndef LEAKSCOPE_MULTI_H
#define LEAKSCOPE_MULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

#define MULTI_MAX_LIBS		64	/* distinct C libraries and libstdc++s (containers) */
#define MULTI_MAX_ATTACH	(MULTI_MAX_LIBS + MAX_PIDS)

struct leakscope_bpf;
struct attachment;

struct multi {
	struct leakscope_bpf *skel;
	bool no_placement;
	bool unwind_fp;
	bool uprobe_multi;	/* probes through uprobe-multi links */		/* --unwind fp: libc's mmap wrappers are probed too */
	bool verbose;
	bool system_wide;		/* --all / --comm */
	struct attachment *attach[MULTI_MAX_ATTACH];
	int nattach;
	uint64_t lib_inode[MULTI_MAX_LIBS];	/* libraries probed already */
	char lib_path[MULTI_MAX_LIBS][4096];
	int nlibs;
	int nlibc;				/* of which C libraries */
	pid_t pids[MAX_PIDS];		/* -p list: the processes, as checked */
	int npids;
};

/* Probes what o selects.  0, or -errno after saying why (nothing stays
 * attached then). */
int multi__attach(struct multi *m, struct leakscope_bpf *skel, const struct options *o);

/* --all / --comm: probes C libraries mapped since (new containers). */
void multi__rescan(struct multi *m);

int multi__count(const struct multi *m);
void multi__detach(struct multi *m);

#endif
