/* test_python.c - pure parts of Python support: the line tables (3.11+
 * locations, 3.10 co_linetable, <= 3.9 co_lnotab), _Py_DebugOffsets
 * parsing, built-in layouts, versions from file names.  The decoders are
 * also held against the interpreters' own answers for thousands of real
 * functions by tests/e2e/test_python_lines.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python/pysym.h"
#include "python/python.h"

/* f.__code__.co_linetable of this function, and the line of each code
 * unit from co_positions() (CPython 3.11; 3.12 and 3.13 encode alike):
 *
 *   def f(a):
 *       x = a + 1
 *       if x > 3:
 *           y = [x] * 10
 *       else:
 *           y = None
 *
 *       for i in range(3):
 *           x += i
 *       return (x,
 *               y)
 */
static const uint8_t table[] = { 0x80, 0x0, 0xd8, 0x8, 0x9, 0x88, 0x41, 0x89, 0x5, 0x80, 0x41, 0xd8, 0x7, 0x8, 0x88, 0x31, 0x82, 0x75, 0x80, 0x75, 0xd8, 0xd, 0xe, 0x88, 0x43, 0x90, 0x22, 0x89, 0x48, 0x88, 0x1, 0x88, 0x1, 0xe0, 0xc, 0x10, 0x88, 0x1, 0xe5, 0xd, 0x12, 0x90, 0x31, 0x89, 0x58, 0x8c, 0x58, 0xf0, 0x0, 0x1, 0x5, 0xf, 0xf0, 0x0, 0x1, 0x5, 0xf, 0x88, 0x1, 0xd8, 0x8, 0x9, 0x88, 0x51, 0x89, 0x6, 0x88, 0x1, 0x88, 0x1, 0xd8, 0xc, 0xd, 0xd8, 0xc, 0xd, 0xf0, 0x3, 0x1, 0xc, 0xf, 0xf0, 0x0, 0x1, 0x5, 0xf };
static const int lines[] = { 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 10, 11, 10, 10 };

static void test_line_of_every_instruction(void **state)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(pysym__line(table, sizeof(table), 1, (int)i), lines[i]);
	/* before the first instruction: the def line; past the end: unknown */
	assert_int_equal(pysym__line(table, sizeof(table), 1, -1), 1);
	assert_int_equal(pysym__line(table, sizeof(table), 1, 10000), 0);
	/* the same table for a function defined 100 lines further down */
	assert_int_equal(pysym__line(table, sizeof(table), 101, 44), 110);
}

static void test_bad_tables(void **state)
{
	static const uint8_t not_entry[] = { 0x00, 0x01 };
	static const uint8_t cut_varint[] = { 0xf0, 0x41 };	/* long form, varint continues */
	uint8_t noise[4096];

	assert_int_equal(pysym__line(not_entry, sizeof(not_entry), 5, 0), 0);
	assert_int_equal(pysym__line(cut_varint, sizeof(cut_varint), 5, 0), 0);
	assert_int_equal(pysym__line(table, 0, 5, 0), 0);
	/* found by tests/fuzz/fuzz_py_lines: a delta past INT_MAX (signed
	 * overflow before) is an unknown line */
	static const uint8_t past_max[] = { 0xf0, 0xb0, 0xb0, 0xbe, 0xb0, 0xbe };
	assert_int_equal(pysym__line(past_max, sizeof(past_max), 0x7fffffff, 0), 0);
	srand(7);
	for (int round = 0; round < 200; round++) {	/* never reads past the end */
		for (size_t i = 0; i < sizeof(noise); i++)
			noise[i] = rand();
		pysym__line(noise, 1 + rand() % sizeof(noise), rand() % 1000, rand() % 5000);
	}
}

/* A 3.13 _Py_DebugOffsets as the interpreter lays it out: every field a
 * uint64_t, in the order of struct debug_offsets_313. */
static void fill_313(uint64_t *v, size_t n)
{
	memset(v, 0, n * 8);
	memcpy(v, "xdebugpy", 8);
	v[1] = 0x030d00f0;		/* version */
	v[2] = 0;			/* free_threaded */
	v[3 + 2] = 632;			/* runtime_state.interpreters_head */
	v[6 + 3] = 7344;		/* interpreter_state.threads_head */
	v[19 + 2] = 8;			/* thread_state.next */
	v[19 + 4] = 72;			/* .current_frame */
	v[19 + 6] = 160;		/* .native_thread_id */
	v[28 + 1] = 8;			/* interpreter_frame.previous */
	v[28 + 2] = 0;			/* .executable */
	v[28 + 3] = 56;			/* .instr_ptr */
	v[28 + 5] = 70;			/* .owner */
	v[34 + 1] = 112;		/* code_object.filename */
	v[34 + 3] = 128;		/* .qualname */
	v[34 + 4] = 136;		/* .linetable */
	v[34 + 5] = 68;			/* .firstlineno */
	v[34 + 9] = 200;		/* .co_code_adaptive */
	v[64 + 1] = 16;			/* bytes_object.ob_size */
	v[64 + 2] = 32;			/* .ob_sval */
	v[67 + 1] = 32;			/* unicode_object.state */
	v[67 + 2] = 16;			/* .length */
	v[67 + 3] = 40;			/* .asciiobject_size */
}

