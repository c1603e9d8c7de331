/* report_pprof.c - writes a report as pprof's profile.proto.
 *
 * The message structs and their wire encoding come from protobuf-c (the
 * code protoc-c generates from proto/profile.proto); this file only maps
 * a report onto them: one Sample per stack, one Location per distinct
 * return address (inlined functions are extra Lines of it, innermost
 * first, as pprof wants), one Function per (name, file), one Mapping per
 * module with its build-id, every string once in string_table (index 0
 * is "").  Ids are dense, 1..N, in order of first use.  Labels of a
 * sample: pid, comm, hostname, class, service (when known) and site, the
 * frame where the program allocated as "function file:line".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "report/report_pprof.h"
#include "report/site.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Label Label;

/* ---- two small hash maps: string -> index, u64 -> id -------------------- */

struct strmap {
	char **v;		/* the string table, in order */
	size_t n, capv;
	size_t *slots;		/* index + 1; 0 = empty */
	size_t cap;		/* power of two */
};

struct u64map {
	uint64_t *keys;
	uint64_t *vals;		/* ids from 1; 0 = empty */
	size_t n, cap;
};

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	size_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = hash_bytes(m->v[i]) & (cap - 1);

		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

/* The string table index of s (added if new); -1 on ENOMEM. */
static int64_t strmap_index(struct strmap *m, const char *s)
{
	size_t j;

	if (!s)
		s = "";
	if (2 * (m->n + 1) > m->cap && strmap_grow(m))
		return -1;
	for (j = hash_bytes(s) & (m->cap - 1); m->slots[j]; j = (j + 1) & (m->cap - 1))
		if (!strcmp(m->v[m->slots[j] - 1], s))
			return m->slots[j] - 1;
	if (m->n == m->capv) {
		size_t cap = m->capv ? m->capv * 2 : 1024;
		char **v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -1;
		m->v = v;
		m->capv = cap;
	}
	m->v[m->n] = strdup(s);
	if (!m->v[m->n])
		return -1;
	m->slots[j] = ++m->n;
	return m->n - 1;
}

static int u64map_grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 1024;
	uint64_t *keys = calloc(cap, sizeof(*keys)), *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->vals[i])
			continue;
		for (j = hash_u64(m->keys[i]) & (cap - 1); vals[j]; j = (j + 1) & (cap - 1))
			;
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/* The slot of key: *slot is its id, or 0 if new (the caller sets it).
 * NULL on ENOMEM. */
static uint64_t *u64map_slot(struct u64map *m, uint64_t key)
{
	size_t j;

	if (2 * (m->n + 1) > m->cap && u64map_grow(m))
		return NULL;
	for (j = hash_u64(key) & (m->cap - 1); m->vals[j]; j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == key)
			return &m->vals[j];
	m->keys[j] = key;
	m->n++;
	return &m->vals[j];
}

/* ---- the profile under construction ------------------------------------- */

struct vec {
	void *v;
	size_t n, cap, size;
};

static void *vec_push(struct vec *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		void *v = realloc(a->v, cap * a->size);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return memset((char *)a->v + a->n++ * a->size, 0, a->size);
}

struct builder {
	const struct report *r;
	struct strmap strs;
	struct u64map fn_ids, loc_ids, map_ids;
	struct vec fns, locs, maps, samples;	/* of the message structs */
	struct vec loc_lines;			/* Line * arrays, one per location */
	struct vec sample_labels;		/* Label * arrays, one per sample */
	pid_t pid;				/* the process of the sample being added */
	uint64_t salt;				/* several processes: keys per process */
	int err;
};

static int64_t str(struct builder *b, const char *s)
{
	int64_t i = strmap_index(&b->strs, s);

	if (i < 0)
		b->err = -ENOMEM;
	return i < 0 ? 0 : i;
}

static uint64_t function_id(struct builder *b, const char *name, const char *file)
{
	int64_t n = str(b, name), f = str(b, file);
	uint64_t *slot = u64map_slot(&b->fn_ids, (uint64_t)n << 32 | (uint32_t)f);
	Function *fn;

	if (!slot || b->err) {
		b->err = -ENOMEM;
		return 0;
	}
	if (*slot)
		return *slot;
	fn = vec_push(&b->fns);
	if (!fn) {
		b->err = -ENOMEM;
		return 0;
	}
	perftools__profiles__function__init(fn);
	fn->id = *slot = b->fns.n;
	fn->name = fn->system_name = n;
	fn->filename = f;
	return fn->id;
}

