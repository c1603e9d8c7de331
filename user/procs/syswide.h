/* syswide.h - the probes of --all and --comm: every C library and
 * libstdc++ the host's processes map, for every process. */
#ifndef LEAKSCOPE_SYSWIDE_H
#define LEAKSCOPE_SYSWIDE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/cli.h"

#define SYSWIDE_MAX_LIBS	64	/* distinct C libraries and libstdc++s (containers) */
#define SYSWIDE_MAX_ATTACH	SYSWIDE_MAX_LIBS
#define SYSWIDE_MAX_PENDING	256	/* processes to look at, per flush */

struct prober;
struct attachment;

struct syswide {
	struct prober *prober;
	struct attachment *attach[SYSWIDE_MAX_ATTACH];
	int nattach;
	uint64_t lib_inode[SYSWIDE_MAX_LIBS];	/* libraries probed already */
	char lib_path[SYSWIDE_MAX_LIBS][4096];
	int nlibs;
	int nlibc;			/* of which C libraries */
	pid_t pending[SYSWIDE_MAX_PENDING];	/* mapped code since the last flush */
	int npending;
	bool rescan;			/* more than pending holds: every process */
	/* a process maps a libpython (set by the caller; NULL: none) */
	void (*on_python)(void *ctx, pid_t pid);
	void *ctx;
};

/* Probes the libraries every process maps now (and from then on, as
 * processes map new code: syswide__mark/flush); says each process that
 * maps a libpython to on_python (NULL: no one).  0, or -errno after
 * saying why (nothing stays attached then). */
int syswide__attach(struct syswide *m, struct prober *pr, const struct options *o,
		    void (*on_python)(void *ctx, pid_t pid), void *ctx);

/* pid exec'd or mapped code: its libraries are looked at by the next
 * syswide__flush() (new ones are probed). */
void syswide__mark(struct syswide *m, pid_t pid);
void syswide__flush(struct syswide *m);

/* Every process's libraries (at start). */
void syswide__rescan(struct syswide *m);

int syswide__count(const struct syswide *m);
void syswide__detach(struct syswide *m);

#endif
