/* log.h - leakscope's messages to the user, on stderr, each line
 * starting with "leakscope: ".  Errors and notices always; verbose lines
 * with -v; debug lines (libbpf's own) with -v -v.  The verbosity is set
 * once, from the command line, before anything is said.
 */
#ifndef LEAKSCOPE_LOG_H
#define LEAKSCOPE_LOG_H

#include <stdbool.h>

#define LOG_PRINTF __attribute__((format(printf, 1, 2)))

void log__set_verbosity(int level);	/* 0, 1 (-v), 2 (-v -v) */
int log__verbosity(void);

/* An error or a notice: always said.  fmt ends its line ("\n"). */
void log__error(const char *fmt, ...) LOG_PRINTF;

/* Said with -v; with -v -v.  (The arguments are evaluated only then.) */
#define log__verbose(...) do { if (log__verbosity() >= 1) log__error(__VA_ARGS__); } while (0)
#define log__debug(...) do { if (log__verbosity() >= 2) log__error(__VA_ARGS__); } while (0)

#endif
