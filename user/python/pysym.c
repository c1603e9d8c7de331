/* pysym.c - names Python frames from the target's own objects.
 *
 * A captured frame is (code object address, instruction, token).  The
 * token is what BPF read of the code object at allocation time: its name
 * and file string objects and first line (py_code_token).  The code
 * object is read from /proc/PID/mem once and cached by (address, token):
 * co_qualname (co_name up to 3.10), co_filename, co_firstlineno and line
 * table (3.11+ locations, Objects/locations.md; 3.10 co_linetable and
 * <= 3.9 co_lnotab, Objects/lnotab_notes.txt of each).  If the object at
 * that address has another token when read, the code object was freed
 * and the address reused: the frame says so instead of naming the wrong
 * function, and the same address with the new token is another entry.
 *
 * Everything read is untrusted: lengths are capped, strings decoded
 * defensively, a failed read gives "??".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python/pysym.h"

#define MAX_STR_CHARS	1024
#define MAX_LINETABLE	(1 << 20)

enum code_state {
	CODE_UNREAD = 0,	/* not readable (yet): tried again when asked */
	CODE_OK,		/* the names below are this code object's */
	CODE_GONE,		/* another object lives at addr now */
};

/* A captured code object: (addr, token) as BPF saw it, the key. */
struct pycode {
	uint64_t addr, token;
	enum code_state state;
	const char *qualname, *filename;
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
};

struct pysym {
	pid_t pid;
	int memfd;
	const struct py_target *t;
	struct pycode *slots;	/* open addressing by (addr, token) */
	size_t cap, n;
	char **strs;		/* every string handed out, freed at the end */
	size_t nstrs, capstrs;
	struct frame *frames;	/* this report's hybrid frames */
	size_t capframes;
};

struct pysym *pysym__new(pid_t pid, const struct py_target *t)
{
	struct pysym *s = calloc(1, sizeof(*s));
	char path[64];

	if (!s)
		return NULL;
	s->pid = pid;
	s->t = t;
	s->cap = 1024;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	s->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (!s->slots) {
		pysym__free(s);
		return NULL;
	}
	return s;
}

void pysym__free(struct pysym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].linetable);
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->slots);
	free(s->frames);
	if (s->memfd >= 0)
		close(s->memfd);
	free(s);
}

static const char *keep(struct pysym *s, char *str)
{
	if (!str)
		return NULL;
	if (s->nstrs == s->capstrs) {
		size_t cap = s->capstrs ? s->capstrs * 2 : 256;
		char **v = realloc(s->strs, cap * sizeof(*v));

		if (!v) {
			free(str);
			return NULL;
		}
		s->strs = v;
		s->capstrs = cap;
	}
	s->strs[s->nstrs++] = str;
	return str;
}

static int rd(struct pysym *s, uint64_t addr, void *buf, size_t len)
{
	if (s->memfd < 0 || !addr)
		return -EIO;
	return python__read_mem(s->memfd, addr, buf, len);
}

static void put_utf8(char *out, size_t *n, uint32_t c)
{
	if (c < 0x80) {
		out[(*n)++] = c;
	} else if (c < 0x800) {
		out[(*n)++] = 0xc0 | c >> 6;
		out[(*n)++] = 0x80 | (c & 0x3f);
	} else if (c < 0x10000) {
		out[(*n)++] = 0xe0 | c >> 12;
		out[(*n)++] = 0x80 | ((c >> 6) & 0x3f);
		out[(*n)++] = 0x80 | (c & 0x3f);
	} else {
		if (c > 0x10ffff)
			c = 0xfffd;
		out[(*n)++] = 0xf0 | c >> 18;
		out[(*n)++] = 0x80 | ((c >> 12) & 0x3f);
		out[(*n)++] = 0x80 | ((c >> 6) & 0x3f);
		out[(*n)++] = 0x80 | (c & 0x3f);
	}
}

/* A compact str object as UTF-8 (malloc'd), or NULL. */
static char *read_str(struct pysym *s, uint64_t addr)
{
	const struct py_object_offsets *o = &s->t->obj;
	uint8_t hdr[128], raw[MAX_STR_CHARS * 4];
	uint32_t state, kind;
	int64_t len;
	size_t n = 0;
	char *out;

	/* every offset is the target's word (_Py_DebugOffsets): bounded by
	 * what was read before it is used */
	if (o->str_compact_size > sizeof(hdr) || o->str_length + 8 > o->str_compact_size ||
	    o->str_state + 4 > o->str_compact_size || o->str_ascii_size > o->str_compact_size ||
	    rd(s, addr, hdr, o->str_compact_size))
		return NULL;
	memcpy(&len, hdr + o->str_length, 8);
	memcpy(&state, hdr + o->str_state, 4);
	kind = (state >> 2) & 7;
	if (!(state & (1 << 5)) || len < 0 || (kind != 1 && kind != 2 && kind != 4))
		return NULL;	/* not compact: never the case for code names */
	if (len > MAX_STR_CHARS)
		len = MAX_STR_CHARS;
	if (rd(s, addr + ((state & (1 << 6)) ? o->str_ascii_size : o->str_compact_size),
	       raw, len * kind))
		return NULL;
	out = malloc(len * 4 + 1);
	for (int64_t i = 0; out && i < len; i++) {
		uint32_t c = kind == 1 ? raw[i]
			   : kind == 2 ? (uint32_t)raw[2 * i] | raw[2 * i + 1] << 8
			   : (uint32_t)raw[4 * i] | raw[4 * i + 1] << 8 |
			     raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;

		put_utf8(out, &n, c ? c : '?');
	}
	if (out)
		out[n] = 0;
	return out;
}

