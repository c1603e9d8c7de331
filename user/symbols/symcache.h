/* symcache.h - cache of symbolized addresses, keyed by module identity
 * (build-id, or path when there is none) and module-relative address, so
 * that each address of a library is resolved once whatever its load
 * address, and a report of 10k stacks costs hash lookups. */
#ifndef LEAKSCOPE_SYMCACHE_H
#define LEAKSCOPE_SYMCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "report/report.h"

struct symcache_entry {
	uint64_t module_id;
	uint64_t rel;
	struct frame *frames;	/* owned; addr fields are not kept */
	int nframes;
	struct symcache_entry *next;
};

struct symcache {
	struct symcache_entry **buckets;
	size_t nbuckets, n;
	size_t hits, misses;
};

int symcache__init(struct symcache *c);
void symcache__free(struct symcache *c);

/* Hash of an identity blob (build-id bytes or a path). */
uint64_t symcache__module_id(const void *bytes, size_t len);

const struct symcache_entry *symcache__get(struct symcache *c,
					   uint64_t module_id, uint64_t rel);

/* Stores a copy of frames[0..n) (strings are interned: they must stay
 * valid as long as the cache).  Returns the entry or NULL on ENOMEM. */
const struct symcache_entry *symcache__put(struct symcache *c,
					   uint64_t module_id, uint64_t rel,
					   const struct frame *frames, int n);

/* Returns a copy of str that lives as long as the cache (deduplicated). */
const char *symcache__intern(struct symcache *c, const char *str);

#endif
