/* test_webconfig.c - serve --web-config: the exporter-toolkit format,
 * strictness (a typo is an error, never "no TLS"), bcrypt users. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/webconfig.h"

/* "s3cret", bcrypt cost 4 (made with Python's crypt over libxcrypt) */
#define HASH "$2b$04$LA.ca7E6Rmd188VhPF7EKOT2511hAhQXXZoKQ24z6W4xQWxMfG.yu"

static int parse(const char *text, struct web_config *c)
{
	return webconfig__parse(text, strlen(text), "/tmp", "test.yml", c);
}

static int yaml(const char *dir, const char *text, struct web_config *c)
{
	return webconfig__parse(text, strlen(text), dir, "t", c);
}

static void test_users(void **state)
{
	struct web_config c;

	assert_int_equal(parse("basic_auth_users:\n  prometheus: " HASH "\n"
			       "  other: '" HASH "'\n", &c), 0);
	assert_int_equal(c.nusers, 2);
	assert_null(c.cert_pem);
	assert_true(webconfig__check(&c, "prometheus", "s3cret"));
	assert_true(webconfig__check(&c, "other", "s3cret"));
	assert_false(webconfig__check(&c, "prometheus", "s3cret "));
	assert_false(webconfig__check(&c, "prometheus", ""));
	assert_false(webconfig__check(&c, "nobody", "s3cret"));
	assert_false(webconfig__check(&c, NULL, NULL));
	webconfig__free(&c);
}

static void test_tls_files(void **state)
{
	char dir[] = "/tmp/test_webconfig.XXXXXX", path[64];
	struct web_config c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.pem", dir);
	f = fopen(path, "w");
	fputs("CERT", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	f = fopen(path, "w");
	fputs("KEY", f);
	fclose(f);
	/* relative to the config's directory */
	assert_int_equal(yaml(dir, "tls_server_config:\n  cert_file: c.pem\n"
			      "  key_file: k.pem\n", &c), 0);
	assert_string_equal(c.cert_pem, "CERT");
	assert_string_equal(c.key_pem, "KEY");
	webconfig__free(&c);
	/* one without the other, a missing file */
	assert_int_not_equal(yaml(dir, "tls_server_config:\n  cert_file: c.pem\n", &c), 0);
	assert_int_not_equal(yaml(dir, "tls_server_config:\n  cert_file: c.pem\n"
				  "  key_file: nope.pem\n", &c), 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_refused(void **state)
{
	struct web_config c;

	assert_int_not_equal(parse("tls_server_confg:\n  cert_file: a\n", &c), 0);	/* typo */
	assert_int_not_equal(parse("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n",
				   &c), 0);
	assert_int_not_equal(parse("basic_auth_users:\n  u: plaintext\n", &c), 0);
	assert_int_not_equal(parse("basic_auth_users:\n  u: $1$md5$hash\n", &c), 0);
	assert_int_not_equal(parse("basic_auth_users: [a, b]\n", &c), 0);
	assert_int_not_equal(parse("- a list\n", &c), 0);
	assert_int_not_equal(parse("basic_auth_users:\n  u: " HASH "\n bad: indent\n", &c), 0);
	assert_int_not_equal(parse("{ unclosed", &c), 0);
	assert_int_equal(c.nusers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_tls_files),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
