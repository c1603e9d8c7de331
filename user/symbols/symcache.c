/* symcache.c - chained hash table of symbolized addresses, and a string
 * pool so that a file or function name is stored once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/symcache.h"

#define INTERN_SALT 0x9e3779b97f4a7c15ULL

struct interned {
	struct symcache_entry e;	/* reuses the chain; frames unused */
	char str[];
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	return x ^ (x >> 33);
}

uint64_t symcache__module_id(const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

int symcache__init(struct symcache *c)
{
	memset(c, 0, sizeof(*c));
	c->nbuckets = 4096;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	return c->buckets ? 0 : -ENOMEM;
}

void symcache__free(struct symcache *c)
{
	for (size_t i = 0; i < c->nbuckets && c->buckets; i++) {
		struct symcache_entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->frames);
			free(e);
		}
	}
	free(c->buckets);
	memset(c, 0, sizeof(*c));
}

static size_t bucket(const struct symcache *c, uint64_t id, uint64_t rel)
{
	return mix(id ^ mix(rel)) & (c->nbuckets - 1);
}

static void grow(struct symcache *c)
{
	size_t nb = c->nbuckets * 2;
	struct symcache_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return;		/* keep working with longer chains */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct symcache_entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			size_t j = mix(e->module_id ^ mix(e->rel)) & (nb - 1);

			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

const struct symcache_entry *symcache__get(struct symcache *c,
					   uint64_t id, uint64_t rel)
{
	struct symcache_entry *e = c->buckets[bucket(c, id, rel)];

	for (; e; e = e->next) {
		if (e->module_id == id && e->rel == rel && e->frames) {
			c->hits++;
			return e;
		}
	}
	c->misses++;
	return NULL;
}

static void link_entry(struct symcache *c, struct symcache_entry *e)
{
	size_t b;

	if (c->n + 1 > c->nbuckets)
		grow(c);
	b = bucket(c, e->module_id, e->rel);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->n++;
}

const struct symcache_entry *symcache__put(struct symcache *c, uint64_t id,
					   uint64_t rel,
					   const struct frame *frames, int n)
{
	struct symcache_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->frames = calloc(n > 0 ? n : 1, sizeof(*frames));
	if (!e->frames) {
		free(e);
		return NULL;
	}
	memcpy(e->frames, frames, n * sizeof(*frames));
	e->nframes = n;
	e->module_id = id;
	e->rel = rel;
	link_entry(c, e);
	return e;
}

const char *symcache__intern(struct symcache *c, const char *str)
{
	uint64_t id = symcache__module_id(str, strlen(str)) ^ INTERN_SALT;
	struct symcache_entry *e;
	struct interned *in;

	for (e = c->buckets[bucket(c, id, 0)]; e; e = e->next) {
		if (e->module_id == id && !e->frames && e->rel == 0 &&
		    !strcmp(((struct interned *)e)->str, str))
			return ((struct interned *)e)->str;
	}
	in = calloc(1, sizeof(*in) + strlen(str) + 1);
	if (!in)
		return NULL;
	strcpy(in->str, str);
	in->e.module_id = id;
	link_entry(c, &in->e);
	return in->str;
}
