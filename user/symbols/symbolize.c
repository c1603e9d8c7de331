/* symbolize.c - resolves a traced process's addresses with libdw.
 *
 * Modules are reported to libdwfl from our own reading of the maps file,
 * each opened through /proc/PID/map_files (reaches deleted or replaced
 * binaries and files inside containers), falling back to
 * /proc/PID/root/PATH.  Opened modules stay open, so a process that has
 * exited can still be symbolized (the final report of `-- CMD`).
 *
 * For each address: the ELF symbol (function + offset), the line table
 * (file:line), and DWARF scopes for inlined functions, each of which
 * becomes a frame of its own with the call site as the outer frame's
 * line.  Results are cached by (build-id, module-relative address).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procs/procmaps.h"
#include "symbols/symbolize.h"
#include "symbols/symcache.h"
#include "util/log.h"

#define MAX_INLINE 16

extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status);

struct symbolizer {
	pid_t pid;
	Dwfl *dwfl;
	struct symcache *cache;	/* resolved addresses: own, or shared by
				 * every process (procs.c): keyed by build-id */
	struct symcache own;
	Dwfl_Module *id_mod;	/* the last module's identity (a stat without build-id) */
	uint64_t id;
	char *maps_text;	/* last maps file seen, to skip no-op refreshes */
	struct frame *frames;	/* per-report frame storage */
	size_t nframes, capframes;
	char **paths;		/* each module's file as opened (its userdata) */
	size_t npaths, cappaths;
};

/* A process maps code from a file that is not (or no longer) ELF: said
 * once per file, whatever the number of processes or reports. */
static void warn_unreadable(int fd, const char *name)
{
	static struct { dev_t dev; ino_t ino; } seen[256];
	static size_t nseen;
	struct stat st;

	if (fstat(fd, &st))
		return;
	for (size_t i = 0; i < nseen; i++)
		if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino)
			return;
	if (nseen < sizeof(seen) / sizeof(seen[0])) {
		seen[nseen].dev = st.st_dev;
		seen[nseen++].ino = st.st_ino;
	}
	log__error("%s is mapped as code but is not a readable ELF file "
		"(truncated or rewritten while mapped?): its frames show as addresses\n", name);
}

/* libdwfl opens a reported module's file through this: the path leakscope
 * gave the module (its userdata), read with pread (ELF_C_READ), never
 * mapped.  A target can truncate or rewrite its files under us, and a
 * mapping of one would then kill leakscope with SIGBUS. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	const char *path = *userdata;
	int fd;

	if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	*elfp = elf_begin(fd, ELF_C_READ, NULL);
	if (!*elfp || elf_kind(*elfp) != ELF_K_ELF) {
		warn_unreadable(fd, modname);
		elf_end(*elfp);
		*elfp = NULL;
		close(fd);
		return -1;
	}
	*file_name = strdup(path);
	return fd;
}

/* Separate debug files (build-id under /usr/lib/debug, debuglink next to
 * the file as opened: /proc/PID/map_files holds none) are mapped by
 * libdw: only files no other user can change are taken. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					      debuglink_file, debuglink_crc,
					      debuginfo_file_name);
	struct stat st;

	if (fd >= 0 && (fstat(fd, &st) || st.st_uid != 0 || (st.st_mode & 022) ||
			!S_ISREG(st.st_mode))) {
		close(fd);
		free(*debuginfo_file_name);
		*debuginfo_file_name = NULL;
		return -1;
	}
	return fd;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

char *symbolize__demangle(const char *name)
{
	char *d;
	int status = -1;

	if (!strncmp(name, "_Z", 2)) {
		d = __cxa_demangle(name, NULL, NULL, &status);
		if (d && status == 0)
			return d;
		free(d);
	}
	return strdup(name);
}

/* The modules' paths, once libdwfl no longer has them (dwfl_end). */
static void free_paths(struct symbolizer *s)
{
	for (size_t i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	s->npaths = 0;
}

struct symbolizer *symbolizer__new(pid_t pid)
{
	return symbolizer__new_shared(pid, NULL);
}

struct symbolizer *symbolizer__new_shared(pid_t pid, struct symcache *shared)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pid = pid;
	s->cache = shared ? shared : &s->own;
	if ((!shared && symcache__init(&s->own)) || symbolizer__reset(s)) {
		symbolizer__free(s);
		return NULL;
	}
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free_paths(s);
	free(s->paths);
	if (s->cache == &s->own)
		symcache__free(&s->own);
	free(s->maps_text);
	free(s->frames);
	free(s);
}