static uint64_t mapping_id(struct builder *b, uint64_t addr, bool symbolized)
{
	const struct report_mapping *mi = report__mapping(b->r, b->pid, addr);
	uint64_t *slot;
	Mapping *m;

	if (!mi)
		return 0;
	slot = u64map_slot(&b->map_ids, mi->start ^ b->salt);
	if (!slot) {
		b->err = -ENOMEM;
		return 0;
	}
	if (*slot) {
		m = &((Mapping *)b->maps.v)[*slot - 1];
		m->has_functions |= symbolized;
		return *slot;
	}
	m = vec_push(&b->maps);
	if (!m) {
		b->err = -ENOMEM;
		return 0;
	}
	perftools__profiles__mapping__init(m);
	m->id = *slot = b->maps.n;
	m->memory_start = mi->start;
	m->memory_limit = mi->end;
	m->file_offset = 0;	/* the module's start is its offset-0 mapping */
	m->filename = str(b, mi->path);
	m->build_id = str(b, mi->build_id);
	m->has_functions = symbolized;
	m->has_filenames = m->has_line_numbers = m->has_inline_frames = symbolized;
	return m->id;
}

/* The location of frames[0..n) (key: its address): one address, the
 * last frame the real function, those before it inlined into it. */
static uint64_t location_id(struct builder *b, uint64_t key,
			    const struct frame *fr, int n)
{
	uint64_t *slot = u64map_slot(&b->loc_ids, key);
	Location *loc;
	Line **lines, *line;
	int nlines = fr[0].function ? n : 0;

	if (!slot) {
		b->err = -ENOMEM;
		return 0;
	}
	if (*slot)
		return *slot;
	loc = vec_push(&b->locs);
	lines = nlines ? calloc(nlines, sizeof(*lines) + sizeof(Line)) : NULL;
	if (!loc || (nlines && !lines) || !vec_push(&b->loc_lines)) {
		free(lines);
		b->err = -ENOMEM;
		return 0;
	}
	((Line ***)b->loc_lines.v)[b->loc_lines.n - 1] = lines;
	perftools__profiles__location__init(loc);
	loc->id = *slot = b->locs.n;
	loc->address = fr->python ? 0 : fr->addr;	/* Python: no machine address */
	loc->mapping_id = fr->python ? 0 : mapping_id(b, fr->addr, nlines > 0);
	line = (Line *)(lines + nlines);
	for (int i = 0; i < nlines; i++, line++) {
		perftools__profiles__line__init(line);
		line->function_id = function_id(b, fr[i].function, fr[i].file);
		line->line = fr[i].line;
		lines[i] = line;
	}
	loc->n_line = nlines;
	loc->line = lines;
	return loc->id;
}

/* Native frames: the return address.  Python frames: the code object and
 * the line, hashed apart from native addresses (top bit set). */
static uint64_t location_key(const struct builder *b, const struct frame *fr)
{
	if (!fr->python)
		return fr->addr ^ b->salt;
	return (hash_u64(fr->addr ^ (uint64_t)(uint32_t)fr->line << 47) >> 1) | 1ULL << 63;
}

/* A location for a stack with no frames, at address 0 (keyed apart from
 * real addresses, which are never this high): pprof shows the name. */
static uint64_t placeholder_id(struct builder *b, bool lost)
{
	struct frame fr = { .addr = 0, .function = lost ? "[stack lost]" : "[unknown]" };

	return location_id(b, UINT64_MAX - lost, &fr, 1);
}

enum { V_ALLOC_OBJECTS, V_ALLOC_SPACE, V_INUSE_OBJECTS, V_INUSE_SPACE, NVALUES };

/* Labels shared by samples: the process (one process), the host, the
 * classes. */
struct labels {
	Label pid, comm, host, service, cls[CLASS_CHURN + 1];
	bool has_service;	/* one process in a unit, container or pod */
};

static void init_labels(struct builder *b, struct labels *l, const struct report *r,
			const struct pprof_meta *m)
{
	char svc[200];

	perftools__profiles__label__init(&l->pid);
	l->pid.key = str(b, "pid");
	l->pid.num = r->pid;
	perftools__profiles__label__init(&l->comm);
	l->comm.key = str(b, "comm");
	l->comm.str = str(b, r->comm);
	perftools__profiles__label__init(&l->host);
	l->host.key = str(b, "hostname");
	l->host.str = str(b, m->hostname);
	perftools__profiles__label__init(&l->service);
	l->service.key = str(b, "service");
	report__service(&r->labels, svc, sizeof(svc));
	l->service.str = str(b, svc);
	l->has_service = svc[0] && !r->multi;
	for (int c = 0; c <= CLASS_CHURN; c++) {
		perftools__profiles__label__init(&l->cls[c]);
		l->cls[c].key = str(b, "class");
		l->cls[c].str = str(b, classify__label(c));
	}
}

/* The service of process pid in r ("" if none or unknown). */
static void service_of(const struct report *r, pid_t pid, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid) {
			report__service(&r->procs[i].labels, buf, len);
			return;
		}
}

