/* forget.h - deletes the BPF records of processes that exited. */
#ifndef LEAKSCOPE_FORGET_H
#define LEAKSCOPE_FORGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct forget_fds {
	int allocs, regions, aggs;
};

/* Deletes every heap block, mmap region and per-stack aggregate of the
 * processes pids[0..n) (sorted and deduplicated in place: *n is updated),
 * and adds what they still held to *blocks and *bytes.  An exited process
 * leaks nothing: its records only fill the maps.  Cost: one pass over
 * each map.  0 or a negative errno. */
int forget__pids(const struct forget_fds *fds, pid_t *pids, size_t *n,
		 uint64_t *blocks, uint64_t *bytes);

#endif
