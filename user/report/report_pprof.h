/* report_pprof.h - a report as a pprof profile (gzip-compressed
 * profile.proto), the format of `go tool pprof`, Parca and Pyroscope. */
#ifndef LEAKSCOPE_REPORT_PPROF_H
#define LEAKSCOPE_REPORT_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "report/report.h"
#include "symbols/symbolize.h"

struct pprof_meta {
	char hostname[256];	/* label of every sample */
	int64_t time_ns;	/* wall clock at the start of the trace */
	int64_t duration_ns;
};

/* The metadata of a profile of r, from a trace that began at start_wall_s
 * (seconds since the epoch): this host's name, the start, the duration. */
void report_pprof__meta(struct pprof_meta *m, double start_wall_s, const struct report *r);

/* Encodes every stack of r (its mappings from r->mappings): sample types alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes (default),
 * labels pid, comm, hostname, class, service (when known) and site (the
 * stack's site frame, "function file:line"); ids dense from 1.  *out
 * (malloc'd, caller frees) holds the gzip-compressed profile.  0 or
 * -ENOMEM. */
int report_pprof__encode(const struct report *r, const struct pprof_meta *m,
			 uint8_t **out, size_t *len);

/* gzip (RFC 1952) of in[0..n) into *out (malloc'd).  0 or -ENOMEM. */
int report_pprof__gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len);

#endif