int symbolizer__reset(struct symbolizer *s)
{
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free_paths(s);
	free(s->maps_text);
	s->maps_text = NULL;
	s->id_mod = NULL;	/* its modules are gone */
	s->dwfl = dwfl_begin(&callbacks);
	return s->dwfl ? 0 : -ENOMEM;
}

static char *read_maps_text(pid_t pid)
{
	char path[64], *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;
	int c;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	mem = open_memstream(&buf, &len);
	if (mem) {
		while ((c = getc(f)) != EOF)
			putc(c, mem);
		fclose(mem);
	}
	fclose(f);
	return buf;
}

/* A module starts at addr already.  (dwfl_addrmodule alone also answers
 * for the address just past a module's end: the next library, mapped
 * right after it, would be taken for known.) */
static bool known_at(struct symbolizer *s, uint64_t addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	Dwarf_Addr start = 0;

	return mod && dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL) &&
	       start == addr;
}

/* Reports one file-backed module whose offset-0 mapping is v, spanning
 * every mapping of that file; libdwfl opens it through find_elf. */
static void report_module(struct symbolizer *s, const struct vma_list *l, const struct vma *v)
{
	char path[4200];
	uint64_t end = v->end;
	Dwfl_Module *mod;
	void **userdata;
	char **keep;

	bool code = false;

	if (known_at(s, v->start))
		return;
	for (size_t i = 0; i < l->n; i++) {
		const struct vma *w = &l->v[i];

		if (w->start < v->start || !procmaps__same_file(w, v))
			continue;
		code |= w->perms[2] == 'x';
		if (w->end > end)
			end = w->end;
	}
	if (!code)
		return;		/* a data file (locale, fonts ...): nothing to name */
	if (s->npaths == s->cappaths) {
		size_t cap = s->cappaths ? 2 * s->cappaths : 64;

		keep = realloc(s->paths, cap * sizeof(*keep));
		if (!keep)
			return;
		s->paths = keep;
		s->cappaths = cap;
	}
	procmaps__open_path(s->pid, v, path, sizeof(path));
	keep = &s->paths[s->npaths];
	if (!(*keep = strdup(path)))
		return;
	mod = dwfl_report_module(s->dwfl, v->path, v->start, end);
	if (!mod || !dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL)) {
		free(*keep);
		return;
	}
	*userdata = *keep;
	s->npaths++;
}

/* Each module's file opened now (find_elf), while the process and its
 * files are there: libdwfl keeps the fd, a report after exit reads it. */
static int open_module(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	GElf_Addr bias;

	dwfl_module_getelf(mod, &bias);
	return DWARF_CB_OK;
}

void symbolizer__refresh(struct symbolizer *s)
{
	char *text = read_maps_text(s->pid);
	struct vma_list maps;

	if (!text || !*text || (s->maps_text && !strcmp(text, s->maps_text))) {
		free(text);
		return;
	}
	free(s->maps_text);
	s->maps_text = text;
	if (procmaps__read(s->pid, &maps))
		return;
	dwfl_report_begin_add(s->dwfl);
	for (size_t i = 0; i < maps.n; i++) {
		const struct vma *v = &maps.v[i];

		if (v->path[0] == '/' && v->offset == 0 && v->inode)
			report_module(s, &maps, v);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	dwfl_getmodules(s->dwfl, open_module, NULL, 0);
	procmaps__free(&maps);
}

/* A module's identity in the (shared) cache: its build-id; without one,
 * its name and the file's device, inode, size and mtime (the same path
 * in two containers, or rebuilt, is another file). */
static uint64_t module_identity(Dwfl_Module *mod, const char *name)
{
	const unsigned char *bits;
	const char *file = NULL;
	GElf_Addr vaddr;
	struct stat st;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	uint64_t id;

	if (n > 0)
		return symcache__module_id(bits, n);
	id = symcache__module_id(name, strlen(name));
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &file, NULL);
	if (file && !stat(file, &st)) {
		uint64_t f[5] = { id, st.st_dev, st.st_ino, st.st_size, st.st_mtime };

		id = symcache__module_id(f, sizeof(f));
	}
	return id;
}

