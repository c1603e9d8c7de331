/* json.h - minimal JSON writing helpers (strings from untrusted files). */
#ifndef LEAKSCOPE_JSON_H
#define LEAKSCOPE_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, or null when s is NULL.  Control
 * characters are escaped and invalid UTF-8 becomes U+FFFD, so the output
 * is valid JSON whatever bytes a binary's debug info holds. */
void json__string(FILE *out, const char *s);

#endif
