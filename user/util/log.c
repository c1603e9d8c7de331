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

static void say(const char *fmt, va_list ap)
{
	char line[4096];

	/* one write per message: lines of several threads or processes
	 * sharing the terminal do not interleave */
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "leakscope: %s", line);
}

void log__error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void log__verbose(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 1)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void log__debug(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 2)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}
