/* verifier_depths.c - the kernel verifier's own stack figures for a BPF
 * object, to check stack_budget against (needs root; not built by
 * default: make build/tools/verifier_depths).
 *
 *   verifier_depths OBJ [PROG|-] [RODATA_VAR=N ...]
 *
 * Loads each program alone (or only PROG) with BPF_LOG_STATS and prints
 * whether the kernel took it, its refusal line, and its "stack depth"
 * list named by subprogram.  RODATA_VAR=N sets a `const volatile` before
 * loading: the verifier skips code those constants make dead, so set the
 * feature switches on (python_enabled=1 unwind_dwarf=1 ...) to compare
 * with stack_budget, which counts every path.
 *
 * Reading the figures: a refused program's list is as check_max_stack_depth
 * saw it.  A loaded one's comes after rewrites: +24 bytes in a function
 * per bpf_loop call the verifier inlined, and subprograms left dead are
 * dropped.  Kernels from 6.8 round each figure up to 8 bytes.  The names
 * of a refused program are libbpf's order of appending subprograms (from
 * its debug log), the order of the verifier's list; a loaded program's
 * come from the kernel's func_info.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBPROGS 64

struct names {
	char buf[4096];		/* space-separated */
};

static struct names appended;	/* filled by the libbpf print callback */
static char logbuf[16 << 20];

/* Keeps libbpf's "prog 'P': added N insns from sub-prog 'S'" lines. */
static int collect_order(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512], name[128];
	const char *p;

	vsnprintf(line, sizeof(line), fmt, ap);
	p = strstr(line, "from sub-prog '");
	if (!p || !strstr(line, "added") ||
	    sscanf(p, "from sub-prog '%127[^']'", name) != 1)
		return 0;
	strncat(appended.buf, " ", sizeof(appended.buf) - strlen(appended.buf) - 1);
	strncat(appended.buf, name, sizeof(appended.buf) - strlen(appended.buf) - 1);
	return 0;
}

/* A loaded program's subprogram names, from its func_info. */
static void loaded_names(struct bpf_object *obj, int fd, struct names *out)
{
	struct bpf_func_info fi[MAX_SUBPROGS];
	struct bpf_prog_info info = {};
	const struct btf *btf = bpf_object__btf(obj);
	__u32 len = sizeof(info), n;

	out->buf[0] = '\0';
	if (!btf || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.nr_func_info > MAX_SUBPROGS)
		return;
	n = info.nr_func_info;
	memset(&info, 0, sizeof(info));
	info.nr_func_info = n;
	info.func_info_rec_size = sizeof(fi[0]);
	info.func_info = (unsigned long)fi;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	for (__u32 i = 0; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, fi[i].type_id);
		const char *name = t ? btf__name_by_offset(btf, t->name_off) : "?";

		strncat(out->buf, " ", sizeof(out->buf) - strlen(out->buf) - 1);
		strncat(out->buf, name, sizeof(out->buf) - strlen(out->buf) - 1);
	}
}

/* Writes n into the .rodata variable called name (found through BTF). */
static int set_rodata(struct bpf_object *obj, const char *name, unsigned long long n)
{
	struct btf *btf = bpf_object__btf(obj);
	int id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	const struct btf_var_secinfo *v;
	struct bpf_map *map;
	char *data = NULL;
	size_t size = 0;

	bpf_object__for_each_map(map, obj)
		if (!strcmp(bpf_map__name(map) + strcspn(bpf_map__name(map), "."), ".rodata"))
			data = (char *)bpf_map__initial_value(map, &size);
	if (id < 0 || !data)
		return -1;
	v = btf_var_secinfos(btf__type_by_id(btf, id));
	for (int i = 0; i < btf_vlen(btf__type_by_id(btf, id)); i++, v++) {
		const struct btf_type *var = btf__type_by_id(btf, v->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name) ||
		    v->offset + v->size > size)
			continue;
		memcpy(data + v->offset, &n, v->size < sizeof(n) ? v->size : sizeof(n));
		return 0;
	}
	return -1;
}

static int apply_settings(struct bpf_object *obj, char **sets, int nsets)
{
	for (int i = 0; i < nsets; i++) {
		char name[128];
		unsigned long long n;

		if (sscanf(sets[i], "%127[^=]=%llu", name, &n) != 2 ||
		    set_rodata(obj, name, n)) {
			fprintf(stderr, "verifier_depths: cannot set '%s': give "
				"NAME=NUMBER for a const volatile of the object\n", sets[i]);
			return -1;
		}
	}
	return 0;
}

static bool is_stats_line(const char *line)
{
	return !strncmp(line, "verification time", 17) ||
	       !strncmp(line, "stack depth", 11) || !strncmp(line, "processed", 9);
}

/* Prints the verifier's reason for a refusal (its last line before the
 * statistics) and its stack depths, with names. */
static void print_log(const char *names, bool refused)
{
	char *line, *save = NULL, *reason = NULL, *depths = NULL;

	for (line = strtok_r(logbuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "stack depth", 11))
			depths = line;
		else if (!is_stats_line(line))
			reason = line;
	}
	if (refused && reason)
		printf("  %s\n", reason);
	if (depths)
		printf("  %s\n  subprograms: %s\n", depths, names);
}

/* Loads program k alone.  0 loaded, 1 refused, -1 could not try. */
static int load_one(const char *path, int k, const char *only, char **sets, int nsets)
{
	struct bpf_object *obj = bpf_object__open(path);
	struct bpf_program *p, *want = NULL;
	struct names names;
	int i = 0, err;

	if (!obj)
		return -1;
	bpf_object__for_each_program(p, obj) {
		if (i++ == k)
			want = p;
		else
			bpf_program__set_autoload(p, false);
	}
	if (!want || (only && strcmp(bpf_program__name(want), only)) ||
	    apply_settings(obj, sets, nsets)) {
		bpf_object__close(obj);
		return only ? 0 : -1;
	}
	logbuf[0] = '\0';
	appended.buf[0] = '\0';
	bpf_program__set_log_level(want, 4);	/* BPF_LOG_STATS */
	bpf_program__set_log_buf(want, logbuf, sizeof(logbuf));
	err = bpf_object__load(obj);
	printf("%s: %s\n", bpf_program__name(want), err ? "refused" : "loaded");
	if (err)
		snprintf(names.buf, sizeof(names.buf), "%s%s", bpf_program__name(want),
			 appended.buf);
	else
		loaded_names(obj, bpf_program__fd(want), &names);
	print_log(names.buf + (names.buf[0] == ' '), err != 0);
	bpf_object__close(obj);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *only = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
	struct bpf_object *obj;
	struct bpf_program *p;
	int n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: verifier_depths OBJ [PROG|-] [RODATA_VAR=N ...]\n");
		return 2;
	}
	libbpf_set_print(collect_order);
	obj = bpf_object__open(argv[1]);
	if (!obj) {
		fprintf(stderr, "verifier_depths: cannot open %s as a BPF object\n", argv[1]);
		return 2;
	}
	bpf_object__for_each_program(p, obj)
		n++;
	bpf_object__close(obj);
	for (int k = 0; k < n; k++)
		if (load_one(argv[1], k, only, argv + 3, argc > 3 ? argc - 3 : 0) < 0) {
			fprintf(stderr, "verifier_depths: cannot load from %s (root? "
				"settings?)\n", argv[1]);
			return 2;
		}
	return 0;
}