/* The string index of a site frame's name: "function file:line" (or
 * "function file" without a line, "function [module]" without a file). */
static int64_t site_str(struct builder *b, const struct frame *f)
{
	const char *fn = f->function ? f->function : "??";
	const char *mod = f->module ? strrchr(f->module, '/') : NULL;
	char *name = NULL;
	int64_t i;
	int n;

	mod = mod ? mod + 1 : f->module;
	if (f->file && f->line)
		n = asprintf(&name, "%s %s:%d", fn, f->file, f->line);
	else if (f->file)
		n = asprintf(&name, "%s %s", fn, f->file);
	else if (mod)
		n = asprintf(&name, "%s [%s]", fn, mod);
	else
		n = asprintf(&name, "%s", fn);
	if (n < 0) {
		b->err = -ENOMEM;
		return 0;
	}
	i = str(b, name);
	free(name);
	return i;
}

#define MAX_LABELS	6	/* pid, comm, hostname, class, service, site */

/* A sample's labels: pid, comm, hostname, class, then service when its
 * process is in a unit, container or pod, and site (where the program
 * allocated: report/site.h) when the stack has one.  Several processes:
 * pid, comm and service are the sample's own.  *n: how many. */
static Label **sample_labels(struct builder *b, const struct report_stack *s,
			     struct labels *l, bool multi, size_t *n)
{
	Label **set = calloc(1, MAX_LABELS * sizeof(Label *) + 4 * sizeof(Label));
	Label *lab = (Label *)(set + MAX_LABELS);
	const struct frame *site = site__frame(s);
	char svc[200];

	if (!set || !vec_push(&b->sample_labels)) {
		free(set);
		b->err = -ENOMEM;
		return NULL;
	}
	((Label ***)b->sample_labels.v)[b->sample_labels.n - 1] = set;
	for (int i = 0; i < 4; i++)
		perftools__profiles__label__init(&lab[i]);
	*n = 0;
	if (multi) {
		lab[0].key = str(b, "pid");
		lab[0].num = s->key.tgid;
		lab[1].key = str(b, "comm");
		lab[1].str = str(b, s->comm ? s->comm : "?");
		set[(*n)++] = &lab[0];
		set[(*n)++] = &lab[1];
	} else {
		set[(*n)++] = &l->pid;
		set[(*n)++] = &l->comm;
	}
	set[(*n)++] = &l->host;
	set[(*n)++] = &l->cls[s->cls <= CLASS_CHURN ? s->cls : 0];
	if (multi) {
		service_of(b->r, s->key.tgid, svc, sizeof(svc));
		if (svc[0]) {
			lab[2].key = str(b, "service");
			lab[2].str = str(b, svc);
			set[(*n)++] = &lab[2];
		}
	} else if (l->has_service) {
		set[(*n)++] = &l->service;
	}
	if (site) {
		lab[3].key = str(b, "site");
		lab[3].str = site_str(b, site);
		set[(*n)++] = &lab[3];
	}
	return set;
}

static void add_sample(struct builder *b, const struct report_stack *s,
		       struct labels *l, bool multi)
{
	Sample *smp = vec_push(&b->samples);
	uint64_t *ids = calloc(s->nframes ? s->nframes : 1, sizeof(*ids));
	int64_t *vals = calloc(NVALUES, sizeof(*vals));
	size_t n = 0, nl = 0;

	if (!smp || !ids || !vals) {
		free(ids);
		free(vals);
		if (smp)
			b->samples.n--;
		b->err = -ENOMEM;
		return;
	}
	perftools__profiles__sample__init(smp);
	b->pid = s->key.tgid;
	b->salt = multi ? hash_u64(s->key.tgid + 1) & ~(1ULL << 63) : 0;
	for (int i = 0; i < s->nframes;) {
		int j = i;

		while (j + 1 < s->nframes && s->frames[j].inlined &&
		       s->frames[j + 1].addr == s->frames[i].addr)
			j++;
		ids[n++] = location_id(b, location_key(b, &s->frames[i]), &s->frames[i], j - i + 1);
		i = j + 1;
	}
	if (!n)
		ids[n++] = placeholder_id(b, s->key.id == STACK_ID_LOST);
	vals[V_ALLOC_OBJECTS] = s->alloc_count;
	vals[V_ALLOC_SPACE] = s->alloc_bytes;
	vals[V_INUSE_OBJECTS] = s->allocs;
	vals[V_INUSE_SPACE] = s->bytes;
	smp->location_id = ids;
	smp->n_location_id = n;
	smp->value = vals;
	smp->n_value = NVALUES;
	smp->label = sample_labels(b, s, l, multi, &nl);
	smp->n_label = smp->label ? nl : 0;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->samples.n; i++) {
		free(((Sample *)b->samples.v)[i].location_id);
		free(((Sample *)b->samples.v)[i].value);
	}
	for (size_t i = 0; i < b->loc_lines.n; i++)
		free(((Line ***)b->loc_lines.v)[i]);
	for (size_t i = 0; i < b->sample_labels.n; i++)
		free(((Label ***)b->sample_labels.v)[i]);
	free(b->sample_labels.v);
	for (size_t i = 0; i < b->strs.n; i++)
		free(b->strs.v[i]);
	free(b->strs.v);
	free(b->strs.slots);
	free(b->fn_ids.keys);
	free(b->fn_ids.vals);
	free(b->loc_ids.keys);
	free(b->loc_ids.vals);
	free(b->map_ids.keys);
	free(b->map_ids.vals);
	free(b->fns.v);
	free(b->locs.v);
	free(b->maps.v);
	free(b->samples.v);
	free(b->loc_lines.v);
}

