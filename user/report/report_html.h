/* report_html.h - a report as one self-contained HTML page: a chart of
 * outstanding bytes over the run, a flame graph, a table of stacks. */
#ifndef LEAKSCOPE_REPORT_HTML_H
#define LEAKSCOPE_REPORT_HTML_H

#include <stdio.h>

#include "report/report.h"

/* Writes one HTML document to out: the report as a JSON object in
 * <script type="application/json" id="leakscope-data"> (every '<', '>',
 * '&', U+2028 and U+2029 escaped as \uXXXX, so no string from the target
 * can end the element), then the page's script and style, built in
 * (user/report_html.js, .css): it needs no network to be viewed.
 * Returns 0, -ENOMEM, or -EIO when out reports a write error. */
int report_html__print(FILE *out, const struct report *r);

#endif
