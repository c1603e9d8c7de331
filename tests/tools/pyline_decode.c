/* pyline_decode - leakscope's Python line-table decoders on stdin, for
 * tests/e2e/test_python_lines.py to hold against the interpreters' own.
 *
 * Each input line: FORMAT FIRSTLINENO HEXTABLE OFFSET...
 *   FORMAT: lnotab (3.6-3.9, byte offsets), 310 (3.10, byte offsets),
 *           locations (3.11+, code units)
 * Each output line: the line of every offset, space-separated (0 = none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pysym.h"

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] && s[1] && n < max) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

int main(void)
{
	static char line[1 << 22];
	static uint8_t table[1 << 20];

	while (fgets(line, sizeof(line), stdin)) {
		char *save, *fmt = strtok_r(line, " \n", &save);
		char *first = strtok_r(NULL, " \n", &save);
		char *hex = strtok_r(NULL, " \n", &save), *off;
		size_t len;
		int fl;

		if (!fmt || !first || !hex)
			return 2;
		fl = atoi(first);
		len = unhex(strcmp(hex, "-") ? hex : "", table, sizeof(table));
		while ((off = strtok_r(NULL, " \n", &save))) {
			int o = atoi(off);
			int got = !strcmp(fmt, "lnotab") ? pysym__line_lnotab(table, len, fl, o)
				: !strcmp(fmt, "310") ? pysym__line_310(table, len, fl, o)
				: pysym__line(table, len, fl, o);

			printf("%d ", got);
		}
		printf("\n");
	}
	return 0;
}