static const char *intern_demangled(struct symbolizer *s, const char *name)
{
	char *d;
	const char *r;

	if (!name)
		return NULL;
	d = symbolize__demangle(name);
	if (!d)
		return NULL;
	r = symcache__intern(s->cache, d);
	free(d);
	return r;
}

static const char *die_name(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (!name)
		name = dwarf_diename(die);
	return intern_demangled(s, name);
}

/* The call site of an inlined scope: file and line in its caller. */
static void call_site(struct symbolizer *s, Dwarf_Die *cu, Dwarf_Die *inl,
		      struct frame *outer)
{
	Dwarf_Attribute attr;
	Dwarf_Word file_idx = 0, line = 0;
	Dwarf_Files *files;
	size_t nfiles;
	const char *file;

	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &line) == 0)
		outer->line = (int)line;
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &file_idx) ||
	    dwarf_getsrcfiles(cu, &files, &nfiles) || file_idx >= nfiles)
		return;
	file = dwarf_filesrc(files, file_idx, NULL, NULL);
	if (file)
		outer->file = symcache__intern(s->cache, file);
}

/* Inlined frames from DWARF scopes; returns how many frames it wrote
 * (>= 1), the last being the containing function. */
static int resolve_inlines(struct symbolizer *s, Dwfl_Module *mod,
			   Dwarf_Addr pc, struct frame *out, int max)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
	Dwarf_Die *scopes = NULL;
	int n, nout = 1;

	if (!cu)
		return 1;
	n = dwarf_getscopes(cu, pc - bias, &scopes);
	for (int i = 0; i < n && nout < max; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_inlined_subroutine) {
			struct frame *inner = &out[nout - 1], *outer = &out[nout];

			*outer = *inner;
			inner->function = die_name(s, &scopes[i]);
			inner->inlined = true;
			inner->func_offset = 0;
			outer->inlined = false;
			outer->file = NULL;
			outer->line = 0;
			call_site(s, cu, &scopes[i], outer);
			nout++;
		} else if (tag == DW_TAG_subprogram) {
			if (!out[nout - 1].function)
				out[nout - 1].function = die_name(s, &scopes[i]);
			break;
		}
	}
	free(scopes);
	return nout;
}

static int resolve_uncached(struct symbolizer *s, Dwfl_Module *mod,
			    uint64_t addr, struct frame *out, int max)
{
	Dwarf_Addr pc = addr - 1;	/* a return address: look at the call */
	const char *modname, *sym;
	GElf_Off off = 0;
	GElf_Sym esym;
	Dwfl_Line *line;
	int lineno = 0, n;

	memset(out, 0, sizeof(*out));
	modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	out->module = modname ? symcache__intern(s->cache, modname) : NULL;
	sym = dwfl_module_addrinfo(mod, pc, &off, &esym, NULL, NULL, NULL);
	out->function = intern_demangled(s, sym);
	out->func_offset = sym ? off + 1 : 0;
	line = dwfl_module_getsrc(mod, pc);
	if (line) {
		const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

		out->file = file ? symcache__intern(s->cache, file) : NULL;
		out->line = lineno;
	}
	n = resolve_inlines(s, mod, pc, out, max);
	/* The ELF symbol names the outermost (real) function best. */
	if (sym && n > 1)
		out[n - 1].function = intern_demangled(s, sym);
	if (n > 1) {
		out[n - 1].func_offset = out[0].func_offset;
		out[0].func_offset = 0;
	}
	return n;
}

int symbolizer__resolve(struct symbolizer *s, uint64_t addr,
			struct frame *out, int max)
{
	Dwfl_Module *mod = addr ? dwfl_addrmodule(s->dwfl, addr - 1) : NULL;
	struct frame tmp[MAX_INLINE];
	const struct symcache_entry *e;
	Dwarf_Addr low;
	uint64_t id;
	const char *name;
	int n;

