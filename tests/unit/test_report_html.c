/* test_report_html.c - the HTML report: its embedded JSON read back (by
 * a strict little parser below) against the report, and no string from
 * the target able to close the <script> element it sits in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_html.h"

/* --- a strict JSON reader, enough for the checks ---------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	bool b;
	double num;
	char *str;		/* J_STR: UTF-8, \u escapes decoded */
	struct jv **items;	/* J_ARR, J_OBJ */
	char **keys;		/* J_OBJ */
	size_t n;
};

struct jp {
	const char *p, *end;
};

static struct jv *jparse_value(struct jp *jp);

static void jskip(struct jp *jp)
{
	while (jp->p < jp->end && strchr(" \t\r\n", *jp->p))
		jp->p++;
}

static void put_utf8(char **o, unsigned cp)
{
	unsigned char *u = (unsigned char *)*o;

	if (cp < 0x80) {
		*u++ = cp;
	} else if (cp < 0x800) {
		*u++ = 0xc0 | cp >> 6;
		*u++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*u++ = 0xe0 | cp >> 12;
		*u++ = 0x80 | ((cp >> 6) & 0x3f);
		*u++ = 0x80 | (cp & 0x3f);
	} else {
		*u++ = 0xf0 | cp >> 18;
		*u++ = 0x80 | ((cp >> 12) & 0x3f);
		*u++ = 0x80 | ((cp >> 6) & 0x3f);
		*u++ = 0x80 | (cp & 0x3f);
	}
	*o = (char *)u;
}

static bool hex4(struct jp *jp, unsigned *cp)
{
	char buf[5] = { 0 };
	char *e;

	if (jp->end - jp->p < 4)
		return false;
	memcpy(buf, jp->p, 4);
	*cp = strtoul(buf, &e, 16);
	jp->p += 4;
	return e == buf + 4;
}

