/*
 * debug_req.c - the request parsing of /debug/weft/ (see debug.c for the
 * server and debug_req.h for the contract).
 *
 * What. A GET with no body: the request line (METHOD SP TARGET SP
 * HTTP/1.x), the Host header for the index page's commands, and the
 * query string's key=value pairs. Nothing else of the header is read.
 *
 * Invariants: every function reads only up to the buffer's NUL and writes
 * only inside the buffer it was given (the request, cut in place, or
 * @out within @len); a malformed request is a 4xx status, never a crash.
 * tests/fuzz/fuzz_debug.c checks both under ASan and UBSan, and
 * tests/fuzz/replay_debug replays its corpus in every make check.
 *
 * Rejected: Debian's http-parser (common/http_req.c, as bench/mandelweb
 * and weft-trace view use): it is optional in configure and this code is
 * part of libweft, which must not depend on it; the subset a GET with no
 * body needs is these few lines, fuzzed.
 */
#include "debug_req.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool weft__dreq_complete(const char *buf)
{
	return strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n");
}

int weft__dreq_parse(char *buf, struct weft__dreq *r)
{
	char *eol = strpbrk(buf, "\r\n"), *sp1, *sp2, *q, *target;

	r->route = WEFT__DREQ_INDEX;
	r->query = r->host = r->error = NULL;
	if (!eol) {
		r->error = "no end of the request line";
		return 400;
	}
	*eol = 0;
	if (!(sp1 = strchr(buf, ' ')) || !(sp2 = strchr(sp1 + 1, ' ')) || strchr(sp2 + 1, ' ') ||
	    sp1 == buf || sp2[1] == 0) {
		r->error = "malformed request line";
		return 400;
	}
	*sp1 = *sp2 = 0;
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		r->error = "not HTTP/1.x";
		return 400;
	}
	for (char *c = buf; *c; c++)
		if (!isupper((unsigned char)*c)) {
			r->error = "malformed method";
			return 400;
		}
	for (char *c = eol + 1; (c = strchr(c, '\n')); c++)
		if (strncasecmp(c + 1, "Host:", 5) == 0) {
			const char *h = c + 6;
			while (*h == ' ' || *h == '\t')
				h++;
			r->host = h;
			break;
		}
	target = sp1 + 1;
	if (target[0] != '/') {
		r->error = "the target must be a path";
		return 400;
	}
	if ((q = strchr(target, '?'))) {
		*q++ = 0;
		r->query = q;
	}
	if (strncmp(target, "/debug/weft", 11) != 0) {
		r->error = "no such page; see /debug/weft/";
		return 404;
	}
	target += 11;
	if (!strcmp(target, "") || !strcmp(target, "/"))
		r->route = WEFT__DREQ_INDEX;
	else if (!strcmp(target, "/tasks"))
		r->route = WEFT__DREQ_TASKS;
	else if (!strcmp(target, "/trace"))
		r->route = WEFT__DREQ_TRACE;
	else if (!strcmp(target, "/flight"))
		r->route = WEFT__DREQ_FLIGHT;
	else {
		r->error = "no such page; see /debug/weft/";
		return 404;
	}
	if (strcmp(buf, "GET") != 0) {
		r->error = "only GET is served";
		return 405;
	}
	return 0;
}

int weft__dreq_query(const char *q, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);

		if (n >= kl && strncmp(q, key, kl) == 0 && (n == kl || q[kl] == '=')) {
			const char *v = n == kl ? q + n : q + kl + 1;
			size_t vl = (size_t)(q + n - v);
			if (vl >= len)
				vl = len - 1;
			memcpy(out, v, vl);
			out[vl] = 0;
			return 1;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

void weft__dreq_host(const char *host, char *out, size_t len)
{
	size_t n = 0;

	for (; host && *host && *host != '\r' && *host != '\n' && n < len - 1; host++) {
		if (!isalnum((unsigned char)*host) && !strchr(".:-[]", *host))
			break;
		out[n++] = *host;
	}
	out[n] = 0;
	if (!n || (host && *host && *host != '\r' && *host != '\n'))
		snprintf(out, len, "HOST:PORT");
}
