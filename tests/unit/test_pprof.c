/* test_pprof.c - the pprof writer, read back with protobuf-c: string
 * table, sample types in order, dense ids, inlined frames as Lines of one
 * Location, one Function per (name, file), mappings with build-ids,
 * labels (the site among them), values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "report/report_pprof.h"
#include "report/site.h"

typedef Perftools__Profiles__Profile Profile;

/* Two modules: 0x1000-0x2000 (an executable), 0x7000-0x8000 (a library). */
static struct report_mapping fake_maps[] = {
	{ .pid = 0, .start = 0x1000, .end = 0x2000, .path = "/bin/app", .build_id = "abcdef01" },
	{ .pid = 0, .start = 0x7000, .end = 0x8000, .path = "/lib/libc.so.6", .build_id = "" },
};

static Profile *decode(const uint8_t *gz, size_t n)
{
	z_stream z = { 0 };
	size_t cap = 1 << 20;
	uint8_t *raw = malloc(cap);
	Profile *p;

	assert_non_null(raw);
	assert_int_equal(gz[0], 0x1f);		/* gzip magic */
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz;
	z.avail_in = n;
	z.next_out = raw;
	z.avail_out = cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	inflateEnd(&z);
	free(raw);
	assert_non_null(p);
	return p;
}

static const char *s(const Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < p->n_string_table);
	return p->string_table[i];
}

static const Perftools__Profiles__Location *loc(const Profile *p, uint64_t id)
{
	assert_true(id >= 1 && id <= p->n_location);
	assert_int_equal(p->location[id - 1]->id, id);	/* dense: id i at i-1 */
	return p->location[id - 1];
}

static const char *fn_name(const Profile *p, uint64_t id)
{
	assert_true(id >= 1 && id <= p->n_function);
	assert_int_equal(p->function[id - 1]->id, id);
	return s(p, p->function[id - 1]->name);
}

static const char *label(const Perftools__Profiles__Sample *smp, const Profile *p,
			 const char *key, int64_t *num)
{
	for (size_t i = 0; i < smp->n_label; i++) {
		if (strcmp(s(p, smp->label[i]->key), key))
			continue;
		if (num)
			*num = smp->label[i]->num;
		return s(p, smp->label[i]->str);
	}
	fail_msg("no label %s", key);
	return NULL;
}

