/* stacktab.c - linear-probing hash table keyed by struct stack_key.
 * Load factor stays under 1/2, so a lookup is about one probe. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/stacktab.h"

static size_t hash(const struct stack_key *k)
{
	uint64_t x = k->id ^ ((uint64_t)k->tgid << 40) ^ (k->lead_pc * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static int alloc_arrays(struct stacktab *t, size_t cap)
{
	t->keys = calloc(cap, sizeof(*t->keys));
	t->vals = calloc(cap, sizeof(*t->vals));
	t->used = calloc(cap, 1);
	if (!t->keys || !t->vals || !t->used) {
		stacktab__free(t);
		return -ENOMEM;
	}
	t->cap = cap;
	t->n = 0;
	return 0;
}

int stacktab__init(struct stacktab *t, size_t expected)
{
	size_t cap = 16;

	memset(t, 0, sizeof(*t));
	while (cap < expected * 2)
		cap *= 2;
	return alloc_arrays(t, cap);
}

void stacktab__free(struct stacktab *t)
{
	free(t->keys);
	free(t->vals);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

void stacktab__clear(struct stacktab *t)
{
	memset(t->used, 0, t->cap);
	t->n = 0;
}

static size_t slot_of(const struct stacktab *t, const struct stack_key *k)
{
	size_t i = hash(k) & (t->cap - 1);

	while (t->used[i] && (t->keys[i].tgid != k->tgid || t->keys[i].id != k->id ||
			      t->keys[i].lead_pc != k->lead_pc))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int grow(struct stacktab *t)
{
	struct stacktab old = *t;

	if (alloc_arrays(t, old.cap * 2)) {
		*t = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		size_t j;

		if (!old.used[i])
			continue;
		j = slot_of(t, &old.keys[i]);
		t->used[j] = 1;
		t->keys[j] = old.keys[i];
		t->vals[j] = old.vals[i];
		t->n++;
	}
	stacktab__free(&old);
	return 0;
}

int64_t *stacktab__upsert(struct stacktab *t, const struct stack_key *key,
			  int64_t init)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap && grow(t))
		return NULL;
	i = slot_of(t, key);
	if (!t->used[i]) {
		t->used[i] = 1;
		t->keys[i] = *key;
		t->vals[i] = init;
		t->n++;
	}
	return &t->vals[i];
}

int64_t *stacktab__find(const struct stacktab *t, const struct stack_key *key)
{
	size_t i;

	if (!t->cap)
		return NULL;
	i = slot_of(t, key);
	return t->used[i] ? &t->vals[i] : NULL;
}
