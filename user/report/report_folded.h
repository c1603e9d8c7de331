/* report_folded.h - outstanding bytes as folded stacks ("a;b;c 123"). */
#ifndef LEAKSCOPE_REPORT_FOLDED_H
#define LEAKSCOPE_REPORT_FOLDED_H

#include <stdio.h>

#include "report/report.h"

/* One line per distinct stack, root first, value = outstanding bytes;
 * identical lines are merged; lines sorted.  For flamegraph.pl,
 * speedscope, inferno.  Returns 0 or -ENOMEM. */
int report_folded__print(FILE *out, const struct report *r);

#endif