static void test_profile(void **state)
{
	/* leak() inlined into helper() at 0x1100, called from main at 0x1200,
	 * from libc at 0x7100 */
	struct frame a[] = {
		{ .addr = 0x1100, .function = "leak", .file = "a.c", .line = 10, .inlined = true },
		{ .addr = 0x1100, .function = "helper", .file = "a.c", .line = 20 },
		{ .addr = 0x1200, .function = "main", .file = "a.c", .line = 30 },
		{ .addr = 0x7100, .function = "__libc_start_call_main" },
	};
	struct frame b[] = {	/* the same main frame, an unsymbolized one */
		{ .addr = 0x7800 },
		{ .addr = 0x1200, .function = "main", .file = "a.c", .line = 30 },
	};
	struct report_stack st[] = {
		{ .bytes = 4096, .allocs = 4, .alloc_bytes = 8192, .alloc_count = 9,
		  .cls = CLASS_GROWING, .frames = a, .nframes = 4 },
		{ .bytes = 0, .allocs = 0, .alloc_bytes = 100, .alloc_count = 1,
		  .cls = CLASS_CHURN, .frames = b, .nframes = 2 },
		{ .bytes = 64, .allocs = 1, .alloc_bytes = 64, .alloc_count = 1,
		  .key.id = STACK_ID_LOST },
	};
	struct report r = { .pid = 4242, .comm = "app", .stacks = st, .nstacks = 3,
			    .mappings = fake_maps, .nmappings = 2 };
	struct pprof_meta m = { .hostname = "host-1", .time_ns = 1234, .duration_ns = 5678 };
	static const char *const types[][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	const Perftools__Profiles__Location *l;
	uint8_t *gz;
	size_t n;
	int64_t pid = 0;
	Profile *p;

	site__mark(&r, NULL);
	assert_int_equal(report_pprof__encode(&r, &m, &gz, &n), 0);
	p = decode(gz, n);

	assert_string_equal(p->string_table[0], "");
	for (size_t i = 1; i < p->n_string_table; i++)	/* each string once */
		for (size_t j = i + 1; j < p->n_string_table; j++)
			assert_string_not_equal(p->string_table[i], p->string_table[j]);
	assert_int_equal(p->n_sample_type, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(s(p, p->sample_type[i]->type), types[i][0]);
		assert_string_equal(s(p, p->sample_type[i]->unit), types[i][1]);
	}
	assert_string_equal(s(p, p->default_sample_type), "inuse_space");
	assert_string_equal(s(p, p->period_type->type), "space");
	assert_string_equal(s(p, p->period_type->unit), "bytes");
	assert_int_equal(p->time_nanos, 1234);
	assert_int_equal(p->duration_nanos, 5678);

	assert_int_equal(p->n_sample, 3);
	/* stack a: 3 locations, leaf first; the inlined pair is one location */
	assert_int_equal(p->sample[0]->n_location_id, 3);
	l = loc(p, p->sample[0]->location_id[0]);
	assert_int_equal(l->address, 0x1100);
	assert_int_equal(l->n_line, 2);
	assert_string_equal(fn_name(p, l->line[0]->function_id), "leak");
	assert_int_equal(l->line[0]->line, 10);
	assert_string_equal(fn_name(p, l->line[1]->function_id), "helper");
	assert_int_equal(l->line[1]->line, 20);
	assert_string_equal(s(p, p->function[l->line[0]->function_id - 1]->filename), "a.c");
	l = loc(p, p->sample[0]->location_id[2]);
	assert_int_equal(l->address, 0x7100);
	assert_int_equal(p->mapping[l->mapping_id - 1]->id, l->mapping_id);
	assert_string_equal(s(p, p->mapping[l->mapping_id - 1]->filename), "/lib/libc.so.6");
	assert_int_equal(p->sample[0]->n_value, 4);
	assert_int_equal(p->sample[0]->value[0], 9);
	assert_int_equal(p->sample[0]->value[1], 8192);
	assert_int_equal(p->sample[0]->value[2], 4);
	assert_int_equal(p->sample[0]->value[3], 4096);
	assert_string_equal(label(p->sample[0], p, "class", NULL), "growing");
	assert_string_equal(label(p->sample[0], p, "comm", NULL), "app");
	assert_string_equal(label(p->sample[0], p, "hostname", NULL), "host-1");
	label(p->sample[0], p, "pid", &pid);
	assert_int_equal(pid, 4242);
	assert_string_equal(label(p->sample[0], p, "site", NULL), "leak a.c:10");
	assert_string_equal(label(p->sample[1], p, "site", NULL), "main a.c:30");

	/* stack b: freed everything, kept for alloc_*; main's location shared */
	assert_int_equal(p->sample[1]->value[1], 100);
	assert_int_equal(p->sample[1]->value[3], 0);
	assert_int_equal(p->sample[1]->location_id[1], p->sample[0]->location_id[1]);
	l = loc(p, p->sample[1]->location_id[0]);
	assert_int_equal(l->n_line, 0);		/* unknown: address and mapping only */
	assert_int_equal(l->address, 0x7800);
	assert_int_equal(l->mapping_id, loc(p, p->sample[0]->location_id[2])->mapping_id);
	assert_string_equal(label(p->sample[1], p, "class", NULL), "churn");

	/* a lost stack: one named placeholder location */
	assert_int_equal(p->sample[2]->n_location_id, 1);
	l = loc(p, p->sample[2]->location_id[0]);
	assert_string_equal(fn_name(p, l->line[0]->function_id), "[stack lost]");
	assert_int_equal(l->mapping_id, 0);
	for (size_t i = 0; i < p->sample[2]->n_label; i++)	/* no site */
		assert_string_not_equal(s(p, p->sample[2]->label[i]->key), "site");

	/* 4 distinct addresses + the placeholder; 4 named functions + it */
	assert_int_equal(p->n_location, 5);
	assert_int_equal(p->n_function, 5);
	assert_int_equal(p->n_mapping, 2);
	assert_string_equal(s(p, p->mapping[0]->filename), "/bin/app");
	assert_string_equal(s(p, p->mapping[0]->build_id), "abcdef01");
	assert_int_equal(p->mapping[0]->memory_start, 0x1000);
	assert_int_equal(p->mapping[0]->memory_limit, 0x2000);
	assert_true(p->mapping[0]->has_functions);

	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
}

static void test_empty_report(void **state)
{
	struct report r = { .pid = 1, .comm = "x" };
	struct pprof_meta m = { .hostname = "h" };
	uint8_t *gz;
	size_t n;
	Profile *p;

	assert_int_equal(report_pprof__encode(&r, &m, &gz, &n), 0);
	p = decode(gz, n);
	assert_int_equal(p->n_sample, 0);
	assert_int_equal(p->n_sample_type, 4);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
}

/* The label of key in a sample ("" string / -1 number when absent). */
static const char *label_str(const Profile *p, const Perftools__Profiles__Sample *s,
			     const char *key, int64_t *num)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (!strcmp(p->string_table[s->label[i]->key], key)) {
			if (num)
				*num = s->label[i]->num;
			return p->string_table[s->label[i]->str];
		}
	if (num)
		*num = -1;
	return NULL;
}