	if (max <= 0)
		return 0;
	if (!mod) {
		memset(out, 0, sizeof(*out));
		out->addr = addr;
		return 1;
	}
	name = dwfl_module_info(mod, NULL, &low, NULL, NULL, NULL, NULL, NULL);
	if (mod != s->id_mod) {
		s->id = module_identity(mod, name ? name : "");
		s->id_mod = mod;
	}
	id = s->id;
	e = symcache__get(s->cache, id, addr - low);
	if (!e) {
		n = resolve_uncached(s, mod, addr, tmp, MAX_INLINE);
		e = symcache__put(s->cache, id, addr - low, tmp, n);
		if (!e) {
			out[0] = tmp[0];
			out[0].addr = addr;
			return 1;
		}
	}
	n = e->nframes < max ? e->nframes : max;
	for (int i = 0; i < n; i++) {
		out[i] = e->frames[i];
		out[i].addr = addr;
	}
	return n;
}

int symbolizer__module(struct symbolizer *s, uint64_t addr, struct module_info *out)
{
	Dwfl_Module *mod = addr ? dwfl_addrmodule(s->dwfl, addr - 1) : NULL;
	const unsigned char *bits;
	const char *name;
	Dwarf_Addr start, end;
	GElf_Addr vaddr;
	int n;

	if (!mod)
		return -ENOENT;
	name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	out->start = start;
	out->end = end;
	out->path = name ? symcache__intern(s->cache, name) : NULL;
	if (!out->path)
		out->path = "";
	out->build_id[0] = 0;
	n = dwfl_module_build_id(mod, &bits, &vaddr);
	for (int i = 0; i < n && i < 64; i++)
		snprintf(out->build_id + 2 * i, 3, "%02x", bits[i]);
	return 0;
}

static int symbolize_frames(struct symbolizer *s, struct report *r);

/* Is addr in one of the C library's mmap/munmap/mremap wrappers?  An
 * anonymous mmap is recorded at the syscall tracepoint, where frame 0 is
 * the wrapper: its caller is what "the function that called the
 * allocator" means. */
static bool in_mmap_wrapper(struct symbolizer *s, uint64_t addr)
{
	static const char *const names[] = {
		"mmap", "mmap64", "__mmap", "__mmap64", "munmap", "__munmap",
		"mremap", "__mremap",
	};
	struct frame f[MAX_INLINE];
	int n = symbolizer__resolve(s, addr, f, MAX_INLINE);

	if (n <= 0 || !f[0].module || !procmaps__is_libc(f[0].module))
		return false;
	for (int i = 0; i < n; i++)
		for (size_t k = 0; f[i].function && k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(f[i].function, names[k]))
				return true;
	return false;
}

int symbolizer__report(struct symbolizer *s, struct report *r)
{
	for (size_t i = 0; i < r->nstacks; i++) {
		struct report_stack *st = &r->stacks[i];

		if (st->nips > 1 && !st->key.lead_pc && in_mmap_wrapper(s, st->ips[0])) {
			memmove(st->ips, st->ips + 1, (st->nips - 1) * sizeof(st->ips[0]));
			st->nips--;
			if (st->fp_first > 1)
				st->fp_first--;
		}
	}
	return symbolize_frames(s, r);
}

static int symbolize_frames(struct symbolizer *s, struct report *r)
{
	size_t need = 0;

	for (size_t i = 0; i < r->nstacks; i++)
		need += (size_t)r->stacks[i].nips * MAX_INLINE;
	if (need > s->capframes) {
		struct frame *f = realloc(s->frames, need * sizeof(*f));

		if (!f)
			return -ENOMEM;
		s->frames = f;
		s->capframes = need;
	}
	s->nframes = 0;
	for (size_t i = 0; i < r->nstacks; i++) {
		struct report_stack *st = &r->stacks[i];

		st->frames = s->frames + s->nframes;
		st->nframes = 0;
		for (int k = 0; k < st->nips; k++)
			st->nframes += symbolizer__resolve(s, st->ips[k],
							   st->frames + st->nframes,
							   MAX_INLINE);
		s->nframes += st->nframes;
	}
	return 0;
}
