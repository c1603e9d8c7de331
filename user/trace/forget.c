/* forget.c - the records of processes that exited, deleted (see forget.h).
 * Keys are collected during a pass and deleted after it: deleting while
 * iterating a hash map makes the kernel restart the walk.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "leakscope.h"
#include "trace/forget.h"
#include "trace/mapiter.h"

struct forget {
	const pid_t *pids;
	size_t n;
	void *keys;		/* keys to delete, collected while iterating */
	size_t nkeys, cap, ksz;
	uint64_t blocks, bytes;
	int err;
};

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

static bool forgotten(const struct forget *f, pid_t pid)
{
	return bsearch(&pid, f->pids, f->n, sizeof(pid), cmp_pid) != NULL;
}

static void remember_key(struct forget *f, const void *key)
{
	if (f->nkeys == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		void *v = realloc(f->keys, cap * f->ksz);

		if (!v) {
			f->err = -ENOMEM;
			return;
		}
		f->keys = v;
		f->cap = cap;
	}
	memcpy((char *)f->keys + f->nkeys++ * f->ksz, key, f->ksz);
}

static void on_forget_alloc(const void *key, const void *val, void *ctx)
{
	const struct alloc_key *k = key;
	const struct alloc_rec *r = val;
	struct forget *f = ctx;

	if (!forgotten(f, k->tgid))
		return;
	f->blocks++;
	f->bytes += r->size_bytes;
	remember_key(f, key);
}

static void on_forget_agg(const void *key, const void *val, void *ctx)
{
	if (forgotten(ctx, ((const struct stack_key *)key)->tgid))
		remember_key(ctx, key);
}

/* Deletes the keys collected; they are the ones of one map, of one size. */
static int delete_keys(int fd, struct forget *f)
{
	for (size_t i = 0; i < f->nkeys; i++)
		bpf_map_delete_elem(fd, (char *)f->keys + i * f->ksz);	/* gone already: fine */
	free(f->keys);
	f->keys = NULL;
	f->nkeys = f->cap = 0;
	return f->err;
}

static void forget_regions(int fd, struct forget *f)
{
	for (__u32 i = 0; i < MAX_MMAP_REGIONS; i++) {
		struct mmap_region r;

		if (bpf_map_lookup_elem(fd, &i, &r) || !r.tgid || !forgotten(f, r.tgid))
			continue;
		f->blocks++;
		f->bytes += r.len_bytes;
		memset(&r, 0, sizeof(r));
		bpf_map_update_elem(fd, &i, &r, BPF_ANY);
	}
}

int forget__pids(const struct forget_fds *fds, pid_t *pids, size_t *n,
		 uint64_t *blocks, uint64_t *bytes)
{
	struct forget f = { .pids = pids };
	int err;

	if (!*n)
		return 0;
	qsort(pids, *n, sizeof(*pids), cmp_pid);	/* searched, each once */
	for (size_t i = 0; i < *n; i++)
		if (!f.n || pids[f.n - 1] != pids[i])
			pids[f.n++] = pids[i];
	*n = f.n;
	f.ksz = sizeof(struct alloc_key);
	err = mapiter__each(fds->allocs, f.ksz, sizeof(struct alloc_rec), on_forget_alloc, &f);
	if (!err)
		err = delete_keys(fds->allocs, &f);
	if (!err)
		forget_regions(fds->regions, &f);
	f.ksz = sizeof(struct stack_key);
	if (!err)
		err = mapiter__each(fds->aggs, f.ksz, sizeof(struct stack_agg), on_forget_agg, &f);
	if (!err)
		err = delete_keys(fds->aggs, &f);
	free(f.keys);
	*blocks += f.blocks;
	*bytes += f.bytes;
	return err;
}
