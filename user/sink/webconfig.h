/* webconfig.h - `serve --web-config FILE`: TLS and basic authentication,
 * in the format of Prometheus exporters' web configuration
 * (exporter-toolkit): a YAML file with
 *
 *   tls_server_config:
 *     cert_file: server.crt      # PEM; paths relative to FILE's directory
 *     key_file: server.key
 *   basic_auth_users:
 *     prometheus: $2y$10$...     # bcrypt hashes (htpasswd -B, mkpasswd)
 *
 * Either part may be left out.  Other keys are refused, not ignored. */
#ifndef LEAKSCOPE_WEBCONFIG_H
#define LEAKSCOPE_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define WEB_MAX_USERS	64

struct web_user {
	char name[128];
	char hash[128];		/* bcrypt: $2a$ / $2b$ / $2y$ */
};

struct web_config {
	char *cert_pem, *key_pem;	/* NULL: plain HTTP */
	struct web_user users[WEB_MAX_USERS];
	int nusers;			/* 0: no authentication */
};

/* Reads and checks path.  0, or -errno / -EINVAL after printing what is
 * wrong, naming the file (and the line). */
int webconfig__load(const char *path, struct web_config *c);

/* Parses YAML text (for tests); dir: where relative paths point. */
int webconfig__parse(const char *text, size_t len, const char *dir, const char *what,
		     struct web_config *c);

void webconfig__free(struct web_config *c);

/* user and password are one of c's users (bcrypt, compared in constant
 * time).  Always false without users. */
bool webconfig__check(const struct web_config *c, const char *user, const char *password);

#endif
