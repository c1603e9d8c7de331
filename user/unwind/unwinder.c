/* unwinder.c - keeps the kernel's unwind tables: a table per binary in a
 * shared row pool (bump-allocated: binaries are few and tables are kept
 * until leakscope ends), and per traced process the sorted table of its
 * executable mappings with each one's load bias and binary.
 *
 * A binary is known by its file (device, inode, size, mtime) and, once
 * compiled, by its build-id, so the same libc in twenty containers is
 * compiled and stored once.  Every binary with a table is also entered in
 * unwind_files by inode: BPF falls back to it for code mapped after the
 * process's table was written (dlopen, a new process under --all).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "leakscope.h"
#include "procs/procmaps.h"
#include "unwind/unwind_table.h"
#include "unwind/unwinder.h"

#define MAX_SEGS	16	/* PT_LOAD segments remembered per binary */
#define PRELOAD_DEPTH	4	/* DT_NEEDED levels followed */

struct seg {
	uint64_t offset, vaddr, filesz;
	bool exec;
};

struct binary {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char build_id[41];
	int32_t bin;		/* in unwind_bins, -1: no table */
	int err;		/* why not (negative errno) */
	uint32_t rows;
	uint32_t stop_rows;
	struct seg segs[MAX_SEGS];
	int nsegs;
	uint64_t entry;		/* e_entry: where the kernel starts the program */
	bool program;		/* an executable or the dynamic loader: e_entry is
				 * a thread's first instruction */
	uint64_t kdev;		/* device as the kernel's VMA has it (unwind_files) */
	uint64_t rows_hash;	/* of the compiled rows: a build-id alone is not
				 * trusted to share a table (any file can claim one) */
	char path[256];		/* as first seen, for messages */
	double ms;
};

struct unwinder {
	struct unwinder_maps maps;
	uint32_t next_row;
	int32_t next_bin;
	uint32_t gen;		/* of the mapping tables written: BPF's row cache */
	struct binary *b;
	size_t nb, capb;
	pid_t *procs;
	size_t nprocs, capprocs;
	pid_t pending[256];	/* marked for the next flush */
	size_t npending;
	struct unwinder_stats st;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

struct unwinder *unwinder__new(const struct unwinder_maps *maps)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->maps = *maps;
	u->st.max_rows = maps->max_rows;
	return u;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	free(u->b);
	free(u->procs);
	free(u);
}

/* The dynamic loader (ld-linux-x86-64.so.2, ld-musl-x86_64.so.1, ...):
 * a shared object whose entry point is a real _start. */
static bool is_loader(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "ld-", 3) || !strncmp(base, "ld.so", 5);
}

/* The PT_LOAD segments of the ELF file at fd, read with bounded preads
 * (the file may be another process's, and changing). */
static int read_segments(int fd, struct binary *b)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 256)
		return -ENOEXEC;
	b->nsegs = 0;
	b->entry = eh.e_entry;
	b->program = eh.e_type == ET_EXEC || is_loader(b->path);
	for (int i = 0; i < eh.e_phnum && b->nsegs < MAX_SEGS; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph)) != sizeof(ph))
			return -ENOEXEC;
		b->program |= ph.p_type == PT_INTERP;
		if (ph.p_type != PT_LOAD)
			continue;
		b->segs[b->nsegs++] = (struct seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz,
						    !!(ph.p_flags & PF_X) };
	}
	return b->nsegs ? 0 : -ENOEXEC;
}

/* The code segment an executable mapping at file offset `off` shows, or
 * NULL.  Page rounding lets two segments claim the same page (lld puts
 * the read-only segment and the code in one page at offset 0): the
 * executable one is the one the mapping runs. */
static const struct seg *segment_at(const struct binary *b, uint64_t off)
{
	const struct seg *any = NULL;

	for (int i = 0; i < b->nsegs; i++) {
		const struct seg *s = &b->segs[i];

		if ((s->offset & ~0xfffULL) > off || off >= s->offset + s->filesz)
			continue;
		if (s->exec)
			return s;
		if (!any)
			any = s;
	}
	return any;
}

