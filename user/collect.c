/* collect.c - reads the BPF maps into a struct report.
 *
 * Bytes and counts per stack come from the aggregate the BPF programs
 * keep up to date (O(stacks)), with the time since which each stack has
 * held memory.  A batched scan of the outstanding blocks adds what the
 * aggregate cannot know: the exact age of the oldest block, per-block
 * filters (--min-age, --min-size, --max-size), and with --sample-bytes
 * the weight 1/p of each sampled block; in those cases the scan's sums
 * replace the aggregate's.  The scan is O(blocks) - ~0.5 s for a million
 * here, mostly the kernel walking the hash map - so without filters it
 * runs only up to --scan-limit blocks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect.h"
#include "leakscope.h"
#include "leakscope.skel.h"
#include "mapiter.h"
#include "sampler.h"
#include "stacktab.h"

/* The stacks of the report being built. */
struct agg_work {
	struct report_stack *v;
	size_t n, cap;
};

struct collector {
	struct leakscope_bpf *skel;
	struct collect_filter f;
	bool filtered;
	bool scan_sums;		/* filtered or sampled: sums come from the scan */
	struct sample_tables tables;
	int ncpus;
	struct stacktab index;	/* stack -> position in work */
	struct stacktab prev;	/* stack -> bytes at the previous report */
	struct stacktab hist_index;	/* stack -> position in hist */
	struct history *hist;	/* outstanding bytes of each stack over time */
	size_t nhist, caphist;
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
	uint64_t exited_procs, exited_blocks, exited_bytes;
	int err;
};

struct collector *collector__new(struct leakscope_bpf *skel,
				 const struct collect_filter *f)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->skel = skel;
	c->f = *f;
	c->filtered = f->min_age_ns || f->min_size || f->max_size != UINT64_MAX;
	c->scan_sums = c->filtered || f->sample_period;
	sampling__init_tables(&c->tables);
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0 || stacktab__init(&c->index, 1024) ||
	    stacktab__init(&c->prev, 1024) || stacktab__init(&c->hist_index, 1024) ||
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
	stacktab__free(&c->hist_index);
	free(c->hist);
	free(c->work.v);
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
	if (c->work.n == c->work.cap) {
		size_t cap = c->work.cap ? c->work.cap * 2 : 256;
		void *nv = realloc(c->work.v, cap * sizeof(*c->work.v));

		if (!nv)
			return NULL;
		c->work.v = nv;
		c->work.cap = cap;
	}
	*idx = c->work.n;
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

static void on_agg(const void *key, const void *val, void *ctx)
{
	const struct stack_key *k = key;
	const struct stack_agg *a = val;
	struct collector *c = ctx;
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
	s->held_since_ns = a->held_since_ns;
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
		s->est_bytes += w * size;
		s->est_allocs += w;
	} else {
		int64_t *idx = stacktab__find(&c->index, k);

		if (!idx)	/* allocated after the aggregate was read */
			return;
		s = &c->work.v[*idx];
	}
	if (!s->oldest_ts_ns || ts_ns < s->oldest_ts_ns)
		s->oldest_ts_ns = ts_ns;
}

static void on_alloc(const void *key, const void *val, void *ctx)
{
	const struct alloc_key *k = key;
	const struct alloc_rec *r = val;
	struct collector *c = ctx;

	if (!c->pid || (pid_t)k->tgid == c->pid)
		on_block(c, &r->stack, r->size_bytes, r->ts_ns);
}

static int scan_regions(struct collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.mmap_regions);
	struct mmap_region r;

	for (__u32 i = 0; i < MAX_MMAP_REGIONS; i++) {
		if (bpf_map_lookup_elem(fd, &i, &r))
			return -errno;
		if (r.tgid && (!c->pid || (pid_t)r.tgid == c->pid))
			on_block(c, &r.stack, r.len_bytes, r.ts_ns);
	}
	return 0;
}

