/* python.c - finds CPython in a target and how to read its frames.
 *
 * 3.6 to 3.12 keep their layouts in headers: the offsets below were taken
 * with offsetof() from each version's own headers (3.6.15, 3.7.16,
 * 3.8.18, 3.9.18, 3.10.13 with tools/py_offsets.c; 3.11.7, 3.12.1 from
 * their private headers the same way).  3.13 describes itself: _PyRuntime
 * starts with _Py_DebugOffsets.  Either way the result is checked against
 * the live interpreter before it is used: its thread-state list must name
 * threads of the process (3.11+), or point back at its interpreter.
 */
#include <bpf/bpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elfsym.h"
#include "procs/procmaps.h"
#include "python/python.h"
#include "util/log.h"

struct layout {
	unsigned minor;
	struct py_offsets bpf;
	struct py_object_offsets obj;
};

/* <= 3.10: PyThreadState {prev, next, interp, frame ...}, PyFrameObject
 * {PyObject_VAR_HEAD, f_back, f_code ...}; the thread found by
 * thread_id (pthread_self), frames by f_back, the line from f_lasti. */
#define OLD_THREADS(ts_thread_id) \
	.threads_head = 8, .ts_next = 8, .ts_native_thread_id = (ts_thread_id), \
	.ts_current_frame = 24, .fr_code = 32, .fr_previous = 24, \
	.thread_match = PY_MATCH_FSBASE, .frame_kind = PY_FRAME_OBJECT
/* PyASCIIObject / PyCompactUnicodeObject before 3.12 (with wstr) */
#define STR_WSTR \
	.str_length = 16, .str_state = 32, .str_ascii_size = 48, .str_compact_size = 72, \
	.bytes_size = 16, .bytes_data = 32

static const struct layout builtin[] = {
	{ 6,
	  { OLD_THREADS(152), .runtime_kind = PY_RUNTIME_CURRENT_TS, .fr_instr = 120,
	    .co_token = 104, .co_token_file = 96, .co_token_line = 36 },
	  { .co_filename = 96, .co_qualname = 104, .co_firstlineno = 36, .co_linetable = 112,
	    .co_header = 144, .line_format = PY_LINES_LNOTAB, STR_WSTR } },
	{ 7,
	  { OLD_THREADS(176), .interpreters_head = 24, .fr_instr = 104,
	    .co_token = 104, .co_token_file = 96, .co_token_line = 36 },
	  { .co_filename = 96, .co_qualname = 104, .co_firstlineno = 36, .co_linetable = 112,
	    .co_header = 144, .line_format = PY_LINES_LNOTAB, STR_WSTR } },
	{ 8,
	  { OLD_THREADS(176), .interpreters_head = 32, .fr_instr = 104,
	    .co_token = 112, .co_token_file = 104, .co_token_line = 40 },
	  { .co_filename = 104, .co_qualname = 112, .co_firstlineno = 40, .co_linetable = 120,
	    .co_header = 176, .line_format = PY_LINES_LNOTAB, STR_WSTR } },
	{ 9,
	  { OLD_THREADS(176), .interpreters_head = 32, .fr_instr = 104,
	    .co_token = 112, .co_token_file = 104, .co_token_line = 40 },
	  { .co_filename = 104, .co_qualname = 112, .co_firstlineno = 40, .co_linetable = 120,
	    .co_header = 176, .line_format = PY_LINES_LNOTAB, STR_WSTR } },
	{ 10,
	  { OLD_THREADS(176), .interpreters_head = 32, .fr_instr = 96,
	    .co_token = 112, .co_token_file = 104, .co_token_line = 40 },
	  { .co_filename = 104, .co_qualname = 112, .co_firstlineno = 40, .co_linetable = 120,
	    .co_header = 176, .line_format = PY_LINES_310, STR_WSTR } },
	{ 11,
	  { .interpreters_head = 40, .threads_head = 16, .ts_next = 8,
	    .ts_native_thread_id = 160, .ts_cframe = 56, .ts_current_frame = 8,
	    .fr_code = 32, .fr_previous = 48, .fr_instr = 56, .fr_owner = 0,
	    .co_code_adaptive = 184, .co_token = 128, .co_token_file = 112,
	    .co_token_line = 72 },
	  { .co_filename = 112, .co_qualname = 128, .co_firstlineno = 72,
	    .co_linetable = 136, .co_header = 184, STR_WSTR } },
	{ 12,
	  { .interpreters_head = 40, .threads_head = 72, .ts_next = 8,
	    .ts_native_thread_id = 144, .ts_cframe = 56, .ts_current_frame = 0,
	    .fr_code = 0, .fr_previous = 8, .fr_instr = 56, .fr_owner = 70,
	    .co_code_adaptive = 192, .co_token = 128, .co_token_file = 112,
	    .co_token_line = 68 },
	  { .co_filename = 112, .co_qualname = 128, .co_firstlineno = 68,
	    .co_linetable = 136, .co_header = 192,
	    .str_length = 16, .str_state = 32, .str_ascii_size = 40, .str_compact_size = 56,
	    .bytes_size = 16, .bytes_data = 32 } },
};

