/*
 * http_req.c - http-parser's callbacks into a struct http_req (see
 * http_req.h for the use).
 *
 * One http_parser per connection, paused in on_message_complete: the
 * parser then returns at the end of the request, with the pipelined
 * bytes after it untouched, so that the server answers requests in order
 * without a second buffer. The URL is collected (it may come in pieces),
 * split by http_parser_parse_url, and the path percent-decoded; of the
 * headers only the name Host is looked for (HTTP/1.1 requires it, and Go's
 * net/http answers 400 without it); a body is counted and dropped.
 *
 * What is refused, with the status Go's net/http gives where it has one:
 * bytes that are not HTTP/1.x (400; http-parser's error name in r->error),
 * headers over http-parser's limit (80 KiB: 431), a request-target over
 * HTTP_REQ_MAX_URL (414), one http_parser_parse_url refuses or whose path
 * has a bad %-escape (400), HTTP/1.1 without Host (400), a version other
 * than 1.x (505), a body over HTTP_REQ_MAX_BODY (413).
 *
 * Rejected: picohttpparser (not packaged in Debian 12); parsing the
 * request line and headers by hand (the project's rule, and the fuzzer
 * would find what a hand parser misses); keeping every header (the server
 * reads none but Host).
 */
#include <string.h>
#include <strings.h>

#include "common/http_req.h"

static struct http_req *req_of(http_parser *p)
{
	return p->data;
}

static int on_message_begin(http_parser *p)
{
	struct http_req *r = req_of(p);

	r->url_len = 0;
	r->field_len = 0;
	r->in_value = false;
	r->has_host = false;
	r->too_long = false;
	r->body_len = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = req_of(p);

	if (n > HTTP_REQ_MAX_URL - r->url_len) {
		r->too_long = true;
		return -1;
	}
	memcpy(r->url + r->url_len, at, n);
	r->url_len += n;
	return 0;
}

/* A header name may come in pieces; only its first HTTP_REQ_MAX_FIELD bytes matter. */
static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = req_of(p);

	if (r->in_value) {
		r->field_len = 0;
		r->in_value = false;
	}
	if (r->field_len <= HTTP_REQ_MAX_FIELD) {
		size_t room = HTTP_REQ_MAX_FIELD - r->field_len;

		if (n > room) {
			r->field_len = HTTP_REQ_MAX_FIELD + 1;
		} else {
			memcpy(r->field + r->field_len, at, n);
			r->field_len += n;
		}
	}
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = req_of(p);

	(void)at, (void)n;
	if (!r->in_value && r->field_len == 4 && strncasecmp(r->field, "host", 4) == 0)
		r->has_host = true;
	r->in_value = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_req *r = req_of(p);

	(void)at;
	r->body_len += n;
	return r->body_len > HTTP_REQ_MAX_BODY ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_req *r = req_of(p);

	r->method = p->method;
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_req_init(struct http_req *r)
{
	/* Not a memset: the two 8 KiB arrays stay untouched until used. */
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->method = 0;
	r->keep_alive = false;
	r->head = false;
	r->path[0] = '\0';
	r->path_len = 0;
	r->query = "";
	r->query_len = 0;
	r->status = 0;
	r->error = NULL;
	r->url_len = 0;
	r->field_len = 0;
	r->in_value = false;
	r->has_host = false;
	r->too_long = false;
	r->body_len = 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode @n bytes of @s into @out (room for @n + 1): the length,
 * or -1 for a bad escape. '+' becomes a space if @plus (query strings).
 */
static long unescape(const char *s, size_t n, char *out, bool plus)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			out[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[k++] = plus && c == '+' ? ' ' : (char)c;
		}
	}
	out[k] = '\0';
	return (long)k;
}

static enum http_req_state bad(struct http_req *r, int status, const char *why)
{
	r->status = status;
	r->error = why;
	return HTTP_REQ_BAD;
}

