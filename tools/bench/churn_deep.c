/* churn_deep.c - the unwinder's workload for `make bench`: THREADS
 * threads each doing ITER allocation+free pairs, every allocation DEPTH
 * frames below the thread's start and made inside libc (strndup), the
 * way a distribution builds programs: -O2, no frame pointers (the
 * Makefile builds it with dpkg-buildflags).  A frame-pointer walk gets
 * such stacks wrong; leakscope's DWARF walk must follow all of them.
 * Prints on stderr: "RESULT ns_per_pair=<mean over threads>".
 *
 *   churn_deep ITER [THREADS [DEPTH]]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 64

static long iters;
static int depth = 16;
static char text[4096];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct ring {
	char *slot[RING];
	unsigned seed;
};

/* One pair at the bottom of the stack: strndup allocates inside libc. */
static __attribute__((noinline)) long leaf(struct ring *r, long i)
{
	unsigned sz;

	r->seed = r->seed * 1103515245u + 12345u;
	sz = 16 + (r->seed >> 8) % 1000;
	free(r->slot[i % RING]);
	r->slot[i % RING] = strndup(text, sz);
	return sz;
}

/* DEPTH frames of this above leaf(); the asm keeps each a real call
 * (no tail call, no loop made of the recursion). */
static __attribute__((noinline)) long level(struct ring *r, long i, int d)
{
	long v = d ? level(r, i, d - 1) : leaf(r, i);

	__asm__ volatile("" : "+r"(v));
	return v + d;
}

static void *worker(void *arg)
{
	struct ring *r = calloc(1, sizeof(*r));
	double t0, *ns = malloc(sizeof(*ns));
	long sum = 0;

	r->seed = (unsigned)(long)arg * 7919u + 1;
	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		sum += level(r, i, depth);
	*ns = (now_ns() - t0) / iters;
	for (int k = 0; k < RING; k++)
		free(r->slot[k]);
	free(r);
	return sum ? ns : ns;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	pthread_t t[64];
	double total = 0;

	iters = argc > 1 ? atol(argv[1]) : 200000;
	if (argc > 3)
		depth = atoi(argv[3]);
	if (threads < 1 || threads > 64 || iters < 1 || depth < 0 || depth > 100) {
		fprintf(stderr, "usage: churn_deep ITER [THREADS(1-64) [DEPTH(0-100)]]\n");
		return 2;
	}
	memset(text, 'x', sizeof(text) - 1);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++) {
		double *ns;

		pthread_join(t[i], (void **)&ns);
		total += *ns;
		free(ns);
	}
	fprintf(stderr, "RESULT ns_per_pair=%.0f\n", total / threads);
	return 0;
}