/* Several processes: each sample its own pid, comm, and service when its
 * process is in a unit, container or pod. */
static void test_several_processes_labels(void **state)
{
	struct frame f = { .addr = 0x1100, .function = "leak" };
	struct report_stack st[] = {
		{ .key = { .tgid = 10, .id = 1 }, .bytes = 100, .allocs = 1, .frames = &f,
		  .nframes = 1, .comm = "web" },
		{ .key = { .tgid = 20, .id = 2 }, .bytes = 50, .allocs = 1, .frames = &f,
		  .nframes = 1, .comm = "job" },
	};
	struct report_proc procs[2] = { { .pid = 10, .comm = "web" }, { .pid = 20, .comm = "job" } };
	struct report r = { .multi = true, .stacks = st, .nstacks = 2, .procs = procs, .nprocs = 2 };
	struct pprof_meta m = { .hostname = "h" };
	uint8_t *gz;
	size_t n;
	int64_t pid;
	Profile *p;

	strcpy(procs[0].labels.unit, "web.service");
	assert_int_equal(report_pprof__encode(&r, &m, &gz, &n), 0);
	p = decode(gz, n);
	assert_int_equal(p->n_sample, 2);
	for (size_t i = 0; i < 2; i++) {
		const char *comm = label_str(p, p->sample[i], "comm", NULL);
		const char *svc = label_str(p, p->sample[i], "service", NULL);

		label_str(p, p->sample[i], "pid", &pid);
		if (pid == 10) {
			assert_string_equal(comm, "web");
			assert_non_null(svc);
			assert_string_equal(svc, "web.service");
		} else {
			assert_int_equal(pid, 20);
			assert_string_equal(comm, "job");
			assert_null(svc);
		}
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
}

/* The site label names the site frame: "function file:line", a Python
 * frame by its file, a frame without a file by its module; one process
 * with a service: the service label too. */
static void test_site_label(void **state)
{
	struct frame py[] = {
		{ .addr = 0x7100, .module = "/lib/libc.so.6", .function = "malloc" },
		{ .addr = 0x9000, .function = "Cache.put", .file = "/srv/app/cache.py", .line = 41,
		  .python = true },
	};
	struct frame nofile[] = {
		{ .addr = 0x7100, .module = "/lib/libc.so.6", .function = "malloc" },
		{ .addr = 0x1300, .module = "/bin/app", .function = "fill" },
	};
	struct frame unnamed[] = { { .addr = 0x1400, .module = "/bin/app" } };
	struct frame bare[] = { { .addr = 0x5000 } };
	struct report_stack st[] = {
		{ .key.id = 1, .bytes = 40, .frames = py, .nframes = 2 },
		{ .key.id = 2, .bytes = 30, .frames = nofile, .nframes = 2 },
		{ .key.id = 3, .bytes = 20, .frames = unnamed, .nframes = 1 },
		{ .key.id = 4, .bytes = 10, .frames = bare, .nframes = 1 },
	};
	static const char *const want[] = {
		"Cache.put /srv/app/cache.py:41", "fill [app]", "?? [app]", "??",
	};
	struct report r = { .pid = 7, .comm = "app", .stacks = st, .nstacks = 4,
			    .mappings = fake_maps, .nmappings = 2 };
	struct pprof_meta m = { .hostname = "h" };
	uint8_t *gz;
	size_t n;
	Profile *p;

	strcpy(r.labels.unit, "app.service");
	site__mark(&r, NULL);
	assert_int_equal(report_pprof__encode(&r, &m, &gz, &n), 0);
	p = decode(gz, n);
	assert_int_equal(p->n_sample, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(p->sample[i]->n_label, 6);
		assert_string_equal(label(p->sample[i], p, "site", NULL), want[i]);
		assert_string_equal(label(p->sample[i], p, "service", NULL), "app.service");
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_several_processes_labels),
		cmocka_unit_test(test_empty_report),
		cmocka_unit_test(test_site_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
