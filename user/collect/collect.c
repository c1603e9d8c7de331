/* collect.c - builds a struct report from a snapshot (trace/snapshot.c)
 * and the timeline (timeline.c): filter, classify, group by process,
 * sort, top N, stack traces.  It reads no map: tests drive it with
 * synthetic snapshots.
 *
 * Bytes and counts per stack come from the aggregate the BPF programs
 * keep up to date (O(stacks)), with the time since which each stack has
 * held memory.  The outstanding blocks, when the snapshot has them, add
 * what the aggregate cannot know: the exact age of the oldest block,
 * per-block filters (--min-age, --min-size, --max-size), and with
 * --sample-bytes the weight 1/p of each sampled block; in those cases the
 * blocks' sums replace the aggregate's.  Reading the blocks is O(blocks),
 * so without filters they are asked for only up to --scan-limit.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect/collect.h"
#include "util/stacktab.h"
#include "collect/timeline.h"
#include "leakscope.h"
#include "trace/sampler.h"
#include "trace/snapshot.h"

/* What collection needs of a stack and the report does not show. */
struct scratch {
	double est_bytes;	/* the blocks' sums, weighted by 1/p when sampling */
	double est_allocs;
	uint64_t held_since_ns;	/* from BPF: held without a break since */
};

/* The stacks of the report being built; scratch[i] goes with v[i]. */
struct agg_work {
	struct report_stack *v;
	struct scratch *scratch;
	size_t n, cap;
};

struct collector {
	struct stack_source src;
	struct collect_filter f;
	bool filtered;
	bool scan_sums;		/* filtered or sampled: sums come from the scan */
	struct sample_tables tables;
	struct stacktab index;	/* stack -> position in work */
	struct stacktab prev;	/* stack -> bytes at the previous report */
	const struct timeline *tl;	/* this report's: classes, series */
	struct series_point *series;	/* the top stacks' and the total's */
	size_t capseries;
	struct agg_work work;
	pid_t pid;
	uint64_t now_ns;
	size_t scanned;
	int64_t agg_blocks;	/* outstanding blocks per the aggregate */
	struct report_proc *procs;	/* several processes: per-process totals */
	size_t capprocs;
	struct stacktab proc_index;	/* process key -> position in procs */
	struct stacktab proc_prev;	/* process key -> bytes at the previous report */
	struct py_trace *py;	/* Python frames of this report's top stacks */
	size_t cappy;
	int err;
};

struct collector *collector__new(const struct collect_filter *f, const struct stack_source *src)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->src = *src;
	c->f = *f;
	c->filtered = f->min_age_ns || f->min_size || f->max_size != UINT64_MAX;
	c->scan_sums = c->filtered || f->sample_period;
	sampling__init_tables(&c->tables);
	if (stacktab__init(&c->index, 1024) ||
	    stacktab__init(&c->prev, 1024) ||
	    stacktab__init(&c->proc_index, 256) || stacktab__init(&c->proc_prev, 256)) {
		collector__free(c);
		return NULL;
	}
	return c;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	stacktab__free(&c->index);
	stacktab__free(&c->prev);
	free(c->series);
	free(c->work.v);
	free(c->work.scratch);
	free(c->py);
	free(c->procs);
	stacktab__free(&c->proc_index);
	stacktab__free(&c->proc_prev);
	free(c);
}

bool collect__block_passes(const struct collect_filter *f, uint64_t size,
			   uint64_t ts_ns, uint64_t now_ns)
{
	if (size < f->min_size || size > f->max_size)
		return false;
	return !f->min_age_ns || (now_ns >= ts_ns && now_ns - ts_ns >= f->min_age_ns);
}

static int cmp_stack(const void *a, const void *b)
{
	const struct report_stack *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->allocs != y->allocs)
		return x->allocs < y->allocs ? 1 : -1;
	return x->key.id < y->key.id ? -1 : x->key.id > y->key.id;
}

void collect__sort(struct report_stack *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_stack);
}

static int grow_work(struct agg_work *w)
{
	size_t cap = w->cap ? w->cap * 2 : 256;
	void *nv = realloc(w->v, cap * sizeof(*w->v));

	if (!nv)
		return -ENOMEM;
	w->v = nv;
	nv = realloc(w->scratch, cap * sizeof(*w->scratch));
	if (!nv)
		return -ENOMEM;
	w->scratch = nv;
	w->cap = cap;
	return 0;
}

