/*
 * fuzz_debug.c - libFuzzer target for runtime/debug_req.c, the request
 * parsing of /debug/weft/ (debug.c). The input is what a client sends,
 * taken as the server takes it: bytes up to the first NUL (the server
 * answers 400 to a NUL), parsed once the header is complete, its query
 * looked up for every key the handlers ask for. What debug_req.h promises
 * is checked, so a broken promise is a crash the fuzzer keeps:
 *   - a parse returns 0 with a known route, or 400, 404 or 405 with an
 *     error message;
 *   - the query and the host point inside the request buffer;
 *   - a query value is NUL-terminated within its buffer; the host copy is
 *     a plain host[:port] or "HOST:PORT".
 *
 * Built with clang -fsanitize=fuzzer by "make fuzz-debug" (when configure
 * found it); tests/fuzz/replay_debug runs the same entry point over
 * tests/fuzz/corpus-debug in every "make check". The corpus: ok-* requests
 * the server answers, bad-* what it refuses.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/debug_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_debug: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

static void query(const char *q, const char *key, size_t len)
{
	char v[64];
	int found;

	memset(v, 'x', sizeof(v));
	found = weft__dreq_query(q, key, v, len);
	CHECK(found == 0 || found == 1);
	if (found)
		CHECK(memchr(v, 0, len) != NULL);
	CHECK(len == sizeof(v) || v[len] == 'x'); /* nothing past @len */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size > 16384 ? 16384 : size; /* the server's header cap */
	char *buf = malloc(n + 1), host[128];
	struct weft__dreq r;
	int status;

	if (!buf)
		return 0;
	memcpy(buf, data, n);
	buf[n] = 0;
	n = strlen(buf); /* the server refuses a NUL byte */
	if (!weft__dreq_complete(buf)) {
		free(buf);
		return 0;
	}
	status = weft__dreq_parse(buf, &r);
	if (status == 0) {
		CHECK(r.route >= WEFT__DREQ_INDEX && r.route <= WEFT__DREQ_FLIGHT);
		CHECK(r.error == NULL);
	} else {
		CHECK(status == 400 || status == 404 || status == 405);
		CHECK(r.error && *r.error);
	}
	if (r.query) {
		CHECK(r.query >= buf && r.query <= buf + n);
		query(r.query, "seconds", 64);
		query(r.query, "format", 32);
		query(r.query, "debug", 1);
		query(r.query, "", 8);
	}
	if (r.host)
		CHECK(r.host >= buf && r.host <= buf + n);
	weft__dreq_host(r.host, host, sizeof(host));
	CHECK(host[0] != 0);
	if (strcmp(host, "HOST:PORT") != 0)
		for (const char *c = host; *c; c++)
			CHECK(isalnum((unsigned char)*c) || strchr(".:-[]", *c));
	free(buf);
	return 0;
}
