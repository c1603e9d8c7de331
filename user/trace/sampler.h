/* sampler.h - tables and weights for --sample-bytes. */
#ifndef LEAKSCOPE_SAMPLER_H
#define LEAKSCOPE_SAMPLER_H

#include <linux/types.h>
#include <stdint.h>

#include "leakscope.h"

/* Fills the exp() tables (the BPF program gets a copy before load). */
void sampling__init_tables(struct sample_tables *t);

/* 1/p for a sampled block of `size` bytes (1 when sampling is off). */
double sampling__weight(const struct sample_tables *t, uint64_t size,
			uint64_t period);

#endif
