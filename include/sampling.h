/* sampling.h - byte sampling probability, shared by BPF and user space.
 *
 * An allocation of s bytes is sampled with probability p = 1 - exp(-s/N)
 * (N = --sample-bytes): each byte is a sample point with probability 1/N,
 * as in tcmalloc and jemalloc.  BPF has no floating point, so p is
 * computed in fixed point from three tables of exp(); user space weighs
 * each sampled block by 1/p computed by this very function, so the
 * estimates are unbiased for the decision BPF actually made.
 */
#ifndef LEAKSCOPE_SAMPLING_H
#define LEAKSCOPE_SAMPLING_H

#define SAMPLE_ONE	(1ULL << 32)	/* probability 1, in Q32 */
#define SAMPLE_X_MAX	44		/* exp(-44) < 2^-63: p is 1 */

/* exp(-x) in Q31 for x = i, i/256 and i/65536 (whole[] is 64 long so
 * that a masked index is provably in bounds for the BPF verifier). */
struct sample_tables {
	__u64 whole[64];
	__u64 frac_hi[256];
	__u64 frac_lo[256];
};

/* p(size) in Q32: the block is sampled iff a uniform u32 is below it. */
static inline __u64 sample_threshold(const struct sample_tables *t,
				     __u64 size, __u64 period)
{
	__u64 x, e;

	if (!period || size >= SAMPLE_X_MAX * period)
		return SAMPLE_ONE;
	x = (size << 16) / period;	/* size/period in Q16; size < 2^46 */
	e = (t->whole[(x >> 16) & 63] * t->frac_hi[(x >> 8) & 0xff]) >> 31;
	e = (e * t->frac_lo[x & 0xff]) >> 31;		/* exp(-x) in Q31 */
	return SAMPLE_ONE - (e << 1);
}

#endif
