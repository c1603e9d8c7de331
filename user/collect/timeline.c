/* timeline.c - each stack's and process's outstanding bytes over time, at
 * several resolutions (see timeline.h).
 *
 * Cost: a sample is O(series) (a hash lookup and up to 6 ring writes per
 * series); ~820 bytes per series; a compaction (O(series)) every 64
 * samples drops those not seen for a minute.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/stacktab.h"
#include "collect/timeline.h"

#define TIER_FACTOR	4	/* each tier samples every 4th sample of the one below */
#define FORGET_AFTER	60	/* samples without the series: dropped (a minute at 1 s) */
#define COMPACT_EVERY	64

struct series {
	struct stack_key key;
	uint64_t last_seen;		/* sample number */
	struct history tier[TIMELINE_TIERS];
};

struct timeline {
	struct stacktab index;		/* key -> position in v */
	struct series *v;
	size_t n, cap;
	uint64_t sample;		/* the current sample's number (from 1) */
	double period_s;		/* seconds between samples */
	double t_s;			/* ... and time */
};

struct stack_key timeline__proc_key(pid_t pid)
{
	return (struct stack_key){ .tgid = pid, .pad = 1, .id = ~0ULL, .lead_pc = ~0ULL };
}

struct stack_key timeline__total_key(void)
{
	return (struct stack_key){ .tgid = 0, .pad = 2, .id = ~0ULL, .lead_pc = ~0ULL };
}

struct timeline *timeline__new(double period_s)
{
	struct timeline *tl = calloc(1, sizeof(*tl));

	if (tl && stacktab__init(&tl->index, 1024)) {
		free(tl);
		return NULL;
	}
	if (tl)
		tl->period_s = period_s > 0 ? period_s : 1;
	return tl;
}

void timeline__free(struct timeline *tl)
{
	if (!tl)
		return;
	stacktab__free(&tl->index);
	free(tl->v);
	free(tl);
}

void timeline__begin(struct timeline *tl, double t_s)
{
	tl->sample++;
	tl->t_s = t_s;
}

uint64_t timeline__samples(const struct timeline *tl)
{
	return tl->sample;
}

static struct series *series_of(struct timeline *tl, const struct stack_key *k)
{
	int64_t *idx = stacktab__upsert(&tl->index, k, -1);

	if (!idx)
		return NULL;
	if (*idx < 0) {
		if (tl->n == tl->cap) {
			size_t cap = tl->cap ? tl->cap * 2 : 256;
			struct series *v = realloc(tl->v, cap * sizeof(*v));

			if (!v)
				return NULL;	/* the key stays, at -1: retried next time */
			tl->v = v;
			tl->cap = cap;
		}
		memset(&tl->v[tl->n], 0, sizeof(tl->v[0]));
		tl->v[tl->n].key = *k;
		*idx = tl->n++;
	}
	return &tl->v[*idx];
}

int timeline__add(struct timeline *tl, const struct stack_key *k, double bytes)
{
	struct series *s = series_of(tl, k);
	uint64_t every = 1;

	if (!s)
		return -ENOMEM;
	s->last_seen = tl->sample;
	for (int i = 0; i < TIMELINE_TIERS; i++, every *= TIER_FACTOR)
		if ((tl->sample - 1) % every == 0)
			history__push(&s->tier[i], tl->t_s, bytes);
	return 0;
}

/* Drops the series not seen for FORGET_AFTER samples; the index is
 * rebuilt (the hash table has no delete). */
static void compact(struct timeline *tl)
{
	size_t kept = 0;

	stacktab__clear(&tl->index);
	for (size_t i = 0; i < tl->n; i++) {
		int64_t *idx;

		if (tl->v[i].last_seen + FORGET_AFTER < tl->sample)
			continue;
		tl->v[kept] = tl->v[i];
		idx = stacktab__upsert(&tl->index, &tl->v[kept].key, kept);
		if (idx)	/* ENOMEM: the series is lost, the rest stays right */
			kept++;
	}
	tl->n = kept;
}

void timeline__end(struct timeline *tl)
{
	if (tl->sample % COMPACT_EVERY == 0)
		compact(tl);
}

static const struct series *find(const struct timeline *tl, const struct stack_key *k)
{
	int64_t *idx = stacktab__find(&tl->index, k);

	return idx && *idx >= 0 ? &tl->v[*idx] : NULL;
}

struct verdict timeline__classify(const struct timeline *tl, const struct stack_key *k,
				  int interval_s, double newest_block_age_s,
				  double min_age_s)
{
	const struct series *s = find(tl, k);
	struct verdict none = { CLASS_UNKNOWN, 0 };
	int tier = 0, every = 1;

	if (!s)
		return none;
	for (int i = 1; i < TIMELINE_TIERS; i++) {
		every *= TIER_FACTOR;
		if (every * tl->period_s <= interval_s && s->tier[i].n >= RECENT_LEN)
			tier = i;
	}
	return classify__stack(&s->tier[tier], newest_block_age_s, min_age_s);
}

size_t timeline__series(const struct timeline *tl, const struct stack_key *k,
			struct series_point *out)
{
	const struct series *s = find(tl, k);
	int upto = TIMELINE_TIERS - 1;
	size_t n = 0;

	if (!s || !out)
		return s ? 1 : 0;
	/* up to the finest tier that still holds the series' first sample
	 * (its ring never wrapped) */
	for (int i = 0; i < TIMELINE_TIERS; i++)
		if (s->tier[i].n < HISTORY_LEN) {
			upto = i;
			break;
		}
	/* newest first: each tier's points, then the coarser tier's older
	 * than those (16 + 12 per tier: ~64 points over the whole run) */
	for (int i = 0; i <= upto; i++) {
		const struct history *h = &s->tier[i];

		for (int j = h->n - 1; j >= 0; j--) {
			int at = (h->next - h->n + j + HISTORY_LEN) % HISTORY_LEN;

			if (n && h->t_s[at] >= out[n - 1].t_s)
				continue;	/* a finer tier had it */
			out[n].t_s = h->t_s[at];
			out[n].bytes = h->bytes[at];
			n++;
		}
	}
	for (size_t i = 0; i < n / 2; i++) {	/* oldest first */
		struct series_point tmp = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* A process's total in the sample being taken. */
static int add_to_proc(struct stacktab *procs, pid_t pid, int64_t bytes)
{
	struct stack_key k = timeline__proc_key(pid);
	int64_t *sum = stacktab__upsert(procs, &k, 0);

	if (!sum)
		return -ENOMEM;
	*sum += bytes;
	return 0;
}

int timeline__sample(struct timeline *tl, const struct snapshot *snap, double t_s)
{
	struct stacktab procs;
	struct stack_key total = timeline__total_key();
	int64_t sum = 0;
	int err = 0;

	if (stacktab__init(&procs, 64))
		return -ENOMEM;
	timeline__begin(tl, t_s);
	for (size_t i = 0; i < snap->n && !err; i++) {
		const struct snap_stack *s = &snap->v[i];
		int64_t b = s->agg.outstanding_bytes;

		/* a stack that never held memory has no series: none made */
		if (b > 0 || find(tl, &s->key))
			err = timeline__add(tl, &s->key, b);
		if (!err)
			err = add_to_proc(&procs, s->key.tgid, b);
		sum += b;
	}
	for (size_t i = 0; i < procs.cap && !err; i++)
		if (procs.used[i])
			err = timeline__add(tl, &procs.keys[i], procs.vals[i]);
	if (!err)
		err = timeline__add(tl, &total, sum);
	timeline__end(tl);
	stacktab__free(&procs);
	return err;
}