/* An array of pointers to each element of a vec of structs. */
static void **pointers(struct vec *a)
{
	void **p = calloc(a->n ? a->n : 1, sizeof(*p));

	for (size_t i = 0; p && i < a->n; i++)
		p[i] = (char *)a->v + i * a->size;
	return p;
}

static int pack(struct builder *b, const struct pprof_meta *m, Profile *p,
		uint8_t **out, size_t *len)
{
	static const char *const types[NVALUES][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	ValueType vt[NVALUES], *vtp[NVALUES], period_type;
	uint8_t *raw;
	size_t n;
	int err = -ENOMEM;

	for (int i = 0; i < NVALUES; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = str(b, types[i][0]);
		vt[i].unit = str(b, types[i][1]);
		vtp[i] = &vt[i];
	}
	perftools__profiles__value_type__init(&period_type);
	period_type.type = str(b, "space");
	period_type.unit = str(b, "bytes");
	p->sample_type = vtp;
	p->n_sample_type = NVALUES;
	p->period_type = &period_type;
	p->default_sample_type = vt[V_INUSE_SPACE].type;
	p->time_nanos = m->time_ns;
	p->duration_nanos = m->duration_ns;
	if (b->err)
		return b->err;
	p->string_table = b->strs.v;
	p->n_string_table = b->strs.n;
	p->sample = (Sample **)pointers(&b->samples);
	p->location = (Location **)pointers(&b->locs);
	p->function = (Function **)pointers(&b->fns);
	p->mapping = (Mapping **)pointers(&b->maps);
	p->n_sample = b->samples.n;
	p->n_location = b->locs.n;
	p->n_function = b->fns.n;
	p->n_mapping = b->maps.n;
	if (p->sample && p->location && p->function && p->mapping) {
		n = perftools__profiles__profile__get_packed_size(p);
		raw = malloc(n ? n : 1);
		if (raw) {
			perftools__profiles__profile__pack(p, raw);
			err = report_pprof__gzip(raw, n, out, len);
			free(raw);
		}
	}
	free(p->sample);
	free(p->location);
	free(p->function);
	free(p->mapping);
	return err;
}

int report_pprof__encode(const struct report *r, const struct pprof_meta *m,
			 uint8_t **out, size_t *len)
{
	struct builder b = {
		.r = r,
		.fns.size = sizeof(Function), .locs.size = sizeof(Location),
		.maps.size = sizeof(Mapping), .samples.size = sizeof(Sample),
		.loc_lines.size = sizeof(Line **), .sample_labels.size = sizeof(Label **),
	};
	struct labels labels;
	Profile p;
	int err;

	perftools__profiles__profile__init(&p);
	str(&b, "");		/* string_table[0] */
	init_labels(&b, &labels, r, m);
	/* when sampling, values are estimates: 1 sample per period bytes */
	p.period = r->sample_period ? (int64_t)r->sample_period : 1;
	for (size_t i = 0; i < r->nstacks && !b.err; i++)
		add_sample(&b, &r->stacks[i], &labels, r->multi);
	err = pack(&b, m, &p, out, len);
	builder_free(&b);
	return err;
}

void report_pprof__meta(struct pprof_meta *m, double start_wall_s, const struct report *r)
{
	if (gethostname(m->hostname, sizeof(m->hostname) - 1))
		strcpy(m->hostname, "unknown");
	m->hostname[sizeof(m->hostname) - 1] = 0;
	m->time_ns = (int64_t)(start_wall_s * 1e9);
	m->duration_ns = (int64_t)((r->timestamp - start_wall_s) * 1e9);
}

int report_pprof__gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
	z_stream z = { 0 };
	uint8_t *buf;
	size_t cap;

	/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, n) + 32;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	z.next_out = buf;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(buf);
		return -ENOMEM;
	}
	*len = z.total_out;
	*out = buf;
	deflateEnd(&z);
	return 0;
}