static char *jparse_string(struct jp *jp)
{
	char *out = malloc(jp->end - jp->p + 1), *o = out;

	if (jp->p >= jp->end || *jp->p++ != '"')
		goto bad;
	while (jp->p < jp->end && *jp->p != '"') {
		unsigned char c = *jp->p++;
		unsigned cp, lo;

		if (c < 0x20)
			goto bad;	/* raw control characters are not JSON */
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (jp->p >= jp->end)
			goto bad;
		switch (c = *jp->p++) {
		case '"': case '\\': case '/': *o++ = c; break;
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			if (!hex4(jp, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u')
					goto bad;
				jp->p += 2;
				if (!hex4(jp, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			put_utf8(&o, cp);
			break;
		default:
			goto bad;
		}
	}
	if (jp->p >= jp->end)
		goto bad;
	jp->p++;
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

static struct jv *jparse_list(struct jp *jp, bool obj)
{
	struct jv *v = calloc(1, sizeof(*v));

	v->t = obj ? J_OBJ : J_ARR;
	jp->p++;
	jskip(jp);
	if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
		jp->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jv *item;

		jskip(jp);
		if (obj) {
			key = jparse_string(jp);
			jskip(jp);
			if (!key || jp->p >= jp->end || *jp->p++ != ':')
				return NULL;
		}
		item = jparse_value(jp);
		if (!item)
			return NULL;
		v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
		v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		v->items[v->n] = item;
		v->keys[v->n++] = key;
		jskip(jp);
		if (jp->p >= jp->end)
			return NULL;
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p++ != (obj ? '}' : ']'))
			return NULL;
		return v;
	}
}

static struct jv *jparse_value(struct jp *jp)
{
	struct jv *v;
	char *e;

	jskip(jp);
	if (jp->p >= jp->end)
		return NULL;
	if (*jp->p == '{' || *jp->p == '[')
		return jparse_list(jp, *jp->p == '{');
	v = calloc(1, sizeof(*v));
	if (*jp->p == '"') {
		v->t = J_STR;
		v->str = jparse_string(jp);
		return v->str ? v : NULL;
	}
	if (!strncmp(jp->p, "null", 4) || !strncmp(jp->p, "true", 4)) {
		v->t = *jp->p == 'n' ? J_NULL : J_BOOL;
		v->b = *jp->p == 't';
		jp->p += 4;
		return v;
	}
	if (!strncmp(jp->p, "false", 5)) {
		v->t = J_BOOL;
		jp->p += 5;
		return v;
	}
	if (*jp->p != '-' && (*jp->p < '0' || *jp->p > '9'))
		return NULL;	/* no NaN, Infinity, ... */
	v->t = J_NUM;
	v->num = strtod(jp->p, &e);
	if (e == jp->p)
		return NULL;
	jp->p = e;
	return v;
}

/* The whole text must be one JSON value. */
static struct jv *jparse(const char *s, size_t len)
{
	struct jp jp = { s, s + len };
	struct jv *v = jparse_value(&jp);

	jskip(&jp);
	return jp.p == jp.end ? v : NULL;
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	assert_int_equal(o->t, J_OBJ);
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	fail_msg("no key \"%s\"", key);
	return NULL;
}

static const struct jv *jat(const struct jv *a, size_t i)
{
	assert_int_equal(a->t, J_ARR);
	assert_true(i < a->n);
	return a->items[i];
}

static double jnum(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	assert_int_equal(v->t, J_NUM);
	return v->num;
}

static const char *jstr(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	assert_int_equal(v->t, J_STR);
	return v->str;
}

static void jfree(struct jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jfree(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

/* --- the report under test -------------------------------------------- */

#define HOSTILE	"</script><b>x"
#define LS_SEP	"a\xe2\x80\xa8" "b&c>d"	/* U+2028 between a and b */
#define NOW_NS	100000000000ull		/* 100 s */

static const struct series_point grow_pts[] = {
	{ 0, 0 }, { 1, 10240 }, { 2, 20480 }, { 3, 30720 }, { 4, 40960 },
};
static const struct series_point flat_pts[] = { { 0, 8192 }, { 2, 8192 }, { 4, 8192 } };
static const struct series_point total_pts[] = {
	{ 0, 8192 }, { 1, 18432 }, { 2, 28672 }, { 3, 38912 }, { 4, 49152 },
};

static struct frame grow_frames[] = {	/* innermost first */
	{ .addr = 0x401000, .module = "/usr/bin/app", .function = HOSTILE },
	{ .addr = 0x401100, .module = "/usr/bin/app", .function = "grow_cache",
	  .file = "app.c", .line = 42 },
	{ .addr = 0x401200, .module = "/usr/bin/app", .function = "main" },
};
static struct frame flat_frames[] = {
	{ .addr = 0x7f0000001000, .module = "/usr/lib/libpython3.11.so", .function = LS_SEP },
	{ .addr = 0x7f0000aa0000, .function = "load_config", .file = "/srv/app.py",
	  .line = 17, .python = true },
	{ .addr = 0x7f0000002000, .module = "/usr/lib/libpython3.11.so",
	  .function = "\xff" "bad utf8" },
};

static void sample_report(struct report *r, struct report_stack st[2])
{
	st[0] = (struct report_stack){
		.key = { .tgid = 1234, .id = 7 }, .bytes = 40960, .allocs = 10,
		.oldest_ts_ns = NOW_NS - 3500000000ull, .cls = CLASS_GROWING,
		.growth_bytes_per_s = 10240, .growth_bytes = 10240,
		.alloc_bytes = 81920, .alloc_count = 20, .cut = UW_STOP_END,
		.frames = grow_frames, .nframes = 3,
		.series = { grow_pts, 5 },
	};
	st[1] = (struct report_stack){
		.key = { .tgid = 1234, .id = 8 }, .bytes = 8192, .allocs = 2,
		.cls = CLASS_PLATEAU, .growth_bytes_per_s = NAN,
		.alloc_bytes = 8192, .alloc_count = 2, .cut = UW_STOP_END,
		.frames = flat_frames, .nframes = 3,
		.series = { flat_pts, 3 },
	};
	*r = (struct report){
		.pid = 1234, .comm = "app", .now_ns = NOW_NS,
		.timestamp = 1700000004.0, .start_timestamp = 1700000000.0, .final = true,
		.totals = { .outstanding_bytes = 49152, .outstanding_allocs = 12,
			    .allocs = 30, .frees = 18, .dropped = 7 },
		.nstacks_total = 2, .stacks = st, .nstacks = 2, .python = "3.11.2",
		.total_series = { total_pts, 5 },
	};
	snprintf(r->labels.unit, sizeof(r->labels.unit), "app.service");
	r->totals.drops[CNT_DROP_ALLOC_MAP_FULL] = 7;
}

static char *html_of(const struct report *r, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(report_html__print(f, r), 0);
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strcasestr(p, needle)); p++)
		n++;
	return n;
}

#define DATA_OPEN "<script type=\"application/json\" id=\"leakscope-data\">"

/* The text between the data element's tags; checks that the element is
 * closed where the JSON ends and nowhere before. */
static struct jv *embedded(const char *html, char **text)
{
	const char *start = strstr(html, DATA_OPEN), *end;
	struct jv *v;

	assert_non_null(start);
	start += strlen(DATA_OPEN);
	end = strcasestr(start, "</script");
	assert_non_null(end);
	*text = strndup(start, end - start);
	v = jparse(*text, end - start);
	assert_non_null(v);
	return v;
}

static void series_equal(const struct jv *a, const struct series_point *p, size_t n)
{
	assert_int_equal(a->t, J_ARR);
	assert_int_equal(a->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(fabs(jat(jat(a, i), 0)->num - p[i].t_s) < 1e-3);
		assert_true(jat(jat(a, i), 1)->num == p[i].bytes);
	}
}

static void test_data_matches_report(void **state)
{
	struct report_stack st[2];
	struct report r;
	size_t len;
	char *html, *text;
	struct jv *d;
	const struct jv *s, *f;

	sample_report(&r, st);
	html = html_of(&r, &len);
	d = embedded(html, &text);

	assert_int_equal(jnum(d, "pid"), 1234);
	assert_string_equal(jstr(d, "comm"), "app");
	assert_string_equal(jstr(d, "service"), "app.service");
	assert_string_equal(jstr(d, "python"), "3.11.2");
	assert_true(jnum(d, "start_timestamp") == 1700000000.0);
	assert_true(jget(d, "final")->b);
	assert_int_equal(jnum(jget(d, "totals"), "outstanding_bytes"), 49152);
	assert_int_equal(jnum(jget(d, "totals"), "dropped"), 7);
	assert_int_equal(jnum(jget(jget(d, "totals"), "drops"), "alloc_map_full"), 7);
	series_equal(jget(d, "total_series"), total_pts, 5);
	assert_int_equal(jget(d, "stacks")->n, 2);

	s = jat(jget(d, "stacks"), 0);
	assert_int_equal(jnum(s, "outstanding_bytes"), 40960);
	assert_int_equal(jnum(s, "outstanding_allocs"), 10);
	assert_int_equal(jnum(s, "alloc_bytes"), 81920);
	assert_int_equal(jnum(s, "alloc_count"), 20);
	assert_string_equal(jstr(s, "class"), "growing");
	assert_true(jnum(s, "growth_bytes_per_s") == 10240);
	assert_true(fabs(jnum(s, "oldest_age_s") - 3.5) < 1e-6);
	assert_int_equal(jget(s, "frames")->n, 3);
	assert_string_equal(jstr(jat(jget(s, "frames"), 0), "function"), HOSTILE);
	assert_string_equal(jstr(jat(jget(s, "frames"), 0), "module"), "/usr/bin/app");
	assert_string_equal(jstr(jat(jget(s, "frames"), 1), "file"), "app.c");
	assert_int_equal(jnum(jat(jget(s, "frames"), 1), "line"), 42);
	assert_int_equal(jget(jat(jget(s, "frames"), 2), "line")->t, J_NULL);
	series_equal(jget(s, "series"), grow_pts, 5);

	s = jat(jget(d, "stacks"), 1);
	assert_string_equal(jstr(s, "class"), "plateau");
	assert_int_equal(jget(s, "growth_bytes_per_s")->t, J_NULL);	/* NaN */
	assert_int_equal(jget(s, "oldest_age_s")->t, J_NULL);	/* unknown */
	assert_string_equal(jstr(jat(jget(s, "frames"), 0), "function"), LS_SEP);
	f = jat(jget(s, "frames"), 1);
	assert_true(jget(f, "python")->b);
	assert_string_equal(jstr(f, "function"), "load_config");
	assert_string_equal(jstr(f, "file"), "/srv/app.py");
	assert_int_equal(jnum(f, "line"), 17);
	assert_false(jget(jat(jget(s, "frames"), 0), "python")->b);
	assert_string_equal(jstr(jat(jget(s, "frames"), 2), "function"), "\xef\xbf\xbd" "bad utf8");
	series_equal(jget(s, "series"), flat_pts, 3);

	/* in the JSON text: none of < > & U+2028, escaped instead */
	assert_null(strpbrk(text, "<>&"));
	assert_null(strstr(text, "\xe2\x80\xa8"));
	assert_non_null(strstr(text, "\\u003c/script\\u003e\\u003cb\\u003ex"));
	assert_non_null(strstr(text, "a\\u2028b\\u0026c\\u003ed"));
	/* in the page: the data element's end, then the script's */
	assert_int_equal(count(html, "</script"), 2);
	assert_int_equal(count(html, "<script"), 2);
	assert_non_null(strstr(html, "</script>\n<script>\n"));
	assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
	assert_non_null(strstr(html, "</html>\n"));
	assert_int_equal(strlen(html), len);

	jfree(d);
	free(text);
	free(html);
}

static void test_empty_report(void **state)
{
	struct report r = { 0 };
	size_t len;
	char *html = html_of(&r, &len), *text;
	struct jv *d = embedded(html, &text);

	assert_int_equal(jget(d, "stacks")->n, 0);
	assert_int_equal(jget(d, "total_series")->n, 0);
	assert_int_equal(jget(d, "processes")->n, 0);
	assert_int_equal(jget(d, "python")->t, J_NULL);
	assert_string_equal(jstr(d, "service"), "");
	jfree(d);
	free(text);
	free(html);
}

static void test_write_error(void **state)
{
	struct report_stack st[2];
	struct report r;
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		skip();
	sample_report(&r, st);
	assert_int_equal(report_html__print(f, &r), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_matches_report),
		cmocka_unit_test(test_empty_report),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
