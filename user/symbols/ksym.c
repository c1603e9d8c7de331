/* ksym.c - the kernel's symbol table, sorted, searched by address. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/ksym.h"

struct ksym_entry {
	uint64_t addr;
	char *name;
	char *module;		/* "kernel" or the module's name */
};

struct ksym {
	struct ksym_entry *v;
	size_t n, cap;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct ksym_entry *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int add(struct ksym *k, uint64_t addr, const char *name, const char *mod)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 65536;
		struct ksym_entry *v = realloc(k->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n].addr = addr;
	k->v[k->n].name = strdup(name);
	k->v[k->n].module = strdup(mod);
	if (!k->v[k->n].name || !k->v[k->n].module)
		return -ENOMEM;
	k->n++;
	return 0;
}

/* "ffffffff81000000 T _stext" or "... t foo\t[mod]" per line. */
static int parse_line(struct ksym *k, const char *line)
{
	unsigned long long addr;
	char type, name[256], mod[128] = "";
	char modname[132] = "kernel";
	int n = sscanf(line, "%llx %c %255s %127s", &addr, &type, name, mod);

	if (n < 3 || !addr)
		return 0;
	if (type != 't' && type != 'T' && type != 'w' && type != 'W')
		return 0;	/* functions only */
	if (n == 4 && mod[0] == '[')	/* "[ext4]" -> "ext4" */
		snprintf(modname, sizeof(modname), "%.*s", (int)strcspn(mod + 1, "]"), mod + 1);
	return add(k, addr, name, modname);
}

struct ksym *ksym__parse(const char *text)
{
	struct ksym *k = calloc(1, sizeof(*k));
	const char *p = text;

	if (!k)
		return NULL;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		char line[512];
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = 0;
		if (parse_line(k, line)) {
			ksym__free(k);
			return NULL;
		}
		p = nl ? nl + 1 : NULL;
	}
	if (!k->n) {
		ksym__free(k);
		return NULL;
	}
	qsort(k->v, k->n, sizeof(*k->v), cmp_entry);
	return k;
}

struct ksym *ksym__load(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	struct ksym *k;
	int c;

	if (!f)
		return NULL;
	mem = open_memstream(&buf, &len);
	if (!mem) {
		fclose(f);
		return NULL;
	}
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	k = ksym__parse(buf);
	free(buf);
	return k;
}

void ksym__free(struct ksym *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].name);
		free(k->v[i].module);
	}
	free(k->v);
	free(k);
}

void ksym__resolve(const struct ksym *k, uint64_t addr, struct frame *out)
{
	size_t lo = 0, hi = k ? k->n : 0;

	memset(out, 0, sizeof(*out));
	out->addr = addr;
	while (lo < hi) {		/* the last symbol at or below addr */
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return;
	out->function = k->v[lo - 1].name;
	out->func_offset = addr - k->v[lo - 1].addr;
	out->module = k->v[lo - 1].module;
}
