/* fuzz_py_lines.c - libFuzzer harness for the Python line-table decoders
 * (user/pysym.c): the 3.11+ location table, the 3.10 co_linetable and the
 * <= 3.9 co_lnotab, which leakscope reads from a target's memory.
 *
 * Input: one byte choosing the decoder, four of first line, four of
 * instruction offset, then the table.  ASan and UBSan watch every read and
 * every sum (a line number must never overflow).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python/pysym.h"

/* pysym.c reads targets through this; the decoders never do. */
int python__read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	return -EIO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t first, offset;

	if (size < 9)
		return 0;
	memcpy(&first, data + 1, 4);
	memcpy(&offset, data + 5, 4);
	switch (data[0] % 3) {
	case 0:
		pysym__line(data + 9, size - 9, first, offset);
		break;
	case 1:
		pysym__line_lnotab(data + 9, size - 9, first, offset);
		break;
	default:
		pysym__line_310(data + 9, size - 9, first, offset);
		break;
	}
	return 0;
}