void python__version_str(const struct py_target *t, char *buf, size_t len)
{
	unsigned hex = t->version;

	if (t->version_from_name)
		snprintf(buf, len, "%u.%u", hex >> 24, (hex >> 16) & 0xff);
	else
		snprintf(buf, len, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
}

unsigned python__version_from_name(const char *path)
{
	const char *base = strrchr(path, '/'), *p;
	unsigned major, minor = 0;
	int digits = 0;

	base = base ? base + 1 : path;
	p = !strncmp(base, "libpython", 9) ? base + 9
	  : !strncmp(base, "python", 6) ? base + 6 : NULL;
	if (!p || !isdigit((unsigned char)p[0]) || p[1] != '.')
		return 0;
	major = p[0] - '0';
	for (p += 2; isdigit((unsigned char)*p) && digits < 3; p++, digits++)
		minor = minor * 10 + (*p - '0');
	if (!digits || isdigit((unsigned char)*p) || (*p && *p != 'm' && *p != '.'))
		return 0;	/* python3.9-config, python3.9d (a debug build's objects
				 * are larger): not an interpreter we know */
	return major << 24 | minor << 16;
}

int python__read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(memfd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* The window BPF reads for a code object's token: from the lowest of its
 * three fields, 8-aligned, to the end of the highest.  0 or -EINVAL. */
int python__token_window(struct py_offsets *b)
{
	uint32_t lo = b->co_token, hi = b->co_token;

	if (b->co_token_file < lo)
		lo = b->co_token_file;
	if (b->co_token_line < lo)
		lo = b->co_token_line;
	if (b->co_token_file > hi)
		hi = b->co_token_file;
	if (b->co_token_line > hi)
		hi = b->co_token_line;
	b->co_token_base = lo & ~7U;
	if ((b->co_token | b->co_token_file) & 7 || b->co_token_line & 3 ||
	    hi + 8 - b->co_token_base > PY_TOKEN_READ)
		return -EINVAL;
	return 0;
}

int python__builtin_offsets(unsigned version, struct py_target *t)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (version >> 24 != 3 || ((version >> 16) & 0xff) != builtin[i].minor)
			continue;
		t->bpf = builtin[i].bpf;
		t->obj = builtin[i].obj;
		return python__token_window(&t->bpf);
	}
	return -ENOTSUP;
}

/* The prefix of 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h)
 * up to the parts leakscope reads; every field is a uint64_t. */
struct debug_offsets_313 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
	struct { uint64_t size, id, next, threads_head, gc, imports_modules, sysdict,
		 builtins, ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		 gil_runtime_state_locked, gil_runtime_state_holder; } interpreter_state;
	struct { uint64_t size, prev, next, interp, current_frame, thread_id,
		 native_thread_id, datastack_chunk, status; } thread_state;
	struct { uint64_t size, previous, executable, instr_ptr, localsplus, owner; } frame;
	struct { uint64_t size, filename, name, qualname, linetable, firstlineno,
		 argcount, localsplusnames, localspluskinds, co_code_adaptive; } code;
	struct { uint64_t size, ob_type; } pyobject;
	struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
	struct { uint64_t size, ob_item, ob_size; } tuple_object;
	struct { uint64_t size, ob_item, ob_size; } list_object;
	struct { uint64_t size, ma_keys, ma_values; } dict_object;
	struct { uint64_t size, ob_fval; } float_object;
	struct { uint64_t size, lv_tag, ob_digit; } long_object;
	struct { uint64_t size, ob_size, ob_sval; } bytes_object;
	struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
};

