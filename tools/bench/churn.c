/* churn.c - malloc/free-heavy workload for `make bench`: THREADS threads,
 * each doing ITER malloc+free pairs of mixed sizes over a ring of 64 live
 * blocks (so frees hit blocks of various ages, like a server's).
 * Prints on stderr: "RESULT ns_per_pair=<mean over threads>".
 *
 *   churn ITER [THREADS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 64

static long iters;

static unsigned next_size(unsigned *seed)
{
	unsigned r;

	*seed = *seed * 1103515245u + 12345u;
	r = *seed >> 8;
	if (r % 100 < 75)
		return 16 + r % 240;		/* small objects */
	if (r % 100 < 95)
		return 256 + r % 3840;		/* buffers */
	return 4096 + r % 61440;		/* up to 64 KiB (below mmap threshold) */
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(long)arg * 7919u + 1;
	void *ring[RING] = { 0 };
	double t0 = now_ns(), *ns = malloc(sizeof(*ns));

	for (long i = 0; i < iters; i++) {
		int slot = i % RING;
		unsigned sz = next_size(&seed);

		free(ring[slot]);
		ring[slot] = malloc(sz);
		((volatile char *)ring[slot])[0] = (char)i;	/* touch it */
	}
	*ns = (now_ns() - t0) / iters;
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	return ns;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	pthread_t th[64];
	double sum = 0;

	iters = argc > 1 ? atol(argv[1]) : 1000000;
	if (threads < 1 || threads > 64 || iters < RING) {
		fprintf(stderr, "usage: churn ITER [THREADS]\n");
		return 2;
	}
	for (long t = 0; t < threads; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < threads; t++) {
		double *ns;

		pthread_join(th[t], (void **)&ns);
		sum += *ns;
		free(ns);
	}
	fprintf(stderr, "RESULT ns_per_pair=%.1f\n", sum / threads);
	return 0;
}
