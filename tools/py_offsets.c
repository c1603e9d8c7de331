/* py_offsets.c - prints the offsets of CPython 3.6-3.10 that leakscope's
 * built-in layouts (user/python.c) hold, from that version's own headers.
 *
 *   d=$(pyenv prefix 3.9)/include/python3.9
 *   cc -I"$d" tools/py_offsets.c -o /tmp/po && /tmp/po
 *
 * (3.6/3.7 include dirs end in "m": python3.6m.)  Py_BUILD_CORE opens the
 * internal headers where _PyRuntimeState and PyInterpreterState live.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#elif PY_VERSION_HEX >= 0x03080000
#include "internal/pycore_pystate.h"
#elif PY_VERSION_HEX >= 0x03070000
#include "internal/pystate.h"
#endif
#include <stddef.h>
#include <stdio.h>
#define P(name, expr) printf("%-24s %zu\n", name, (size_t)(expr))
int main(void)
{
	printf("version %s\n", PY_VERSION);
#if PY_VERSION_HEX >= 0x03070000
	P("interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
#endif
	P("threads_head", offsetof(PyInterpreterState, tstate_head));
	P("ts_next", offsetof(PyThreadState, next));
	P("ts_frame", offsetof(PyThreadState, frame));
	P("ts_thread_id", offsetof(PyThreadState, thread_id));
	P("ts_interp", offsetof(PyThreadState, interp));
	P("fr_back", offsetof(PyFrameObject, f_back));
	P("fr_code", offsetof(PyFrameObject, f_code));
	P("fr_lasti", offsetof(PyFrameObject, f_lasti));
	P("co_filename", offsetof(PyCodeObject, co_filename));
	P("co_name", offsetof(PyCodeObject, co_name));
	P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030a0000
	P("co_linetable", offsetof(PyCodeObject, co_linetable));
#else
	P("co_lnotab", offsetof(PyCodeObject, co_lnotab));
#endif
	P("sizeof_code", sizeof(PyCodeObject));
	P("str_length", offsetof(PyASCIIObject, length));
	P("str_state", offsetof(PyASCIIObject, state));
	P("str_ascii_size", sizeof(PyASCIIObject));
	P("str_compact_size", sizeof(PyCompactUnicodeObject));
	P("bytes_size", offsetof(PyBytesObject, ob_base.ob_size));
	P("bytes_data", offsetof(PyBytesObject, ob_sval));
	return 0;
}
