/* classify.h - tells growing leaks from bounded caches, from a short
 * history of a stack's outstanding bytes. */
#ifndef LEAKSCOPE_CLASSIFY_H
#define LEAKSCOPE_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#define HISTORY_LEN	16	/* samples kept per stack (the trend needs RECENT_LEN) */
#define RECENT_LEN	10	/* the window the trend is judged on */
#define MIN_SAMPLES	5	/* fewer: not classified yet */

enum leak_class {
	CLASS_UNKNOWN = 0,	/* too little history */
	CLASS_GROWING,		/* outstanding bytes keep rising */
	CLASS_PLATEAU,		/* rose and levelled off: a bounded cache */
	CLASS_OLD,		/* flat, every block older than --min-age */
	CLASS_CHURN,		/* allocated and freed, near zero outstanding */
};

/* The last HISTORY_LEN samples of one series, a ring.  Floats: a
 * timeline keeps several per stack (timeline.c); seconds since the trace
 * began and bytes are exact enough in 24 bits for a trend. */
struct history {
	float t_s[HISTORY_LEN];		/* sample times, seconds */
	float bytes[HISTORY_LEN];
	uint8_t n;			/* samples held (<= HISTORY_LEN) */
	uint8_t next;			/* ring position of the next sample */
};

struct verdict {
	enum leak_class cls;
	double growth_bytes_per_s;	/* Theil-Sen slope over the recent window */
};

void history__push(struct history *h, double t_s, double bytes);

/* newest_block_age_s: age of the stack's youngest block (or a lower
 * bound), < 0 if unknown; min_age_s: --min-age (0: "old" is not used). */
struct verdict classify__stack(const struct history *h,
			       double newest_block_age_s, double min_age_s);

const char *classify__name(enum leak_class c);
/* The same, "unknown" for CLASS_UNKNOWN: a label value (pprof, metrics). */
const char *classify__label(enum leak_class c);

/* --- exposed for unit tests --- */

/* Mann-Kendall z-score of x[0..n): > 1.64 is a rising trend at 95%
 * one-sided confidence. */
double classify__mk_z(const double *x, int n);

/* Theil-Sen slope: the median of all pairwise slopes. */
double classify__theil_sen(const double *t, const double *x, int n);

#endif