/* The request is whole: check it, split its URL. */
static enum http_req_state finish(struct http_req *r)
{
	struct http_parser_url u;
	long len;

	if (r->parser.http_major != 1)
		return bad(r, 505, "HTTP version not supported");
	if (r->parser.http_minor >= 1 && !r->has_host)
		return bad(r, 400, "missing required Host header");
	r->head = r->method == HTTP_HEAD;
	r->url[r->url_len] = '\0';
	http_parser_url_init(&u);
	if (http_parser_parse_url(r->url, r->url_len, r->method == HTTP_CONNECT, &u) != 0)
		return bad(r, 400, "malformed request-target");
	if (u.field_set & (1 << UF_PATH)) {
		len = unescape(r->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len,
			       r->path, false);
		if (len < 0)
			return bad(r, 400, "bad %-escape in the path");
		r->path_len = (size_t)len;
	} else {
		/* CONNECT's authority-form, or an absolute URL without a path. */
		strcpy(r->path, r->method == HTTP_CONNECT ? "" : "/");
		r->path_len = strlen(r->path);
	}
	if (u.field_set & (1 << UF_QUERY)) {
		r->query = r->url + u.field_data[UF_QUERY].off;
		r->query_len = u.field_data[UF_QUERY].len;
	} else {
		r->query = "";
		r->query_len = 0;
	}
	return HTTP_REQ_DONE;
}

enum http_req_state http_req_feed(struct http_req *r, const char *data, size_t n, size_t *used)
{
	enum http_errno e;

	/* Unpause after the previous request (a no-op on a fresh parser). */
	http_parser_pause(&r->parser, 0);
	*used = 0;
	if (n == 0)
		return HTTP_REQ_MORE;
	*used = http_parser_execute(&r->parser, &settings, data, n);
	e = HTTP_PARSER_ERRNO(&r->parser);
	if (e == HPE_PAUSED)
		return finish(r);
	if (e == HPE_OK) {
		/*
		 * Everything taken and no request ended. An upgrade (Upgrade
		 * header, CONNECT) also stops the parser, at the end of the
		 * headers: on_message_complete has run then (no body), so
		 * this is reached only for a CONNECT or upgrade with a body.
		 */
		if (r->parser.upgrade)
			return bad(r, 400, "upgrade with a body");
		if (*used != n) /* not in http-parser's contract: refuse rather than loop */
			return bad(r, 400, "parser stopped early");
		return HTTP_REQ_MORE;
	}
	if (e == HPE_CB_url && r->too_long)
		return bad(r, 414, "request-target too long");
	if (e == HPE_CB_body)
		return bad(r, 413, "request body too large");
	if (e == HPE_HEADER_OVERFLOW)
		return bad(r, 431, "request header fields too large");
	return bad(r, 400, http_errno_name(e));
}

int http_req_query(const struct http_req *r, const char *name, char *buf, size_t len)
{
	const char *q = r->query, *end = r->query + r->query_len;
	size_t name_len = strlen(name);

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pair_end = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pair_end - q));
		const char *key_end = eq ? eq : pair_end;
		size_t klen = (size_t)(key_end - q);
		char key[64];
		long k;

		/* Go's ParseQuery drops a pair with a ';' or a bad escape. */
		if (klen < sizeof(key) && !memchr(q, ';', (size_t)(pair_end - q)) &&
		    (k = unescape(q, klen, key, true)) >= 0 && (size_t)k == name_len &&
		    memcmp(key, name, name_len) == 0) {
			const char *v = eq ? eq + 1 : pair_end;
			size_t vlen = (size_t)(pair_end - v);
			char tmp[HTTP_REQ_MAX_URL + 1];
			long got = unescape(v, vlen, tmp, true);

			if (got >= 0) {
				if ((size_t)got >= len)
					return -2;
				memcpy(buf, tmp, (size_t)got + 1);
				return (int)got;
			}
		}
		q = pair_end + (amp ? 1 : 0);
	}
	return -1;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}
