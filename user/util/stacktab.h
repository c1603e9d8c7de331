/* stacktab.h - an open-addressing hash table from stack_key to a slot
 * index, for O(1) per-block aggregation in user space. */
#ifndef LEAKSCOPE_STACKTAB_H
#define LEAKSCOPE_STACKTAB_H

#include <stddef.h>
#include <stdint.h>

#include "leakscope.h"

struct stacktab {
	struct stack_key *keys;
	int64_t *vals;		/* caller-defined value per key */
	uint8_t *used;
	size_t cap, n;		/* cap is a power of two */
};

int stacktab__init(struct stacktab *t, size_t expected);
void stacktab__free(struct stacktab *t);
void stacktab__clear(struct stacktab *t);

/* Returns the value slot of key, inserting it with *val = init if new
 * (grows as needed).  NULL only when out of memory. */
int64_t *stacktab__upsert(struct stacktab *t, const struct stack_key *key,
			  int64_t init);

/* The value slot of key, or NULL. */
int64_t *stacktab__find(const struct stacktab *t, const struct stack_key *key);

#endif