static void test_debug_offsets(void **state)
{
	uint64_t v[71];
	struct py_target t;

	fill_313(v, 71);
	memset(&t, 0, sizeof(t));
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), 0);
	assert_int_equal(t.bpf.interpreters_head, 632);
	assert_int_equal(t.bpf.threads_head, 7344);
	assert_int_equal(t.bpf.ts_next, 8);
	assert_int_equal(t.bpf.ts_native_thread_id, 160);
	assert_int_equal(t.bpf.ts_cframe, 0);
	assert_int_equal(t.bpf.ts_current_frame, 72);
	assert_int_equal(t.bpf.fr_code, 0);
	assert_int_equal(t.bpf.fr_previous, 8);
	assert_int_equal(t.bpf.fr_instr, 56);
	assert_int_equal(t.bpf.fr_owner, 70);
	assert_int_equal(t.bpf.co_code_adaptive, 200);
	assert_int_equal(t.bpf.co_token, 128);
	assert_int_equal(t.obj.co_filename, 112);
	assert_int_equal(t.obj.co_firstlineno, 68);
	assert_int_equal(t.obj.str_ascii_size, 40);
	assert_int_equal(t.obj.str_compact_size, 56);

	assert_int_equal(python__parse_debug_offsets(v, 100, &t), -EINVAL);	/* short */
	v[1] = 0x030e00f0;		/* 3.14: another layout */
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -ENOTSUP);
	fill_313(v, 71);
	v[2] = 1;			/* free-threaded build */
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -ENOTSUP);
	fill_313(v, 71);
	memcpy(v, "notdebug", 8);
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -EINVAL);
	fill_313(v, 71);
	v[28 + 3] = 4000;		/* outside what BPF reads of a frame */
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -EINVAL);
	fill_313(v, 71);
	v[28 + 1] = 12;			/* misaligned pointer field */
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -EINVAL);
	fill_313(v, 71);
	v[34 + 9] = 64;			/* header too short for the fields read */
	assert_int_equal(python__parse_debug_offsets(v, sizeof(v), &t), -EINVAL);
}

static void test_builtin_layouts(void **state)
{
	struct py_target t;

	assert_int_equal(python__builtin_offsets(0x030b02f0, &t), 0);	/* 3.11.2 */
	assert_int_equal(t.bpf.ts_cframe, 56);
	assert_int_equal(t.bpf.fr_code, 32);
	assert_int_equal(python__builtin_offsets(0x030c01f0, &t), 0);	/* 3.12.1 */
	assert_int_equal(t.bpf.fr_owner, 70);
	assert_int_equal(python__builtin_offsets(0x030d00f0, &t), -ENOTSUP);	/* 3.13: its own */
	assert_int_equal(python__builtin_offsets(0x020712f0, &t), -ENOTSUP);	/* 2.7 */
	assert_int_equal(python__builtin_offsets(0x030e00f0, &t), -ENOTSUP);	/* 3.14 */
	/* <= 3.10: PyFrameObject chain, threads by pthread_self */
	for (unsigned minor = 6; minor <= 10; minor++) {
		assert_int_equal(python__builtin_offsets(0x03000000 | minor << 16, &t), 0);
		assert_int_equal(t.bpf.frame_kind, PY_FRAME_OBJECT);
		assert_int_equal(t.bpf.thread_match, PY_MATCH_FSBASE);
		assert_int_equal(t.bpf.runtime_kind,
				 minor == 6 ? PY_RUNTIME_CURRENT_TS : PY_RUNTIME_STATE);
		assert_int_equal(t.obj.line_format, minor == 10 ? PY_LINES_310 : PY_LINES_LNOTAB);
		/* what BPF reads of a frame lies in the bytes it reads */
		assert_true(t.bpf.fr_instr + 4 <= PY_FRAME_READ);
		assert_true(t.bpf.fr_code + 8 <= PY_FRAME_READ);
		/* the code object fields read lie in the header read */
		assert_true(t.obj.co_linetable + 8 <= t.obj.co_header);
		assert_true(t.obj.co_qualname + 8 <= t.obj.co_header);
	}
	assert_int_equal(t.bpf.fr_instr, 96);	/* 3.10's f_lasti */
}

static void test_version_from_name(void **state)
{
	assert_int_equal(python__version_from_name("/usr/bin/python3.9"), 0x03090000);
	assert_int_equal(python__version_from_name("/opt/lib/libpython3.10.so.1.0"), 0x030a0000);
	assert_int_equal(python__version_from_name("libpython3.6m.so.1.0"), 0x03060000);
	assert_int_equal(python__version_from_name("/usr/bin/python2.7"), 0x02070000);
	assert_int_equal(python__version_from_name("/usr/bin/python3"), 0);
	assert_int_equal(python__version_from_name("/usr/bin/python3.9-config"), 0);
	assert_int_equal(python__version_from_name("/usr/bin/python3.9d"), 0);	/* debug ABI */
	assert_int_equal(python__version_from_name("/usr/bin/python3.12345"), 0);
	assert_int_equal(python__version_from_name("/usr/bin/pythonista"), 0);
	assert_int_equal(python__version_from_name(""), 0);
}