static int read_counters(struct collector *c, struct report_totals *t)
{
	int fd = bpf_map__fd(c->skel->maps.counters);
	uint64_t sum[CNT__COUNT] = { 0 };
	uint64_t *percpu = calloc(c->ncpus, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (__u32 k = 0; k < CNT__COUNT; k++) {
		if (bpf_map_lookup_elem(fd, &k, percpu)) {
			free(percpu);
			return -errno;
		}
		for (int i = 0; i < c->ncpus; i++)
			sum[k] += percpu[i];
	}
	free(percpu);
	t->allocs = sum[CNT_ALLOCS];
	t->frees = sum[CNT_FREES];
	t->untracked_frees = sum[CNT_UNTRACKED_FREES];
	t->failed_allocs = sum[CNT_FAILED_ALLOCS];
	t->nested_calls = sum[CNT_NESTED_CALLS];
	for (int k = CNT_DROP_ALLOC_MAP_FULL; k < CNT_DROP__END; k++) {
		t->drops[k] = sum[k];
		t->dropped += sum[k];
	}
	for (int k = UW_STOP_NO_TABLE; k < UW_STOP__COUNT; k++) {
		t->cut[k] = sum[CNT_UNWIND_STOP_BASE + k];
		t->cut_total += t->cut[k];
	}
	t->fp_fallback = sum[CNT_UNWIND_FP_FALLBACK];
	return 0;
}

/* The history of a stack, created empty if new.  NULL on ENOMEM. */
static struct history *history_of(struct collector *c, const struct stack_key *k)
{
	int64_t *idx = stacktab__upsert(&c->hist_index, k, -1);

	if (!idx)
		return NULL;
	if (*idx < 0) {
		if (c->nhist == c->caphist) {
			size_t cap = c->caphist ? c->caphist * 2 : 256;
			struct history *nh = realloc(c->hist, cap * sizeof(*nh));

			if (!nh)
				return NULL;
			c->hist = nh;
			c->caphist = cap;
		}
		memset(&c->hist[c->nhist], 0, sizeof(c->hist[0]));
		*idx = c->nhist++;
	}
	return &c->hist[*idx];
}

/* Adds this report's bytes to every stack's history and classifies it. */
static int classify_stacks(struct collector *c)
{
	double now_s = c->now_ns / 1e9;

	for (size_t i = 0; i < c->work.n; i++) {
		struct report_stack *s = &c->work.v[i];
		struct history *h = history_of(c, &s->key);
		double newest_age = s->last_alloc_ns && c->now_ns >= s->last_alloc_ns
				    ? (c->now_ns - s->last_alloc_ns) / 1e9 : -1;
		struct verdict v;

		if (!h)
			return -ENOMEM;
		history__push(h, now_s, s->bytes);
		v = classify__stack(h, newest_age, c->f.min_age_s);
		s->cls = v.cls;
		s->growth_bytes_per_s = v.growth_bytes_per_s;
	}
	return 0;
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
	    bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.py_stacks), &s->key.id, pt))
		return NULL;
	if (pt->nr > MAX_PY_DEPTH)
		pt->nr = MAX_PY_DEPTH;
	return pt;
}

/* The frames of a stack: lead_pc (if any) in front of the captured ones,
 * unless the kernel already recovered that same frame itself. */
