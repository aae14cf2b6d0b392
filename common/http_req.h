/*
 * http_req.h - HTTP/1.x requests (bench/mandelweb, weft-trace view), parsed by Debian's
 * http-parser (libhttp-parser-dev, 2.9): its callbacks fill a struct
 * http_req; no byte of HTTP is parsed by hand here except the query
 * string's key=value pairs, which HTTP leaves to the application.
 *
 * Kept apart from the server so that tests/fuzz/fuzz_http.c drives exactly
 * this code with arbitrary bytes. Nothing here blocks or calls weft.
 *
 * Use: http_req_init() once per connection, then http_req_feed() with the
 * bytes as they come. HTTP_REQ_DONE: one request is whole (the fields
 * below describe it) and *used bytes were taken - the ones after it
 * (pipelined requests) are fed again once the response is out.
 * HTTP_REQ_MORE: every byte was taken, the request is not whole yet.
 * HTTP_REQ_BAD: not acceptable HTTP; answer r->status and close.
 */
#ifndef WEFT_COMMON_HTTP_REQ_H
#define WEFT_COMMON_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

enum {
	HTTP_REQ_MAX_URL = 8192,	 /* a longer request-target: 414 */
	HTTP_REQ_MAX_BODY = 1 << 20,	 /* a longer body (discarded anyway): 413 */
	HTTP_REQ_MAX_FIELD = 64,	 /* header names kept (to find Host) */
};

enum http_req_state { HTTP_REQ_MORE, HTTP_REQ_DONE, HTTP_REQ_BAD };

struct http_req {
	http_parser parser;
	/* The request last parsed (after HTTP_REQ_DONE). */
	int method;		/* enum http_method */
	bool keep_alive;	/* else answer with "Connection: close", then close */
	bool head;		/* HEAD: headers only */
	char path[HTTP_REQ_MAX_URL + 1];  /* percent-decoded, NUL-terminated */
	size_t path_len;	/* path may hold a NUL byte (%00): compare with the length */
	const char *query;	/* raw query string (in url), without '?'; "" if none */
	size_t query_len;
	/* After HTTP_REQ_BAD: the status to answer (400, 413, 414, 431, 505) and why. */
	int status;
	const char *error;
	/* Parser scratch. */
	char url[HTTP_REQ_MAX_URL + 1];
	size_t url_len;
	char field[HTTP_REQ_MAX_FIELD];
	size_t field_len;	/* > HTTP_REQ_MAX_FIELD: too long to be a name we want */
	bool in_value;		/* the last callback was on_header_value */
	bool has_host;
	bool too_long;		/* the URL outgrew url[] */
	uint64_t body_len;
};

/* Ready @r for a connection's first request. */
void http_req_init(struct http_req *r);

/*
 * http_req_feed - parse up to @n bytes at @data; *@used says how many were
 * taken. After HTTP_REQ_DONE, call again with the rest (possibly 0 bytes:
 * then HTTP_REQ_MORE). After HTTP_REQ_BAD, do not call again.
 */
enum http_req_state http_req_feed(struct http_req *r, const char *data, size_t n, size_t *used);

/*
 * http_req_query - the first value of query parameter @name, decoded as
 * Go's url.ParseQuery does ('+' is a space, %XX a byte; a pair with a bad
 * escape or a ';' is dropped), into @buf (NUL-terminated).
 * Returns its length, -1 if absent, -2 if it does not fit @len.
 */
int http_req_query(const struct http_req *r, const char *name, char *buf, size_t len);

/*
 * http_status_text - the reason phrase of the statuses our servers send
 * ("Not Found"), "Error" for any other.
 */
const char *http_status_text(int status);

#endif /* WEFT_COMMON_HTTP_REQ_H */
