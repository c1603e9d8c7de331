/* mapiter.c - batched reads of BPF hash maps.
 *
 * A batch of 4096 entries costs one syscall, so reading a million
 * outstanding blocks is ~250 syscalls instead of two million.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "trace/mapiter.h"

#define BATCH 4096
#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, returned by some map types */
#endif

static int each_slow(int fd, size_t ksz, size_t vsz,
		     void (*fn)(const void *, const void *, void *), void *ctx)
{
	char *key = calloc(2, ksz), *next = key + ksz, *val = malloc(vsz);
	void *prev = NULL;
	int err = 0;

	if (!key || !val) {
		err = -ENOMEM;
		goto out;
	}
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (bpf_map_lookup_elem(fd, next, val) == 0)
			fn(next, val, ctx);
		memcpy(key, next, ksz);
		prev = key;
	}
	if (errno != ENOENT)
		err = -errno;
out:
	free(key);
	free(val);
	return err;
}

int mapiter__each(int fd, size_t ksz, size_t vsz,
		  void (*fn)(const void *, const void *, void *), void *ctx)
{
	char *keys = malloc(BATCH * ksz), *vals = malloc(BATCH * vsz);
	uint64_t in_batch[8], out_batch[8];	/* opaque cursor (a u32 for htab) */
	void *in = NULL;
	int err = 0;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (;;) {
		__u32 n = BATCH;
		int r = bpf_map_lookup_batch(fd, in, out_batch, keys, vals, &n, NULL);

		if (r && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < n; i++)
			fn(keys + i * ksz, vals + i * vsz, ctx);
		if (r)		/* ENOENT: that was the last batch */
			break;
		memcpy(in_batch, out_batch, sizeof(in_batch));
		in = in_batch;
	}
	free(keys);
	free(vals);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP)
		return each_slow(fd, ksz, vsz, fn, ctx);
	return err;
}
