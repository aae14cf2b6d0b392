/*
 * fuzz_http.c - libFuzzer target for common/http_req.c, the HTTP request
 * parsing of bench/mandelweb (http-parser's callbacks into a struct
 * http_req, and the query string). The input is a byte stream from a
 * client, fed to http_req_feed() as the server feeds it: in reads whose
 * sizes come from the first byte (1 to 256 bytes, or all at once), each
 * read fed until taken, every whole request's parameters looked up. What
 * http_req.h promises is checked, so a broken promise is a crash the
 * fuzzer keeps:
 *   - a feed takes at most what it was given, and MORE means all of it;
 *   - after DONE the path is NUL-terminated at path_len (<= the limit),
 *     the query lies inside the URL, the method is GET or another known;
 *   - after BAD the status is one of 400, 413, 414, 431, 505, with a reason;
 *   - a query value fits its buffer and is NUL-terminated at its length.
 *
 * Built with clang -fsanitize=fuzzer by "make fuzz-http" (when configure
 * found it); tests/fuzz/replay_http runs the same entry point over
 * tests/fuzz/corpus-http in every "make check" without libFuzzer. The
 * corpus: ok-* well-formed requests (pipelined, keep-alive, HTTP/1.0,
 * chunked body, absolute URL, escapes), bad-* what the server must refuse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                       \
		}                                                                      \
	} while (0)

static void query(const struct http_req *r, const char *name)
{
	char v[64];
	int n = http_req_query(r, name, v, sizeof(v));

	CHECK(n >= -2 && n < (int)sizeof(v));
	if (n >= 0)
		CHECK(v[n] == '\0');
}

/* Feed one read: 0 to go on, -1 when the connection would close. */
static int feed(struct http_req *r, const char *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		size_t used = (size_t)-1;
		enum http_req_state st = http_req_feed(r, p + off, n - off, &used);

		CHECK(used <= n - off);
		off += used;
		if (st == HTTP_REQ_MORE) {
			CHECK(off == n);
			return 0;
		}
		if (st == HTTP_REQ_BAD) {
			CHECK(r->status == 400 || r->status == 413 || r->status == 414 ||
			      r->status == 431 || r->status == 505);
			CHECK(r->error && r->error[0]);
			return -1;
		}
		CHECK(st == HTTP_REQ_DONE);
		CHECK(r->path_len <= HTTP_REQ_MAX_URL && r->path[r->path_len] == '\0');
		CHECK(r->query_len == 0 ||
		      (r->query >= r->url && r->query + r->query_len <= r->url + r->url_len));
		CHECK(http_method_str((enum http_method)r->method)[0] != '<');
		CHECK(!r->head || r->method == HTTP_HEAD);
		query(r, "size");
		query(r, "mode");
		query(r, "workers");
		if (!r->keep_alive)
			return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_req r;
	size_t chunk, off = 1;

	if (size == 0)
		return 0;
	chunk = data[0] == 0 ? size : data[0];
	http_req_init(&r);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (feed(&r, (const char *)data + off, n) < 0)
			break;
		off += n;
	}
	return 0;
}
