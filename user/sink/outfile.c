/* outfile.c - profiles written safely as root.
 *
 * `record -o /tmp/heap.pb.gz` runs as root in a directory any user can
 * write: a symlink planted at that name must not make leakscope overwrite
 * its target.  The profile is written to a new file created with O_EXCL |
 * O_NOFOLLOW next to the destination (same filesystem), then renamed over
 * it: rename() replaces a symlink itself, never what it points to, and a
 * crash or Ctrl-C leaves the old file (or none), not half a profile.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink/outfile.h"
#include "util/log.h"

static void reset(struct outfile *o)
{
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o->base);
	o->dirfd = -1;
	o->base = NULL;
	o->f = NULL;
}

/* A name for the temporary file: .leakscope-PID-RANDOM */
static void tmp_name(char *buf, size_t len, unsigned attempt)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, len, ".leakscope-%d-%lx", getpid(),
		 (unsigned long)(ts.tv_nsec ^ (long)attempt * 2654435761UL));
}

int outfile__open(struct outfile *o, const char *path)
{
	char *d = strdup(path), *b = strdup(path);
	int fd = -1, err = 0;
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->dirfd = -1;
	if (!d || !b) {
		err = -ENOMEM;
		goto out;
	}
	o->base = strdup(basename(b));
	if (!o->base || !*o->base || !strcmp(o->base, "/") || !strcmp(o->base, ".") ||
	    !strcmp(o->base, "..")) {
		err = o->base ? -EISDIR : -ENOMEM;
		goto out;
	}
	o->dirfd = open(dirname(d), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (o->dirfd < 0) {
		err = -errno;
		goto out;
	}
	if (!fstatat(o->dirfd, o->base, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode)) {
		err = -EISDIR;		/* said now, not after the whole trace */
		goto out;
	}
	for (unsigned i = 0; fd < 0 && i < 100; i++) {
		tmp_name(o->tmp, sizeof(o->tmp), i);
		fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0 && errno != EEXIST) {
			err = -errno;
			goto out;
		}
	}
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		err = fd < 0 ? -EEXIST : -errno;
		if (fd >= 0) {
			close(fd);
			unlinkat(o->dirfd, o->tmp, 0);
		}
	}
out:
	free(d);
	free(b);
	if (err) {
		log__error("cannot write %s: %s\n", path, strerror(-err));
		reset(o);
	}
	return err;
}

int outfile__commit(struct outfile *o)
{
	int err = 0;

	if (!o->f)
		return -EBADF;
	if (fflush(o->f) || fsync(fileno(o->f)))
		err = -errno;
	if (fclose(o->f) && !err)
		err = -errno;
	o->f = NULL;
	if (!err && renameat(o->dirfd, o->tmp, o->dirfd, o->base))
		err = -errno;
	if (err)
		unlinkat(o->dirfd, o->tmp, 0);
	reset(o);
	return err;
}

void outfile__abort(struct outfile *o)
{
	if (o->f) {
		fclose(o->f);
		unlinkat(o->dirfd, o->tmp, 0);
	}
	reset(o);
}
