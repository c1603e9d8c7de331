/* http.h - the HTTP endpoint of `leakscope serve` (libmicrohttpd).
 *
 * Runs in the caller's thread: http__fd() is an epoll fd to wait on with
 * the session's other fds, http__run() answers what is ready.  Handlers
 * thus see the session's data between two reports, without locks. */
#ifndef LEAKSCOPE_HTTP_H
#define LEAKSCOPE_HTTP_H

#include <stddef.h>

struct http;
struct web_config;

struct http_response {
	int status;		/* 200, 404, 500 ... */
	const char *content_type;
	char *body;		/* malloc'd; the server frees it */
	size_t len;
};

/* Fills resp for a GET of path (query string removed). */
typedef void (*http_handler)(void *ctx, const char *path, struct http_response *resp);

/* Listens on "ADDR:PORT" ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0" for
 * any free port), over TLS and asking for a user if web says so (NULL:
 * plain HTTP, open; web must outlive the server).  NULL after printing
 * why to stderr. */
struct http *http__start(const char *listen, const struct web_config *web,
			 http_handler handler, void *ctx);
void http__stop(struct http *h);

int http__fd(const struct http *h);
unsigned http__port(const struct http *h);
void http__run(struct http *h);

/* Splits "ADDR:PORT" into addr (brackets of IPv6 removed) and port.
 * 0 or -EINVAL.  Exposed for unit tests. */
int http__split_listen(const char *listen, char *addr, size_t addrlen,
		       unsigned *port);

#endif
