/* mapiter.h - read a whole BPF hash map in batches. */
#ifndef LEAKSCOPE_MAPITER_H
#define LEAKSCOPE_MAPITER_H

#include <stddef.h>

/* Calls fn(key, value, ctx) for every entry of the hash map fd.  Uses
 * BPF_MAP_LOOKUP_BATCH, falling back to get_next_key where unsupported.
 * Returns 0 or a negative errno. */
int mapiter__each(int fd, size_t key_size, size_t val_size,
		  void (*fn)(const void *key, const void *val, void *ctx),
		  void *ctx);

#endif