static uint8_t *read_bytes(struct pysym *s, uint64_t addr, size_t *len)
{
	const struct py_object_offsets *o = &s->t->obj;
	int64_t size;
	uint8_t *buf;

	if (rd(s, addr + o->bytes_size, &size, 8) || size < 0 || size > MAX_LINETABLE)
		return NULL;
	buf = malloc(size ? size : 1);
	if (buf && size && rd(s, addr + o->bytes_data, buf, size)) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

static uint64_t u64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Reads the code object at e->addr into e: CODE_OK if it is still the
 * one BPF captured (same token; token 0: BPF could not read it, taken as
 * it is), CODE_GONE if another object lives there now. */
static void load_code(struct pysym *s, struct pycode *e)
{
	const struct py_object_offsets *o = &s->t->obj;
	uint8_t hdr[512];
	int32_t first;
	uint64_t name, file;

	if (o->co_header > sizeof(hdr) || o->co_firstlineno + 4 > o->co_header ||
	    o->co_qualname + 8 > o->co_header || o->co_filename + 8 > o->co_header ||
	    o->co_linetable + 8 > o->co_header || rd(s, e->addr, hdr, o->co_header))
		return;
	memcpy(&first, hdr + o->co_firstlineno, 4);
	name = u64_at(hdr + o->co_qualname);
	file = u64_at(hdr + o->co_filename);
	if (e->token && py_code_token(name, file, first) != e->token) {
		e->state = CODE_GONE;
		return;
	}
	e->firstlineno = first;
	e->qualname = keep(s, read_str(s, name));
	e->filename = keep(s, read_str(s, file));
	e->linetable = read_bytes(s, u64_at(hdr + o->co_linetable), &e->linetable_len);
	e->state = e->qualname ? CODE_OK : CODE_UNREAD;
}

static size_t slot_of(uint64_t addr, uint64_t token, size_t cap)
{
	return ((addr ^ token * 0x9e3779b97f4a7c15ULL) >> 4) & (cap - 1);
}

static int grow(struct pysym *s)
{
	size_t cap = s->cap * 2;
	struct pycode *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		const struct pycode *e = &s->slots[i];
		size_t j;

		if (!e->addr)
			continue;
		for (j = slot_of(e->addr, e->token, cap); slots[j].addr; j = (j + 1) & (cap - 1))
			;
		slots[j] = *e;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* The cache entry of a captured frame's code object, read if it was not
 * (or could not be) before; NULL on ENOMEM. */
static struct pycode *code_of(struct pysym *s, const struct py_frame *f)
{
	struct pycode *e;
	size_t j;

	if (2 * (s->n + 1) > s->cap && grow(s))
		return NULL;
	for (j = slot_of(f->code, f->token, s->cap); s->slots[j].addr; j = (j + 1) & (s->cap - 1))
		if (s->slots[j].addr == f->code && s->slots[j].token == f->token)
			break;
	e = &s->slots[j];
	if (!e->addr) {
		e->addr = f->code;
		e->token = f->token;
		s->n++;
	}
	if (e->state == CODE_UNREAD) {
		free(e->linetable);
		e->linetable = NULL;
		load_code(s, e);
	}
	return e;
}

/* Location table varints: 6 bits a byte, bit 6 = more. */
static int varint(const uint8_t *t, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	int shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 30)
			return -1;
		b = t[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return 0;
}

static int svarint(const uint8_t *t, size_t len, size_t *i, int *out)
{
	uint32_t v;

	if (varint(t, len, i, &v))
		return -1;
	*out = (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
	return 0;
}

/* A decoded line as the frame shows it: 0 (unknown) unless 1..INT32_MAX. */
static int line_or_0(int64_t line)
{
	return line > 0 && line <= INT32_MAX ? (int)line : 0;
}

int pysym__line(const uint8_t *t, size_t len, int firstlineno, int instr)
{
	int64_t line = firstlineno, unit = 0;	/* sums of untrusted deltas */
	size_t i = 0;

	if (instr < 0)
		return firstlineno;
	while (i < len) {
		uint8_t b = t[i++];
		int code = (b >> 3) & 15, n = (b & 7) + 1, delta = 0;
		uint32_t skip;

		if (!(b & 0x80))
			return 0;	/* not at an entry: a corrupt table */
		if (code == 14) {		/* long form */
			if (svarint(t, len, &i, &delta) || varint(t, len, &i, &skip) ||
			    varint(t, len, &i, &skip) || varint(t, len, &i, &skip))
				return 0;
		} else if (code == 13) {	/* no column */
			if (svarint(t, len, &i, &delta))
				return 0;
		} else if (code >= 10 && code <= 12) {	/* one line, two column bytes */
			delta = code - 10;
			i += 2;
		} else if (code < 10) {		/* short form: one column byte */
			i += 1;
		}				/* 15: no location */
		line += delta;
		if (instr < unit + n)
			return code == 15 ? 0 : line_or_0(line);
		unit += n;
	}
	return 0;
}

int pysym__line_lnotab(const uint8_t *t, size_t len, int firstlineno, int offset)
{
	int64_t line = firstlineno, addr = 0;

	/* Objects/lnotab_notes.txt (3.6-3.9): (bytecode bytes, signed line)
	 * increments; the line of the last entry starting at or before */
	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > offset)
			break;
		line += (int8_t)t[i + 1];
	}
	return line_or_0(line);
}

int pysym__line_310(const uint8_t *t, size_t len, int firstlineno, int offset)
{
	int64_t computed = firstlineno, line = -1, end = 0;

	/* 3.10 Objects/lnotab_notes.txt: (bytes, signed line delta) ranges
	 * one after the other, -128 = no line; the range holding offset */
	if (offset < 0)
		return firstlineno;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int8_t delta = (int8_t)t[i + 1];

		end += t[i];
		if (delta == -128) {
			line = -1;
		} else {
			computed += delta;
			line = computed;
		}
		if (end > offset)
			return line_or_0(line);
	}
	return 0;
}