/* The work entry of a stack, created if new.  NULL on ENOMEM. */
static struct report_stack *work_entry(struct collector *c,
				       const struct stack_key *k)
{
	int64_t *idx = stacktab__upsert(&c->index, k, -1);
	struct report_stack *s;

	if (!idx)
		return NULL;
	if (*idx >= 0)
		return &c->work.v[*idx];
	if (c->work.n == c->work.cap && grow_work(&c->work))
		return NULL;	/* the report fails: c->err */
	*idx = c->work.n;
	memset(&c->work.scratch[c->work.n], 0, sizeof(c->work.scratch[0]));
	s = &c->work.v[c->work.n++];
	memset(s, 0, offsetof(struct report_stack, ips));
	s->nips = 0;
	s->py = NULL;
	s->comm = NULL;
	s->frames = NULL;
	s->nframes = 0;
	s->key = *k;
	return s;
}

static void on_agg(struct collector *c, const struct stack_key *k, const struct stack_agg *a)
{
	struct report_stack *s;
	bool held = a->outstanding_allocs || a->outstanding_bytes;

	if ((c->pid && (pid_t)k->tgid != c->pid) ||
	    (!held && !(c->f.with_freed && a->alloc_count)))
		return;
	s = work_entry(c, k);
	if (!s) {
		c->err = -ENOMEM;
		return;
	}
	c->agg_blocks += a->outstanding_allocs;
	c->work.scratch[s - c->work.v].held_since_ns = a->held_since_ns;
	s->last_alloc_ns = a->last_alloc_ns;
	s->alloc_bytes = c->f.sample_period ? (int64_t)(a->alloc_bytes >> 16) : (int64_t)a->alloc_bytes;
	s->alloc_count = c->f.sample_period ? (int64_t)(a->alloc_count >> 16) : (int64_t)a->alloc_count;
	if (!c->scan_sums) {
		s->bytes = a->outstanding_bytes;
		s->allocs = a->outstanding_allocs;
	}
}

/* One outstanding block (heap or mmap) seen by the scan. */
static void on_block(struct collector *c, const struct stack_key *k,
		     uint64_t size, uint64_t ts_ns)
{
	struct report_stack *s;

	c->scanned++;
	if (!collect__block_passes(&c->f, size, ts_ns, c->now_ns))
		return;
	if (c->scan_sums) {
		double w = sampling__weight(&c->tables, size, c->f.sample_period);

		s = work_entry(c, k);
		if (!s) {
			c->err = -ENOMEM;
			return;
		}
		c->work.scratch[s - c->work.v].est_bytes += w * size;
		c->work.scratch[s - c->work.v].est_allocs += w;
	} else {
		int64_t *idx = stacktab__find(&c->index, k);

		if (!idx)	/* allocated after the aggregate was read */
			return;
		s = &c->work.v[*idx];
	}
	if (!s->oldest_ts_ns || ts_ns < s->oldest_ts_ns)
		s->oldest_ts_ns = ts_ns;
}

/* Every stack's class and growth rate, from its timeline. */
static void classify_stacks(struct collector *c)
{
	for (size_t i = 0; i < c->work.n; i++) {
		struct report_stack *s = &c->work.v[i];
		double newest_age = s->last_alloc_ns && c->now_ns >= s->last_alloc_ns
				    ? (c->now_ns - s->last_alloc_ns) / 1e9 : -1;
		struct verdict v = timeline__classify(c->tl, &s->key, c->f.interval_s,
						      newest_age, c->f.min_age_s);

		/* no series: it held nothing at any sample (of the last minute),
		 * it allocates and frees between them */
		if (v.cls == CLASS_UNKNOWN && !s->bytes && s->alloc_count &&
		    timeline__samples(c->tl) >= MIN_SAMPLES &&
		    !timeline__series(c->tl, &s->key, NULL))
			v.cls = CLASS_CHURN;
		s->cls = v.cls;
		s->growth_bytes_per_s = v.growth_bytes_per_s;
	}
}

/* Growth since the previous report; then remember this one. */
static int update_growth(struct collector *c)
{
	for (size_t i = 0; i < c->work.n; i++) {
		struct report_stack *s = &c->work.v[i];
		int64_t *prev = stacktab__find(&c->prev, &s->key);

		s->growth_bytes = s->bytes - (prev ? *prev : 0);
	}
	stacktab__clear(&c->prev);
	for (size_t i = 0; i < c->work.n; i++) {
		int64_t *slot = stacktab__upsert(&c->prev, &c->work.v[i].key, 0);

		if (!slot)
			return -ENOMEM;
		*slot = c->work.v[i].bytes;
	}
	return 0;
}