/* def f(a):                 co_lnotab of 3.9 (bytes, line increments):
 *     x = a + 1             offsets 0-6 line 2, 8-14 line 3 ...
 *     if x > 3:             a big jump back: for loops end on their head
 *         y = [x] * 10
 *     return y */
static void test_lnotab(void **state)
{
	static const uint8_t t[] = { 0, 1, 8, 1, 8, 1, 10, 1 };
	static const uint8_t back[] = { 0, 1, 10, 2, 6, 0xff };	/* line -1 */
	static const uint8_t huge[] = { 0, 127, 0, 127, 0, 127 };

	assert_int_equal(pysym__line_lnotab(t, sizeof(t), 1, -1), 1);
	assert_int_equal(pysym__line_lnotab(t, sizeof(t), 1, 0), 2);
	assert_int_equal(pysym__line_lnotab(t, sizeof(t), 1, 6), 2);
	assert_int_equal(pysym__line_lnotab(t, sizeof(t), 1, 8), 3);
	assert_int_equal(pysym__line_lnotab(t, sizeof(t), 1, 26), 5);
	assert_int_equal(pysym__line_lnotab(back, sizeof(back), 10, 16), 12);
	/* corrupt: odd length, overflow past INT_MAX, nothing at all */
	assert_int_equal(pysym__line_lnotab(t, 3, 1, 100), 2);	/* the half pair ignored */
	assert_int_equal(pysym__line_lnotab(huge, sizeof(huge), 0x7fffff00, 0), 0);
	assert_int_equal(pysym__line_lnotab(t, 0, 7, 100), 7);
}

/* 3.10: (bytes, line delta) ranges, -128 = no line */
static void test_linetable_310(void **state)
{
	static const uint8_t t[] = { 8, 1, 0, 1, 6, 1, 4, 0x80, 2, 3 };
	uint8_t noise[4096];

	assert_int_equal(pysym__line_310(t, sizeof(t), 1, -1), 1);
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 0), 2);
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 7), 2);
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 8), 4);	/* empty range skipped */
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 14), 0);	/* no line */
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 18), 7);
	assert_int_equal(pysym__line_310(t, sizeof(t), 1, 20), 0);	/* past the end */
	assert_int_equal(pysym__line_310(t, 3, 1, 9), 0);		/* cut short */
	srand(11);
	for (int round = 0; round < 200; round++) {	/* never past the end, no overflow */
		for (size_t i = 0; i < sizeof(noise); i++)
			noise[i] = rand();
		pysym__line_310(noise, rand() % sizeof(noise), 0x7fffffff - rand() % 3, rand());
		pysym__line_lnotab(noise, rand() % sizeof(noise), -0x7fffffff + rand() % 3,
				   rand());
	}
}

/* A code object in this process's own memory, read through /proc/self/mem
 * as a target's would be: named; and with a layout whose str offsets
 * point past what is read (a hostile _Py_DebugOffsets; fuzz_python found
 * the read out of bounds), refused instead of read. */
static void test_code_object_offsets_bounded(void **state)
{
	static uint8_t code[256], name[128], file[128];
	struct py_target t;
	struct pysym *s;
	struct py_frame f = { .instr = -1 };
	struct frame out;
	uint64_t p;

	memset(&t, 0, sizeof(t));
	assert_int_equal(python__builtin_offsets(0x030c01f0, &t), 0);	/* 3.12 */
	t.status = PY_SUPPORTED;
	/* compact ASCII str objects: length at 16, state at 32, data at 40 */
	for (uint8_t *o = name; o; o = o == name ? file : NULL) {
		int64_t len = o == name ? 3 : 4;
		uint32_t st = 1 << 2 | 1 << 5 | 1 << 6;

		memcpy(o + 16, &len, 8);
		memcpy(o + 32, &st, 4);
		memcpy(o + 40, o == name ? "run" : "a.py", len);
	}
	p = (uintptr_t)name;
	memcpy(code + t.obj.co_qualname, &p, 8);
	p = (uintptr_t)file;
	memcpy(code + t.obj.co_filename, &p, 8);
	f.code = (uintptr_t)code;
	s = pysym__new(getpid(), &t);
	assert_non_null(s);
	pysym__resolve(s, &f, &out);
	assert_string_equal(out.function, "run");
	assert_string_equal(out.file, "a.py");
	pysym__free(s);

	t.obj.str_length = 4000;	/* past the str header read */
	s = pysym__new(getpid(), &t);
	pysym__resolve(s, &f, &out);
	assert_string_equal(out.function, "??");
	pysym__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_of_every_instruction),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_debug_offsets),
		cmocka_unit_test(test_builtin_layouts),
		cmocka_unit_test(test_version_from_name),
		cmocka_unit_test(test_lnotab),
		cmocka_unit_test(test_linetable_310),
		cmocka_unit_test(test_code_object_offsets_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
