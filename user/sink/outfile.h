/* outfile.h - a file leakscope (root) writes where a user asked: created
 * new and exclusive next to its destination, renamed into place when
 * complete.  Never follows a symlink planted at the destination, never
 * leaves half a profile behind. */
#ifndef LEAKSCOPE_OUTFILE_H
#define LEAKSCOPE_OUTFILE_H

#include <stdio.h>

struct outfile {
	FILE *f;		/* write here */
	int dirfd;		/* the destination's directory */
	char tmp[32];		/* the file being written, in dirfd */
	char *base;		/* the destination's name, in dirfd */
};

/* Creates the temporary file next to path, mode 0600.  0, or -errno
 * (printed, naming path). */
int outfile__open(struct outfile *o, const char *path);

/* Closes, syncs and renames the file into place.  0, or -errno (the
 * temporary file is removed). */
int outfile__commit(struct outfile *o);

/* Closes and removes the temporary file (nothing was written in place). */
void outfile__abort(struct outfile *o);

#endif
