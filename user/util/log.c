/* log.c - the user's messages (see log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

static int verbosity;

void log__set_verbosity(int level)
{
	verbosity = level;
}

int log__verbosity(void)
{
	return verbosity;
}

void log__error(const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	/* one write per message: lines of several threads or processes
	 * sharing the terminal do not interleave */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "leakscope: %s", line);
}
