/* fuzz_python.c - libFuzzer harness for what leakscope reads of a Python
 * target's memory: the interpreter's _Py_DebugOffsets (python.c) and code
 * objects, str and bytes objects through them (pysym.c).
 *
 * Input: a 1-byte layout choice, a _Py_DebugOffsets blob (used if it
 * parses; else the built-in layout the choice names: 3.6 ... 3.12), then
 * a memory image placed at a fixed address; frames point into it (their
 * code objects, names, line tables are pointers of the image).  Reads
 * go through this process's own /proc/self/mem, as they would through a
 * target's.  ASan and UBSan watch every read of leakscope's buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "python/pysym.h"
#include "python/python.h"

#define BASE	0x500000000000ULL	/* in ASan's high application memory */
#define SPAN	(1 << 20)
#define BLOB	1024

static uint8_t *image;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned versions[] = { 0x03060000, 0x03070000, 0x03080000, 0x03090000,
					     0x030a0000, 0x030b0000, 0x030c0000 };
	struct py_target t;
	struct pysym *s;
	size_t n;

	if (size < 1 + BLOB + 8)
		return 0;
	if (!image) {
		image = mmap((void *)BASE, SPAN, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (image == MAP_FAILED)
			__builtin_trap();
	}
	memset(&t, 0, sizeof(t));
	if (python__parse_debug_offsets(data + 1, BLOB, &t) &&
	    python__builtin_offsets(versions[data[0] % 7], &t))
		return 0;
	t.status = PY_SUPPORTED;
	n = size - 1 - BLOB < SPAN ? size - 1 - BLOB : SPAN;
	memset(image, 0, SPAN);
	memcpy(image, data + 1 + BLOB, n);
	s = pysym__new(getpid(), &t);
	if (!s)
		return 0;
	/* frames at the first words of the image, any instruction, with
	 * the token BPF would have read (0: taken as it is) */
	for (size_t i = 0; i + 8 <= n && i < 64; i += 8) {
		struct py_frame f = { .instr = (int32_t)(data[0] * 37 + i) - 1 };
		struct frame out;
		uint64_t off;

		memcpy(&off, image + i, 8);
		f.code = BASE + off % SPAN;
		pysym__resolve(s, &f, &out);
	}
	pysym__free(s);
	return 0;
}
