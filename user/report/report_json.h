/* report_json.h - the report as one JSON object per line (JSON Lines). */
#ifndef LEAKSCOPE_REPORT_JSON_H
#define LEAKSCOPE_REPORT_JSON_H

#include <stdio.h>

#include "report/report.h"

/* 0, or -EIO when out reports a write error (after flushing). */
int report_json__print(FILE *out, const struct report *r);

/* One frame object of the schema (also embedded in the HTML report). */
void report_json__frame(FILE *out, const struct frame *f);

/* A stack's "site" value: the index of its site frame, or null (also
 * embedded in the HTML report). */
void report_json__site(FILE *out, const struct report_stack *s);

/* The "totals" object of the schema (also embedded in the HTML report). */
void report_json__totals(FILE *out, const struct report_totals *t);

#endif