/* The Python frames captured with a stack, into *pt (NULL: none). */
static const struct py_trace *read_py(struct collector *c, const struct report_stack *s,
				      struct py_trace *pt)
{
	if (!c->f.python || s->key.id == STACK_ID_LOST ||
	    c->src.py_stack(c->src.ctx, s->key.id, pt))
		return NULL;
	if (pt->nr > MAX_PY_DEPTH)
		pt->nr = MAX_PY_DEPTH;
	return pt;
}

/* The frames of a stack: lead_pc (if any) in front of the captured ones,
 * unless the kernel already recovered that same frame itself. */
static void read_trace(struct collector *c, struct report_stack *s)
{
	struct stack_trace st;
	uint32_t n = 0;

	s->nips = 0;
	if (s->key.lead_pc)
		s->ips[s->nips++] = s->key.lead_pc;
	s->cut = UW_STOP_END;
	s->fp_first = 0;
	if (s->key.id == STACK_ID_LOST || c->src.stack(c->src.ctx, s->key.id, &st))
		return;
	s->cut = st.stop < UW_STOP__COUNT ? st.stop : UW_STOP_END;
	/* frame-pointer frames, counted in the frames the report shows */
	if (st.fp_first)
		s->fp_first = st.fp_first + s->nips;	/* after lead_pc, if any */
	if (st.nr > MAX_STACK_DEPTH)
		st.nr = MAX_STACK_DEPTH;
	if (s->key.lead_pc && st.nr && st.ips[0] == s->key.lead_pc)
		n = 1;
	for (; n < st.nr && s->nips < MAX_STACK_DEPTH; n++)
		s->ips[s->nips++] = st.ips[n];
}

static struct report_proc *proc_of(struct collector *c, pid_t pid)
{
	struct stack_key k = timeline__proc_key(pid);
	int64_t *idx = stacktab__upsert(&c->proc_index, &k, -1);

	if (!idx)
		return NULL;
	if (*idx < 0) {
		size_t n = c->proc_index.n;	/* entries, this one included */

		if (n > c->capprocs) {
			size_t cap = c->capprocs ? c->capprocs * 2 : 64;
			struct report_proc *v = realloc(c->procs, cap * sizeof(*v));

			if (!v)
				return NULL;
			c->procs = v;
			c->capprocs = cap;
		}
		*idx = n - 1;
		memset(&c->procs[*idx], 0, sizeof(c->procs[0]));
		c->procs[*idx].pid = pid;
	}
	return &c->procs[*idx];
}

static int cmp_proc(const void *a, const void *b)
{
	const struct report_proc *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->pid - y->pid;
}

/* Several processes: each one's totals, growth and class (from its own
 * history, like a stack's), biggest first. */
static int group_processes(struct collector *c, struct report *r)
{
	stacktab__clear(&c->proc_index);
	for (size_t i = 0; i < c->work.n; i++) {
		struct report_proc *p = proc_of(c, c->work.v[i].key.tgid);

		if (!p)
			return -ENOMEM;
		p->bytes += c->work.v[i].bytes;
		p->allocs += c->work.v[i].allocs;
		p->nstacks++;
	}
	r->nprocs = c->proc_index.n;
	for (size_t i = 0; i < r->nprocs; i++) {
		struct report_proc *p = &c->procs[i];
		struct stack_key k = timeline__proc_key(p->pid);
		int64_t *prev = stacktab__find(&c->proc_prev, &k), *slot;
		struct verdict v = timeline__classify(c->tl, &k, c->f.interval_s, -1, 0);

		p->cls = v.cls;
		p->growth_bytes_per_s = v.growth_bytes_per_s;
		p->growth_bytes = p->bytes - (prev ? *prev : 0);
		slot = stacktab__upsert(&c->proc_prev, &k, 0);
		if (!slot)
			return -ENOMEM;
		*slot = p->bytes;
	}
	qsort(c->procs, r->nprocs, sizeof(*c->procs), cmp_proc);
	r->procs = c->procs;
	return 0;
}

