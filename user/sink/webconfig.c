/* webconfig.c - the web configuration file of `serve` (see webconfig.h).
 *
 * libyaml gives the file as a document tree; only the two mappings above
 * are taken, every other key is an error (a typo in a security setting
 * must not silently mean "no TLS").  Passwords are checked with
 * libxcrypt's crypt_r against bcrypt hashes, as Prometheus exporters do.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "sink/webconfig.h"
#include "util/log.h"

#define MAX_FILE	(1 << 20)

static char *read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size < MAX_FILE &&
	    (buf = malloc(st.st_size + 1))) {
		ssize_t n = pread(fd, buf, st.st_size, 0);

		if (n != st.st_size) {
			free(buf);
			buf = NULL;
			errno = EIO;
		} else {
			buf[n] = 0;
			*len = n;
		}
	}
	close(fd);
	return buf;
}

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int fail(const char *what, yaml_node_t *n, const char *msg, const char *key)
{
	log__error("%s, line %zu: %s%s%s\n", what,
		n ? n->start_mark.line + 1 : 0, msg, key ? " " : "", key ? key : "");
	return -EINVAL;
}

/* A PEM file named in the config, relative to its directory. */
static int load_pem(const char *dir, const char *name, const char *what, yaml_node_t *n,
		    char **out)
{
	char path[4096];
	size_t len;

	if (!name || !*name)
		return fail(what, n, "expected a file name", NULL);
	snprintf(path, sizeof(path), "%s%s%s", name[0] == '/' ? "" : dir,
		 name[0] == '/' ? "" : "/", name);
	*out = read_file(path, &len);
	if (!*out) {
		log__error("%s: cannot read %s: %s\n", what, path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int parse_tls(yaml_document_t *d, yaml_node_t *m, const char *dir, const char *what,
		     struct web_config *c)
{
	int err = 0;

	if (m->type != YAML_MAPPING_NODE)
		return fail(what, m, "tls_server_config: expected a mapping", NULL);
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; !err && p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		yaml_node_t *v = yaml_document_get_node(d, p->value);
		const char *key = scalar(d, k);

		if (key && !strcmp(key, "cert_file") && !c->cert_pem)
			err = load_pem(dir, scalar(d, v), what, v, &c->cert_pem);
		else if (key && !strcmp(key, "key_file") && !c->key_pem)
			err = load_pem(dir, scalar(d, v), what, v, &c->key_pem);
		else
			err = fail(what, k, "not supported here (cert_file, key_file are):",
				   key ? key : "?");
	}
	if (!err && (!c->cert_pem || !c->key_pem))
		err = fail(what, m, "tls_server_config needs both cert_file and key_file", NULL);
	return err;
}

static int parse_users(yaml_document_t *d, yaml_node_t *m, const char *what,
		       struct web_config *c)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(what, m, "basic_auth_users: expected a mapping", NULL);
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		yaml_node_t *v = yaml_document_get_node(d, p->value);
		const char *user = scalar(d, k), *hash = scalar(d, v);
		struct web_user *u = &c->users[c->nusers];

		if (!user || !*user || strlen(user) >= sizeof(u->name))
			return fail(what, k, "a user name of 1 to 127 characters", NULL);
		if (!hash || strlen(hash) >= sizeof(u->hash) || hash[0] != '$' || hash[1] != '2' ||
		    !strchr("aby", hash[2]) || hash[3] != '$')
			return fail(what, v, "expected a bcrypt hash ($2y$...) for", user);
		if (c->nusers == WEB_MAX_USERS)
			return fail(what, k, "too many users", NULL);
		snprintf(u->name, sizeof(u->name), "%s", user);
		snprintf(u->hash, sizeof(u->hash), "%s", hash);
		c->nusers++;
	}
	return 0;
}

int webconfig__parse(const char *text, size_t len, const char *dir, const char *what,
		     struct web_config *c)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int err = 0;

	memset(c, 0, sizeof(*c));
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		log__error("%s, line %zu: %s\n", what,
			parser.problem_mark.line + 1, parser.problem ? parser.problem : "bad YAML");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		err = fail(what, root, "expected tls_server_config and/or basic_auth_users", NULL);
		goto out;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     !err && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		const char *key = scalar(&doc, k);

		if (key && !strcmp(key, "tls_server_config"))
			err = parse_tls(&doc, v, dir, what, c);
		else if (key && !strcmp(key, "basic_auth_users"))
			err = parse_users(&doc, v, what, c);
		else
			err = fail(what, k, "not supported (tls_server_config, basic_auth_users "
				   "are):", key ? key : "?");
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (err)
		webconfig__free(c);
	return err;
}

int webconfig__load(const char *path, struct web_config *c)
{
	size_t len = 0;
	char *text = read_file(path, &len), *copy = strdup(path);
	int err;

	if (!text || !copy) {
		log__error("--web-config %s: %s\n", path, strerror(errno));
		free(text);
		free(copy);
		return -EINVAL;
	}
	err = webconfig__parse(text, len, dirname(copy), path, c);
	free(text);
	free(copy);
	return err;
}

void webconfig__free(struct web_config *c)
{
	free(c->cert_pem);
	free(c->key_pem);
	c->cert_pem = c->key_pem = NULL;
	c->nusers = 0;
}

/* Equal strings, in time that depends on the length only. */
static bool same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return !diff;
}

bool webconfig__check(const struct web_config *c, const char *user, const char *password)
{
	struct crypt_data cd;
	bool ok = false;

	if (!user || !password)
		return false;
	for (int i = 0; i < c->nusers; i++) {
		const char *h;

		if (strcmp(c->users[i].name, user))
			continue;
		memset(&cd, 0, sizeof(cd));
		h = crypt_r(password, c->users[i].hash, &cd);
		ok = h && h[0] == '$' && same(h, c->users[i].hash);
		break;
	}
	return ok;
}