/* ELF vaddr - file offset in the binary's (first) code segment: what BPF
 * adds to a VMA's file offset when it finds the binary by inode. */
static bool code_delta(const struct binary *b, __s64 *delta)
{
	for (int i = 0; i < b->nsegs; i++) {
		if (b->segs[i].exec) {
			*delta = (__s64)(b->segs[i].vaddr - b->segs[i].offset);
			return true;
		}
	}
	return false;
}

/* FNV-1a over the rows. */
static uint64_t rows_hash(const struct unwind_table *t)
{
	const unsigned char *p = (const unsigned char *)t->rows;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < (size_t)t->nr_rows * sizeof(*t->rows); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t kernel_dev(dev_t d)
{
	return ((uint64_t)major(d) << 20) | minor(d);
}

/* Writes n rows at the pool's index first: in batches where the kernel
 * takes them (one syscall per 4096 rows), else one by one. */
static int write_rows(int fd, uint32_t first, const struct unwind_row *rows, uint32_t n)
{
	enum { BATCH = 4096 };
	__u32 keys[BATCH];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	for (uint32_t done = 0; done < n;) {
		__u32 want = n - done < BATCH ? n - done : BATCH, cnt = want;

		for (__u32 i = 0; i < want; i++)
			keys[i] = first + done + i;
		if (bpf_map_update_batch(fd, keys, rows + done, &cnt, &opts)) {
			/* cnt were written; the rest one by one */
			for (__u32 i = cnt < want ? cnt : 0; i < want; i++)
				if (bpf_map_update_elem(fd, &keys[i], &rows[done + i], BPF_ANY))
					return -errno;
		}
		done += want;
	}
	return 0;
}

/* The entry point is the outermost frame of the thread that starts
 * there, whether or not CFI says so (ld.so's _start has no FDE; the
 * executable's says "return address undefined"): if no row covers it,
 * an UW_CFA_END row is put there, up to the next row. */
static int mark_entry(struct unwind_table *t, uint64_t entry)
{
	struct unwind_row end = { .pc = (__u32)entry, .kind = UW_CFA_END }, *n;
	uint32_t at = 0;

	if (!entry || entry > UINT32_MAX || unwind_table__lookup(t, entry))
		return 0;
	while (at < t->nr_rows && t->rows[at].pc <= entry)
		at++;
	if (at && t->rows[at - 1].pc == entry) {	/* a gap row starts there */
		t->rows[at - 1] = end;
		return 0;
	}
	n = realloc(t->rows, (t->nr_rows + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memmove(&n[at + 1], &n[at], (t->nr_rows - at) * sizeof(*n));
	n[at] = end;
	t->rows = n;
	t->nr_rows++;
	return 0;
}

/* Puts a compiled table into the pool; the binary's number, or -errno. */
static int store_table(struct unwinder *u, const struct unwind_table *t)
{
	struct unwind_bin ub = { .first_row = u->next_row, .nr_rows = t->nr_rows };
	__u32 key;
	int err;

	if (u->next_bin >= UW_MAX_BINS || t->nr_rows > u->maps.max_rows - u->next_row) {
		u->st.pool_full++;
		return -ENOSPC;
	}
	if (u->maps.rows_fd < 0)	/* no BPF (`leakscope probes -v`): count only */
		goto stored;
	err = write_rows(u->maps.rows_fd, u->next_row, t->rows, t->nr_rows);
	if (err)
		return err;
	key = u->next_bin;
	if (bpf_map_update_elem(u->maps.bins_fd, &key, &ub, BPF_ANY))
		return -errno;
stored:
	u->next_row += t->nr_rows;
	u->st.rows = u->next_row;
	return u->next_bin++;
}

/* A binary compiled before to the very same rows (a copy of the file in
 * another container): its table is shared. */
static const struct binary *same_table(const struct unwinder *u, const struct binary *nb)
{
	for (size_t i = 0; i < u->nb; i++) {
		const struct binary *b = &u->b[i];

		if (b != nb && b->bin >= 0 && b->rows == nb->rows &&
		    b->rows_hash == nb->rows_hash && !strcmp(b->build_id, nb->build_id))
			return b;
	}
	return NULL;
}

static struct binary *by_file(struct unwinder *u, const struct stat *sb)
{
	for (size_t i = 0; i < u->nb; i++) {
		struct binary *b = &u->b[i];

		if (b->dev == sb->st_dev && b->ino == sb->st_ino && b->size == sb->st_size &&
		    b->mtime.tv_sec == sb->st_mtim.tv_sec && b->mtime.tv_nsec == sb->st_mtim.tv_nsec)
			return b;
	}
	return NULL;
}

/* Tells BPF the binary's inode, for code not in a process's table yet. */
static void publish_file(struct unwinder *u, const struct binary *b)
{
	struct unwind_file_key k = { .dev = b->kdev, .ino = b->ino };
	struct unwind_file f = { .bin = b->bin };

	if (u->maps.files_fd < 0 || !code_delta(b, &f.delta))
		return;
	if (bpf_map_update_elem(u->maps.files_fd, &k, &f, BPF_ANY))
		u->st.files_full++;
}

/* Compiles and stores the table of one file (unless seen before). */
static void compile(struct unwinder *u, struct binary *b, int fd)
{
	struct unwind_table *t = NULL;
	const struct binary *same = NULL;
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	b->bin = -1;
	err = read_segments(fd, b);
	if (!err)	/* the file we hold open, not the path again */
		err = unwind_table__build_fd(fd, &t);
	if (!err && b->program)
		err = mark_entry(t, b->entry);
	if (!err) {
		snprintf(b->build_id, sizeof(b->build_id), "%s", t->build_id);
		b->rows = t->nr_rows;
		b->stop_rows = t->nr_stop_rows;
		b->rows_hash = rows_hash(t);
		same = same_table(u, b);
		err = same ? same->bin : store_table(u, t);
		if (err >= 0) {
			b->bin = err;
			err = 0;
		}
	}
	unwind_table__free(t);
	b->err = err;
	b->ms = ms_since(&t0);
	u->st.build_ms += b->ms;
	if (b->bin >= 0) {
		u->st.binaries += !same;
		publish_file(u, b);
	} else {
		u->st.failed++;
	}
}

/* Opens a regular file for reading, and nothing else: another process
 * may have put a FIFO (open would block) or a device node (open can act)
 * where its library was.  O_PATH first, then the file itself through
 * /proc/self/fd (the same inode, whatever the path names by now). */
static int open_regular(const char *path, struct stat *sb)
{
	int pfd = open(path, O_PATH | O_CLOEXEC), fd;
	char fdpath[64];

	if (pfd < 0)
		return -1;
	if (fstat(pfd, sb) || !S_ISREG(sb->st_mode)) {
		close(pfd);
		errno = EINVAL;
		return -1;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", pfd);
	fd = open(fdpath, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	close(pfd);
	return fd;
}

/* The binary behind an open path (a process's map_files entry, or a
 * file), compiled if new (*fresh set); NULL if the file cannot be opened.
 * kdev: its device as the kernel's VMA says (0: from stat). */
static struct binary *binary_of(struct unwinder *u, const char *open_path, const char *name,
				uint64_t kdev, bool *fresh)
{
	struct binary *b, *nb;
	struct stat sb;
	int fd = open_regular(open_path, &sb);

	if (fd < 0)
		return NULL;
	*fresh = false;
	b = by_file(u, &sb);
	if (b) {
		close(fd);
		return b;
	}
	*fresh = true;
	if (u->nb == u->capb) {
		size_t cap = u->capb ? 2 * u->capb : 32;

		nb = realloc(u->b, cap * sizeof(*nb));
		if (!nb) {
			close(fd);
			return NULL;
		}
		u->b = nb;
		u->capb = cap;
	}
	b = &u->b[u->nb++];
	memset(b, 0, sizeof(*b));
	b->dev = sb.st_dev;
	b->kdev = kdev ? kdev : kernel_dev(sb.st_dev);
	b->ino = sb.st_ino;
	b->size = sb.st_size;
	b->mtime = sb.st_mtim;
	snprintf(b->path, sizeof(b->path), "%s", name);
	compile(u, b, fd);
	close(fd);
	return b;
}

/* 1: compiled now, 0: known already, or -errno. */
static int preload(struct unwinder *u, const char *path)
{
	bool fresh;
	struct binary *b = binary_of(u, path, path, 0, &fresh);

	if (!b)
		return -errno;
	return b->err ? b->err : fresh;
}

/* A DT_NEEDED name found in the usual library directories. */
static bool find_library(const char *name, char *out, size_t len)
{
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
		"/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
	};

	if (strchr(name, '/'))
		return snprintf(out, len, "%s", name) < (int)len && !access(out, R_OK);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (snprintf(out, len, "%s/%s", dirs[i], name) < (int)len && !access(out, R_OK))
			return true;
	return false;
}

/* The file's DT_NEEDED entries and PT_INTERP, each preloaded and
 * followed (depth levels more).  Read with libelf from a file we open
 * ourselves: the user's own command and the host's libraries. */
static void preload_needed(struct unwinder *u, const char *path, int depth)
{
	char lib[PATH_MAX];
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Dyn dyn;
	Elf_Data *data;
	size_t n;
	Elf *e;
	int fd;

	if (depth <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_getphdrnum(e, &n) == 0) {
		for (size_t i = 0; i < n && i < 256; i++) {
			GElf_Phdr ph;
			char interp[PATH_MAX] = "";

			if (gelf_getphdr(e, i, &ph) && ph.p_type == PT_INTERP &&
			    ph.p_filesz > 1 && ph.p_filesz < sizeof(interp) &&
			    pread(fd, interp, ph.p_filesz, ph.p_offset) == (ssize_t)ph.p_filesz) {
				interp[ph.p_filesz - 1] = 0;
				preload(u, interp);
			}
		}
	}
	while (e && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !(data = elf_getdata(scn, NULL)) || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && i < 4096; i++) {
			const char *name;

			if (!gelf_getdyn(data, i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			name = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (name && find_library(name, lib, sizeof(lib)) && preload(u, lib) == 1)
				preload_needed(u, lib, depth - 1);	/* new: its own needs */
		}
	}
	if (e)
		elf_end(e);
	close(fd);
}

void unwinder__preload_program(struct unwinder *u, const char *path)
{
	if (preload(u, path) >= 0)
		preload_needed(u, path, PRELOAD_DEPTH);
}

/* One executable mapping of the process as BPF wants it (bin UW_NO_BIN:
 * no table, its frames are walked by frame pointer). */
static void mapping_of(struct unwinder *u, pid_t pid, const struct vma *v,
		       struct unwind_mapping *m)
{
	char open_path[PATH_MAX];
	const struct binary *b;
	const struct seg *s;
	bool fresh;

	m->start = v->start;
	m->end = v->end;
	m->bias = 0;
	m->bin = UW_NO_BIN;
	m->pad = 0;
	if (v->path[0] != '/')	/* anonymous (JIT), [vdso]: frame pointers */
		return;
	b = binary_of(u, procmaps__open_path(pid, v, open_path, sizeof(open_path)), v->path,
		      v->dev, &fresh);
	if (!b || b->bin < 0 || !(s = segment_at(b, v->offset)))
		return;
	m->bias = v->start - (s->vaddr - s->offset + v->offset);
	m->bin = b->bin;
}

static int by_start(const void *a, const void *b)
{
	const struct unwind_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void remember_proc(struct unwinder *u, pid_t pid)
{
	pid_t *np;

	for (size_t i = 0; i < u->nprocs; i++)
		if (u->procs[i] == pid)
			return;
	if (u->nprocs == u->capprocs) {
		size_t cap = u->capprocs ? 2 * u->capprocs : 16;

		np = realloc(u->procs, cap * sizeof(*np));
		if (!np)
			return;
		u->procs = np;
		u->capprocs = cap;
	}
	u->procs[u->nprocs++] = pid;
	u->st.processes = u->nprocs;
}

int unwinder__sync(struct unwinder *u, pid_t pid)
{
	struct vma_list l = { 0 };
	struct unwind_proc *p;
	__u32 key = pid;
	bool cut = false;
	int err;

	err = procmaps__read(pid, &l);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p) {
		procmaps__free(&l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].perms[2] != 'x')
			continue;
		if (p->nr == UW_MAX_MAPPINGS) {
			cut = true;
			break;
		}
		mapping_of(u, pid, &l.v[i], &p->m[p->nr++]);
	}
	procmaps__free(&l);
	if (!p->nr) {		/* a kernel thread, or gone */
		free(p);
		return -ESRCH;
	}
	qsort(p->m, p->nr, sizeof(p->m[0]), by_start);
	p->gen = ++u->gen;
	p->tgid = pid;
	u->st.mappings_cut += cut;
	if (u->maps.procs_fd < 0) {
		remember_proc(u, pid);
	} else if (bpf_map_update_elem(u->maps.procs_fd, &key, p, BPF_ANY)) {
		err = -errno;
		if (err == -E2BIG || err == -ENOMEM)
			u->st.procs_full++;
	} else {
		remember_proc(u, pid);
	}
	free(p);
	return err;
}

static bool comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return !strcmp(buf, comm);
}

struct sync_all {
	struct unwinder *u;
	const char *comm;
};

static void sync_one(pid_t pid, void *ctx)
{
	struct sync_all *a = ctx;

	if (!a->comm || comm_is(pid, a->comm))
		unwinder__sync(a->u, pid);
}

void unwinder__sync_all(struct unwinder *u, const char *comm)
{
	struct sync_all a = { u, comm };

	if (u)
		procmaps__each_pid(sync_one, &a);
}

void unwinder__mark(struct unwinder *u, pid_t pid)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->npending; i++)
		if (u->pending[i] == pid)
			return;
	if (u->npending == sizeof(u->pending) / sizeof(u->pending[0]))
		unwinder__flush(u);
	u->pending[u->npending++] = pid;
}

void unwinder__flush(struct unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->npending; i++)
		unwinder__sync(u, u->pending[i]);
	u->npending = 0;
}

