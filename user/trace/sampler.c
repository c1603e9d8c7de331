/* sampler.c - the exp() tables behind byte sampling, and the weights
 * that turn sampled blocks back into unbiased estimates. */
#include <math.h>

#include "trace/sampler.h"

static __u64 q31_exp_neg(double x)
{
	return (__u64)llround(exp(-x) * 2147483648.0);	/* 2^31 */
}

void sampling__init_tables(struct sample_tables *t)
{
	for (int i = 0; i < 64; i++)
		t->whole[i] = q31_exp_neg(i);
	for (int i = 0; i < 256; i++) {
		t->frac_hi[i] = q31_exp_neg(i / 256.0);
		t->frac_lo[i] = q31_exp_neg(i / 65536.0);
	}
}

double sampling__weight(const struct sample_tables *t, uint64_t size,
			uint64_t period)
{
	__u64 p = sample_threshold(t, size, period);

	return p ? (double)SAMPLE_ONE / (double)p : 0;
}
