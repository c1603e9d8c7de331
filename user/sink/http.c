/* http.c - a small HTTP/1.1 server over libmicrohttpd, polled from the
 * session loop (MHD_USE_EPOLL without an internal thread). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/http.h"
#include "sink/webconfig.h"
#include "util/log.h"

#define MAX_CONNECTIONS	64
#define CONN_TIMEOUT_S	30

struct http {
	struct MHD_Daemon *d;
	http_handler handler;
	void *ctx;
	const struct web_config *web;	/* TLS, users; NULL: plain, open */
};

int http__split_listen(const char *listen, char *addr, size_t addrlen,
		       unsigned *port)
{
	const char *colon = strrchr(listen, ':'), *start = listen, *end;
	char *tail;
	unsigned long p;

	if (!colon || !colon[1])
		return -EINVAL;
	end = colon;
	if (*start == '[') {		/* [v6addr]:port */
		if (end[-1] != ']')
			return -EINVAL;
		start++;
		end--;
	} else if (memchr(listen, ':', colon - listen)) {
		return -EINVAL;		/* a bare IPv6 address needs brackets */
	}
	if (end <= start || (size_t)(end - start) >= addrlen)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &tail, 10);
	if (errno || *tail || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	memcpy(addr, start, end - start);
	addr[end - start] = 0;
	*port = p;
	return 0;
}

/* Basic authentication against the configured users (bcrypt). */
static bool authorized(struct http *h, struct MHD_Connection *conn)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
	bool ok = webconfig__check(h->web, user, pass);

	if (pass)
		MHD_free(pass);
	if (user)
		MHD_free(user);
	return ok;
}

static enum MHD_Result ask_for_credentials(struct MHD_Connection *conn)
{
	static const char msg[] = "unauthorized\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_basic_auth_fail_response(conn, "leakscope", r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_ctx)
{
	struct http *h = cls;
	struct http_response resp = { .status = 404 };
	struct MHD_Response *r;
	enum MHD_Result ret;
	static int first;

	if (*req_ctx != &first) {
		*req_ctx = &first;	/* headers only so far: answer on the next call */
		return MHD_YES;
	}
	if (h->web && h->web->nusers && !authorized(h, conn))
		return ask_for_credentials(conn);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		resp.status = 405;
	else
		h->handler(h->ctx, url, &resp);
	if (!resp.body) {
		const char *msg = resp.status == 405 ? "method not allowed\n"
				  : resp.status == 404 ? "not found: try /metrics or /debug/pprof/heap\n"
				  : "error\n";

		resp.body = strdup(msg);
		resp.len = resp.body ? strlen(resp.body) : 0;
		resp.content_type = "text/plain; charset=utf-8";
	}
	r = MHD_create_response_from_buffer(resp.len, resp.body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(resp.body);
		return MHD_NO;
	}
	if (resp.content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type);
	ret = MHD_queue_response(conn, resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

struct http *http__start(const char *listen, const struct web_config *web,
			 http_handler handler, void *ctx)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned port;
	struct http *h;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (http__split_listen(listen, addr, sizeof(addr), &port) ||
	    getaddrinfo(addr, NULL, &hints, &ai)) {
		log__error("--listen '%s': expected ADDR:PORT with a numeric "
			"address, e.g. 127.0.0.1:9464 or [::1]:9464\n", listen);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(ai);
		return NULL;
	}
	h->handler = handler;
	h->ctx = ctx;
	h->web = web;
	if (web && web->cert_pem) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			log__error("this libmicrohttpd has no TLS: --web-config "
				"cannot serve HTTPS\n");
			freeaddrinfo(ai);
			free(h);
			return NULL;
		}
		flags |= MHD_USE_TLS;
	}
	if (ai->ai_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(port);
	} else {
		((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(port);
	}
	if (flags & MHD_USE_TLS)
		h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
					MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
					MHD_OPTION_HTTPS_MEM_CERT, web->cert_pem,
					MHD_OPTION_HTTPS_MEM_KEY, web->key_pem,
					MHD_OPTION_END);
	else
		h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
					MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
					MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		log__error("cannot listen on %s: %s (is the port in use?%s)\n",
			listen, strerror(errno ? errno : EADDRINUSE),
			flags & MHD_USE_TLS ? " are the certificate and key a PEM pair?" : "");
		free(h);
		return NULL;
	}
	return h;
}

void http__stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

int http__fd(const struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

unsigned http__port(const struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void http__run(struct http *h)
{
	MHD_run(h->d);
}