void unwinder__forget(struct unwinder *u, pid_t pid)
{
	__u32 key = pid;

	for (size_t i = 0; i < u->npending; i++) {
		if (u->pending[i] == pid) {
			u->pending[i] = u->pending[--u->npending];
			break;
		}
	}
	if (u->maps.procs_fd >= 0)
		bpf_map_delete_elem(u->maps.procs_fd, &key);
	for (size_t i = 0; i < u->nprocs; i++) {
		if (u->procs[i] == pid) {
			u->procs[i] = u->procs[--u->nprocs];
			break;
		}
	}
	u->st.processes = u->nprocs;
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *out)
{
	*out = u->st;
}

void unwinder__print_summary(const struct unwinder *u, FILE *out)
{
	const struct unwinder_stats *s = &u->st;

	fprintf(out, "leakscope: unwind tables: %u binaries, %u rows (%.1f of %.1f MiB of "
		"kernel memory), compiled in %.0f ms",
		s->binaries, s->rows, s->rows * 8.0 / (1 << 20), s->max_rows * 8.0 / (1 << 20),
		s->build_ms);
	if (s->failed)
		fprintf(out, "; %u without a table (frame pointers there)", s->failed);
	if (s->pool_full)
		fprintf(out, "; %u left out, the pool is full: raise --unwind-rows", s->pool_full);
	fputc('\n', out);
}

static const char *why_not(int err)
{
	switch (err) {
	case -ENODATA: return "no .eh_frame or .debug_frame";
	case -ENOEXEC: return "not an x86-64 ELF file with code";
	case -ENOSPC: return "row pool full (--unwind-rows)";
	case -EFBIG: return "file too large";
	case -ERANGE: return "code above 4 GiB";
	default: return strerror(-err);
	}
}

void unwinder__print_tables(const struct unwinder *u, FILE *out)
{
	for (size_t i = 0; i < u->nb; i++) {
		const struct binary *b = &u->b[i];

		if (b->bin >= 0)
			fprintf(out, "  table %-3d %7u rows %5u stop  %6.1f ms  %s  %s\n", b->bin,
				b->rows, b->stop_rows, b->ms, b->build_id[0] ? b->build_id : "-",
				b->path);
		else
			fprintf(out, "  no table (%s)  %s\n", why_not(b->err), b->path);
	}
}
