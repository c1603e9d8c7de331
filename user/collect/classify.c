/* classify.c - leak classification of a stack's outstanding-bytes history.
 *
 * "Growing" needs a statistically significant rising trend over the
 * recent window (Mann-Kendall test, robust to noise and outliers) and a
 * material rise (Theil-Sen slope x window >= max(1 KiB, 1%)): one rise is
 * not a trend, and a noisy but steady climb still is.  A stack that is not
 * growing is "churn" if it holds next to nothing, "old" if its newest
 * block is older than --min-age, else "plateau": it is holding steady,
 * like a bounded cache (whether or not we saw it rise).
 * Cost: O(RECENT_LEN^2) per stack and report, ~100 operations.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collect/classify.h"

#define CHURN_BYTES	4096.0	/* "near zero" outstanding */
#define MIN_RISE_BYTES	1024.0
#define MIN_RISE_FRAC	0.01
#define MK_Z_RISING	1.64

const char *classify__name(enum leak_class c)
{
	switch (c) {
	case CLASS_GROWING: return "growing";
	case CLASS_PLATEAU: return "plateau";
	case CLASS_OLD: return "old";
	case CLASS_CHURN: return "churn";
	default: return "-";
	}
}

const char *classify__label(enum leak_class c)
{
	return c == CLASS_UNKNOWN ? "unknown" : classify__name(c);
}

void history__push(struct history *h, double t_s, double bytes)
{
	h->t_s[h->next] = t_s;
	h->bytes[h->next] = bytes;
	h->next = (h->next + 1) % HISTORY_LEN;
	if (h->n < HISTORY_LEN)
		h->n++;
}

/* The last k samples, oldest first. */
static int recent(const struct history *h, int k, double *t, double *x)
{
	int n = h->n < k ? h->n : k;

	for (int i = 0; i < n; i++) {
		int j = (h->next - n + i + HISTORY_LEN) % HISTORY_LEN;

		t[i] = h->t_s[j];
		x[i] = h->bytes[j];
	}
	return n;
}

static int sign(double d)
{
	return (d > 0) - (d < 0);
}

double classify__mk_z(const double *x, int n)
{
	double s = 0, var;

	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			s += sign(x[j] - x[i]);
	var = n * (n - 1) * (2.0 * n + 5) / 18.0;
	if (var <= 0 || s == 0)
		return 0;
	return (s > 0 ? s - 1 : s + 1) / sqrt(var);	/* continuity corrected */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double classify__theil_sen(const double *t, const double *x, int n)
{
	double slopes[HISTORY_LEN * (HISTORY_LEN - 1) / 2];
	int m = 0;

	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (t[j] > t[i])
				slopes[m++] = (x[j] - x[i]) / (t[j] - t[i]);
	if (!m)
		return 0;
	qsort(slopes, m, sizeof(slopes[0]), cmp_double);
	return m % 2 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
}

struct verdict classify__stack(const struct history *h,
			       double newest_block_age_s, double min_age_s)
{
	double t[RECENT_LEN], x[RECENT_LEN], rise, last;
	struct verdict v = { CLASS_UNKNOWN, 0 };
	int n = recent(h, RECENT_LEN, t, x);

	if (n < 2)
		return v;
	v.growth_bytes_per_s = classify__theil_sen(t, x, n);
	if (n < MIN_SAMPLES)
		return v;
	last = x[n - 1];
	rise = v.growth_bytes_per_s * (t[n - 1] - t[0]);
	if (classify__mk_z(x, n) > MK_Z_RISING && v.growth_bytes_per_s > 0 &&
	    rise >= fmax(MIN_RISE_BYTES, MIN_RISE_FRAC * last))
		v.cls = CLASS_GROWING;
	else if (last <= CHURN_BYTES)
		v.cls = CLASS_CHURN;
	else if (min_age_s > 0 && newest_block_age_s >= min_age_s)
		v.cls = CLASS_OLD;
	else
		v.cls = CLASS_PLATEAU;
	return v;
}
