/*
 * debug_req.h - the request parsing of /debug/weft/ (debug.c), apart from
 * its I/O so that a libFuzzer target (tests/fuzz/fuzz_debug.c) can drive
 * it alone. Pure functions on a NUL-terminated buffer; no weft calls.
 */
#ifndef WEFT_DEBUG_REQ_H
#define WEFT_DEBUG_REQ_H

#include <stdbool.h>
#include <stddef.h>

enum weft__dreq_route {
	WEFT__DREQ_INDEX = 0, /* /debug/weft and /debug/weft/ */
	WEFT__DREQ_TASKS,
	WEFT__DREQ_TRACE,
	WEFT__DREQ_FLIGHT,
};

struct weft__dreq {
	int route;         /* enum weft__dreq_route, when parsed */
	const char *query; /* after '?', NUL-terminated; NULL when none */
	const char *host;  /* the Host header's value (to its line's end); NULL */
	const char *error; /* with a 4xx status: what was wrong */
};

/* Does @buf (NUL-terminated) hold the blank line that ends a header? */
bool weft__dreq_complete(const char *buf);

/*
 * Parse the request head in @buf (NUL-terminated; weft__dreq_complete
 * true), cutting it in place. 0 with @r's route, query and host set, or
 * the HTTP status to answer (400, 404, 405) with @r->error set.
 */
int weft__dreq_parse(char *buf, struct weft__dreq *r);

/* The value of @key in query string @q (NULL: none) into @out, cut to
 * @len - 1 bytes and NUL-terminated (@len >= 1); 1 if present, else 0. */
int weft__dreq_query(const char *q, const char *key, char *out, size_t len);

/* The Host header @host (NULL: none) as a plain host[:port] into @out
 * (@len >= 16), or "HOST:PORT" when it is missing or holds anything else. */
void weft__dreq_host(const char *host, char *out, size_t len);

#endif /* WEFT_DEBUG_REQ_H */