/* An offset the BPF walk may use: frame fields within what it reads. */
static int small(uint64_t v, uint64_t max, uint32_t *out)
{
	if (v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int python__parse_debug_offsets(const void *blob, size_t len, struct py_target *t)
{
	struct debug_offsets_313 d;
	struct py_offsets *b = &t->bpf;
	struct py_object_offsets *o = &t->obj;
	int err = 0;

	if (len < sizeof(d))
		return -EINVAL;
	memcpy(&d, blob, sizeof(d));
	if (memcmp(d.cookie, "xdebugpy", 8))
		return -EINVAL;
	if ((d.version >> 16) != 0x030d || d.free_threaded)
		return -ENOTSUP;	/* another layout, or free-threaded frames */
	memset(b, 0, sizeof(*b));
	err |= small(d.runtime_state.interpreters_head, 1 << 20, &b->interpreters_head);
	err |= small(d.interpreter_state.threads_head, 1 << 20, &b->threads_head);
	err |= small(d.thread_state.next, 4096, &b->ts_next);
	err |= small(d.thread_state.native_thread_id, 4096, &b->ts_native_thread_id);
	err |= small(d.thread_state.current_frame, 4096, &b->ts_current_frame);
	err |= small(d.frame.previous, PY_FRAME_READ - 8, &b->fr_previous);
	err |= small(d.frame.executable, PY_FRAME_READ - 8, &b->fr_code);
	err |= small(d.frame.instr_ptr, PY_FRAME_READ - 8, &b->fr_instr);
	err |= small(d.frame.owner, PY_FRAME_READ - 1, &b->fr_owner);
	err |= small(d.code.co_code_adaptive, 4096, &b->co_code_adaptive);
	err |= small(d.code.qualname, 4096, &b->co_token);
	err |= small(d.code.filename, 4096, &b->co_token_file);
	err |= small(d.code.firstlineno, 4096, &b->co_token_line);
	err |= small(d.code.filename, 4096, &o->co_filename);
	err |= small(d.code.qualname, 4096, &o->co_qualname);
	err |= small(d.code.firstlineno, 4096, &o->co_firstlineno);
	err |= small(d.code.linetable, 4096, &o->co_linetable);
	err |= small(d.code.co_code_adaptive, 4096, &o->co_header);
	err |= small(d.unicode_object.length, 4096, &o->str_length);
	err |= small(d.unicode_object.state, 4096, &o->str_state);
	err |= small(d.unicode_object.asciiobject_size, 4096, &o->str_ascii_size);
	err |= small(d.bytes_object.ob_size, 4096, &o->bytes_size);
	err |= small(d.bytes_object.ob_sval, 4096, &o->bytes_data);
	if (err || (b->fr_previous | b->fr_code | b->fr_instr) & 7 || python__token_window(b))
		return -EINVAL;		/* the BPF walk reads them as aligned words */
	/* PyCompactUnicodeObject = PyASCIIObject + utf8_length + utf8 */
	o->str_compact_size = o->str_ascii_size + 16;
	if (o->co_filename + 8 > o->co_header || o->co_qualname + 8 > o->co_header ||
	    o->co_linetable + 8 > o->co_header || o->co_firstlineno + 4 > o->co_header)
		return -EINVAL;
	return 0;
}

/* 3.11+: the thread-state list names live threads of pid. */
static int check_native_ids(pid_t pid, int memfd, const struct py_offsets *b, uint64_t ts)
{
	uint64_t nid = 0;
	int seen = 0, known = 0;
	char path[64];

	for (int i = 0; ts && i < PY_MAX_THREADS; i++) {
		if (python__read_mem(memfd, ts + b->ts_native_thread_id, &nid, 8) ||
		    python__read_mem(memfd, ts + b->ts_next, &ts, 8))
			return -EIO;
		seen++;
		snprintf(path, sizeof(path), "/proc/%d/task/%llu", pid, (unsigned long long)nid);
		if (nid && nid < (1ULL << 32) && !access(path, F_OK))
			known++;
	}
	return !seen || known ? 0 : -EINVAL;
}

/* PyThreadState.interp: right after prev and next in every version
 * that identifies threads by pthread_self (3.6-3.10). */
#define OLD_TS_INTERP 16

/* <= 3.10: every thread state of the list points back at interp. */
static int check_back_pointers(int memfd, const struct py_offsets *b, uint64_t interp,
			       uint64_t ts, uint64_t must_see)
{
	uint64_t back = 0;
	bool seen = !must_see;

	for (int i = 0; ts && i < PY_MAX_THREADS; i++) {
		if (python__read_mem(memfd, ts + OLD_TS_INTERP, &back, 8) || back != interp)
			return -EINVAL;
		seen |= ts == must_see;
		if (python__read_mem(memfd, ts + b->ts_next, &ts, 8))
			return -EIO;
	}
	return seen ? 0 : -EINVAL;
}

/* The layout matches the live interpreter (when it has thread states). */
static int check_threads(pid_t pid, int memfd, const struct py_target *t)
{
	const struct py_offsets *b = &t->bpf;
	uint64_t interp = 0, ts = 0, current = 0;

	if (b->runtime_kind == PY_RUNTIME_CURRENT_TS) {
		/* 3.6: the GIL holder's state, found again from its interpreter */
		if (python__read_mem(memfd, b->runtime_addr, &current, 8))
			return -EIO;
		if (!current)
			return 0;	/* nobody holds the GIL right now */
		if (python__read_mem(memfd, current + OLD_TS_INTERP, &interp, 8))
			return -EIO;
	} else if (python__read_mem(memfd, b->runtime_addr + b->interpreters_head, &interp, 8)) {
		return -EIO;
	}
	if (!interp)
		return 0;	/* not initialized yet: nothing to check against */
	if (python__read_mem(memfd, interp + b->threads_head, &ts, 8))
		return -EIO;
	if (b->thread_match == PY_MATCH_FSBASE)
		return check_back_pointers(memfd, b, interp, ts, current);
	return check_native_ids(pid, memfd, b, ts);
}

/* Version and layout of the interpreter: Py_Version (3.11+) or the name
 * of the file (3.6-3.10, which have no Py_Version). */
static void read_layout(pid_t pid, int memfd, struct py_target *t, uint64_t py_version_addr)
{
	char ver[32];
	unsigned char blob[sizeof(struct debug_offsets_313)];
	uint64_t v = 0, runtime = t->bpf.runtime_addr;
	int err;

	if (!py_version_addr || python__read_mem(memfd, py_version_addr, &v, 8) ||
	    (v >> 24) != 3) {
		v = python__version_from_name(t->module);
		t->version_from_name = true;
	}
	t->version = (unsigned)v;
	python__version_str(t, ver, sizeof(ver));
	if ((v >> 24) != 3 || (t->version_from_name && ((v >> 16) & 0xff) > 10)) {
		t->status = PY_UNSUPPORTED;
		if (v)
			snprintf(t->why, sizeof(t->why), "Python %s is not supported (3.6 to 3.13 are)",
				 ver);
		else
			snprintf(t->why, sizeof(t->why), "cannot tell which Python this is (no "
				 "Py_Version, no version in the file's name)");
		return;
	}
	err = python__builtin_offsets(t->version, t);
	if (err && !python__read_mem(memfd, runtime, blob, sizeof(blob))) {
		err = python__parse_debug_offsets(blob, sizeof(blob), t);
		t->debug_offsets = !err;
	}
	t->bpf.runtime_addr = runtime;	/* the tables above have none */
	if (err) {
		t->status = PY_UNSUPPORTED;
		snprintf(t->why, sizeof(t->why), "Python %s: frame layout not known to this "
			 "leakscope (3.6 to 3.13 are)", ver);
		return;
	}
	if (check_threads(pid, memfd, t)) {
		t->status = PY_UNSUPPORTED;
		snprintf(t->why, sizeof(t->why), "Python %s: its thread states do not match the "
			 "expected layout (a patched build?)", ver);
		return;
	}
	t->status = PY_SUPPORTED;
}

/* The range [start, end) of every mapping of the file of base. */
static void file_range(const struct vma_list *l, const struct vma *base,
		       uint64_t *start, uint64_t *end)
{
	*start = base->start;
	*end = base->end;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].inode != base->inode || strcmp(l->v[i].path, base->path))
			continue;
		if (l->v[i].start < *start)
			*start = l->v[i].start;
		if (l->v[i].end > *end)
			*end = l->v[i].end;
	}
}