static void read_trace(struct collector *c, struct report_stack *s)
{
	int fd = bpf_map__fd(c->skel->maps.stacks);
	struct stack_trace st;
	uint32_t n = 0;

	s->nips = 0;
	if (s->key.lead_pc)
		s->ips[s->nips++] = s->key.lead_pc;
	s->cut = UW_STOP_END;
	s->fp_first = 0;
	if (s->key.id == STACK_ID_LOST || bpf_map_lookup_elem(fd, &s->key.id, &st))
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

static uint64_t ktime_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* = bpf_ktime_get_ns() */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A process's key in the history and growth tables: no stack has it. */
static struct stack_key proc_key(pid_t pid)
{
	return (struct stack_key){ .tgid = pid, .pad = 1, .id = ~0ULL, .lead_pc = ~0ULL };
}

static struct report_proc *proc_of(struct collector *c, pid_t pid)
{
	struct stack_key k = proc_key(pid);
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
	double now_s = c->now_ns / 1e9;

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
		struct stack_key k = proc_key(p->pid);
		struct history *h = history_of(c, &k);
		int64_t *prev = stacktab__find(&c->proc_prev, &k), *slot;
		struct verdict v;

		if (!h)
			return -ENOMEM;
		history__push(h, now_s, p->bytes);
		v = classify__stack(h, -1, 0);
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

int collector__collect(struct collector *c, pid_t pid, struct report *r)
{
	struct timespec wall;
	size_t kept = 0;
	int err;

	memset(&r->totals, 0, sizeof(r->totals));
	c->pid = pid;
	c->err = 0;
	c->scanned = 0;
	c->agg_blocks = 0;
	c->work.n = 0;
	stacktab__clear(&c->index);
	clock_gettime(CLOCK_REALTIME, &wall);
	r->timestamp = wall.tv_sec + wall.tv_nsec / 1e9;
	c->now_ns = r->now_ns = ktime_now_ns();
	r->filtered = c->filtered;
	r->sample_period = c->f.sample_period;

	err = read_counters(c, &r->totals);
	r->totals.kernel_mem_bytes = collector__kernel_memory(c);
	r->totals.exited_procs = c->exited_procs;
	r->totals.exited_blocks = c->exited_blocks;
	r->totals.exited_bytes = c->exited_bytes;
	if (!err)
		err = mapiter__each(bpf_map__fd(c->skel->maps.stack_aggs),
				    sizeof(struct stack_key), sizeof(struct stack_agg),
				    on_agg, c);
	r->ages_exact = c->scan_sums || c->agg_blocks <= (int64_t)c->f.scan_limit;
	if (!err && r->ages_exact)
		err = mapiter__each(bpf_map__fd(c->skel->maps.allocs),
				    sizeof(struct alloc_key), sizeof(struct alloc_rec),
				    on_alloc, c);
	if (!err && r->ages_exact)
		err = scan_regions(c);
	if (!err)
		err = c->err;
	if (err)
		return err;
	if (!r->ages_exact)
		for (size_t i = 0; i < c->work.n; i++)
			c->work.v[i].oldest_ts_ns = c->work.v[i].held_since_ns;

	for (size_t i = 0; i < c->work.n; i++) {	/* drop empty stacks */
		struct report_stack *s = &c->work.v[i];

		if (c->scan_sums) {
			s->bytes = llround(s->est_bytes);
			s->allocs = llround(s->est_allocs);
		}
		if (s->bytes <= 0 && s->allocs <= 0 && !(c->f.with_freed && s->alloc_count))
			continue;
		r->totals.outstanding_bytes += s->bytes;
		r->totals.outstanding_allocs += s->allocs;
		c->work.v[kept++] = *s;
	}
	c->work.n = kept;
	err = update_growth(c);
	if (!err)
		err = classify_stacks(c);
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
	return 0;
}

/* ---- processes that exited ---------------------------------------------- */

struct forget {
	const pid_t *pids;
	size_t n;
	void *keys;		/* keys to delete, collected while iterating */
	size_t nkeys, cap, ksz;
	uint64_t blocks, bytes;
	int err;
};

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

static bool forgotten(const struct forget *f, pid_t pid)
{
	return bsearch(&pid, f->pids, f->n, sizeof(pid), cmp_pid) != NULL;
}

static void remember_key(struct forget *f, const void *key)
{
	if (f->nkeys == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		void *v = realloc(f->keys, cap * f->ksz);

		if (!v) {
			f->err = -ENOMEM;
			return;
		}
		f->keys = v;
		f->cap = cap;
	}
	memcpy((char *)f->keys + f->nkeys++ * f->ksz, key, f->ksz);
}

static void on_forget_alloc(const void *key, const void *val, void *ctx)
{
	const struct alloc_key *k = key;
	const struct alloc_rec *r = val;
	struct forget *f = ctx;

	if (!forgotten(f, k->tgid))
		return;
	f->blocks++;
	f->bytes += r->size_bytes;
	remember_key(f, key);
}

static void on_forget_agg(const void *key, const void *val, void *ctx)
{
	if (forgotten(ctx, ((const struct stack_key *)key)->tgid))
		remember_key(ctx, key);
}

static int delete_keys(int fd, struct forget *f)
{
	for (size_t i = 0; i < f->nkeys; i++)
		bpf_map_delete_elem(fd, (char *)f->keys + i * f->ksz);	/* gone already: fine */
	f->nkeys = 0;
	return f->err;
}

/* The kernel memory a map holds, as the kernel counts it (fdinfo's
 * memlock: since 6.4 what a map really uses, allocated entries for maps
 * that grow; the full size before). */
static uint64_t map_memory(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

uint64_t collector__kernel_memory(struct collector *c)
{
	struct bpf_map *m;
	uint64_t sum = 0;

	bpf_object__for_each_map(m, c->skel->obj)
		if (bpf_map__fd(m) >= 0)
			sum += map_memory(bpf_map__fd(m));
	return sum;
}

int collector__forget(struct collector *c, pid_t *pids, size_t n)
{
	struct forget f = { .pids = pids };
	int fd, err;

	if (!n)
		return 0;
	qsort(pids, n, sizeof(*pids), cmp_pid);		/* searched, each once */
	for (size_t i = 0; i < n; i++)
		if (!f.n || pids[f.n - 1] != pids[i])
			pids[f.n++] = pids[i];
	n = f.n;
	f.ksz = sizeof(struct alloc_key);
	fd = bpf_map__fd(c->skel->maps.allocs);
	err = mapiter__each(fd, f.ksz, sizeof(struct alloc_rec), on_forget_alloc, &f);
	if (!err)
		err = delete_keys(fd, &f);
	for (__u32 i = 0; !err && i < MAX_MMAP_REGIONS; i++) {
		struct mmap_region r;

		fd = bpf_map__fd(c->skel->maps.mmap_regions);
		if (bpf_map_lookup_elem(fd, &i, &r) || !r.tgid || !forgotten(&f, r.tgid))
			continue;
		f.blocks++;
		f.bytes += r.len_bytes;
		memset(&r, 0, sizeof(r));
		bpf_map_update_elem(fd, &i, &r, BPF_ANY);
	}
	free(f.keys);		/* sized for alloc keys: stack keys are others */
	f.keys = NULL;
	f.cap = 0;
	f.ksz = sizeof(struct stack_key);
	fd = bpf_map__fd(c->skel->maps.stack_aggs);
	if (!err)
		err = mapiter__each(fd, f.ksz, sizeof(struct stack_agg), on_forget_agg, &f);
	if (!err)
		err = delete_keys(fd, &f);
	free(f.keys);
	c->exited_procs += n;
	c->exited_blocks += f.blocks;
	c->exited_bytes += f.bytes;
	return err;
}
