/* python.h - finds a CPython interpreter in a process and the layout of
 * its thread states, frames and code objects. */
#ifndef LEAKSCOPE_PYTHON_H
#define LEAKSCOPE_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "leakscope.h"

/* How a code object maps instructions to lines. */
enum py_line_format {
	PY_LINES_LOCATIONS = 0,	/* 3.11+ co_linetable: location entries, code units */
	PY_LINES_LNOTAB,	/* <= 3.9 co_lnotab: (bytes, line) increments */
	PY_LINES_310,		/* 3.10 co_linetable: (bytes, line delta) ranges */
};

/* What user space reads of a code object, a str and a bytes object. */
struct py_object_offsets {
	uint32_t co_filename, co_qualname, co_firstlineno, co_linetable;
	/* co_qualname: co_name up to 3.10 (no qualified names there);
	 * co_linetable: co_lnotab up to 3.9 */
	enum py_line_format line_format;
	uint32_t co_header;		/* bytes of a code object to read: covers the above */
	uint32_t str_length, str_state, str_ascii_size, str_compact_size;
	uint32_t bytes_size, bytes_data;
};

enum py_status {
	PY_NONE = 0,		/* no interpreter mapped (yet) */
	PY_SUPPORTED,		/* frames can be read */
	PY_UNSUPPORTED,		/* an interpreter we cannot read: why says so */
};

struct py_target {
	enum py_status status;
	unsigned version;	/* PY_VERSION_HEX; 0 if unknown */
	bool version_from_name;	/* < 3.11: major.minor from the file's name only */
	char module[4096];	/* the ELF holding _PyRuntime, as the target names it */
	char open_path[4200];	/* the same file, as leakscope opens it (map_files) */
	uint64_t start, end;	/* where that file is mapped (every segment) */
	bool debug_offsets;	/* the layout came from the interpreter's _Py_DebugOffsets */
	struct py_offsets bpf;	/* for the BPF frame walk */
	struct py_object_offsets obj;
	char why[256];		/* PY_UNSUPPORTED: the reason, for the user */
};

/* Looks for an interpreter in pid: the mapped ELF file that exports
 * _PyRuntime (3.6: _PyThreadState_Current) -- python3.x itself when
 * statically linked, libpython3.x.so otherwise; its version from
 * Py_Version (3.11+) or the file's name (3.6-3.10); the layout from
 * built-in tables (3.6-3.12) or _Py_DebugOffsets (3.13).  When the
 * interpreter has thread states already, the layout is checked against
 * them. */
void python__detect(pid_t pid, struct py_target *out);

/* Gives the BPF frame walk pid's layout (py_config map).  0 or -errno. */
int python__push(int map_fd, pid_t pid, const struct py_target *t);

/* Tells the user what was found: frames on, or why not. */
void python__announce(const struct py_target *t);

/* "3.12.1" ("3.9" when only major.minor are known) */
void python__version_str(const struct py_target *t, char *buf, size_t len);

/* The minor version in a name like python3.9, libpython3.6m.so.1.0:
 * 0x030900f0-style PY_VERSION_HEX (micro 0), or 0 if none. */
unsigned python__version_from_name(const char *path);

/* Reads len bytes of pid's memory at addr (/proc/PID/mem); 0 or -errno. */
int python__read_mem(int memfd, uint64_t addr, void *buf, size_t len);

/* --- exposed for unit tests --- */

/* Sets b->co_token_base from the token's fields: 0, or -EINVAL if they
 * are misaligned or further apart than BPF reads at once. */
int python__token_window(struct py_offsets *b);

/* The layout of a known version from the built-in tables: 0, or -ENOTSUP. */
int python__builtin_offsets(unsigned version, struct py_target *t);

/* Parses a _Py_DebugOffsets blob (the start of _PyRuntime) of a 3.13
 * interpreter into t.  0, or -EINVAL (not one), -ENOTSUP (other layout). */
int python__parse_debug_offsets(const void *blob, size_t len, struct py_target *t);

#endif