/* The interpreter's state at addr is in place: mapped writable.  While
 * the dynamic linker is still mapping libpython (`-- CMD` holds the child
 * at each new executable mapping), its data segment is not there yet and
 * what lies at addr is something else: look again at the next event. */
static bool data_mapped(const struct vma_list *l, uint64_t addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (addr >= l->v[i].start && addr < l->v[i].end)
			return l->v[i].perms[1] == 'w';
	return false;
}

/* Only a name like python3.x / libpython3.x.so is opened: an embedding
 * program (uwsgi ...) would need --obj, as other allocators do. */
static bool maybe_python(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "python", 6) || !strncmp(base, "libpython", 9);
}

void python__detect(pid_t pid, struct py_target *t)
{
	struct vma_list maps;
	char path[4200], exe[4096];
	int memfd;

	memset(t, 0, sizeof(*t));
	/* the executable is looked at whatever its name: an interpreter
	 * renamed or copied (a service's own "python") */
	procmaps__exe(pid, exe, sizeof(exe));
	if (procmaps__read(pid, &maps))
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; memfd >= 0 && i < maps.n && t->status == PY_NONE; i++) {
		const struct vma *v = &maps.v[i];
		uint64_t runtime, pyver = 0;
		struct elfsym *e;

		if (v->path[0] != '/' || v->offset || !v->inode ||
		    (!maybe_python(v->path) && strcmp(v->path, exe)))
			continue;
		e = elfsym__open(procmaps__open_path(pid, v, path, sizeof(path)));
		if (!e)
			continue;
		bool runtime_state = !elfsym__object(e, "_PyRuntime", &runtime);

		if ((runtime_state || !elfsym__object(e, "_PyThreadState_Current", &runtime)) &&
		    data_mapped(&maps, v->start + runtime)) {
			snprintf(t->module, sizeof(t->module), "%s", v->path);
			snprintf(t->open_path, sizeof(t->open_path), "%s", path);
			file_range(&maps, v, &t->start, &t->end);
			t->bpf.runtime_addr = v->start + runtime;
			if (!elfsym__object(e, "Py_Version", &pyver))
				pyver += v->start;
			read_layout(pid, memfd, t, pyver);
			if (t->status == PY_SUPPORTED &&
			    runtime_state != (t->bpf.runtime_kind == PY_RUNTIME_STATE)) {
				t->status = PY_UNSUPPORTED;	/* 3.6's symbol in a 3.7+, or so */
				snprintf(t->why, sizeof(t->why), "the interpreter's symbols do "
					 "not match its version");
			}
			if (t->status != PY_SUPPORTED)
				t->bpf.runtime_addr = 0;
		}
		elfsym__close(e);
	}
	if (memfd >= 0)
		close(memfd);
	procmaps__free(&maps);
}

int python__push(int map_fd, pid_t pid, const struct py_target *t)
{
	__u32 key = pid;

	if (t->status != PY_SUPPORTED)
		return -EINVAL;
	return bpf_map_update_elem(map_fd, &key, &t->bpf, BPF_ANY) ? -errno : 0;
}

void python__announce(const struct py_target *t)
{
	char ver[32];

	python__version_str(t, ver, sizeof(ver));
	if (t->status == PY_SUPPORTED)
		log__error("Python %s (%s): Python frames in every stack\n",
			ver, t->module);
	else if (t->status == PY_UNSUPPORTED)
		log__error("%s (%s); native stacks only\n", t->why, t->module);
}
