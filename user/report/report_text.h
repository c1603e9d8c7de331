/* report_text.h - the human-readable report. */
#ifndef LEAKSCOPE_REPORT_TEXT_H
#define LEAKSCOPE_REPORT_TEXT_H

#include <stdio.h>

#include "report/report.h"

/* 0, or -EIO when out reports a write error (after flushing). */
int report_text__print(FILE *out, const struct report *r);

/* "1.5 MiB", "512 B": human units, for the text report. */
void report_text__bytes(char *buf, size_t len, double bytes);

/* "python 3.11.2; gc: N collections (...), pause p50 .. ms, max .. ms",
 * or "" when the target runs no supported Python. */
void report_text__python(char *buf, size_t len, const struct report *r);

#endif
