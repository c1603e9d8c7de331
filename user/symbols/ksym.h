/* ksym.h - kernel addresses -> function+offset [module], from
 * /proc/kallsyms (read as root: real addresses). */
#ifndef LEAKSCOPE_KSYM_H
#define LEAKSCOPE_KSYM_H

#include <stdint.h>

#include "report/report.h"

struct ksym;

/* NULL if /proc/kallsyms is unreadable or shows only zeros (kptr_restrict). */
struct ksym *ksym__load(void);
void ksym__free(struct ksym *k);

/* One frame for a kernel return address (unknown fields NULL). */
void ksym__resolve(const struct ksym *k, uint64_t addr, struct frame *out);

/* --- exposed for unit tests: parse kallsyms text --- */
struct ksym *ksym__parse(const char *text);

#endif