/* The chart series of the top stacks and the total (record, serve). */
static int fill_series(struct collector *c, struct report *r)
{
	size_t need = (r->nstacks + 1) * TIMELINE_SERIES_MAX;
	struct stack_key total = timeline__total_key();
	struct series_point *p;

	if (need > c->capseries) {
		p = realloc(c->series, need * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->series = p;
		c->capseries = need;
	}
	p = c->series;
	r->total_series.p = p;
	r->total_series.n = timeline__series(c->tl, &total, p);
	p += r->total_series.n;
	for (size_t i = 0; i < r->nstacks; i++) {
		r->stacks[i].series.p = p;
		r->stacks[i].series.n = timeline__series(c->tl, &r->stacks[i].key, p);
		p += r->stacks[i].series.n;
	}
	return 0;
}

/* The aggregate's count of pid's outstanding blocks (0: every process). */
static int64_t agg_blocks(const struct snapshot *snap, pid_t pid)
{
	int64_t n = 0;

	for (size_t i = 0; i < snap->n; i++)
		if (!pid || (pid_t)snap->v[i].key.tgid == pid)
			n += snap->v[i].agg.outstanding_allocs;
	return n;
}

bool collector__wants_blocks(const struct collector *c, const struct snapshot *snap, pid_t pid)
{
	return c->scan_sums || agg_blocks(snap, pid) <= (int64_t)c->f.scan_limit;
}

/* The snapshot's blocks (those of process c->pid): ages, filters, sums. */
static void scan_blocks(struct collector *c, const struct snapshot *snap)
{
	for (size_t i = 0; i < snap->nblocks && !c->err; i++) {
		const struct snap_block *b = &snap->blocks[i];

		if (!c->pid || (pid_t)b->key.tgid == c->pid)
			on_block(c, &b->key, b->size, b->ts_ns);
	}
}

/* Drops the stacks left empty; the scan's sums replace the aggregate's
 * when they are the report's; the totals. */
static void keep_held(struct collector *c, struct report *r)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->work.n; i++) {
		struct report_stack *s = &c->work.v[i];
		const struct scratch *x = &c->work.scratch[i];

		if (c->scan_sums) {
			s->bytes = llround(x->est_bytes);
			s->allocs = llround(x->est_allocs);
		}
		if (!r->ages_exact)
			s->oldest_ts_ns = x->held_since_ns;
		if (s->bytes <= 0 && s->allocs <= 0 && !(c->f.with_freed && s->alloc_count))
			continue;
		r->totals.outstanding_bytes += s->bytes;
		r->totals.outstanding_allocs += s->allocs;
		c->work.scratch[kept] = *x;
		c->work.v[kept++] = *s;
	}
	c->work.n = kept;
}

int collector__collect(struct collector *c, const struct snapshot *snap,
		       const struct timeline *tl, pid_t pid, struct report *r)
{
	bool blocks_ok = snap->has_blocks && (!snap->blocks_pid || snap->blocks_pid == pid);
	int err = 0;

	c->pid = pid;
	c->tl = tl;
	c->err = 0;
	c->scanned = 0;
	c->agg_blocks = 0;
	c->work.n = 0;
	stacktab__clear(&c->index);
	r->totals = snap->totals;
	r->timestamp = snap->wall_s;
	c->now_ns = r->now_ns = snap->now_ns;
	r->filtered = c->filtered;
	r->sample_period = c->f.sample_period;
	if (c->scan_sums && !blocks_ok)
		return -EINVAL;
	for (size_t i = 0; i < snap->n; i++)
		on_agg(c, &snap->v[i].key, &snap->v[i].agg);
	r->ages_exact = blocks_ok &&
			(c->scan_sums || c->agg_blocks <= (int64_t)c->f.scan_limit);
	if (r->ages_exact)
		scan_blocks(c, snap);
	if (c->err)
		return c->err;
	keep_held(c, r);
	err = update_growth(c);
	classify_stacks(c);
	if (!err && !pid)
		err = group_processes(c, r);
	if (err)
		return err;
	r->multi = !pid;
	collect__sort(c->work.v, c->work.n);
	r->nstacks_total = c->work.n;
	r->blocks_scanned = c->scanned;
	r->nstacks = c->work.n < (size_t)c->f.top_n ? c->work.n : (size_t)c->f.top_n;
	r->stacks = c->work.v;
	if (c->f.python && r->nstacks > c->cappy) {
		struct py_trace *v = realloc(c->py, r->nstacks * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->py = v;
		c->cappy = r->nstacks;
	}
	for (size_t i = 0; i < r->nstacks; i++) {
		read_trace(c, &r->stacks[i]);
		r->stacks[i].py = c->f.python ? read_py(c, &r->stacks[i], &c->py[i]) : NULL;
	}
	return c->f.series ? fill_series(c, r) : 0;
}