/* The line of a captured frame, in the version's own format. */
static int frame_line(const struct pysym *s, const struct pycode *e, int instr)
{
	switch (s->t->obj.line_format) {
	case PY_LINES_LNOTAB:
		return pysym__line_lnotab(e->linetable, e->linetable_len, e->firstlineno, instr);
	case PY_LINES_310:	/* f_lasti counts code units of 2 bytes */
		return pysym__line_310(e->linetable, e->linetable_len, e->firstlineno,
				       instr < 0 ? -1 : 2 * instr);
	default:
		return pysym__line(e->linetable, e->linetable_len, e->firstlineno, instr);
	}
}

void pysym__prefetch(struct pysym *s, const struct py_frame *f)
{
	code_of(s, f);
}

void pysym__resolve(struct pysym *s, const struct py_frame *f, struct frame *out)
{
	struct pycode *e = code_of(s, f);

	memset(out, 0, sizeof(*out));
	out->python = true;
	out->addr = f->code;
	if (!e || e->state == CODE_UNREAD) {
		out->function = "??";
		return;
	}
	if (e->state == CODE_GONE) {
		out->function = "[freed code object]";
		return;
	}
	out->function = e->qualname;
	out->file = e->filename;
	out->line = e->linetable ? frame_line(s, e, f->instr) : 0;
}

static bool in_interpreter(const struct pysym *s, const struct frame *f)
{
	return !f->python && f->addr >= s->t->start && f->addr < s->t->end;
}

int pysym__report(struct pysym *s, struct report *r, bool python_only)
{
	size_t need = 0, used = 0;

	for (size_t i = 0; i < r->nstacks; i++)
		if (r->stacks[i].py)
			need += r->stacks[i].nframes + r->stacks[i].py->nr + 1;
	if (need > s->capframes) {
		struct frame *v = realloc(s->frames, need * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->frames = v;
		s->capframes = need;
	}
	for (size_t i = 0; i < r->nstacks; i++) {
		struct report_stack *st = &r->stacks[i];
		struct frame *out = s->frames + used;
		int n = 0;

		if (!st->py)
			continue;
		/* the allocating C function of the interpreter is the last
		 * native frame kept: below it the eval loop runs Python code */
		for (int k = 0; !python_only && k < st->nframes; k++) {
			out[n++] = st->frames[k];
			if (in_interpreter(s, &st->frames[k]) && !st->frames[k].inlined)
				break;
		}
		for (uint32_t k = 0; k < st->py->nr && k < MAX_PY_DEPTH; k++)
			pysym__resolve(s, &st->py->f[k], &out[n++]);
		if (st->py->truncated)
			out[n++] = (struct frame){ .python = true, .function = "[deeper Python frames]" };
		st->frames = out;
		st->nframes = n;
		used += n;
	}
	return 0;
}
