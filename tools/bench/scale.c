/* scale.c - 1,000,000 outstanding allocations across 10,000 distinct
 * call stacks, for `make bench`: leakscope's report time and memory at
 * scale.  Each stack is a path of 14 calls through two distinct call
 * sites per level (2^14 paths; 10,000 used), leaking 100 blocks.
 * Holds the memory for HOLD seconds (default 5), then exits.
 *
 *   scale [HOLD]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define DEPTH 14
#define STACKS 10000
#define PER_STACK 100

static void **blocks;
static long nblocks;

NOINLINE static void walk(int depth, unsigned path);

NOINLINE static void leak_here(void)
{
	for (int i = 0; i < PER_STACK; i++)
		blocks[nblocks++] = malloc(32);
}

NOINLINE static void left(int depth, unsigned path)
{
	walk(depth, path);
	asm volatile("" ::: "memory");	/* not a tail call: keep the frame */
}

NOINLINE static void right(int depth, unsigned path)
{
	walk(depth, path);
	asm volatile("" ::: "memory");
}

NOINLINE static void walk(int depth, unsigned path)
{
	if (depth == 0)
		leak_here();
	else if (path & 1)
		left(depth - 1, path >> 1);
	else
		right(depth - 1, path >> 1);
	asm volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	int hold = argc > 1 ? atoi(argv[1]) : 5;

	blocks = malloc(sizeof(*blocks) * STACKS * PER_STACK);
	for (unsigned p = 0; p < STACKS; p++)
		walk(DEPTH, p);
	fprintf(stderr, "RESULT blocks=%ld stacks=%d\n", nblocks, STACKS);
	sleep(hold);
	return 0;
}
