/* timeline.h - each stack's and each process's outstanding bytes over
 * time, sampled on leakscope's own clock (every second by default),
 * whatever the report interval: classes and growth rates are ready ten
 * seconds into a trace, and `record`/`serve` can chart the whole run.
 *
 * Each series is kept at several resolutions (tiers): the last 16 samples
 * 1 s apart, 16 samples 4 s apart, 16 s, 64 s, 256 s and 1024 s apart, so
 * a series covers ~4.5 hours in ~800 bytes.  A series whose stack has
 * not been seen for a minute is dropped.
 */
#ifndef LEAKSCOPE_TIMELINE_H
#define LEAKSCOPE_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "collect/classify.h"
#include "leakscope.h"
#include "report/report.h"
#include "trace/snapshot.h"

#define TIMELINE_TIERS	6	/* spacings 1, 4, 16, 64, 256, 1024 samples */
#define TIMELINE_SERIES_MAX (TIMELINE_TIERS * HISTORY_LEN)

struct timeline;

/* period_s: seconds between samples (--history-interval, 1 s default;
 * the tiers are 1, 4, 16 ... of them). */
struct timeline *timeline__new(double period_s);
void timeline__free(struct timeline *tl);

/* Starts the sample taken t_s seconds after the trace began. */
void timeline__begin(struct timeline *tl, double t_s);

/* One series' value in the current sample (a stack's key, or
 * timeline__proc_key() of a process, or timeline__total_key()).
 * 0 or -ENOMEM. */
int timeline__add(struct timeline *tl, const struct stack_key *k, double bytes);

/* Ends the sample: series not seen for a minute are dropped. */
void timeline__end(struct timeline *tl);

/* One sample from a snapshot: every stack that holds (or held) memory,
 * every process's sum, and the total.  0 or -ENOMEM. */
int timeline__sample(struct timeline *tl, const struct snapshot *snap, double t_s);

/* Samples taken so far. */
uint64_t timeline__samples(const struct timeline *tl);

/* The class and growth of a series, judged on the coarsest tier whose
 * spacing is at most interval_s seconds and that holds a full window
 * (the window then spans ~10 report intervals), else on the 1 s samples
 * (classes from 5 s into a trace).
 * newest_block_age_s / min_age_s: as classify__stack(). */
struct verdict timeline__classify(const struct timeline *tl, const struct stack_key *k,
				  int interval_s, double newest_block_age_s,
				  double min_age_s);

/* The series of k over the whole run, oldest first: into out (up to
 * TIMELINE_SERIES_MAX points); the number written.  out NULL: 1 if k has
 * a series, else 0. */
size_t timeline__series(const struct timeline *tl, const struct stack_key *k,
			struct series_point *out);

/* Keys that no stack has: a process's series, and the total's. */
struct stack_key timeline__proc_key(pid_t pid);
struct stack_key timeline__total_key(void);

#endif
