/* site.c - the site of a stack (site.h): pure, no I/O; O(frames x
 * allocator modules) per stack. */
#include <stdbool.h>
#include <string.h>

#include "report/site.h"

/* File names (prefixes) of libraries that allocate for the program:
 * their frames are not where it allocated.  musl's C library is mapped
 * as ld-musl-ARCH.so.1 (or as libc.so where musl-gcc installs it). */
static const char *const allocator_libs[] = {
	"libc.so", "libc-", "libstdc++.so", "libjemalloc.so", "libtcmalloc",
	"libmimalloc.so", "ld-musl",
};

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static bool is_given_module(const char *module, const char *given)
{
	const char *mb = base_name(module), *gb = base_name(given);
	size_t n = strlen(gb);

	if (!strcmp(module, given))
		return true;
	return n && !strncmp(mb, gb, n) && (mb[n] == 0 || mb[n] == '.');
}

static bool is_allocator_module(const char *module, const char *const *alloc_modules)
{
	const char *base;

	if (!module)
		return false;
	base = base_name(module);
	for (size_t i = 0; i < sizeof(allocator_libs) / sizeof(allocator_libs[0]); i++)
		if (!strncmp(base, allocator_libs[i], strlen(allocator_libs[i])))
			return true;
	for (; alloc_modules && *alloc_modules; alloc_modules++)
		if (is_given_module(module, *alloc_modules))
			return true;
	return false;
}

int site__of(const struct report_stack *s, const char *const *alloc_modules)
{
	int outside = -1;

	if (!s->frames || s->nframes <= 0)
		return -1;
	for (int i = 0; i < s->nframes; i++)
		if (s->frames[i].python)
			return i;
	for (int i = 0; i < s->nframes; i++) {
		const struct frame *f = &s->frames[i];

		if (is_allocator_module(f->module, alloc_modules))
			continue;
		if (f->function)
			return i;
		if (outside < 0)
			outside = i;
	}
	return outside >= 0 ? outside : 0;
}

void site__mark(struct report *r, const char *const *alloc_modules)
{
	for (size_t i = 0; i < r->nstacks; i++)
		r->stacks[i].site = site__of(&r->stacks[i], alloc_modules);
}

const struct frame *site__frame(const struct report_stack *s)
{
	if (!s->frames || s->site < 0 || s->site >= s->nframes)
		return NULL;
	return &s->frames[s->site];
}
